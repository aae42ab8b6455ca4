"""communications.customer_communications on in-memory fakes: one email per order and outcome."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.communications import (
    Contact,
    EmailStatus,
    GuestEmailLimit,
    MissingContact,
    customer_communications,
)
from chalicelib.orders import Transition
from chalicelib.reservation import process_order
from order_contracts import (
    Billing,
    Order,
    OrderBilled,
    OrderConfirmed,
    OrderRejected,
    StockShortage,
    guest_customer_id,
)
from tests.factories import order, placed
from tests.fakes import InMemoryContactBook, InMemoryOrderStore, RecordingMailer, RecordingPublisher

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
BILLING = Billing(usd_total=Decimal("25.26"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20")
ADA = Contact("cust-0001", "Ada Lovelace", "ada@example.com")


class Pipeline:
    """The ports of the step, in memory, and the order's way up to it."""

    def __init__(self, guest_emails_per_hour: int = 5) -> None:
        self.store = InMemoryOrderStore()
        self.book = InMemoryContactBook()
        self.mailer = RecordingMailer()
        self.publisher = RecordingPublisher()
        self.guests = GuestEmailLimit(self.book, per_hour=guest_emails_per_hour)
        self.clock = AT

    def now(self) -> datetime:
        return self.clock

    def billed(self, order_: Order) -> OrderBilled:
        """Reserve and bill the order, as the two steps before this one do."""
        for line in order_.lines:
            self.store.inventory.stock(line.sku, 100, str(line.unit_price), order_.currency)
        process_order(placed(order_), self.store, RecordingPublisher(), self.now)
        billed = OrderBilled(
            order_id=order_.order_id,
            occurred_at=AT,
            correlation_id="corr-test",
            order=order_,
            billing=BILLING,
        )
        assert self.store.advance(Transition("RESERVED", "BILLED", billed)) is not None
        return billed

    def tell(self, event: OrderBilled | OrderRejected) -> str:
        return customer_communications(
            event, self.book, self.mailer, self.store, self.publisher, self.now, self.guests
        )


@pytest.fixture
def pipeline() -> Pipeline:
    pipeline = Pipeline()
    pipeline.book.save_contact(ADA)
    return pipeline


def mugs(order_id: str = "ord-1", **changes: object) -> Order:
    return order(order_id, [("MUG-BLUE", 2, "12.00")], **changes)


def test_a_billed_order_gets_one_confirmation_and_is_confirmed(pipeline: Pipeline) -> None:
    billed = pipeline.billed(mugs())

    assert pipeline.tell(billed) == "sent"

    [sent] = pipeline.mailer.sent
    assert (sent.to, sent.email.subject) == ("ada@example.com", "Order ord-1 confirmed")
    assert "25.26 USD" in sent.email.text
    record = pipeline.store.get("ord-1")
    assert record is not None
    assert record.status == "CONFIRMED"
    [confirmed] = pipeline.publisher.published
    assert isinstance(confirmed, OrderConfirmed)
    assert confirmed.email == "sent"


def test_redeliveries_send_one_email_and_confirm_once(pipeline: Pipeline) -> None:
    billed = pipeline.billed(mugs())

    assert [pipeline.tell(billed) for _ in range(3)] == ["sent", "sent", "sent"]

    assert len(pipeline.mailer.sent) == 1
    assert pipeline.publisher.types() == ["OrderConfirmed"]


def test_a_rejected_order_gets_a_notice_and_stays_rejected(pipeline: Pipeline) -> None:
    o = mugs()
    pipeline.store.inventory.stock("MUG-BLUE", 1, "12.00")
    record = process_order(placed(o), pipeline.store, RecordingPublisher(), pipeline.now)
    rejected = OrderRejected(
        order_id="ord-1",
        occurred_at=AT,
        correlation_id="corr-test",
        order=o,
        reasons=record.rejection,
    )

    assert pipeline.tell(rejected) == "sent"

    [sent] = pipeline.mailer.sent
    assert "MUG-BLUE: you asked for 2, only 1 left." in sent.email.text
    assert pipeline.store.records["ord-1"].status == "REJECTED"
    assert pipeline.publisher.published == []
    assert record.rejection == [
        StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1)
    ]


def test_a_suppressed_address_gets_nothing_and_the_order_is_confirmed_saying_why(
    pipeline: Pipeline,
) -> None:
    pipeline.book.suppress("ADA@example.com", "complaint", AT)
    billed = pipeline.billed(mugs())

    assert pipeline.tell(billed) == "suppressed"

    assert pipeline.mailer.sent == []
    record = pipeline.store.get("ord-1")
    assert record is not None
    assert (record.status, record.history[-1].detail) == (
        "CONFIRMED",
        "email suppressed: the address bounced or complained",
    )
    [confirmed] = pipeline.publisher.published
    assert isinstance(confirmed, OrderConfirmed)
    assert confirmed.email == "suppressed"


def test_a_registered_customer_without_a_contact_is_a_failure_to_retry() -> None:
    pipeline = Pipeline()
    billed = pipeline.billed(mugs())

    with pytest.raises(MissingContact, match="cust-0001"):
        pipeline.tell(billed)
    assert pipeline.mailer.sent == []
    assert pipeline.store.records["ord-1"].status == "BILLED"


def test_a_refused_send_is_retried_and_then_sent_once(pipeline: Pipeline) -> None:
    pipeline.mailer = RecordingMailer(refusals=1)
    billed = pipeline.billed(mugs())

    with pytest.raises(ConnectionError):
        pipeline.tell(billed)
    assert pipeline.store.records["ord-1"].status == "BILLED"

    assert pipeline.tell(billed) == "sent"
    assert len(pipeline.mailer.sent) == 1


def test_a_guest_address_gets_its_emails_an_hour_and_every_order_is_confirmed() -> None:
    pipeline = Pipeline(guest_emails_per_hour=2)
    guest = {
        "customer_id": guest_customer_id("grace@example.com"),
        "name": "Grace",
        "email": "grace@example.com",
        "country": "GB",
    }
    statuses = []
    for n in range(3):
        pipeline.clock = AT + timedelta(minutes=n)
        statuses.append(pipeline.tell(pipeline.billed(mugs(f"ord-{n}", customer=guest))))
    pipeline.clock = AT + timedelta(hours=1, minutes=1)
    statuses.append(pipeline.tell(pipeline.billed(mugs("ord-3", customer=guest))))

    assert statuses == ["sent", "sent", "rate_limited", "sent"]
    assert [sent.order_id for sent in pipeline.mailer.sent] == ["ord-0", "ord-1", "ord-3"]
    assert {record.status for record in pipeline.store.records.values()} == {"CONFIRMED"}
    assert pipeline.store.records["ord-2"].history[-1].detail == (
        "no email: this guest address already had its 2 emails in the last hour"
    )


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
