"""deploy/batch_failures.py: the concurrency caps it sets are the packaged template's.

The command itself, on moto, is in tests/functional/test_batch_failures.py.
"""

import json
import re
from typing import Any

from deploy.batch_failures import MAXIMUM_CONCURRENCY
from tests import ROOT

MERGE_TEMPLATE = ROOT / "chalice_app" / "merge-template.json"


def test_the_caps_are_the_packaged_templates() -> None:
    template = json.loads(MERGE_TEMPLATE.read_text())
    resources = template["Resources"]

    def value(cap: Any) -> Any:  # a literal, or a parameter's default
        return template["Parameters"][cap["Ref"]]["Default"] if isinstance(cap, dict) else cap

    packaged = {
        re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower(): value(
            source["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        )
        for name, resource in resources.items()
        for source in resource.get("Properties", {}).get("Events", {}).values()
        if "ScalingConfig" in source.get("Properties", {})
    }
    assert packaged == MAXIMUM_CONCURRENCY


def test_the_packaged_notifications_function_paces_by_its_triggers_concurrency() -> None:
    """One parameter sets the trigger's MaximumConcurrency and the function's variable."""
    resources = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    properties = resources["CustomerCommunications"]["Properties"]
    [source] = properties["Events"].values()
    trigger = source["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    variables = properties["Environment"]["Variables"]
    assert (
        variables["NOTIFICATIONS_MAXIMUM_CONCURRENCY"]
        == trigger
        == {"Ref": "NotificationsMaximumConcurrency"}
    )


def test_the_variable_joins_the_stages_own_environment_when_packaged() -> None:
    """chalice package deep-merges merge-template.json into its template: the stage's variables
    (deploy/stage_config.py's) stay, and the template's parameter wins for this one."""
    from chalice.package import TemplateDeepMerger

    generated = {
        "Resources": {
            "CustomerCommunications": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "SES_MAX_SEND_RATE": "1",
                            "NOTIFICATIONS_MAXIMUM_CONCURRENCY": "2",
                        }
                    }
                },
            }
        }
    }
    merged = TemplateDeepMerger().merge(json.loads(MERGE_TEMPLATE.read_text()), generated)
    variables = merged["Resources"]["CustomerCommunications"]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables == {
        "SES_MAX_SEND_RATE": "1",
        "NOTIFICATIONS_MAXIMUM_CONCURRENCY": {"Ref": "NotificationsMaximumConcurrency"},
    }
