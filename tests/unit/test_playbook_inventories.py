"""The playbooks' variables per environment: where each may be set (read, not run).

What ansible resolves from them is in tests/system/test_playbook_inventories.py.
"""

import yaml

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
