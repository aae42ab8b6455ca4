"""deploy/batch_failures.py: the concurrency caps it sets are the packaged template's.

The command itself, on moto, is in tests/functional/test_batch_failures.py.
"""

import json
import re

from deploy.batch_failures import MAXIMUM_CONCURRENCY
from tests import ROOT

MERGE_TEMPLATE = ROOT / "chalice_app" / "merge-template.json"


def test_the_caps_are_the_packaged_templates() -> None:
    resources = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    packaged = {
        re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower(): source["Properties"]["ScalingConfig"][
            "MaximumConcurrency"
        ]
        for name, resource in resources.items()
        for source in resource.get("Properties", {}).get("Events", {}).values()
        if "ScalingConfig" in source.get("Properties", {})
    }
    assert packaged == MAXIMUM_CONCURRENCY
