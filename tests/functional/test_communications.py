"""customer_communications through the Chalice client on moto (app.py, consumers.py,
communications.py, adapters/mailer.py): one email per order and outcome, suppressions,
CONFIRMED, and guests' emails limited per address and hour.

communications.customer_communications alone, on fakes, is in tests/unit/test_communications.py.
"""

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client
from moto.ses.models import ses_backends

from chalicelib.adapters.dead_letters import FAILURE_REASON_ATTRIBUTE
from chalicelib.adapters.mailer import SesMailer
from chalicelib.communications import Contact, EmailStatus, customer_communications
from chalicelib.services import Services, get_services, set_services
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
from tests.conftest import (
    BOTO3_SESSION,
    EventTap,
    Inventory,
    invoke,
    order_item,
    queue_messages,
    replace_services,
)
from tests.factories import order, placed, sqs_record

NOTIFICATIONS_ARN = "arn:aws:sqs:us-east-1:123456789012:order-notifications"
BILLING_ARN = "arn:aws:sqs:us-east-1:123456789012:order-billing"
AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def sent_emails() -> list[Any]:
    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


@pytest.fixture
def ada(aws: Provisioned) -> Contact:
    contact = Contact("cust-0001", "Ada Lovelace", "ada@example.com")
    get_services().contacts.save_contact(contact)
    return contact


def billed_order(client: Client, order_id: str = "ord-1") -> OrderBilled:
    """Take an order through fulfillment and billing, as the pipeline does."""
    Inventory().stock("MUG-BLUE", 100, price="12.00")  # the reservation checks the price
    o = order(order_id, [("MUG-BLUE", 2, "12.00")])
    assert invoke(client, "process_order", sqs_record(placed(o).to_json())) == []
    reserved = OrderReserved(order_id=order_id, occurred_at=AT, correlation_id="corr-test", order=o)
    billing_arn = NOTIFICATIONS_ARN.replace("notifications", "billing")
    assert (
        invoke(client, "initiate_billing", sqs_record(reserved.to_json(), queue_arn=billing_arn))
        == []
    )
    assert order_item(order_id)["status"] == "BILLED"
    return OrderBilled(
        order_id=order_id,
        occurred_at=AT,
        correlation_id="corr-test",
        order=o,
        billing=Billing(
            usd_total=Decimal("25.26"), usd_rate=Decimal("1.0523000000"), rate_date="2026-11-20"
        ),
    )


def notification(event: OrderBilled | OrderRejected, receive_count: int = 1) -> dict[str, Any]:
    return sqs_record(
        event.to_json(),
        attributes=event.attributes(),
        queue_arn=NOTIFICATIONS_ARN,
        receive_count=receive_count,
    )


def test_a_billed_order_gets_one_confirmation_and_is_confirmed(
    client: Client, inventory: Inventory, ada: Contact, published: EventTap
) -> None:
    billed = billed_order(client)
    published.drain()

    assert invoke(client, "customer_communications", notification(billed)) == []

    [email] = sent_emails()
    assert email.destinations == {"ToAddresses": ["ada@example.com"]}
    assert email.source == "orders@shop.example.com"
    assert email.subject == "Order ord-1 confirmed"
    assert "2 x Mug-Blue at 12.00 EUR = 24.00 EUR" in email.body  # the catalog's name
    assert "24.00 EUR" in email.body
    assert "25.26 USD" in email.body
    # Nothing ships: the email promises only what the pipeline does.
    assert "Keep this email as your receipt." in email.body
    assert "ships" not in email.body
    assert order_item("ord-1")["status"] == "CONFIRMED"
    [(body, attributes)] = published.drain()
    assert (attributes["event_type"], body["email"]) == ("OrderConfirmed", "sent")
    history = client.http.get("/orders/ord-1").json_body["history"]
    assert [entry["status"] for entry in history] == ["RECEIVED", "RESERVED", "BILLED", "CONFIRMED"]


def test_a_duplicate_order_billed_sends_one_email(
    client: Client, inventory: Inventory, ada: Contact, published: EventTap
) -> None:
    billed = billed_order(client)
    published.drain()
    assert invoke(client, "customer_communications", notification(billed)) == []
    assert invoke(client, "customer_communications", notification(billed)) == []
    assert len(sent_emails()) == 1
    assert [body["event_type"] for body, _ in published.drain()] == ["OrderConfirmed"]


def test_a_rejected_order_gets_a_notice_saying_what_was_out_of_stock(
    client: Client, inventory: Inventory, ada: Contact
) -> None:
    inventory.stock("MUG-BLUE", 1, price="12.00")
    o = order("ord-1", [("MUG-BLUE", 2, "12.00")])
    rejected = OrderRejected(
        order_id="ord-1",
        occurred_at=AT,
        correlation_id="corr-test",
        order=o,
        reasons=[StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1)],
    )
    assert invoke(client, "process_order", sqs_record(placed(o).to_json())) == []

    assert invoke(client, "customer_communications", notification(rejected)) == []
    assert invoke(client, "customer_communications", notification(rejected)) == []

    [email] = sent_emails()
    assert email.subject == "Order ord-1 could not be accepted"
    assert "Mug-Blue: you asked for 2, only 1 left." in email.body  # the catalog's name
    assert order_item("ord-1")["status"] == "REJECTED"


def test_a_suppressed_address_gets_no_email_and_the_order_still_completes(
    client: Client, inventory: Inventory, ada: Contact, published: EventTap
) -> None:
    bounce = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "ADA@example.com"}],
        },
    }
    client.lambda_.invoke(
        "record_ses_feedback", client.events.generate_sns_event(message=json.dumps(bounce))
    )
    billed = billed_order(client)
    published.drain()

    assert invoke(client, "customer_communications", notification(billed)) == []

    assert sent_emails() == []
    item = order_item("ord-1")
    assert item["status"] == "CONFIRMED"
    assert "suppressed" in item["history"][-1]["detail"]
    [(body, _)] = published.drain()
    assert body["email"] == "suppressed"


def test_an_ses_rejection_leaves_the_message_for_retry(
    client: Client, inventory: Inventory, ada: Contact
) -> None:
    billed = billed_order(client)
    services = get_services()
    unverified = SesMailer(BOTO3_SESSION.client("sesv2"), sender="someone@unverified.example")
    replace_services(mailer=unverified)
    record = notification(billed)

    assert invoke(client, "customer_communications", record) == [record["messageId"]]
    assert sent_emails() == []
    assert order_item("ord-1")["status"] == "BILLED"

    set_services(services)  # the sender is verified now: the retry sends, once
    assert invoke(client, "customer_communications", record) == []
    assert len(sent_emails()) == 1
    assert order_item("ord-1")["status"] == "CONFIRMED"


def test_a_missing_contact_is_retried_then_dead_lettered_with_its_reason(
    client: Client, inventory: Inventory, aws: Provisioned
) -> None:
    billed = billed_order(client)
    first = notification(billed)
    assert invoke(client, "customer_communications", first) == [first["messageId"]]

    last = notification(billed, receive_count=5)
    assert invoke(client, "customer_communications", last) == []
    [dead] = queue_messages(aws.queue_urls["order-notifications-dlq"])
    reason = dead["MessageAttributes"][FAILURE_REASON_ATTRIBUTE]["StringValue"]
    assert reason == "MissingContact: no contact for customer cust-0001"
    assert sent_emails() == []


def test_a_guest_is_mailed_at_the_address_given_at_checkout(
    client: Client, inventory: Inventory, aws: Provisioned
) -> None:
    # Storefront shoppers have no row in the contact book: their order is their contact.
    guest = {
        "customer_id": guest_customer_id("Grace@Example.com"),
        "name": "Grace Hopper",
        "email": "Grace@Example.com",
        "country": "US",
    }
    o = order("web-guest-1", [("MUG-BLUE", 1, "12.00")], customer=guest)
    rejected = OrderRejected(
        order_id=o.order_id,
        occurred_at=AT,
        correlation_id="corr-test",
        order=o,
        reasons=[StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=1, available=0)],
    )
    record = notification(rejected)
    assert invoke(client, "customer_communications", record) == []
    [email] = sent_emails()
    assert email.destinations["ToAddresses"] == ["Grace@Example.com"]
    assert guest_customer_id("grace@example.com ") == guest["customer_id"]
    assert guest["customer_id"].startswith("guest-")


def test_only_billed_and_rejected_reach_the_notifications_queue(aws: Provisioned) -> None:
    sns = BOTO3_SESSION.client("sns")
    for event_type in ("OrderReserved", "OrderBilled", "OrderRejected", "OrderConfirmed"):
        sns.publish(
            TopicArn=aws.topic_arns["order-events"],
            Message=json.dumps({"event_type": event_type}),
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
        )
    messages = queue_messages(aws.queue_urls["order-notifications"])
    assert sorted(json.loads(m["Body"])["event_type"] for m in messages) == [
        "OrderBilled",
        "OrderRejected",
    ]


# Guests' emails, limited per address and hour: the storefront cannot mail anyone at volume --


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
