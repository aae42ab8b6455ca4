"""deploy/stage_config.py: the local stage is never overwritten.

The stage configuration from the stacks' outputs, on moto, is in
tests/functional/test_stage_config.py.
"""

import shutil
from pathlib import Path

import pytest

from deploy import stage_config
from tests import ROOT

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"


def test_the_local_stage_is_never_overwritten(tmp_path: Path) -> None:
    shutil.copytree(CHALICE_DIR, tmp_path / ".chalice")
    with pytest.raises(stage_config.StageConfigError, match="local stack"):
        stage_config.write_stage(tmp_path / ".chalice", "dev", {}, {})
