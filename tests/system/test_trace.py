"""`make trace` on the running local stack: a storefront order's timeline, hop by hop.

The order goes through the real storefront (gunicorn), the queues and every consumer; the
command then reads the stack's logs in its state directory, as a developer would run it.
"""

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from local_stack.storefront_client import Shopper
from local_stack.tour import dashboard_state
from tests.stack_process import ROOT, StackProcess, running_stack

HOPS = ["web", "fulfilment", "billing", "email"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def status_of(stack: StackProcess, order_id: str) -> str:
    orders = dashboard_state(stack.dashboard)["orders"]
    return next((o["status"] for o in orders if o["order_id"] == order_id), "")


def make_trace(stack: StackProcess, order_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            # The repository's Makefile, with the environment running this test.
            shutil.which("make") or "make",
            f"VENV={sys.prefix}",
            "STAMP=",
            "--no-print-directory",
            "trace",
            f"ORDER={order_id}",
            f"STATE_DIR={stack.state_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def hops_in_order(output: str) -> list[str]:
    """The hop of each timeline line, in the order printed, each once (its first line)."""
    hops = [m.group(1) for m in re.finditer(r"^\S+ \S+  (\S+)", output, re.MULTILINE)]
    return list(dict.fromkeys(hops))


def test_the_trace_of_a_storefront_order_shows_web_fulfilment_billing_email(
    stack: StackProcess,
) -> None:
    status, order_id = Shopper(stack.storefront).place_order(
        "Grace Hopper", "grace.trace@example.com", "US", {"KETTLE-GOOSE": 1}
    )
    assert (status, bool(order_id)) == (303, True)
    assert order_id is not None
    deadline = time.monotonic() + 90
    while status_of(stack, order_id) != "CONFIRMED":
        assert time.monotonic() < deadline, f"{order_id} was not confirmed in 90 s"
        time.sleep(0.25)

    # The email's line follows the CONFIRMED write by a moment: allow it to land.
    while True:
        result = make_trace(stack, order_id)
        if "customer told" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.25)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"==> Order {order_id}: ")
    assert hops_in_order(result.stdout) == HOPS
    for hop, message in [
        ("web", "order placed"),
        ("fulfilment", "order fulfilled"),
        ("billing", "order billed"),
        ("email", "customer told"),
    ]:
        assert re.search(rf"^\S+ \S+  {hop} +INFO +{message}", result.stdout, re.MULTILINE), hop


def test_an_order_nobody_logged_is_said_so(stack: StackProcess) -> None:
    result = make_trace(stack, "no-such-order")

    assert result.returncode != 0
    assert "No log line mentions order no-such-order." in result.stderr
