"""billing.initiate_billing on in-memory fakes: one charge and one OrderBilled per order."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.adapters.order_store import ORDERS_REJECTED
from chalicelib.billing import RatesUnavailable, initiate_billing
from chalicelib.failures import InvalidMessage
from chalicelib.fx import EuroRate
from chalicelib.orders import OrderRecord, Transition
from chalicelib.reservation import process_order
from order_contracts import Order, OrderBilled, OrderRejected, OrderReserved
from tests.factories import order, placed
from tests.fakes import InMemoryLedger, InMemoryOrderStore, RecordingPublisher

RESERVED_AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # a Saturday: Friday's rates apply
BILLED_AT = datetime(2026, 11, 21, 9, 31, tzinfo=UTC)
FRIDAY = date(2026, 11, 20)


def now() -> datetime:
    return BILLED_AT


@pytest.fixture
def ledger() -> InMemoryLedger:
    ledger = InMemoryLedger()
    ledger.save_rates(
        [
            EuroRate("USD", FRIDAY, Decimal("1.0523")),
            EuroRate("JPY", FRIDAY, Decimal("162.45")),
        ]
    )
    return ledger


@pytest.fixture
def store() -> InMemoryOrderStore:
    return InMemoryOrderStore()


def reserved(store: InMemoryOrderStore, order_: Order) -> OrderReserved:
    """Reserve the order as process_order does, at the catalog's price; its OrderReserved."""
    for line in order_.lines:
        store.inventory.stock(line.sku, 10, price=str(line.unit_price), currency=order_.currency)
    process_order(placed(order_), store, RecordingPublisher(), lambda: RESERVED_AT)
    return OrderReserved(
        order_id=order_.order_id,
        occurred_at=RESERVED_AT,
        correlation_id="corr-test",
        order=order_,
    )


def test_a_reserved_order_is_charged_in_usd_and_announced(
    store: InMemoryOrderStore, ledger: InMemoryLedger
) -> None:
    event = reserved(store, order("ord-1", [("TEA-MATCHA", 3, "1200")], currency="JPY"))
    publisher = RecordingPublisher()

    record = initiate_billing(event, ledger, store, publisher, now)

    assert record.status == "BILLED"
    entry = ledger.charge("ord-1")
    assert entry is not None
    # 1.0523 / 162.45 = 0.0064776854 USD per yen; 3600 x that = 23.3197
    assert (entry.usd_amount, entry.usd_rate, entry.rate_date) == (
        Decimal("23.32"),
        Decimal("0.0064776854"),
        FRIDAY,
    )
    [billed] = publisher.published
    assert isinstance(billed, OrderBilled)
    assert (billed.billing.usd_total, billed.occurred_at) == (Decimal("23.32"), BILLED_AT)
    assert [e.status for e in record.history] == ["RECEIVED", "RESERVED", "BILLED"]


def test_a_redelivery_charges_and_announces_nothing_more(
    store: InMemoryOrderStore, ledger: InMemoryLedger
) -> None:
    event = reserved(store, order("ord-1"))
    publisher = RecordingPublisher()

    initiate_billing(event, ledger, store, publisher, now)
    initiate_billing(event, ledger, store, publisher, now)

    assert list(ledger.charges) == ["ord-1"]
    assert publisher.types() == ["OrderBilled"]


class FailingAdvance(InMemoryOrderStore):
    """A store unreachable for the first move: the crash after the ledger row."""

    def __init__(self, shared: InMemoryOrderStore) -> None:
        super().__init__(shared.inventory)
        self.records, self.counters = shared.records, shared.counters
        self.failed = False

    def advance(self, move: Transition) -> OrderRecord | None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("DynamoDB unreachable")
        return super().advance(move)


def test_a_crash_between_the_charge_and_the_status_is_finished_by_the_retry(
    store: InMemoryOrderStore, ledger: InMemoryLedger
) -> None:
    event = reserved(store, order("ord-1"))
    failing, publisher = FailingAdvance(store), RecordingPublisher()

    with pytest.raises(ConnectionError):
        initiate_billing(event, ledger, failing, publisher, now)
    first = ledger.charge("ord-1")
    assert store.records["ord-1"].status == "RESERVED"

    # The retry comes later; it announces what the first attempt charged.
    record = initiate_billing(event, ledger, failing, publisher, lambda: datetime.now(UTC))

    assert record.status == "BILLED"
    assert ledger.charge("ord-1") == first
    [billed] = publisher.published
    assert isinstance(billed, OrderBilled)
    assert first is not None
    assert billed.billing.usd_total == first.usd_amount


class StaleRead(InMemoryOrderStore):
    """A store whose first read returns the order as it was: reserved, not yet billed."""

    def __init__(self, shared: InMemoryOrderStore, stale: OrderRecord) -> None:
        super().__init__(shared.inventory)
        self.records, self.counters = shared.records, shared.counters
        self._stale: OrderRecord | None = stale

    def get(self, order_id: str) -> OrderRecord | None:
        stale, self._stale = self._stale, None
        return stale if stale is not None else super().get(order_id)


def test_an_order_moved_on_by_another_delivery_is_reread_not_billed_twice(
    store: InMemoryOrderStore, ledger: InMemoryLedger
) -> None:
    event = reserved(store, order("ord-1"))
    as_reserved = store.get("ord-1")
    assert as_reserved is not None
    publisher = RecordingPublisher()
    initiate_billing(event, ledger, store, publisher, now)

    # advance finds the order BILLED already and answers None: the step reads it again.
    record = initiate_billing(event, ledger, StaleRead(store, as_reserved), publisher, now)

    assert record.status == "BILLED"
    assert list(ledger.charges) == ["ord-1"]
    assert publisher.types() == ["OrderBilled"]


def test_a_currency_without_a_rate_rejects_the_order_and_gives_its_stock_back(
    store: InMemoryOrderStore, ledger: InMemoryLedger
) -> None:
    # ARS is valid ISO 4217, but the ECB publishes no rate for it.
    event = reserved(store, order("ord-1", [("MUG-BLUE", 2, "15000.00")], currency="ARS"))
    assert store.inventory.level("MUG-BLUE") == 8
    publisher = RecordingPublisher()

    record = initiate_billing(event, ledger, store, publisher, now)
    initiate_billing(event, ledger, store, publisher, now)

    assert record.status == "REJECTED"
    assert store.inventory.level("MUG-BLUE") == 10
    assert store.counters[ORDERS_REJECTED] == 1
    assert ledger.charges == {}
    [rejected] = publisher.published
    assert isinstance(rejected, OrderRejected)
    assert [reason.model_dump() for reason in rejected.reasons] == [
        {"reason": "unsupported_currency", "currency": "ARS"}
    ]


def test_without_rates_for_the_day_nothing_is_charged(store: InMemoryOrderStore) -> None:
    event = reserved(store, order("ord-1"))

    with pytest.raises(RatesUnavailable):
        initiate_billing(event, InMemoryLedger(), store, RecordingPublisher(), now)
    assert store.records["ord-1"].status == "RESERVED"


def test_an_order_reserved_without_a_record_is_an_invalid_message(
    ledger: InMemoryLedger,
) -> None:
    ghost = OrderReserved(
        order_id="ghost", occurred_at=RESERVED_AT, correlation_id="c", order=order("ghost")
    )
    with pytest.raises(InvalidMessage, match="no order record"):
        initiate_billing(ghost, ledger, InMemoryOrderStore(), RecordingPublisher(), now)
    assert ledger.charges == {}
