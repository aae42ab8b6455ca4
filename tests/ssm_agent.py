"""A stand-in for AWS's SSM Agent package, built here: the tests have no internet.

Same package name (amazon-ssm-agent) and unit name (amazon-ssm-agent.service) as AWS's
Debian package, so the release's pin and checksum check, the user data's install and
`systemctl enable --now`, and "is it installed and enabled" are exercised exactly; what it
runs is a placeholder, because the real agent can only talk to AWS's Systems Manager.
"""

import hashlib
import subprocess
from pathlib import Path

PACKAGE = "amazon-ssm-agent"
VERSION = "3.3.0.0-standin"
UNIT = f"{PACKAGE}.service"


def build(directory: Path) -> Path:
    """Build the stand-in .deb in directory (dpkg-deb); return its path."""
    root = directory / "standin"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: {VERSION}\nArchitecture: all\n"
        "Maintainer: order-pipeline tests <tests@example.invalid>\n"
        "Description: stand-in for AWS's SSM Agent (tests only)\n"
    )
    binary = root / "usr" / "bin" / PACKAGE
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(
        "#!/bin/sh\n# The real agent polls Systems Manager; this one waits.\nexec sleep infinity\n"
    )
    binary.chmod(0o755)
    unit = root / "lib" / "systemd" / "system" / UNIT
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(
        "[Unit]\nDescription=amazon-ssm-agent (test stand-in)\nAfter=network-online.target\n\n"
        f"[Service]\nExecStart=/usr/bin/{PACKAGE}\nRestart=always\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    package = directory / f"{PACKAGE}.deb"
    subprocess.run(
        ["/usr/bin/dpkg-deb", "--root-owner-group", "--build", str(root), str(package)],
        check=True,
        capture_output=True,
    )
    return package


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
