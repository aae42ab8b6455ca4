"""customer_communications: one email per order and outcome, suppressions, CONFIRMED."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from chalice.test import Client
from moto.ses.models import ses_backends

from chalicelib.adapters import CLIENT_CONFIG
from chalicelib.adapters.dead_letters import FAILURE_REASON_ATTRIBUTE
from chalicelib.adapters.mailer import SesMailer
from chalicelib.communications import Contact
from chalicelib.emails import confirmation
from chalicelib.services import get_services, set_services
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
    EventTap,
    Inventory,
    invoke,
    order_item,
    queue_messages,
    replace_services,
)
from tests.factories import order, placed, sqs_record

NOTIFICATIONS_ARN = "arn:aws:sqs:us-east-1:123456789012:order-notifications"
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
    assert "2 x MUG-BLUE at 12.00 EUR" in email.body
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
    assert "MUG-BLUE: you asked for 2, we have 1 left." in email.body
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


@pytest.mark.parametrize(
    ("notification_body", "suppressed"),
    [
        (
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "bouncedRecipients": [{"emailAddress": "a@x.example"}],
                },
            },
            "permanent_bounce",
        ),
        (
            {
                "eventType": "Complaint",
                "complaint": {"complainedRecipients": [{"emailAddress": "a@x.example"}]},
            },
            "complaint",
        ),
        (
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Transient",
                    "bouncedRecipients": [{"emailAddress": "a@x.example"}],
                },
            },
            None,
        ),
        ({"notificationType": "Delivery", "delivery": {"recipients": ["a@x.example"]}}, None),
    ],
)
def test_feedback_suppresses_permanent_bounces_and_complaints_only(
    client: Client, aws: Provisioned, notification_body: dict[str, Any], suppressed: str | None
) -> None:
    client.lambda_.invoke(
        "record_ses_feedback",
        client.events.generate_sns_event(message=json.dumps(notification_body)),
    )
    assert get_services().contacts.suppression("a@x.example") == suppressed


def test_an_ses_rejection_leaves_the_message_for_retry(
    client: Client, inventory: Inventory, ada: Contact
) -> None:
    billed = billed_order(client)
    services = get_services()
    unverified = SesMailer(boto3.client("sesv2"), sender="someone@unverified.example")
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
    sns = boto3.client("sns")
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


def test_names_and_ids_are_escaped_in_html() -> None:
    o = order("ord-1", [("MUG-BLUE", 1, "12.00")])
    billing = Billing(
        usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"
    )
    email = confirmation(o, billing, "<script>alert(1)</script>")
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<script>alert(1)</script>" in email.text


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def test_ses_throttling_is_retried_with_backoff(aws: Provisioned) -> None:
    """The first SendEmail is answered 429 at the HTTP layer; botocore retries it."""
    client = boto3.client("sesv2", config=CLIENT_CONFIG)
    attempts: list[str] = []

    def throttle_first_attempt(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(request.url)
        if len(attempts) > 1:
            return None  # on to moto
        headers = {
            "x-amzn-ErrorType": "TooManyRequestsException",
            "Content-Type": "application/json",
        }
        return AWSResponse(
            request.url, 429, headers, _Body(b'{"message": "Maximum sending rate exceeded."}')
        )

    client.meta.events.register_first("before-send.sesv2.SendEmail", throttle_first_attempt)
    email = confirmation(
        order("ord-1", [("MUG-BLUE", 1, "12.00")]),
        Billing(usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"),
        "Ada",
    )
    message_id = SesMailer(client, sender="orders@shop.example.com").send(
        "ada@example.com", email, "ord-1"
    )

    # Retried once, then accepted. (botocore shows before-send to every handler, so moto also
    # saw the throttled attempt: its outbox is not the measure here.)
    assert len(attempts) == 2
    assert message_id == sent_emails()[-1].id
