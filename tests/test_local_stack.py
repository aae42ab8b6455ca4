"""The local stack: the demo behind `make run`, and the local AWS server's behaviour."""

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.moto_server import LocalAws

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent


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
        f"to grace@example.com: Order {web_order} confirmed",
    ]
    # The teapot at 0.01 GBP instead of 39.00: never reserved, never billed.
    assert "demo-api-3 REJECTED RECEIVED → REJECTED (POT-IRON price_changed)" in lines
    assert not any(line.startswith("demo-api-3 ") and "USD" in line for line in lines)
    # 2 mugs at 12.00 + 2 teas at 4.50 = 33.00 EUR at the recorded 1.0523 USD per EUR.
    assert "demo-api-1 33.00 EUR -> 34.73 USD" in lines
    assert "demo-api-2 REJECTED RECEIVED → REJECTED (MUG-BLUE out_of_stock)" in lines
    assert "MUG-BLUE 3 -> 1" in lines


def test_a_long_poll_does_not_stall_other_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalAws() as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="waiting")["QueueUrl"]
        received: list[Any] = []
        poll = threading.Thread(
            target=lambda: received.extend(
                sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
            )
        )
        poll.start()
        time.sleep(0.5)  # let the poll reach the server first
        # Served while the poll waits: with moto's own sleep under the lock it would queue.
        sqs.create_queue(QueueName="other")
        assert poll.is_alive()
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        poll.join(timeout=10)
        assert [message["Body"] for message in received] == ["hello"]


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
