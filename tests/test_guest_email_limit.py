"""Guests' emails are limited per address and hour: the storefront cannot mail anyone at volume."""

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from chalice.test import Client
from moto.ses.models import ses_backends

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.data_api import DataApiRunner
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import CLAIM_GUEST_EMAIL, SqlLedger
from chalicelib.communications import (
    Contact,
    EmailStatus,
    GuestEmailLimit,
    customer_communications,
)
from chalicelib.services import Services, get_services
from chalicelib.settings import Settings, SettingsError
from local_stack.dashboard import LocalState, create_dashboard
from local_stack.resources import Provisioned
from order_contracts import (
    Billing,
    OrderBilled,
    OrderRejected,
    OrderReserved,
    StockShortage,
    guest_customer_id,
)
from tests.conftest import EventTap, Inventory, invoke, order_item
from tests.factories import order, placed, sqs_record
from tests.postgres import fresh_database, postgres_server

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
BILLING_ARN = "arn:aws:sqs:us-east-1:123456789012:order-billing"


# The SQL, on SQLite and PostgreSQL ------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[SqlLedger, SqlContactBook]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'billing.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres"))
    runner = database_from_url(url)
    ledger = SqlLedger(runner)
    ledger.migrate()
    return ledger, SqlContactBook(runner)


def claim(
    ledger: SqlLedger,
    order_id: str,
    at: datetime = AT,
    recipient: str = "grace@example.com",
    limit: int = 3,
    outcome: str = "confirmation",
) -> EmailStatus:
    return ledger.claim_guest_email(
        order_id,
        outcome,  # type: ignore[arg-type]
        recipient,
        at,
        since=at - timedelta(hours=1),
        limit=limit,
    )


def test_the_emails_past_the_limit_in_an_hour_are_refused(
    database: tuple[SqlLedger, SqlContactBook],
) -> None:
    ledger, contacts = database
    statuses = [claim(ledger, f"g-{n}", AT + timedelta(minutes=n)) for n in range(5)]
    assert statuses == ["sending", "sending", "sending", "rate_limited", "rate_limited"]
    # Another address is counted on its own.
    assert claim(ledger, "g-9", AT, recipient="ada@example.com") == "sending"
    assert ledger.order_emails("g-3") == [("confirmation", "rate_limited")]
    assert ledger.order_emails("g-0") == [("confirmation", "sending")]
    contacts.mark_email("g-0", "confirmation", "sent", "msg-0", AT)  # sent still counts
    assert claim(ledger, "g-5", AT + timedelta(minutes=30)) == "rate_limited"


def test_the_decision_is_made_once_per_order_and_outcome(
    database: tuple[SqlLedger, SqlContactBook],
) -> None:
    ledger, _ = database
    for n in range(3):
        claim(ledger, f"g-{n}", AT)
    assert claim(ledger, "g-3", AT) == "rate_limited"
    # Redelivered two hours later, when the address could be mailed again: still refused.
    assert claim(ledger, "g-3", AT + timedelta(hours=2)) == "rate_limited"
    # And a claim being sent stays being sent (the existing retry after a crash mid-send).
    assert claim(ledger, "g-0", AT + timedelta(hours=2)) == "sending"


def test_only_the_last_hour_counts(database: tuple[SqlLedger, SqlContactBook]) -> None:
    ledger, _ = database
    for n in range(3):
        claim(ledger, f"g-{n}", AT + timedelta(minutes=n))
    assert claim(ledger, "g-3", AT + timedelta(minutes=59)) == "rate_limited"
    # An hour after the first claim it drops out of the window (microseconds and all).
    assert claim(ledger, "g-4", AT + timedelta(hours=1, microseconds=1)) == "sending"


def test_refused_suppressed_and_registered_emails_are_not_counted(
    database: tuple[SqlLedger, SqlContactBook],
) -> None:
    ledger, contacts = database
    assert claim(ledger, "g-0", AT, limit=1) == "sending"
    contacts.mark_email("g-0", "confirmation", "suppressed", None, AT)
    for n in range(3):  # a registered customer's emails: no recipient recorded, not counted
        assert contacts.claim_email(f"r-{n}", "confirmation", AT) == "sending"
    assert claim(ledger, "g-1", AT, limit=1) == "sending"
    assert claim(ledger, "g-2", AT, limit=1) == "rate_limited"
    assert claim(ledger, "g-3", AT, limit=1) == "rate_limited"
    assert claim(ledger, "g-4", AT, limit=0) == "rate_limited"


def test_the_claim_is_one_data_api_statement_with_typed_parameters() -> None:
    client = boto3.client("rds-data", region_name="us-east-1")
    cluster = "arn:aws:rds:us-east-1:123456789012:cluster:orders-billing"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:billing-app-AbCdEf"
    ledger = SqlLedger(
        DataApiRunner(client, resource_arn=cluster, secret_arn=secret, database="orders")
    )
    with Stubber(client) as stubber:
        stubber.add_response(
            "execute_statement",
            {"records": [[{"stringValue": "rate_limited"}]], "numberOfRecordsUpdated": 1},
            {
                "resourceArn": cluster,
                "secretArn": secret,
                "database": "orders",
                "sql": CLAIM_GUEST_EMAIL,
                "parameters": [
                    {"name": "order_id", "value": {"stringValue": "web-1"}},
                    {"name": "outcome", "value": {"stringValue": "confirmation"}},
                    {"name": "recipient", "value": {"stringValue": "grace@example.com"}},
                    {"name": "at", "value": {"stringValue": "2026-11-21T09:30:00.000000+00:00"}},
                    {
                        "name": "since",
                        "value": {"stringValue": "2026-11-21T08:30:00.000000+00:00"},
                    },
                    {"name": "limit", "value": {"longValue": 3}},
                ],
            },
        )
        assert claim(ledger, "web-1") == "rate_limited"
        stubber.assert_no_pending_responses()


# The flow: customer communications with the limit ---------------------------------------------


GRACE = {
    "customer_id": guest_customer_id("grace@example.com"),
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "country": "US",
}


def sent_to(address: str) -> list[str]:
    messages = ses_backends["123456789012"]["us-east-1"].sent_messages
    return [m.subject for m in messages if address in m.destinations["ToAddresses"]]


@pytest.fixture
def shop(client: Client, inventory: Inventory) -> Client:
    inventory.stock("MUG-BLUE", 100, price="12.00")  # the price the orders below pay
    return client


def billed(client: Client, order_id: str, customer: dict[str, str]) -> OrderBilled:
    """Take an order through fulfillment and billing, as the pipeline does."""
    o = order(order_id, [("MUG-BLUE", 1, "12.00")], customer=customer)
    assert invoke(client, "process_order", sqs_record(placed(o).to_json())) == []
    reserved = OrderReserved(order_id=order_id, occurred_at=AT, correlation_id="corr-test", order=o)
    billing_record = sqs_record(reserved.to_json(), queue_arn=BILLING_ARN)
    assert invoke(client, "initiate_billing", billing_record) == []
    assert order_item(order_id)["status"] == "BILLED"  # type: ignore[index]
    billing = Billing(
        usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"
    )
    return OrderBilled(
        order_id=order_id, occurred_at=AT, correlation_id="corr-test", order=o, billing=billing
    )


def tell(services: Services, event: OrderBilled | OrderRejected, at: datetime) -> EmailStatus:
    """What customer_communications does with the event, with the limit of the settings."""
    return customer_communications(
        event,
        services.contacts,
        services.mailer,
        services.store,
        services.publisher,
        lambda: at,
        services.guest_emails,
    )


def test_a_guest_address_gets_five_emails_an_hour_and_the_orders_are_confirmed(
    shop: Client, published: EventTap, log_output: io.StringIO
) -> None:
    services = get_services()
    assert services.guest_emails.per_hour == 5  # GUEST_EMAILS_PER_HOUR's default
    # GIVEN six orders by guests who all typed Grace's address, in different cases
    orders = [billed(shop, f"web-{n}", GRACE) for n in range(5)]
    shouted = {**GRACE, "email": "GRACE@example.com", "customer_id": guest_customer_id("GRACE")}
    orders.append(billed(shop, "web-5", shouted))
    published.drain()

    # WHEN customer communications handles them within the hour
    statuses = [tell(services, o, AT + timedelta(minutes=n)) for n, o in enumerate(orders)]

    # THEN five confirmations went, the sixth did not, and every order is confirmed
    assert statuses == ["sent"] * 5 + ["rate_limited"]
    assert len(sent_to("grace@example.com")) == 5
    assert sent_to("GRACE@example.com") == []
    item = order_item("web-5")
    assert item is not None
    assert item["status"] == "CONFIRMED"
    assert item["history"][-1]["detail"] == (
        "no email: this guest address already had its 5 emails in the last hour"
    )
    confirmed = {body["order_id"]: body["email"] for body, _ in published.drain()}
    assert confirmed == {**{f"web-{n}": "sent" for n in range(5)}, "web-5": "rate_limited"}
    [line] = [
        json.loads(line)
        for line in log_output.getvalue().splitlines()
        if "no email" in json.loads(line)["message"]
    ]
    assert (line["customer_id"], line["guest_emails_per_hour"]) == (shouted["customer_id"], 5)
    assert "grace" not in json.dumps(line).lower()  # the address itself stays out of the logs


def test_a_redelivery_after_the_hour_does_not_send_what_was_refused(
    shop: Client, published: EventTap
) -> None:
    services = get_services()
    orders = [billed(shop, f"web-{n}", GRACE) for n in range(6)]
    for n, o in enumerate(orders):
        tell(services, o, AT + timedelta(minutes=n))

    # The sixth order's message comes again two hours later (a retry, a redrive).
    assert tell(services, orders[5], AT + timedelta(hours=2)) == "rate_limited"

    assert len(sent_to("grace@example.com")) == 5
    item = order_item("web-5")
    assert item is not None
    assert [entry["status"] for entry in item["history"]][-1] == "CONFIRMED"
    assert len(item["history"]) == 4  # confirmed once


def test_rejection_notices_count_too(shop: Client) -> None:
    services = get_services()
    notices = [
        OrderRejected(
            order_id=f"web-{n}",
            occurred_at=AT,
            correlation_id="corr-test",
            order=order(f"web-{n}", [("MUG-BLUE", 1, "12.00")], customer=GRACE),
            reasons=[
                StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=1, available=0)
            ],
        )
        for n in range(6)
    ]
    statuses = [tell(services, notice, AT) for notice in notices]
    assert statuses == ["sent"] * 5 + ["rate_limited"]
    assert len(sent_to("grace@example.com")) == 5


def test_registered_customers_are_not_limited(shop: Client) -> None:
    services = get_services()
    ada = Contact("cust-0001", "Ada Lovelace", "ada@example.com")
    services.contacts.save_contact(ada)
    customer = {
        "customer_id": ada.customer_id,
        "name": ada.name,
        "email": ada.email,
        "country": "GB",
    }
    orders = [billed(shop, f"ord-{n}", customer) for n in range(7)]

    assert [tell(services, o, AT) for o in orders] == ["sent"] * 7
    assert len(sent_to("ada@example.com")) == 7


def test_the_dashboard_shows_that_no_email_went_and_why(shop: Client, aws: Provisioned) -> None:
    services = get_services()
    for n in range(6):
        tell(services, billed(shop, f"web-{n}", GRACE), AT)

    state = LocalState(aws, services.ledger)
    app = create_dashboard(state)
    app.config["TESTING"] = True
    snapshot = app.test_client().get("/state.json").get_json()
    page = app.test_client().get("/").get_data(as_text=True)

    [unsent] = snapshot["emails_not_sent"]
    assert unsent["order_id"] == "web-5"
    assert unsent["to"] == "grace@example.com"
    assert "guest address had its emails for the hour" in unsent["why"]
    row = next(o for o in snapshot["orders"] if o["order_id"] == "web-5")
    assert row["email"] == "confirmation rate_limited"
    assert "already had its 5 emails in the last hour" in row["history_notes"]
    assert "Emails not sent" in page
    assert "guest address had its emails for the hour" in page


# Settings -------------------------------------------------------------------------------------


REQUIRED = {
    "ORDERS_BUCKET": "b",
    "ORDERS_TABLE": "orders",
    "INVENTORY_TABLE": "inventory",
    "COUNTERS_TABLE": "counters",
    "ORDER_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:order-events",
    "BILLING_DATABASE_URL": "sqlite:///x.db",
    "SES_SENDER": "orders@shop.example.com",
}


@pytest.mark.parametrize(("value", "expected"), [(None, 5), ("12", 12), ("0", 0)])
def test_the_limit_is_a_setting(value: str | None, expected: int) -> None:
    environ = REQUIRED if value is None else {**REQUIRED, "GUEST_EMAILS_PER_HOUR": value}
    assert Settings.from_env(environ).guest_emails_per_hour == expected


@pytest.mark.parametrize("value", ["five", "-1", "2.5"])
def test_a_bad_limit_fails_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="GUEST_EMAILS_PER_HOUR"):
        Settings.from_env({**REQUIRED, "GUEST_EMAILS_PER_HOUR": value})


def test_the_limit_reaches_the_claim() -> None:
    seen: dict[str, Any] = {}

    class Log:
        def claim_guest_email(self, *args: Any, **kwargs: Any) -> EmailStatus:
            seen.update(args=args, **kwargs)
            return "sending"

    assert GuestEmailLimit(Log(), per_hour=7).claim("web-1", "confirmation", " Grace@X.org ", AT)
    assert seen == {
        "args": ("web-1", "confirmation", "grace@x.org", AT),
        "since": AT - timedelta(hours=1),
        "limit": 7,
    }
