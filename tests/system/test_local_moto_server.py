"""local_stack/moto_server.py: the local AWS server (moto's, threaded) under load."""

import threading
import time
from typing import Any

import boto3
import pytest

from local_stack.moto_server import LocalAws


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
