"""A shopper's order through the running stack's storefront in Debian's chromium, then the
dashboard, then its cancel from the status page, in a network namespace of their own."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import ROOT

OUTPUT = ROOT / "test-output" / "browser"


def test_a_shopper_places_an_order_follows_it_and_cancels_it() -> None:
    for tool in ("/usr/bin/chromium", "/usr/bin/unshare"):
        assert Path(tool).exists(), (
            f"{tool} is missing: `make test` installs what the browser test needs"
        )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "chalice_app", "ec2_tier")),
    }
    # A network namespace of its own: loopback only, so chromium can reach nothing else.
    command = (
        f"ip link set lo up && exec {sys.executable} "
        f"{ROOT / 'tests/browser/storefront_flow.py'} {OUTPUT}"
    )
    result = subprocess.run(
        ["/usr/bin/unshare", "--net", "/bin/sh", "-c", command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["order_id"].startswith("web-")
    assert summary["status"] == "CONFIRMED"
    assert summary["then"] == "CANCELLED"
    # 3 mugs in the demo catalog, 2 ordered, then given back by the cancel.
    assert (summary["mugs_after_order"], summary["mugs_after_cancel"]) == ("1", "3")
    shots = ("1-storefront.png", "2-confirmation.png", "3-status.png", "4-dashboard.png")
    for shot in (*shots, "6-cancelled.png", "7-dashboard-cancelled.png"):
        assert (OUTPUT / shot).stat().st_size > 10_000, shot
