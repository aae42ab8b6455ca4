"""The local stack: the demo behind `make run`, and the local AWS server's behaviour."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.moto_server import LocalAws

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_takes_orders_through_both_doors() -> None:
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'chalice_app'}"}
    result = subprocess.run(
        [sys.executable, "-m", "local_stack.demo", "--once", "--aws-port", "0", "--api-port", "0"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "demo-api-1 CONFIRMED RECEIVED -> RESERVED -> BILLED -> CONFIRMED" in lines
    assert "demo-web-1 CONFIRMED RECEIVED -> RESERVED -> BILLED -> CONFIRMED" in lines
    emails = [line for line in lines if line.startswith("to ada@example.com: ")]
    assert sorted(emails) == [
        "to ada@example.com: Order demo-api-1 confirmed",
        "to ada@example.com: Order demo-api-2 could not be accepted",
        "to ada@example.com: Order demo-web-1 confirmed",
    ]
    # 2 mugs at 12.00 + 2 teas at 4.50 = 33.00 EUR at the recorded 1.0523 USD per EUR.
    assert "demo-api-1 33.00 EUR -> 34.73 USD at 1.0523000000 (2026-11-20)" in lines
    assert (
        "demo-api-2 REJECTED RECEIVED -> REJECTED MUG-BLUE out_of_stock (wanted 2, had 1)" in lines
    )
    # demo-api-1 came through both doors; its two mugs were taken once.
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
def test_the_running_stack_stops_cleanly_on_a_signal(stop_signal: signal.Signals) -> None:
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'chalice_app'}"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "local_stack.demo", "--aws-port", "0", "--api-port", "0"],
        cwd=ROOT,
        env=environment,
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
        assert "Stopping." in demo.stdout.read()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
