"""The ports (chalicelib/orders.py, billing.py, communications.py, catalog.py): each port's
fake (tests/fakes.py) and its adapter (chalicelib/adapters/) pass the same assertions.

The adapters run on moto (DynamoDB, SNS, SES) or SQLite; the fakes in memory. What the unit
tests of the steps prove on the fakes therefore holds for the adapters too.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moto.ses.models import ses_backends

from chalicelib.adapters.order_store import ORDERS_CANCELLED, ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from chalicelib.billing import Ledger, LedgerEntry
from chalicelib.catalog import Catalog, ProductChange, UnknownProduct
from chalicelib.communications import Contact, ContactBook, GuestEmailLog, Mailer
from chalicelib.emails import Email
from chalicelib.fx import EuroRate
from chalicelib.orders import (
    EventPublisher,
    OrderAlreadyRecorded,
    OrderStore,
    ReservationRefused,
    Transition,
    new_record,
)
from chalicelib.services import get_services
from chalicelib.watchdog import InFlightOrders
from order_contracts import (
    Billing,
    CurrencyMismatch,
    OrderBilled,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    OrderReserved,
    PriceChanged,
    StockShortage,
    UnsupportedCurrency,
)
from tests.conftest import EventTap, Inventory, counter
from tests.factories import order, placed
from tests.fakes import (
    InMemoryCatalog,
    InMemoryContactBook,
    InMemoryDocuments,
    InMemoryInFlightOrders,
    InMemoryInventory,
    InMemoryLedger,
    InMemoryOrderStore,
    RecordingMailer,
    RecordingPublisher,
    StockItem,
)

AT = datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC)
SHORT = [StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=0)]
REAL = {
    "order store": "dynamodb",
    "publisher": "sns",
    "ledger": "sqlite",
    "contacts": "sqlite",
    "mailer": "ses",
    "catalog": "dynamodb",
}


def outcome(kind: Any, event: OrderPlaced, **fields: Any) -> Any:
    return kind(
        order_id=event.order_id,
        occurred_at=AT,
        correlation_id=event.correlation_id,
        order=event.order,
        **fields,
    )


# OrderStore ----------------------------------------------------------------------------------


@dataclass
class StoreUnderTest:
    store: OrderStore
    stock: Callable[..., None]
    level: Callable[[str], int]
    count: Callable[[str], int]
    in_flight: InFlightOrders


@pytest.fixture(params=["memory", REAL["order store"]])
def orders(request: pytest.FixtureRequest) -> StoreUnderTest:
    if request.param == "memory":
        fake = InMemoryOrderStore()
        return StoreUnderTest(
            fake,
            fake.inventory.stock,
            fake.inventory.level,
            fake.counters.__getitem__,
            InMemoryInFlightOrders(fake),
        )
    request.getfixturevalue("aws")
    inventory = Inventory()
    services = get_services()
    return StoreUnderTest(
        services.store, inventory.stock, inventory.level, counter, services.in_flight
    )


def test_store_a_reservation_is_written_whole_and_read_back_as_written(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    orders.stock("TEA-EARLGREY", 10)
    event = placed(order("ord-1", [("MUG-BLUE", 2, "12.00"), ("MUG-BLUE", 1, "12.00")]))
    record = new_record(event, outcome(OrderReserved, event))
    assert orders.store.get("ord-1") is None

    orders.store.reserve(event, record)

    assert orders.store.get("ord-1") == record
    assert (orders.level("MUG-BLUE"), orders.level("TEA-EARLGREY")) == (7, 10)
    assert (orders.count(ORDERS_RESERVED), orders.count(ORDERS_REJECTED)) == (1, 0)


def test_store_lists_an_order_in_flight_by_placement_until_it_is_final(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 1, "12.00")]))
    orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))
    refused = placed(order("ord-2", [("MUG-BLUE", 1, "12.00")]))
    orders.store.reject(
        refused, new_record(refused, outcome(OrderRejected, refused, reasons=SHORT))
    )
    placed_at = event.occurred_at

    assert list(orders.in_flight.placed_before(placed_at + timedelta(seconds=1))) == ["ord-1"]
    assert list(orders.in_flight.placed_before(placed_at)) == []  # strictly before the cutoff
    billing = Billing(
        usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"
    )
    billed = outcome(OrderBilled, event, billing=billing)
    assert orders.store.advance(Transition("RESERVED", "BILLED", billed)) is not None
    assert list(orders.in_flight.placed_before(placed_at + timedelta(days=1))) == ["ord-1"]
    confirmed = outcome(OrderConfirmed, event, email="sent")
    assert orders.store.advance(Transition("BILLED", "CONFIRMED", confirmed)) is not None
    assert list(orders.in_flight.placed_before(placed_at + timedelta(days=1))) == []


def test_store_a_second_reservation_of_an_order_is_refused_and_takes_nothing(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 2, "12.00")]))
    orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))

    with pytest.raises(OrderAlreadyRecorded):
        orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))
    with pytest.raises(OrderAlreadyRecorded):
        orders.store.reject(event, new_record(event, outcome(OrderRejected, event, reasons=SHORT)))
    assert orders.level("MUG-BLUE") == 8
    assert orders.count(ORDERS_RESERVED) == 1


def test_store_refuses_a_reservation_saying_why_per_sku_and_writes_nothing(
    orders: StoreUnderTest,
) -> None:
    orders.stock("DATES-1KG", 5, price="9.00", currency="GBP")
    orders.stock("MUG-BLUE", 10, price="12.50")
    orders.stock("TEA-EARLGREY", 1)
    orders.stock("TEA-MATCHA", 10, price="20.00")
    lines = [
        ("TEA-EARLGREY", 2, "4.50"),
        ("MUG-BLUE", 1, "12.00"),
        ("NO-SUCH", 1, "1.00"),
        ("DATES-1KG", 1, "9.00"),
        ("TEA-MATCHA", 1, "20.00"),
    ]
    event = placed(order("ord-1", lines))

    with pytest.raises(ReservationRefused) as refused:
        orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))

    assert refused.value.reasons == [  # in SKU order, as quantities_by_sku sorts them
        CurrencyMismatch(sku="DATES-1KG", order_currency="EUR", catalog_currency="GBP"),
        PriceChanged(
            sku="MUG-BLUE", offered_price=Decimal("12.00"), catalog_price=Decimal("12.50")
        ),
        StockShortage(sku="NO-SUCH", reason="unknown_sku", requested=1, available=0),
        StockShortage(sku="TEA-EARLGREY", reason="out_of_stock", requested=2, available=1),
    ]
    assert str(refused.value.reasons[1].catalog_price) == "12.50"
    assert orders.store.get("ord-1") is None
    assert orders.level("TEA-MATCHA") == 10
    assert orders.count(ORDERS_RESERVED) == 0


def test_store_a_rejection_is_counted_and_keeps_its_reasons_exactly(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 2, "12.00")]))
    reasons = [
        PriceChanged(
            sku="MUG-BLUE", offered_price=Decimal("12.00"), catalog_price=Decimal("12.50")
        ),
        StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1),
    ]
    record = new_record(event, outcome(OrderRejected, event, reasons=reasons))

    orders.store.reject(event, record)

    stored = orders.store.get("ord-1")
    assert stored == record
    assert stored is not None
    assert stored.rejection == reasons
    assert orders.level("MUG-BLUE") == 10
    assert (orders.count(ORDERS_RESERVED), orders.count(ORDERS_REJECTED)) == (0, 1)


def test_store_advances_only_from_the_expected_status(orders: StoreUnderTest) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 1, "12.00")]))
    orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))
    billing = Billing(
        usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"
    )
    billed = outcome(OrderBilled, event, billing=billing)

    moved = orders.store.advance(Transition("RESERVED", "BILLED", billed, "a detail"))

    assert moved is not None
    assert moved == orders.store.get("ord-1")
    assert moved.status == "BILLED"
    assert moved.pending_event == billed.to_json()
    assert [(e.status, e.detail) for e in moved.history] == [
        ("RECEIVED", "via web"),
        ("RESERVED", ""),
        ("BILLED", "a detail"),
    ]
    ghost = outcome(OrderBilled, placed(order("ghost")), billing=billing)
    assert orders.store.advance(Transition("RESERVED", "BILLED", billed)) is None
    assert orders.store.advance(Transition("RESERVED", "BILLED", ghost)) is None
    assert orders.store.get("ord-1") == moved


def test_store_rejects_a_reserved_order_once_giving_its_stock_back(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 3, "12.00")]))
    orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))
    rejected = outcome(OrderRejected, event, reasons=[UnsupportedCurrency(currency="EUR")])

    record = orders.store.reject_reserved(rejected)

    assert record is not None
    assert (record.status, record.rejection) == ("REJECTED", rejected.reasons)
    assert record.pending_event == rejected.to_json()
    assert [e.status for e in record.history] == ["RECEIVED", "RESERVED", "REJECTED"]
    assert orders.level("MUG-BLUE") == 10
    assert orders.store.reject_reserved(rejected) is None
    assert orders.level("MUG-BLUE") == 10
    assert orders.count(ORDERS_REJECTED) == 1


def test_store_clears_only_the_event_that_was_published(orders: StoreUnderTest) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 1, "12.00")]))
    record = new_record(event, outcome(OrderReserved, event))
    orders.store.reserve(event, record)
    assert record.pending_event is not None

    orders.store.mark_published("ord-1", "some other event")
    assert orders.store.get("ord-1") == record
    orders.store.mark_published("ord-1", record.pending_event)
    stored = orders.store.get("ord-1")
    assert stored is not None
    assert stored.pending_event is None


def test_store_cancels_a_recorded_order_once_giving_its_stock_back(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    event = placed(order("ord-1", [("MUG-BLUE", 3, "12.00")]))
    orders.store.reserve(event, new_record(event, outcome(OrderReserved, event)))
    billed = outcome(OrderCancelled, event, cancelled_from="BILLED")
    cancelled = outcome(OrderCancelled, event, cancelled_from="RESERVED")

    assert orders.store.cancel(billed) is None  # not where the cancel expected it
    assert orders.level("MUG-BLUE") == 7
    record = orders.store.cancel(cancelled)

    assert record is not None
    assert record == orders.store.get("ord-1")
    assert record.status == "CANCELLED"
    assert record.pending_event == cancelled.to_json()
    assert record.order == event.order
    assert [(e.status, e.detail) for e in record.history] == [
        ("RECEIVED", "via web"),
        ("RESERVED", ""),
        ("CANCELLED", "stock returned"),
    ]
    assert orders.level("MUG-BLUE") == 10
    assert orders.store.cancel(cancelled) is None
    assert orders.level("MUG-BLUE") == 10
    assert orders.count(ORDERS_CANCELLED) == 1


def test_store_a_cancel_before_the_reservation_and_the_reservation_exclude_each_other(
    orders: StoreUnderTest,
) -> None:
    orders.stock("MUG-BLUE", 10, price="12.00")
    first = placed(order("ord-1", [("MUG-BLUE", 3, "12.00")]))
    cancelled = new_record(first, outcome(OrderCancelled, first, cancelled_from="RECEIVED"))

    orders.store.cancel_received(first, cancelled)

    assert orders.store.get("ord-1") == cancelled
    with pytest.raises(OrderAlreadyRecorded):
        orders.store.reserve(first, new_record(first, outcome(OrderReserved, first)))
    assert orders.level("MUG-BLUE") == 10
    # The other way round: a reserved order's record refuses the cancel's put.
    second = placed(order("ord-2", [("MUG-BLUE", 1, "12.00")]))
    orders.store.reserve(second, new_record(second, outcome(OrderReserved, second)))
    late = new_record(second, outcome(OrderCancelled, second, cancelled_from="RECEIVED"))
    with pytest.raises(OrderAlreadyRecorded):
        orders.store.cancel_received(second, late)
    assert (orders.count(ORDERS_CANCELLED), orders.count(ORDERS_RESERVED)) == (1, 1)
    # A cancel of nothing held (RECEIVED) is cancel_received's, never cancel's.
    assert orders.store.cancel(outcome(OrderCancelled, second, cancelled_from="RECEIVED")) is None
    assert orders.level("MUG-BLUE") == 9


# Order documents (what a cancel reads) -------------------------------------------------------


@pytest.fixture(params=["memory", "s3"])
def documents(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        fake = InMemoryDocuments()
        return fake, fake.put
    request.getfixturevalue("aws")
    real = get_services().documents
    return real, real.put_once


def test_documents_give_the_order_placed_back_as_accepted(documents: Any) -> None:
    store, put = documents
    event = placed(order("ord-1"), source="api", correlation_id="corr-3")
    assert store.placed("ord-1") is None

    put(event)

    assert store.placed("ord-1") == event
    assert store.placed("ord-2") is None


# EventPublisher ------------------------------------------------------------------------------


@dataclass
class PublisherUnderTest:
    publisher: EventPublisher
    published: Callable[[], list[tuple[dict[str, Any], dict[str, str]]]]


@pytest.fixture(params=["memory", REAL["publisher"]])
def events(request: pytest.FixtureRequest) -> PublisherUnderTest:
    if request.param == "memory":
        fake = RecordingPublisher()
        return PublisherUnderTest(
            fake, lambda: [(json.loads(e.to_json()), e.attributes()) for e in fake.published]
        )
    tap = EventTap(request.getfixturevalue("aws"))
    return PublisherUnderTest(get_services().publisher, tap.drain)


def test_publisher_sends_the_event_with_the_attributes_subscriptions_filter_on(
    events: PublisherUnderTest,
) -> None:
    event = placed(order("ord-1"), correlation_id="corr-7")
    reserved = outcome(OrderReserved, event)

    events.publisher.publish(reserved)

    assert events.published() == [
        (
            json.loads(reserved.to_json()),
            {"event_type": "OrderReserved", "correlation_id": "corr-7"},
        )
    ]


# Ledger --------------------------------------------------------------------------------------


def _sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    SqlLedger(database_from_url(url)).migrate()
    return url


@pytest.fixture(params=["memory", REAL["ledger"]])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "memory":
        return InMemoryLedger()
    return SqlLedger(database_from_url(_sqlite(tmp_path)))


def charge(order_id: str = "ord-1", usd: str = "22.10") -> LedgerEntry:
    return LedgerEntry(
        order_id=order_id,
        customer_id="cust-1",
        currency="EUR",
        amount=Decimal("21.00"),
        usd_amount=Decimal(usd),
        usd_rate=Decimal("1.0523000000"),
        rate_date=date(2026, 11, 20),
        billed_at=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
    )


def test_ledger_keeps_the_first_charge_of_an_order(ledger: Any) -> None:
    first = ledger.record_charge(charge())
    assert first == charge()
    assert ledger.record_charge(charge(usd="99.99")) == first
    assert ledger.charge("ord-1") == first
    assert ledger.charge("ord-2") is None


def test_ledger_reverses_a_charge_once_at_its_rate_and_never_changes_it(ledger: Any) -> None:
    assert ledger.reverse_charge("ord-1", AT) is None  # nothing charged, nothing reversed
    assert ledger.reversal("ord-1") is None
    charged = ledger.record_charge(charge())

    reversal = ledger.reverse_charge("ord-1", AT)

    assert reversal is not None
    assert (reversal.order_id, reversal.currency) == ("ord-1", "EUR")
    assert (reversal.amount, reversal.usd_amount) == (Decimal("-21.00"), Decimal("-22.10"))
    assert (reversal.usd_rate, reversal.rate_date) == (charged.usd_rate, charged.rate_date)
    assert reversal.reversed_at == AT
    assert ledger.reverse_charge("ord-1", AT + timedelta(hours=1)) == reversal
    assert ledger.reversal("ord-1") == reversal
    assert ledger.charge("ord-1") == charged


def test_ledger_gives_the_latest_rates_on_or_before_a_day(ledger: Any) -> None:
    assert ledger.rates_on_or_before(date(2026, 11, 20)) is None
    friday, thursday = date(2026, 11, 20), date(2026, 11, 19)
    assert (
        ledger.save_rates(
            [
                EuroRate("USD", thursday, Decimal("1.0547")),
                EuroRate("USD", friday, Decimal("1.05")),
                EuroRate("JPY", friday, Decimal("162.45")),
            ]
        )
        == 3
    )
    ledger.save_rates([EuroRate("USD", friday, Decimal("1.0523"))])  # replaces that day's

    assert ledger.rates_on_or_before(date(2026, 11, 22)) == (
        friday,
        {"USD": Decimal("1.0523"), "JPY": Decimal("162.45")},
    )
    assert ledger.rates_on_or_before(thursday) == (thursday, {"USD": Decimal("1.0547")})
    assert ledger.rates_on_or_before(date(2026, 11, 18)) is None


# ContactBook and GuestEmailLog ---------------------------------------------------------------


@dataclass
class EmailsUnderTest:
    book: ContactBook
    guests: GuestEmailLog
    save_contact: Callable[[Contact], None]
    suppress: Callable[[str, str, datetime], None]


@pytest.fixture(params=["memory", REAL["contacts"]])
def emails(request: pytest.FixtureRequest, tmp_path: Path) -> EmailsUnderTest:
    if request.param == "memory":
        fake = InMemoryContactBook()
        return EmailsUnderTest(fake, fake, fake.save_contact, fake.suppress)
    runner = database_from_url(_sqlite(tmp_path))
    book = SqlContactBook(runner)
    return EmailsUnderTest(book, SqlLedger(runner), book.save_contact, book.suppress)


def test_contacts_are_found_by_customer_id_and_replaced_whole(emails: EmailsUnderTest) -> None:
    assert emails.book.contact("cust-1") is None
    emails.save_contact(Contact("cust-1", "Ada", "ada@example.com"))
    emails.save_contact(Contact("cust-1", "Ada Lovelace", "ada@lovelace.example"))
    assert emails.book.contact("cust-1") == Contact(
        "cust-1", "Ada Lovelace", "ada@lovelace.example"
    )


def test_suppressions_match_any_case_and_keep_their_first_reason(emails: EmailsUnderTest) -> None:
    emails.suppress("Grace@Example.com", "permanent_bounce", AT)
    emails.suppress("grace@example.com", "complaint", AT)
    assert emails.book.suppression(" GRACE@example.COM") == "permanent_bounce"
    assert emails.book.suppression("ada@example.com") is None


def test_an_email_is_claimed_once_and_a_repeat_reads_how_far_it_got(
    emails: EmailsUnderTest,
) -> None:
    assert emails.book.claim_email("ord-1", "confirmation", AT) == "sending"
    assert emails.book.claim_email("ord-1", "confirmation", AT) == "sending"
    assert emails.book.claim_email("ord-1", "rejection", AT) == "sending"
    emails.book.mark_email("ord-1", "confirmation", "sent", "msg-1", AT)
    assert emails.book.claim_email("ord-1", "confirmation", AT) == "sent"


def test_a_guest_address_gets_its_limit_an_hour_and_repeats_keep_their_decision(
    emails: EmailsUnderTest,
) -> None:
    def claim(order_id: str, at: datetime = AT, recipient: str = "g@example.com") -> str:
        return emails.guests.claim_guest_email(
            order_id, "confirmation", recipient, at, since=at - timedelta(hours=1), limit=2
        )

    assert [claim("ord-1"), claim("ord-2"), claim("ord-3")] == [
        "sending",
        "sending",
        "rate_limited",
    ]
    assert claim("ord-9", recipient="other@example.com") == "sending"
    assert claim("ord-3", at=AT + timedelta(hours=2)) == "rate_limited"  # decided once
    # The guest's email sent is found sent by a redelivery: it is one claim, in one table.
    emails.book.mark_email("ord-1", "confirmation", "sent", "msg-1", AT)
    assert claim("ord-1") == "sent"
    # Suppressed emails do not count; an hour later the first claims no longer do.
    emails.book.mark_email("ord-2", "confirmation", "suppressed", None, AT)
    assert claim("ord-4") == "sending"
    assert claim("ord-5", at=AT + timedelta(hours=1, seconds=1)) == "sending"


# Mailer --------------------------------------------------------------------------------------


@dataclass
class MailerUnderTest:
    mailer: Mailer
    sent: Callable[[], list[tuple[str, str]]]


@pytest.fixture(params=["memory", REAL["mailer"]])
def mail(request: pytest.FixtureRequest) -> MailerUnderTest:
    if request.param == "memory":
        fake = RecordingMailer()
        return MailerUnderTest(fake, lambda: [(s.to, s.email.subject) for s in fake.sent])
    request.getfixturevalue("aws")

    def sent() -> list[tuple[str, str]]:
        messages = ses_backends["123456789012"]["us-east-1"].sent_messages
        return [(m.destinations["ToAddresses"][0], m.subject) for m in messages]

    return MailerUnderTest(get_services().mailer, sent)


def test_the_mailer_sends_and_returns_distinct_message_ids(
    mail: MailerUnderTest,
) -> None:
    first = mail.mailer.send("ada@example.com", Email("Order ord-1", "t", "<p>h</p>"), "ord-1")
    second = mail.mailer.send("bob@example.com", Email("Order ord-2", "t", "<p>h</p>"), "ord-2")

    assert first
    assert second
    assert first != second
    assert mail.sent() == [("ada@example.com", "Order ord-1"), ("bob@example.com", "Order ord-2")]


# Catalog -------------------------------------------------------------------------------------


def change(name: str, price: str) -> ProductChange:
    """A PUT /catalog/{sku} body, validated as the door validates it."""
    return ProductChange.model_validate({"name": name, "price": price, "currency": "EUR"})


@dataclass
class CatalogUnderTest:
    catalog: Catalog
    unpriced: Callable[[str, int], None]


@pytest.fixture(params=["memory", REAL["catalog"]])
def shelf(request: pytest.FixtureRequest) -> CatalogUnderTest:
    if request.param == "memory":
        inventory = InMemoryInventory()

        def unpriced(sku: str, stock: int) -> None:
            inventory[sku] = StockItem(sku, stock)

        return CatalogUnderTest(InMemoryCatalog(inventory), unpriced)
    request.getfixturevalue("aws")
    return CatalogUnderTest(get_services().catalog, Inventory().unpriced)


def test_a_product_is_created_without_stock_then_changed_keeping_it(
    shelf: CatalogUnderTest,
) -> None:
    created = shelf.catalog.save("MUG-BLUE", change("Blue mug", "12.5"), "a", AT)
    assert (created.created, created.before) == (True, None)
    assert created.after.document() == {
        "sku": "MUG-BLUE",
        "name": "Blue mug",
        "price": "12.50",
        "currency": "EUR",
        "available": 0,
    }
    assert shelf.catalog.restock("MUG-BLUE", 5, "a", AT) == 5

    changed = shelf.catalog.save("MUG-BLUE", change("Mug", "13"), "a", AT)

    assert changed.created is False
    assert changed.before is not None
    assert changed.before.name == "Blue mug"
    assert (changed.after.price, changed.after.available) == (Decimal("13.00"), 5)


def test_restocking_adds_units_and_never_creates_a_product(shelf: CatalogUnderTest) -> None:
    with pytest.raises(UnknownProduct):
        shelf.catalog.restock("NO-SUCH", 1, "a", AT)
    shelf.unpriced("TEA-OOLONG", 2)
    assert shelf.catalog.restock("TEA-OOLONG", 3, "a", AT) == 5
    assert shelf.catalog.products() == []  # not for sale until priced


def test_products_are_the_priced_items_by_sku(shelf: CatalogUnderTest) -> None:
    for sku in ("TEA-EARLGREY", "MUG-BLUE"):
        shelf.catalog.save(sku, change(sku, "4.50"), "a", AT)
    shelf.unpriced("TEA-OOLONG", 2)
    assert [p.sku for p in shelf.catalog.products()] == ["MUG-BLUE", "TEA-EARLGREY"]
