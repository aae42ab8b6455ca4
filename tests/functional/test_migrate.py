"""deploy/migrate.py applies the stage's migrations once, wherever its URL points (SQLite)."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from deploy import migrate
from tests import ROOT

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"


def test_the_stage_database_gets_its_schema_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chalice_dir = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, chalice_dir)
    config = json.loads((chalice_dir / "config.json").read_text())
    database = tmp_path / "billing.sqlite3"
    config["stages"]["prod"] = {
        "environment_variables": {"BILLING_DATABASE_URL": f"sqlite:///{database}"}
    }
    (chalice_dir / "config.json").write_text(json.dumps(config))

    migrate.main(["--stage", "prod", "--chalice-dir", str(chalice_dir)])
    migrate.main(["--stage", "prod", "--chalice-dir", str(chalice_dir)])

    first, second = capsys.readouterr().out.splitlines()
    assert "billing" in first
    assert second == "==> applied nothing (up to date)"
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")}
    assert {"billing", "customer_contacts"} <= tables
