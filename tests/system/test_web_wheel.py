"""The web tier's wheel holds everything a host needs: app, templates, contract, gunicorn config."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT / "ec2_tier"),
        ],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("order_web-*.whl")
    return built


def test_the_wheel_carries_the_app_its_files_and_the_contract(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "order_web/__init__.py",
        "order_web/gunicorn_conf.py",
        "order_web/publisher.py",
        "order_web/templates/storefront.html",
        "order_web/static/style.css",
        "order_contracts/order.py",
        "order_contracts/status.py",
    ):
        assert name in names, name
    metadata = zipfile.ZipFile(wheel).read("order_web-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: Flask==3.1.3" in metadata
    assert "Requires-Dist: gunicorn==27.0.1" in metadata


def test_the_installed_wheel_runs_without_the_repository(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    settings = "WebSettings('testing', 's', 'arn:aws:sns:us-east-1:1:t', 'i', 'o')"
    code = (
        "import order_web, order_contracts;"
        "from order_web import create_app;"
        "from order_web.settings import WebSettings;"
        f"app = create_app({{'SETTINGS': {settings}}});"
        f"assert order_web.__file__.startswith({str(target)!r}), order_web.__file__;"
        "print(app.jinja_env.get_template('storefront.html').name)"
    )
    # Only the installed wheel and the dependencies: not the repository's packages.
    environment = {**os.environ, "PYTHONPATH": str(target), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "storefront.html"
