"""The hosts' wheelhouse is built for Debian 12's CPython 3.11 on x86_64, not the controller."""

from pathlib import Path

import pytest

from deploy.wheelhouse import PLATFORMS, commands, installable_on_hosts
from tests import ROOT

PLAYBOOKS = ROOT / "playbooks"


@pytest.mark.parametrize(
    ("wheel", "installable"),
    [
        ("pydantic_core-2.50.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", True),
        ("markupsafe-3.0.4-cp311-cp311-manylinux_2_28_x86_64.whl", True),
        ("flask-3.1.3-py3-none-any.whl", True),
        # What a controller on another Python or platform would have built.
        ("pydantic_core-2.50.4-cp313-cp313-manylinux_2_17_x86_64.whl", False),
        ("pydantic_core-2.50.4-cp311-cp311-macosx_11_0_arm64.whl", False),
        ("markupsafe-3.0.4-cp311-cp311-manylinux_2_17_aarch64.whl", False),
        ("markupsafe-3.0.4-cp311-cp311-musllinux_1_2_x86_64.whl", False),
    ],
)
def test_only_wheels_for_the_hosts_pass(wheel: str, installable: bool) -> None:
    assert installable_on_hosts(wheel) is installable


def test_dependencies_are_downloaded_for_the_hosts_not_resolved_for_the_controller(
    tmp_path: Path,
) -> None:
    build_wheel, download = commands(tmp_path, python="python3")
    assert "--no-deps" in build_wheel  # order-web alone: pure Python
    assert {"download", "--only-binary=:all:", "--python-version=3.11", "--abi=cp311"} <= set(
        download
    )
    assert {f"--platform={platform}" for platform in PLATFORMS} <= set(download)
    assert all(platform.endswith("_x86_64") for platform in PLATFORMS)


def test_the_release_play_builds_the_hosts_wheelhouse() -> None:
    release = (PLAYBOOKS / "release.yml").read_text()
    assert "deploy.wheelhouse" in release
    assert "make --no-print-directory wheelhouse" not in release
