"""The dead-letter redrive (`make redrive`): on AWS with the caller's environment, or local."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dead_letters import FAILURE_REASON_ATTRIBUTE
from local_stack.moto_server import LocalAws
from ops.redrive import main, redrive, sqs_client

ROOT = Path(__file__).resolve().parent.parent


def dead_letter(sqs: Any, queue: str, body: str) -> None:
    """A queue and its DLQ, with one dead letter carrying its failure reason."""
    sqs.create_queue(QueueName=queue)
    dead_letters = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dead_letters,
        MessageBody=body,
        MessageAttributes={
            FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": "MissingContact"},
            "correlation_id": {"DataType": "String", "StringValue": "c-1"},
        },
    )


def test_dead_letters_go_back_without_their_failure_reason() -> None:
    with mock_aws():
        sqs = boto3.client("sqs")
        dead_letter(sqs, "order-notifications", '{"order_id": "o-1"}')

        assert redrive(sqs, "order-notifications") == 1

        url = sqs.get_queue_url(QueueName="order-notifications")["QueueUrl"]
        [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
        assert message["Body"] == '{"order_id": "o-1"}'
        assert set(message["MessageAttributes"]) == {"correlation_id"}
        dlq = sqs.get_queue_url(QueueName="order-notifications-dlq")["QueueUrl"]
        assert "Messages" not in sqs.receive_message(QueueUrl=dlq)


def test_on_aws_it_uses_the_callers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # AWS CLI v2 reads it before the default

    sqs = sqs_client(local=False, aws_port=4566)

    assert sqs.meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
    assert sqs._request_signer._credentials.access_key == "testing"  # conftest's


def test_local_never_uses_the_callers_endpoint_or_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")

    sqs = sqs_client(local=True, aws_port=4567)

    assert sqs.meta.endpoint_url == "http://127.0.0.1:4567"
    assert sqs._request_signer._credentials.access_key == "local"


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(host="127.0.0.1", port=0) as aws:
        yield aws


@pytest.mark.server
def test_local_redrives_on_the_local_aws_port(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=local_aws.endpoint_url)
    dead_letter(sqs, "order-fulfillment", "{}")
    # A caller's AWS environment would point elsewhere: --local ignores it.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    port = local_aws.endpoint_url.rsplit(":", 1)[1]

    assert main(["--local", "--aws-port", port, "order-fulfillment"]) == 0

    output = capsys.readouterr()
    assert f"SQS at http://127.0.0.1:{port}" in output.err
    assert output.out == "order-fulfillment: 1 message(s) sent back from order-fulfillment-dlq\n"


def test_help_says_how_to_use_it_on_aws_and_locally(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    lines = capsys.readouterr().out.splitlines()
    assert "  make redrive QUEUE=order-notifications" in lines  # on AWS
    assert any(
        line.startswith("  make redrive QUEUE=order-notifications LOCAL=1") for line in lines
    )


def make_redrive(*variables: str) -> str:
    """The command `make redrive` would run (make -n runs nothing)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make")
    result = subprocess.run(
        [make, "-n", "--no-print-directory", "redrive", "QUEUE=order-billing", *variables],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    [command] = [line for line in result.stdout.splitlines() if "ops.redrive" in line]
    return command


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        # The region is the caller's: not the us-east-1 the Makefile sets for local tools.
        ((), "env -u AWS_DEFAULT_REGION .venv/bin/python -m ops.redrive order-billing"),
        (("AWS_DEFAULT_REGION=eu-west-1",), ".venv/bin/python -m ops.redrive order-billing"),
        (("LOCAL=1",), ".venv/bin/python -m ops.redrive --local order-billing"),
        (
            ("AWS_PORT=4567",),
            ".venv/bin/python -m ops.redrive --local --aws-port 4567 order-billing",
        ),
    ],
)
def test_make_redrive_is_on_aws_unless_told_local(
    variables: tuple[str, ...], expected: str
) -> None:
    assert " ".join(make_redrive(*variables).split()) == expected
