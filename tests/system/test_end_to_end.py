"""End to end, against the running local stack: the README's run command, as a user runs it.

Every request goes over HTTP to the order API, the web tier (gunicorn) or the local AWS;
every check reads what a user or an operator can see: the API, the dashboard, the queues.
"""

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.db_api import DbApiRunner
from chalicelib.communications import Contact
from chalicelib.intake import document_key
from local_stack.api_client import ApiCredentials, SignedApiClient
from local_stack.storefront_client import Shopper
from local_stack.tour import ADA, dashboard_state, order_body
from order_contracts import Order, OrderRequest, order_placed
from tests.factories import s3_notification
from tests.newman import run_collection
from tests.stack_process import ROOT, StackProcess, running_stack

FINAL = {"CONFIRMED", "REJECTED"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def aws(stack: StackProcess) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )


def client(session: boto3.session.Session, stack: StackProcess, service: str) -> Any:
    return session.client(service, endpoint_url=stack.aws)  # type: ignore[call-overload]


def dashboard(stack: StackProcess) -> dict[str, Any]:
    return dashboard_state(stack.dashboard)


def put_order(stack: StackProcess, order_id: str, body: dict[str, Any]) -> int:
    """PUT an order through the order API, signed as the local integrator."""
    return stack.api_client().request("PUT", f"/orders/{order_id}", body)[0]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def api_status(stack: StackProcess, order_id: str) -> str:
    return str(stack.api_client().request("GET", f"/orders/{order_id}")[1].get("status"))


def final_status(stack: StackProcess, order_id: str) -> str:
    return str(
        wait_for(f"{order_id} to finish", lambda: (s := api_status(stack, order_id)) in FINAL and s)
    )


def stock(state: dict[str, Any], sku: str) -> int:
    return next(int(item["stock"]) for item in state["stock"] if item["sku"] == sku)


def emails_to(state: dict[str, Any], address: str) -> list[str]:
    return [email["subject"] for email in state["emails"] if email["to"] == address]


def order_row(state: dict[str, Any], order_id: str) -> dict[str, Any]:
    return next(order for order in state["orders"] if order["order_id"] == order_id)


def queues_drained(stack: StackProcess) -> bool:
    return all(q["visible"] == 0 and q["in_flight"] == 0 for q in dashboard(stack)["queues"])


def metric_totals(state: dict[str, Any]) -> dict[tuple[str, str], float]:
    """The dashboard's business metrics (summed from the EMF lines), by name and dimension."""
    return {(m["name"], m["dimension"]): m["total"] for m in state["metrics"]}


def test_orders_through_both_doors_are_confirmed_billed_and_emailed(stack: StackProcess) -> None:
    before = dashboard(stack)
    pot = order_body(ADA, [("POT-IRON", 2, "39.00")], "GBP")
    assert put_order(stack, "e2e-api-1", pot) == 201
    shopper = Shopper(stack.storefront)
    status, web_order = shopper.place_order(
        "Grace Hopper", "grace.e2e@example.com", "US", {"KETTLE-GOOSE": 1}
    )
    assert status == 303
    assert web_order is not None

    assert final_status(stack, "e2e-api-1") == "CONFIRMED"
    assert final_status(stack, web_order) == "CONFIRMED"
    # The storefront's status page tells the shopper who placed it the same.
    assert "CONFIRMED" in shopper.get(f"/orders/{web_order}")[1]
    state = wait_for(
        "both confirmations",
        lambda: (s := dashboard(stack)) and len(s["emails"]) >= len(before["emails"]) + 2 and s,
    )
    assert "Order e2e-api-1 confirmed" in emails_to(state, ADA["email"])
    assert emails_to(state, "grace.e2e@example.com") == [f"Order {web_order} confirmed"]
    assert stock(state, "POT-IRON") == stock(before, "POT-IRON") - 2
    assert stock(state, "KETTLE-GOOSE") == stock(before, "KETTLE-GOOSE") - 1
    # The ledger rows, in USD: GBP converted at the recorded rate; USD stays as it is.
    assert order_row(state, "e2e-api-1")["usd"].endswith(" USD")
    assert order_row(state, web_order)["usd"] == "64.99 USD"
    # The email itself, as the dashboard shows it.
    [index] = [e["index"] for e in state["emails"] if e["to"] == "grace.e2e@example.com"]
    with urllib.request.urlopen(f"{stack.dashboard}/emails/{index}") as page:  # noqa: S310
        email = page.read().decode()
    assert "1 x Gooseneck kettle at 64.99 USD" in email  # the catalog's name, not the SKU
    # Its links lead to the storefront that placed the order, signed with the web tier's key.
    assert f'href="{stack.storefront}/orders/{web_order}?link=' in email
    assert f'href="{stack.storefront}/orders/{web_order}/cancel?link=' in email
    # The business metrics: the functions' lines in process, the web tier's from its log.
    counted = metric_totals(before)

    def grown(name: str, dimension: str = "") -> float:
        return metric_totals(dashboard(stack)).get((name, dimension), 0) - counted.get(
            (name, dimension), 0
        )

    wait_for("the emails' metric lines", lambda: grown("EmailsSent") >= 2)
    assert grown("OrdersPlaced", "door=api") == 1
    assert grown("OrdersPlaced", "door=web") == 1
    assert grown("OrdersReserved") == 2
    assert grown("OrdersBilled") == 2
    assert grown("EmailsSent") == 2


@pytest.mark.parametrize(
    ("caller", "error"),
    [
        (None, "missing_authentication_token"),
        ("forged", "invalid_signature"),
        ("expired", "expired_signature"),
        ("order-reader", "access_denied"),
    ],
)
def test_an_order_without_the_right_credentials_is_refused_and_leaves_no_trace(
    stack: StackProcess, aws: boto3.session.Session, caller: str | None, error: str
) -> None:
    order_id = f"e2e-refused-{error.replace('_', '-')}"
    body = order_body(ADA, [("TEA-EARLGREY", 1, "4.50")], "EUR")
    integrator = stack.api_callers["order-integrator"]
    if caller == "forged":
        forged = ApiCredentials(integrator["access_key_id"], "not-the-secret")
        client_ = SignedApiClient(stack.api, forged, stack.region)
    elif caller == "expired":
        client_ = SignedApiClient(
            stack.api, ApiCredentials.of(integrator), stack.region, clock_skew=-600
        )
    else:
        client_ = stack.api_client(caller)
    status, refusal = client_.request("PUT", f"/orders/{order_id}", body)
    assert (status, refusal["error"]) == (403, error)
    # Nothing stored, nothing published: the function never ran.
    s3 = client(aws, stack, "s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix=document_key(order_id)).get("KeyCount") == 0
    time.sleep(0.5)
    assert stack.api_client().request("GET", f"/orders/{order_id}")[0] == 404


def test_every_route_refuses_unsigned_and_wrong_role_callers(stack: StackProcess) -> None:
    unsigned = stack.api_client(None)
    reader = stack.api_client("order-reader")
    for method, path in [
        ("PUT", "/orders/e2e-x"),
        ("GET", "/orders/e2e-x"),
        ("GET", "/catalog"),
        ("PUT", "/catalog/TEA-EARLGREY"),
        ("POST", "/catalog/TEA-EARLGREY/restock"),
    ]:
        status, refusal = unsigned.request(method, path, {})
        assert (status, refusal["error"]) == (403, "missing_authentication_token"), path
    for method, path in [
        ("PUT", "/orders/e2e-x"),
        ("PUT", "/catalog/TEA-EARLGREY"),
        ("POST", "/catalog/TEA-EARLGREY/restock"),
    ]:
        status, refusal = reader.request(method, path, {})
        assert (status, refusal["error"]) == (403, "access_denied"), path
    # The ';' that chalice's own local server took for a parameter separator.
    status, refusal = stack.api_client().request(
        "PUT", "/orders/x;drop", order_body(ADA, [("TEA-EARLGREY", 1, "4.50")], "EUR")
    )
    assert (status, refusal["error"]) == (400, "invalid_order")


def test_a_tampered_price_is_rejected_never_billed_and_a_guest_is_refused_at_the_api(
    stack: StackProcess,
) -> None:
    cheap = order_body(ADA, [("POT-IRON", 1, "0.01")], "GBP")
    assert put_order(stack, "e2e-cheap", cheap) == 201
    wrong_currency = order_body(ADA, [("POT-IRON", 1, "39.00")], "EUR")
    assert put_order(stack, "e2e-wrong-currency", wrong_currency) == 201
    assert final_status(stack, "e2e-cheap") == "REJECTED"
    assert final_status(stack, "e2e-wrong-currency") == "REJECTED"
    reasons = {
        order_id: stack.api_client().request("GET", f"/orders/{order_id}")[1]["rejection"]
        for order_id in ("e2e-cheap", "e2e-wrong-currency")
    }
    assert [r["reason"] for r in reasons["e2e-cheap"]] == ["price_changed"]
    assert [r["reason"] for r in reasons["e2e-wrong-currency"]] == ["currency_mismatch"]
    state = dashboard(stack)
    assert order_row(state, "e2e-cheap")["usd"] == ""  # never billed
    assert order_row(state, "e2e-wrong-currency")["usd"] == ""

    guest = {**ADA, "customer_id": "guest-e2e-api", "email": "anyone@example.com"}
    body = order_body(guest, [("TEA-EARLGREY", 1, "4.50")], "EUR")
    status, refusal = stack.api_client().request("PUT", "/orders/e2e-guest", body)
    assert (status, refusal["error"]) == (400, "invalid_order")
    assert refusal["problems"][0]["field"] == "customer.customer_id"


def test_cancelling_a_confirmed_order_gives_its_stock_back_reverses_its_charge_once(
    stack: StackProcess,
) -> None:
    before = dashboard(stack)
    tea = order_body(ADA, [("TEA-EARLGREY", 2, "4.50")], "EUR")
    assert put_order(stack, "e2e-cancel", tea) == 201
    assert final_status(stack, "e2e-cancel") == "CONFIRMED"
    assert stock(dashboard(stack), "TEA-EARLGREY") == stock(before, "TEA-EARLGREY") - 2

    status, cancelled = stack.api_client().request("POST", "/orders/e2e-cancel/cancel")
    assert (status, cancelled["status"], cancelled["rejection"]) == (200, "CANCELLED", [])
    assert [entry["status"] for entry in cancelled["history"]] == [
        "RECEIVED",
        "RESERVED",
        "BILLED",
        "CONFIRMED",
        "CANCELLED",
    ]
    assert api_status(stack, "e2e-cancel") == "CANCELLED"
    subject = "Order e2e-cancel cancelled"
    state = wait_for(
        "the reversal and the cancellation email",
        lambda: (
            (s := dashboard(stack))
            and order_row(s, "e2e-cancel")["reversed"]
            and subject in emails_to(s, ADA["email"])
            and s
        ),
    )
    row = order_row(state, "e2e-cancel")
    assert row["status"] == "CANCELLED"
    assert row["usd"].endswith(" USD")
    assert row["reversed"] == f"-{row['usd']}"  # the charge negated, at its rate
    assert stock(state, "TEA-EARLGREY") == stock(before, "TEA-EARLGREY")

    # A second cancel is answered the same and changes nothing.
    assert stack.api_client().request("POST", "/orders/e2e-cancel/cancel") == (200, cancelled)
    wait_for("the queues to drain", lambda: queues_drained(stack))
    again = dashboard(stack)
    assert stock(again, "TEA-EARLGREY") == stock(before, "TEA-EARLGREY")
    assert order_row(again, "e2e-cancel") == row
    assert emails_to(again, ADA["email"]).count(subject) == 1
    ledger = DbApiRunner.sqlite(str(stack.state_dir / "billing.db"))
    count = "SELECT COUNT(*) FROM billing_reversals WHERE order_id = :order_id"
    assert ledger.execute(count, {"order_id": "e2e-cancel"})[0][0] == 1


def test_an_out_of_stock_order_is_rejected_with_a_notice_and_no_ledger_row(
    stack: StackProcess,
) -> None:
    before = dashboard(stack)
    oolong = order_body(ADA, [("TEA-OOLONG", 1, "7.80")], "EUR")
    assert put_order(stack, "e2e-oolong", oolong) == 201

    assert final_status(stack, "e2e-oolong") == "REJECTED"
    state = wait_for(
        "the rejection notice",
        lambda: (
            (s := dashboard(stack))
            and "Order e2e-oolong could not be accepted" in emails_to(s, ADA["email"])
            and s
        ),
    )
    row = order_row(state, "e2e-oolong")
    assert row["usd"] == ""  # no ledger row
    assert "TEA-OOLONG out_of_stock" in row["rejection"]
    assert stock(state, "TEA-OOLONG") == stock(before, "TEA-OOLONG") == 0


def test_a_duplicate_delivery_into_the_fulfillment_queue_changes_nothing(
    stack: StackProcess, aws: boto3.session.Session
) -> None:
    body = order_body(ADA, [("TEA-EARLGREY", 3, "4.50")], "EUR")
    assert put_order(stack, "e2e-dup", body) == 201
    assert final_status(stack, "e2e-dup") == "CONFIRMED"
    wait_for("the queues to drain", lambda: queues_drained(stack))
    before = dashboard(stack)

    # S3 and SNS deliver at least once: the same order arrives again, twice, both ways.
    sqs = client(aws, stack, "sqs")
    queue_url = sqs.get_queue_url(QueueName="order-fulfillment")["QueueUrl"]
    bucket = client(aws, stack, "s3").list_buckets()["Buckets"][0]["Name"]
    order = Order.from_request("e2e-dup", OrderRequest.model_validate(body))
    again = order_placed(order, source="api", correlation_id="dup", now=datetime.now(UTC))
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=s3_notification(bucket, document_key(order.order_id))
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=again.to_json())
    time.sleep(1)
    wait_for("the duplicates to be consumed", lambda: queues_drained(stack))

    after = dashboard(stack)
    assert after["stock"] == before["stock"]
    assert after["counters"] == before["counters"]
    assert after["emails"] == before["emails"]
    assert order_row(after, "e2e-dup") == order_row(before, "e2e-dup")
    assert all(q["dead_letters"] == 0 for q in after["queues"] if q["name"] == "order-fulfillment")


def test_a_poison_message_is_dead_lettered_and_the_redrive_command_brings_it_back(
    stack: StackProcess, aws: boto3.session.Session
) -> None:
    sqs = client(aws, stack, "sqs")
    queue_url = sqs.get_queue_url(QueueName="order-fulfillment")["QueueUrl"]
    dead_letter_url = sqs.get_queue_url(QueueName="order-fulfillment-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="this is not an order")

    # Five attempts, RETRY_DELAY_SECONDS apart, then the DLQ with the reason.
    wait_for("the dead letter", lambda: depth(sqs, dead_letter_url) == 1, timeout=60)
    [dead] = sqs.receive_message(
        QueueUrl=dead_letter_url, MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert dead["Body"] == "this is not an order"
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"].startswith("InvalidMessage")

    redrive = redrive_command(stack, "order-fulfillment")
    assert "order-fulfillment: 1 message(s) sent back from order-fulfillment-dlq" in redrive
    assert depth(sqs, dead_letter_url) == 0
    # Back on its queue it fails again (nothing fixed it) and returns to the DLQ with a reason.
    wait_for("the second dead letter", lambda: depth(sqs, dead_letter_url) == 1, timeout=60)
    assert redrive_command(stack, "order-fulfillment").startswith("order-fulfillment: 1 ")
    wait_for("the third dead letter", lambda: depth(sqs, dead_letter_url) == 1, timeout=60)
    sqs.purge_queue(QueueUrl=dead_letter_url)


def test_a_fixed_cause_and_a_redrive_complete_the_order(stack: StackProcess) -> None:
    # An API customer the contact book does not know yet: billed, but no one to tell.
    stranger = {**ADA, "customer_id": "cust-e2e-new", "email": "new@example.com"}
    body = order_body(stranger, [("TEA-MATCHA", 1, "1200")], "JPY")
    assert put_order(stack, "e2e-new", body) == 201
    wait_for(
        "the notice to be dead-lettered",
        lambda: any(
            q["name"] == "order-notifications" and q["dead_letters"] == 1
            for q in dashboard(stack)["queues"]
        ),
    )
    assert api_status(stack, "e2e-new") == "BILLED"

    # The operator adds the contact, then redrives: the order completes, mailed once.
    book = SqlContactBook(DbApiRunner.sqlite(str(stack.state_dir / "billing.db")))
    book.save_contact(Contact("cust-e2e-new", "Nova Newcomer", "new@example.com"))
    assert "1 message(s) sent back" in redrive_command(stack, "order-notifications")
    assert final_status(stack, "e2e-new") == "CONFIRMED"
    state = wait_for(
        "the confirmation",
        lambda: (s := dashboard(stack)) and emails_to(s, "new@example.com") and s,
    )
    assert emails_to(state, "new@example.com") == ["Order e2e-new confirmed"]


def test_two_hundred_orders_at_once_all_finish_and_stock_never_goes_below_zero(
    stack: StackProcess, aws: boto3.session.Session
) -> None:
    inventory = client(aws, stack, "dynamodb")
    inventory.put_item(
        TableName="inventory",
        Item={
            "sku": {"S": "LOAD-TEST"},
            "name": {"S": "Load test tea"},
            "price": {"N": "1.00"},
            "currency": {"S": "EUR"},
            "stock": {"N": "150"},
        },
    )
    lines = [("LOAD-TEST", 1, "1.00")]
    # Each web worker reads the catalog at most every 2 s (CATALOG_MAX_AGE_SECONDS).
    time.sleep(2.5)

    def place(n: int) -> tuple[str, int]:
        if n % 2:
            order_id = f"load-api-{n:03d}"
            return order_id, put_order(stack, order_id, order_body(ADA, lines))
        status, web_order = Shopper(stack.storefront).place_order(
            "Grace Hopper", f"load-{n:03d}@example.com", "US", {"LOAD-TEST": 1}
        )
        return web_order or "", status

    with ThreadPoolExecutor(max_workers=32) as pool:
        placed = list(pool.map(place, range(200)))
    assert sorted({status for _, status in placed}) == [201, 303]
    order_ids = [order_id for order_id, _ in placed]

    lowest = 150

    def all_final() -> bool:
        nonlocal lowest
        item = inventory.get_item(
            TableName="inventory", Key={"sku": {"S": "LOAD-TEST"}}, ConsistentRead=True
        )
        lowest = min(lowest, int(item["Item"]["stock"]["N"]))
        statuses = [
            item["status"]["S"]
            for page in inventory.get_paginator("scan").paginate(
                TableName="orders", ConsistentRead=True
            )
            for item in page["Items"]
            if item["order_id"]["S"] in set(order_ids)
        ]
        return len(statuses) == 200 and all(s in FINAL for s in statuses)

    wait_for("200 orders to finish", all_final, timeout=600)
    statuses = [api_status(stack, order_id) for order_id in order_ids]
    assert statuses.count("CONFIRMED") == 150
    assert statuses.count("REJECTED") == 50
    assert lowest >= 0
    final = inventory.get_item(
        TableName="inventory", Key={"sku": {"S": "LOAD-TEST"}}, ConsistentRead=True
    )
    assert final["Item"]["stock"]["N"] == "0"


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def redrive_command(stack: StackProcess, queue: str) -> str:
    """What `make redrive QUEUE=...` runs, pointed at this stack's local AWS."""
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": stack.aws,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    result = subprocess.run(
        [sys.executable, "-m", "ops.redrive", queue],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_the_postman_collection_passes_with_newman(stack: StackProcess, tmp_path: Path) -> None:
    urls = {"api": stack.api, "region": stack.region, "api_callers": stack.api_callers}
    stats = run_collection(urls, tmp_path)
    assert stats["assertions"]["failed"] == 0
    # The flow (16), refusals (5), a guest and a tampered price (3), the catalog (1), cancels (5).
    assert stats["assertions"]["total"] == 30
