"""ops/redrive.py on the local AWS server, and what `make redrive` runs (make -n)."""

import shutil
import subprocess
from collections.abc import Iterator

import boto3
import pytest

from local_stack.moto_server import LocalAws
from ops.redrive import main
from tests import ROOT
from tests.functional.test_redrive import dead_letter


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(host="127.0.0.1", port=0) as aws:
        yield aws


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
