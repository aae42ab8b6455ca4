"""local_stack (python -m local_stack, stack.py): the demo behind `make run`, and how the
running stack stops.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import ROOT

FREE_PORTS = ["--aws-port", "0", "--api-port", "0", "--web-port", "0", "--dashboard-port", "0"]


def test_the_tour_takes_orders_through_both_doors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local_stack", "--once", *FREE_PORTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    # Unsigned, the API door refuses; signed as the local integrator, it takes the order.
    assert any('403 {"error": "missing_authentication_token"' in line for line in lines)
    assert "demo-api-1 CONFIRMED RECEIVED → RESERVED → BILLED → CONFIRMED" in lines
    # The web door: the storefront's form under gunicorn, a guest mailed at her own address.
    [web_order] = [line.split()[1] for line in lines if line.startswith("303 web-")]
    assert f"{web_order} CONFIRMED RECEIVED → RESERVED → BILLED → CONFIRMED" in lines
    emails = [line for line in lines if line.startswith("to ")]
    assert sorted(emails) == [
        "to ada@example.com: Order demo-api-1 confirmed",
        "to ada@example.com: Order demo-api-2 could not be accepted",
        "to ada@example.com: Order demo-api-3 could not be accepted",
        "to ada@example.com: Order demo-api-4 cancelled",
        "to ada@example.com: Order demo-api-4 confirmed",
        f"to grace@example.com: Order {web_order} confirmed",
    ]
    # Cancelled once confirmed, through the signed API: the charge reversed by its own row.
    assert "demo-api-4 CANCELLED RECEIVED → RESERVED → BILLED → CONFIRMED → CANCELLED" in lines
    assert "demo-api-4 reversed: -4.74 USD" in lines
    assert any('409 {"error": "not_cancellable"' in line for line in lines)
    # The teapot at 0.01 GBP instead of 39.00: never reserved, never billed.
    assert "demo-api-3 REJECTED RECEIVED → REJECTED (POT-IRON price_changed)" in lines
    assert not any(line.startswith("demo-api-3 ") and "USD" in line for line in lines)
    # 2 mugs at 12.00 + 2 teas at 4.50 = 33.00 EUR at the recorded 1.0523 USD per EUR.
    assert "demo-api-1 33.00 EUR -> 34.73 USD" in lines
    assert "demo-api-2 REJECTED RECEIVED → REJECTED (MUG-BLUE out_of_stock)" in lines
    assert "MUG-BLUE 3 -> 1" in lines


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_running_stack_stops_cleanly_on_a_signal(
    stop_signal: signal.Signals, tmp_path: Path
) -> None:
    urls_file = tmp_path / "urls.json"
    demo = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "--no-tour", "--urls-file", urls_file, *FREE_PORTS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if line.startswith("Serving until Ctrl-C"):
                break
        demo.send_signal(stop_signal)
        assert demo.wait(timeout=30) == 0
        assert "Stopped." in demo.stdout.read()
        # Nothing is left running: gunicorn, the API, the dashboard and moto all closed.
        urls = json.loads(urls_file.read_text())
        for url in (urls[name] for name in ("aws", "api", "storefront", "dashboard")):
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def survivors(marker: str) -> list[str]:
    """This user's processes whose command line, environment or directory mention marker."""
    found = []
    for process in Path("/proc").iterdir():
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        try:
            command = (process / "cmdline").read_bytes()
            mentions = command + (process / "environ").read_bytes()
            mentions += os.readlink(process / "cwd").encode()
        except OSError:  # gone meanwhile, or another user's
            continue
        if marker.encode() in mentions:
            found.append(f"{process.name}: {command.replace(bytes(1), b' ').decode()}")
    return found


def child_of(pid: int) -> int:
    [child] = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


@pytest.mark.parametrize(
    ("target", "stop_signal"),
    [
        ("make", signal.SIGTERM),  # a supervisor stopping its child; make forwards SIGTERM
        ("group", signal.SIGINT),  # Ctrl-C, or `timeout -s INT`: the whole process group
        ("group", signal.SIGHUP),  # the terminal closed
        ("make", signal.SIGKILL),  # a supervisor's last resort: the stack sees make die
        ("stack", signal.SIGKILL),  # the stack itself killed: gunicorn sees it die
    ],
    ids=lambda value: getattr(value, "name", value),
)
def test_make_run_leaves_nothing_running_however_it_is_stopped(
    target: str, stop_signal: signal.Signals, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"  # unique to this test: every process of the stack names it
    urls_file = tmp_path / "urls.json"
    arguments = ["--no-tour", *FREE_PORTS, "--state-dir", state_dir, "--urls-file", urls_file]
    # The repository's Makefile, with the environment running this test (STAMP= : make sets
    # none up, whatever the state of its stamp) and not the MAKEFLAGS of a make running pytest.
    make = [shutil.which("make") or "make", "-s", f"VENV={sys.prefix}", "STAMP="]
    run = [*make, "run", f"ARGS={' '.join(map(str, arguments))}"]
    environment = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL"}}
    log_path = tmp_path / "make-run.log"
    with log_path.open("w") as log:
        # A session of its own: the group signals reach make, the stack and gunicorn, not pytest.
        running = subprocess.Popen(
            run,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not urls_file.exists():
            assert running.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert survivors(str(state_dir)), "the scan does not see the running stack"
        if target == "group":
            os.killpg(running.pid, stop_signal)
        elif target == "stack":
            os.kill(child_of(running.pid), stop_signal)
        else:
            running.send_signal(stop_signal)
        running.wait(timeout=60)
        deadline = time.monotonic() + 30
        while survivors(str(state_dir)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert survivors(str(state_dir)) == [], log_path.read_text()
        urls = json.loads(urls_file.read_text())
        for url in (urls[name] for name in ("aws", "api", "storefront", "dashboard")):
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
    finally:
        for survivor in survivors(str(state_dir)):
            os.kill(int(survivor.split(":")[0]), signal.SIGKILL)
        if running.poll() is None:
            running.kill()
            running.wait()
