"""The playbooks' variables per environment: where each may be set (read, not run).

What ansible resolves from them is in tests/system/test_playbook_inventories.py.
"""

import jinja2
import yaml

from deploy import stage_config
from order_contracts.cancellation import (
    CANCELLATION_WINDOW_VARIABLE,
    DEFAULT_CANCELLATION_WINDOW_HOURS,
)
from tests import ROOT

PLAYBOOKS = ROOT / "playbooks"
ENVIRONMENTS = ("production", "staging")


def test_no_environment_setting_is_in_the_playbooks_group_vars_all() -> None:
    """A playbook's group_vars/all outranks an inventory's: it must not hold what they set."""
    shared = yaml.safe_load((PLAYBOOKS / "group_vars" / "all.yml").read_text())
    for environment in ENVIRONMENTS:
        path = PLAYBOOKS / "inventories" / environment / "group_vars" / "all.yml"
        own = yaml.safe_load(path.read_text())
        assert not set(shared) & set(own), environment


def test_the_cancellation_window_is_one_setting_for_both_tiers() -> None:
    """The web hosts' CANCELLATION_WINDOW_HOURS comes from the shared group variable that
    deploy/stage_config.py writes for the functions; the role's own default is the contract's."""
    shared = yaml.safe_load((PLAYBOOKS / "group_vars" / "all.yml").read_text())
    assert shared["order_web_cancellation_window_hours"] == (
        "{{ order_pipeline_cancellation_window_hours }}"
    )
    assert (
        stage_config.cancellation_window_hours()
        == shared["order_pipeline_cancellation_window_hours"]
    )
    role = PLAYBOOKS / "roles" / "order_web"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    option = specs["argument_specs"]["main"]["options"]["order_web_cancellation_window_hours"]
    assert defaults["order_web_cancellation_window_hours"] == DEFAULT_CANCELLATION_WINDOW_HOURS
    assert (option["type"], option["default"]) == ("int", DEFAULT_CANCELLATION_WINDOW_HOURS)

    template = jinja2.Template((role / "templates" / "order-web.env.j2").read_text())
    rendered = template.render(
        defaults, order_web_cancellation_window_hours="36", order_web_secret_key_value="s"
    )
    assert f"{CANCELLATION_WINDOW_VARIABLE}=36" in rendered.splitlines()
