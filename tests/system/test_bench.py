"""bench, run: wrk against a stand-in storefront, the benchmark's own command, SNS counting.

The benchmark's logic alone is in tests/unit/test_bench.py.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.web import Storefront, post_form_script
from bench.wrk import run_wrk
from tests import ROOT

PATHS = (".", "chalice_app", "ec2_tier")  # what the Makefile puts on PYTHONPATH
STOREFRONT = Storefront(
    cookie="session=eyJjc3JmX3Rva2VuIjoiYWJjIn0.Zx-1.sig", csrf_token="IjFh.Zx-1.t_k"
)
RUN = "0123456789abcdef"
Received = list[tuple[str, dict[str, list[str]]]]  # (Cookie header, form fields) per POST


@pytest.fixture
def form_sink() -> Iterator[tuple[str, Received]]:
    """A server answering every POST as the storefront does (303), keeping what it was sent."""
    received: Received = []

    class FormSink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.headers["Cookie"], urllib.parse.parse_qs(body)))
            self.send_response(303)
            self.send_header("Location", "/orders/web-x/thanks")
            self.send_header("Set-Cookie", "session=grown; Path=/")  # wrk must not pick it up
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FormSink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/orders", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-tools)")
def test_wrk_posts_one_new_order_per_request_with_the_first_cookie(
    form_sink: tuple[str, Received],
) -> None:
    url, received = form_sink
    result = run_wrk(url, post_form_script(STOREFRONT, RUN), 4, 1)

    assert result.errors == 0
    assert len(received) >= result.requests > 10
    keys = [form["idempotency_key"][0] for _, form in received]
    assert all(re.fullmatch(RUN + r"[0-9a-f]{16}", key) for key in keys)
    assert len(set(keys)) == len(keys)  # a fresh key per request, across both wrk threads
    assert {cookie for cookie, _ in received} == {STOREFRONT.cookie}
    for _, form in received:
        assert form["csrf_token"] == [STOREFRONT.csrf_token]
        assert [(name, value) for name, value in form.items() if name.startswith("qty_")] == [
            ("qty_TEA-EARLGREY", ["1"])
        ]


def test_quick_run_writes_results(tmp_path: Path) -> None:
    parts = ["--only", "pipeline", "--only", "cold", "--no-package"]
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *parts, "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in PATHS)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    functions = [f["function"] for f in results["pipeline"]["functions"]]
    assert functions == [
        "put_order",
        "process_order",
        "initiate_billing",
        "customer_communications",
    ]
    assert results["pipeline"]["cost_per_million_orders_total_usd"] > 0
    assert "s3" in results["cold"]["handlers"]["put_order"]["clients_built"]
    for handler in results["cold"]["handlers"].values():
        assert handler["floor_ms"] > 0
        # The ratio is CPU time's (bench/cold_start.py: moto's work in the bench's own process
        # lands in the handlers' wall time only); wall time's is reported beside it.
        assert handler["ratio_to_floor"] == pytest.approx(
            handler["cold_cpu_ms"] / handler["floor_cpu_ms"], abs=0.01
        )
        assert handler["ratio_to_floor_wall"] == pytest.approx(
            handler["cold_ms"] / handler["floor_ms"], abs=0.01
        )
    assert "## Pipeline" in (tmp_path / "results.md").read_text()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-tools)")
def test_web_run_posts_the_order_form_and_writes_results(tmp_path: Path) -> None:
    load = ["--only", "web", "--connections", "1,2", "--seconds", "1"]
    subprocess.run(
        [sys.executable, "-m", "bench", *load, "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in PATHS)},
        check=True,
        capture_output=True,
        timeout=180,
    )
    web = json.loads((tmp_path / "results.json").read_text())["web"]
    assert [(s["route"], s["connections"]) for s in web["steps"]] == [
        ("POST /orders (form)", 1),
        ("POST /orders (form)", 2),
    ]
    assert all(step["requests"] > 0 and step["errors"] == 0 for step in web["steps"])
    assert all(step["orders_per_sns_request"] for step in web["steps"])
    assert web["ceiling"]["route"] == "GET /healthz"
    assert web["session_cookie_bytes"]["sent_by_wrk"] < 4096
    assert "## Web tier" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "web-latency.png").stat().st_size > 0


def test_sns_requests_and_their_messages_are_counted_in_the_local_aws() -> None:
    import boto3

    from bench.web import count_sns
    from local_stack.moto_server import LocalAws

    with LocalAws() as aws:
        sns = boto3.client(
            "sns",
            endpoint_url=aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        topic = sns.create_topic(Name="counted")["TopicArn"]
        with count_sns() as counted:
            sns.publish(TopicArn=topic, Message="one")
            sns.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(3)],
            )
        sns.publish(TopicArn=topic, Message="after the block: not counted")

    assert (counted.requests, counted.messages) == (2, 4)
