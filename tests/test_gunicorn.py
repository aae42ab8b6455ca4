"""The web tier under the real gunicorn, configured as in production, on the local AWS."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_stack.moto_server import LocalAws
from local_stack.resources import Provisioned, provision

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, Provisioned]]:
    with LocalAws() as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
        yield aws.endpoint_url, provision(boto3.session.Session(), f"sqlite:///{tmp_path / 'b.db'}")


@pytest.fixture
def gunicorn(
    local_aws: tuple[str, Provisioned], tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    endpoint, provisioned = local_aws
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in (".", "ec2_tier")),
        "AWS_ENDPOINT_URL": endpoint,
        "ORDER_WEB_ENV": "production",
        "SECRET_KEY": "test-only-secret",
        "ORDER_INTAKE_TOPIC_ARN": provisioned.topic_arns["order-intake"],
        "INVENTORY_TABLE": "inventory",
        "ORDERS_TABLE": "orders",
        "ORDER_WEB_BIND": f"127.0.0.1:{port}",
        "ORDER_WEB_WORKERS": "2",
        "GUNICORN_CONTROL_SOCKET": str(tmp_path / "gunicorn.ctl"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:order_web.gunicorn_conf",
            "order_web.wsgi:app",
        ],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        yield url, server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_gunicorn_serves_logs_json_and_stops_gracefully(
    gunicorn: tuple[str, subprocess.Popen[str]],
) -> None:
    url, server = gunicorn
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/healthz", headers={"X-Correlation-Id": "corr-gunicorn"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    access = [
        json.loads(line) for line in server.stdout.read().splitlines() if line.startswith("{")
    ]  # type: ignore[union-attr]
    errors = [
        json.loads(line) for line in server.stderr.read().splitlines() if line.startswith("{")
    ]  # type: ignore[union-attr]
    [hit] = [
        line
        for line in access
        if line["path"] == "/healthz" and line["correlation_id"] == "corr-gunicorn"
    ]
    assert hit["status"] == 200
    assert any("Shutting down" in line["message"] for line in errors)
