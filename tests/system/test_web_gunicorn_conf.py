"""order_web/gunicorn_conf.py: the web tier under the real gunicorn, configured as in
production, on the local AWS.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3
import pytest

from local_stack.moto_server import LocalAws
from local_stack.resources import Provisioned, provision
from tests import ROOT

# The keys every line of the Lambda functions' logger (Powertools) has.
POWERTOOLS_KEYS = {"level", "location", "message", "timestamp", "service"}


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
        "ORDER_LINK_KEY": "test-only-link-key",  # production refuses to start without it
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


def json_lines(stream: TextIO | None) -> list[dict[str, Any]]:
    assert stream is not None
    return [json.loads(line) for line in stream.read().splitlines() if line.startswith("{")]


def stop(server: subprocess.Popen[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stop gunicorn as systemd does; its access lines and its error lines."""
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    return json_lines(server.stdout), json_lines(server.stderr)


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

    access, errors = stop(server)
    [hit] = [
        line
        for line in access
        if line["path"] == "/healthz" and line["correlation_id"] == "corr-gunicorn"
    ]
    assert hit["status"] == 200
    assert any("Shutting down" in line["message"] for line in errors)
    # One dialect with the Lambda functions: their keys on every line, this tier's name.
    for line in [hit, *errors]:
        assert set(line) >= POWERTOOLS_KEYS, line
        assert line["service"] == "order-web"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line["timestamp"])
    assert (hit["level"], hit["message"], hit["method"]) == ("INFO", "GET /healthz 200", "GET")


def test_a_failed_publish_is_logged_with_its_requests_ids(
    gunicorn: tuple[str, subprocess.Popen[str]], local_aws: tuple[str, Provisioned]
) -> None:
    url, server = gunicorn
    boto3.resource("dynamodb").Table("inventory").put_item(
        Item={
            "sku": "MUG-BLUE",
            "name": "Mug",
            "stock": 5,
            "price": Decimal("12.00"),
            "currency": "EUR",
        }
    )
    # order-intake is gone: SNS refuses the publish, the shopper is told to try again.
    boto3.client("sns").delete_topic(TopicArn=local_aws[1].topic_arns["order-intake"])
    with urllib.request.urlopen(f"{url}/", timeout=5) as page:  # noqa: S310 - loopback
        # Production cookies are Secure, which urllib keeps from plain HTTP: send it by hand.
        cookie = page.headers["Set-Cookie"].split(";")[0]
        hidden = re.findall(
            r'name="(csrf_token|idempotency_key)" type="hidden" value="([^"]+)"',
            page.read().decode(),
        )
    form = {
        **dict(hidden),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "country": "GB",
        "qty_MUG-BLUE": "1",
    }
    post = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/orders",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Cookie": cookie, "X-Correlation-Id": "corr-sns-down"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(post, timeout=30)  # noqa: S310 - loopback
    assert refused.value.code == 503

    _, errors = stop(server)
    [failure] = [line for line in errors if line["message"] == "order-intake unreachable"]
    assert failure["correlation_id"] == "corr-sns-down"
    assert failure["order_id"] == f"web-{form['idempotency_key']}"
    assert (failure["level"], failure["service"]) == ("ERROR", "order-web")
    assert failure["exception_name"] == "IntakeUnavailable"
