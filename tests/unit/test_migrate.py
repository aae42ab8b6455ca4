"""deploy/migrate.py: a stage without its configuration is refused.

Migrating a stage's database (SQLite) is in tests/functional/test_migrate.py.
"""

import shutil
from pathlib import Path

import pytest

from deploy import migrate
from tests import ROOT

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"


def test_a_stage_without_its_configuration_is_refused(tmp_path: Path) -> None:
    shutil.copytree(CHALICE_DIR, tmp_path / ".chalice")
    with pytest.raises(SystemExit, match=r"run deploy\.stage_config first"):
        migrate.main(["--stage", "prod", "--chalice-dir", str(tmp_path / ".chalice")])
