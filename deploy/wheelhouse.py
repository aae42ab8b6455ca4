"""The web hosts' wheelhouse: the order-web wheel and its pinned dependencies, for the hosts.

Usage: python -m deploy.wheelhouse [DEST]   (default build/wheelhouse)

Hosts install with --no-index from these wheels, on Debian 12's CPython 3.11 on x86_64,
whatever the controller runs (another Python, macOS, arm64). order-web is pure Python and
built here; its dependencies are downloaded as binary wheels for the hosts' interpreter and
platform (pydantic_core and MarkupSafe have compiled ones), pinned by requirements-dev.txt.
Every wheel is then checked against the hosts' tags.
"""

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "requirements-dev.txt"
# The hosts: Debian 12 (glibc 2.36) on x86_64 instances, its python3 is CPython 3.11.
PYTHON_VERSION = (3, 11)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


class IncompatibleWheel(RuntimeError):
    """A wheel the hosts cannot install; the message names it."""


def host_tags() -> set[Tag]:
    """Every tag a wheel may carry and still install on the hosts."""
    platforms = [*PLATFORMS, "linux_x86_64"]
    return {
        *cpython_tags(PYTHON_VERSION, platforms=platforms),
        *compatible_tags(PYTHON_VERSION, "cp311", platforms=platforms),
    }


def installable_on_hosts(wheel: str) -> bool:
    """Whether a wheel file name fits the hosts' interpreter and platform."""
    _, _, _, tags = parse_wheel_filename(wheel)
    return bool(tags & host_tags())


def commands(dest: Path, python: str = sys.executable) -> list[list[str]]:
    """pip commands: build order-web (pure), then download its dependencies for the hosts."""
    pip = [python, "-m", "pip"]
    return [
        [
            *pip,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dest),
            str(ROOT / "ec2_tier"),
        ],
        [
            *pip,
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--implementation=cp",
            f"--python-version={'.'.join(map(str, PYTHON_VERSION))}",
            f"--abi=cp{''.join(map(str, PYTHON_VERSION))}",
            *(f"--platform={platform}" for platform in PLATFORMS),
            f"--constraint={CONSTRAINTS}",
            f"--dest={dest}",
        ],
    ]


def build(dest: Path, python: str = sys.executable) -> list[str]:
    """Build the wheelhouse in dest (emptied first); return its wheels' names."""
    if dest.exists():
        for old in dest.glob("*.whl"):
            old.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    build_wheel, download = commands(dest, python)
    subprocess.run(build_wheel, check=True)
    (own,) = dest.glob("order_web-*.whl")
    subprocess.run([*download, str(own)], check=True)
    wheels = sorted(path.name for path in dest.glob("*.whl"))
    wrong = [wheel for wheel in wheels if not installable_on_hosts(wheel)]
    if wrong:
        raise IncompatibleWheel(f"not installable on the hosts (CPython 3.11, x86_64): {wrong}")
    return wheels


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=ROOT / "build" / "wheelhouse")
    arguments = parser.parse_args(argv)
    try:
        wheels = build(arguments.dest)
    except IncompatibleWheel as error:
        parser.exit(2, f"error: {error}\n")
    print(f"==> {arguments.dest}: {len(wheels)} wheels for CPython 3.11 on x86_64")


if __name__ == "__main__":
    main()
