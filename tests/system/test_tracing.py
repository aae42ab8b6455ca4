"""chalicelib/tracing.py in a fresh interpreter: as in Lambda with tracing on, and as anywhere else.

In Lambda (LAMBDA_TASK_ROOT and a trace header set, as the runtime sets them) a record's
subsegment reaches the X-Ray daemon's UDP port annotated with the order's ids. Anywhere else,
and in Lambda with POWERTOOLS_TRACE_DISABLED, the X-Ray SDK is never even imported.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
RECORD = """
import sys
from chalicelib import tracing
from chalicelib.observability import log_context
with tracing.record_subsegment("record"):
    with log_context(order_id="web-1", correlation_id="corr-1"):
        pass
print("xray sdk imported:", "aws_xray_sdk" in sys.modules)
"""


def run(environment: dict[str, str]) -> str:
    paths = [ROOT, ROOT / "chalice_app", ROOT / "ec2_tier"]
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(str(path) for path in paths),
        "AWS_DEFAULT_REGION": "us-east-1",
        **environment,
    }
    done = subprocess.run(
        [sys.executable, "-c", RECORD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.fixture
def daemon() -> socket.socket:
    """A UDP port where the X-Ray daemon would listen."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    return listener


def documents(daemon: socket.socket) -> list[dict[str, object]]:
    """The segment documents sent so far: each datagram is a JSON header line, then one."""
    received = []
    daemon.settimeout(1)
    try:
        while True:
            datagram = daemon.recv(65536).decode()
            _, document = datagram.split("\n", 1)
            received.append(json.loads(document))
    except TimeoutError:
        return received


def test_in_lambda_a_records_subsegment_carries_the_orders_ids(
    daemon: socket.socket, tmp_path: Path
) -> None:
    host, port = daemon.getsockname()
    output = run(
        {
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_FUNCTION_NAME": "order-pipeline-prod-process_order",
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
        }
    )

    assert "xray sdk imported: True" in output
    [subsegment] = [d for d in documents(daemon) if d.get("name") == "## record"]
    assert subsegment["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert subsegment["parent_id"] == "53995c3f42cd8ad8"
    assert subsegment["annotations"] == {"order_id": "web-1", "correlation_id": "corr-1"}


@pytest.mark.parametrize(
    "environment",
    [
        {},  # the local stack, the tests, the benchmarks
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
        {"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"},  # chalice local
    ],
)
def test_elsewhere_tracing_costs_nothing_not_even_the_import(environment: dict[str, str]) -> None:
    assert "xray sdk imported: False" in run(environment)
