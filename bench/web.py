"""The web tier under load: orders accepted per second and latency, beside its own ceiling.

gunicorn runs with the hosts' configuration (order_web.gunicorn_conf) against a local AWS
(moto, in this process) holding the provisioned resources and the demo catalog. wrk offers
closed-loop load on the storefront's order form (POST /orders, as a browser sends it) at
several connection counts, each step bounded in time, then on GET /healthz (a cached check,
no AWS call): the same server's ceiling in the same run, so the ratio holds even when the
machine is busy with other work.

The form needs a session: the storefront is fetched once for its cookie and CSRF token
(Flask-WTF binds the token to the session, so every request may carry the same pair). wrk
ignores Set-Cookie and keeps sending that first cookie, which remembers no orders: each
request is a new order to the server, and the cookie never grows.
"""

import http.client
import json
import os
import re
import secrets
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

from bench.cpu import CpuDelta, measure_cpu
from bench.orders import order_body
from bench.wrk import WrkResult, get_script, run_wrk
from order_web import gunicorn_conf

LOCAL = "127.0.0.1"
ORDER_ROUTE = "POST /orders (form)"


@dataclass(frozen=True)
class LoadStep:
    route: str
    connections: int
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int
    # CPU per request: where the time goes on a shared 2-core machine.
    web_cpu_ms: float
    local_aws_cpu_ms: float
    # How many orders shared one SNS request (the web tier's group commit).
    orders_per_sns_request: float | None

    @classmethod
    def of(
        cls,
        route: str,
        connections: int,
        result: WrkResult,
        cpu: "CpuDelta",
        sns: "SnsCount | None" = None,
    ) -> "LoadStep":
        per_request = 1000 / max(result.requests, 1)
        return cls(
            route=route,
            connections=connections,
            per_second=round(result.per_second, 1),
            p50_ms=round(result.p50_ms, 2),
            p90_ms=round(result.p90_ms, 2),
            p99_ms=round(result.p99_ms, 2),
            requests=result.requests,
            errors=result.errors,
            web_cpu_ms=round(cpu.web * per_request, 3),
            local_aws_cpu_ms=round(cpu.local_aws * per_request, 3),
            orders_per_sns_request=round(sns.messages / sns.requests, 2)
            if sns and sns.requests
            else None,
        )


@dataclass
class SnsCount:
    requests: int = 0  # Publish and PublishBatch requests the local AWS answered
    messages: int = 0  # messages they carried


@contextmanager
def count_sns() -> Iterator[SnsCount]:
    """Count SNS publish requests and messages in the local AWS (moto runs in this process)."""
    from moto.sns.models import SNSBackend
    from moto.sns.responses import SNSResponse

    count = SnsCount()
    counted = [
        (SNSResponse, "publish", "requests"),
        (SNSResponse, "publish_batch", "requests"),
        (SNSBackend, "publish", "messages"),  # once per message, batched or not
    ]
    originals: list[tuple[type, str, Callable[..., Any]]] = []
    for owner, name, tally in counted:
        original = getattr(owner, name)
        originals.append((owner, name, original))
        setattr(owner, name, _counting(original, count, tally))
    try:
        yield count
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _counting(original: Callable[..., Any], count: SnsCount, tally: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setattr(count, tally, getattr(count, tally) + 1)
        return original(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Storefront:
    """What a browser holds after loading the storefront: enough to post the order form."""

    cookie: str  # "session=...", as the Cookie header sends it
    csrf_token: str


def open_storefront(url: str) -> Storefront:
    """GET / once: the session cookie and the CSRF token bound to it."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    finally:
        connection.close()
    session = [c.split(";", 1)[0] for c in cookies if c.startswith("session=")]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if response.status != 200 or not session or token is None:
        raise RuntimeError(f"GET {url}/ gave no session cookie and CSRF token ({response.status})")
    return Storefront(cookie=session[0], csrf_token=token.group(1))


def form_fields(storefront: Storefront) -> str:
    """The order form, url-encoded, except its idempotency key: the benchmark's one order."""
    order: dict[str, Any] = json.loads(order_body())
    customer, [line] = order["customer"], order["lines"]
    return urllib.parse.urlencode(
        {
            "csrf_token": storefront.csrf_token,
            "name": customer["name"],
            "email": customer["email"],
            "country": customer["country"],
            f"qty_{line['sku']}": line["quantity"],
        }
    )


def post_form_script(storefront: Storefront, run: str) -> str:
    """A wrk script posting the order form with the storefront's cookie, a new order each time.

    The idempotency key is 32 hex characters: this run's 16 (so steps and runs never repeat
    a key), the wrk thread's number (8) and a counter of that thread's requests (8).
    """
    if not re.fullmatch(r"[0-9a-f]{16}", run):
        raise ValueError(f"run must be 16 hex characters, not {run!r}")
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "{storefront.cookie}"
local form = "{form_fields(storefront)}&idempotency_key={run}"

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local sent = 0
request = function()
  sent = sent + 1
  local key = string.format("%08x%08x", thread_number, sent)
  return wrk.format(nil, nil, nil, form .. key)
end
""" + get_script()


def check_order_form(url: str, storefront: Storefront) -> dict[str, int]:
    """Post one order as wrk will; it must be 303. The cookie sizes: what wrk sends, and what
    the server would have the browser keep after that order (wrk ignores it)."""
    key = secrets.token_hex(16)
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=10)
    try:
        connection.request(
            "POST",
            "/orders",
            body=f"{form_fields(storefront)}&idempotency_key={key}",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": storefront.cookie,
            },
        )
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 303:
        raise RuntimeError(f"POST {url}/orders answered {response.status}, not 303")
    updated = [
        c.split(";", 1)[0]
        for c in response.headers.get_all("Set-Cookie") or []
        if c.startswith("session=")
    ]
    return {
        "sent_by_wrk": len(storefront.cookie),
        "after_one_order": len(updated[0]) if updated else len(storefront.cookie),
    }


def web_tier(
    connections: list[int], seconds: float, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Run every load step and the ceiling; return the steps and the headline ratio."""
    steps: list[LoadStep] = []
    with _web_stack(progress) as url:
        storefront = open_storefront(url)
        cookie_bytes = check_order_form(url, storefront)
        progress(
            f"order form answers 303; session cookie {cookie_bytes['sent_by_wrk']} bytes "
            f"(after an order the server offers {cookie_bytes['after_one_order']}, unused)"
        )
        orders = f"{url}/orders"
        progress("warming up (1 s of orders, not reported)")
        run_wrk(orders, post_form_script(storefront, secrets.token_hex(8)), max(connections), 1)
        for count in connections:
            script = post_form_script(storefront, secrets.token_hex(8))
            with measure_cpu() as cpu, count_sns() as sns:
                result = run_wrk(orders, script, count, seconds)
            steps.append(LoadStep.of(ORDER_ROUTE, count, result, cpu, sns))
            progress(_describe(steps[-1]))
        ceiling_connections = max(connections)
        with measure_cpu() as cpu:
            result = run_wrk(f"{url}/healthz", get_script(), ceiling_connections, seconds)
        ceiling = LoadStep.of("GET /healthz", ceiling_connections, result, cpu)
        progress(_describe(ceiling))
    best = max(steps, key=lambda step: step.per_second)
    # Orders share SNS calls under load, so an order's CPU falls as load rises: take it
    # where the throughput figure comes from.
    order_cpu_ms = best.web_cpu_ms
    return {
        "steps": [asdict(step) for step in steps],
        "ceiling": asdict(ceiling),
        "best_orders_per_second": best.per_second,
        "best_at_connections": best.connections,
        "ratio_to_ceiling": round(best.per_second / ceiling.per_second, 3)
        if ceiling.per_second
        else None,
        # What an order costs the web tier's CPU against a trivial request (at the best
        # step), and what these cores could serve at that cost if AWS answered instantly.
        "web_cpu_ms_per_order": round(order_cpu_ms, 3),
        "web_cpu_ratio_trivial_to_order": round(ceiling.web_cpu_ms / order_cpu_ms, 3)
        if order_cpu_ms
        else None,
        "cpu_bound_orders_per_second": round((os.cpu_count() or 1) * 1000 / order_cpu_ms)
        if order_cpu_ms
        else None,
        "seconds_per_step": seconds,
        "session_cookie_bytes": cookie_bytes,
        "gunicorn": {
            "workers": gunicorn_conf.workers,
            "threads": gunicorn_conf.threads,
            "worker_class": gunicorn_conf.worker_class,
        },
    }


def _describe(step: LoadStep) -> str:
    errors = f", {step.errors} errors" if step.errors else ""
    batch = (
        f", {step.orders_per_sns_request:.1f} orders per SNS request"
        if step.orders_per_sns_request
        else ""
    )
    return (
        f"{step.route:<19} c={step.connections:<3} {step.per_second:8.1f}/s  "
        f"p50 {step.p50_ms:6.2f} ms  p99 {step.p99_ms:7.2f} ms  CPU per request: "
        f"web {step.web_cpu_ms:.2f} ms, local AWS {step.local_aws_cpu_ms:.2f} ms{batch}{errors}"
    )


@contextmanager
def _web_stack(progress: Callable[[str], None]) -> Iterator[str]:
    """A local AWS with the resources and catalog, and gunicorn in front of it."""
    from local_stack import demo_data
    from local_stack.moto_server import LocalAws
    from local_stack.resources import provision
    from local_stack.stack import _gunicorn

    progress(f"starting the local AWS (moto) on {LOCAL}, a free port")
    with LocalAws(host=LOCAL, port=0) as aws, tempfile.TemporaryDirectory() as directory:
        os.environ.update(
            AWS_ENDPOINT_URL=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts any credentials
        )
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        state_dir = Path(directory)
        provisioned = provision(boto3.session.Session(), f"sqlite:///{state_dir / 'billing.db'}")
        demo_data.load(boto3.resource("dynamodb").Table("inventory"), _NoContacts())
        # Nobody consumes order-intake here: without its queue subscribed, every publish costs
        # the local AWS the same at the end of the run as at the start (on AWS the fan-out is
        # asynchronous and not the web tier's time either).
        sns = boto3.client("sns")
        for subscription in sns.list_subscriptions_by_topic(
            TopicArn=provisioned.topic_arns["order-intake"]
        )["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        progress("starting gunicorn with order_web.gunicorn_conf (the hosts' configuration)")
        with _gunicorn(0, provisioned, state_dir, verbose=False) as url:
            yield url


class _NoContacts:
    """The web door needs no contact book."""

    def save_contact(self, contact: object) -> None:
        pass
