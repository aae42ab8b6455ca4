"""reservation.process_order on in-memory fakes: once per order, whatever the deliveries."""

from datetime import UTC, datetime

import pytest

from chalicelib.adapters.order_store import ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.failures import ConflictingOrder
from chalicelib.orders import OrderRecord
from chalicelib.reservation import process_order
from order_contracts import OrderPlaced, OrderRejected, StockShortage
from tests.factories import order, placed
from tests.fakes import InMemoryOrderStore, RecordingPublisher

RESERVED_AT = datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC)


def now() -> datetime:
    return RESERVED_AT


@pytest.fixture
def store() -> InMemoryOrderStore:
    store = InMemoryOrderStore()
    store.inventory.stock("MUG-BLUE", 5, price="12.00")
    store.inventory.stock("TEA-EARLGREY", 100)
    return store


def mugs(order_id: str = "ord-1", units: int = 2) -> OrderPlaced:
    return placed(order(order_id, [("MUG-BLUE", units, "12.00")]))


def test_an_order_in_stock_is_reserved_announced_and_its_outbox_cleared(
    store: InMemoryOrderStore,
) -> None:
    publisher = RecordingPublisher()

    record = process_order(mugs(), store, publisher, now)

    assert record.status == "RESERVED"
    assert [(e.status, e.at, e.detail) for e in record.history] == [
        ("RECEIVED", "2026-11-21T10:00:00+00:00", "via web"),
        ("RESERVED", RESERVED_AT.isoformat(), ""),
    ]
    assert store.inventory.level("MUG-BLUE") == 3
    assert publisher.types() == ["OrderReserved"]
    assert publisher.published[0].correlation_id == "corr-test"
    stored = store.get("ord-1")
    assert stored is not None
    assert stored.pending_event is None


def test_redeliveries_reserve_and_announce_once(store: InMemoryOrderStore) -> None:
    publisher = RecordingPublisher()
    for _ in range(3):
        process_order(mugs(), store, publisher, now)

    assert store.inventory.level("MUG-BLUE") == 3
    assert store.counters[ORDERS_RESERVED] == 1
    assert publisher.types() == ["OrderReserved"]


def test_a_refused_reservation_records_the_rejection_and_takes_no_stock(
    store: InMemoryOrderStore,
) -> None:
    publisher = RecordingPublisher()
    event = placed(order("ord-1", [("TEA-EARLGREY", 1, "4.50"), ("MUG-BLUE", 6, "12.00")]))

    record = process_order(event, store, publisher, now)

    reasons = [StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=6, available=5)]
    assert (record.status, record.rejection) == ("REJECTED", reasons)
    assert (store.inventory.level("MUG-BLUE"), store.inventory.level("TEA-EARLGREY")) == (5, 100)
    assert (store.counters[ORDERS_RESERVED], store.counters[ORDERS_REJECTED]) == (0, 1)
    [rejected] = publisher.published
    assert isinstance(rejected, OrderRejected)
    assert rejected.reasons == reasons


def test_a_crash_between_the_write_and_the_publish_is_finished_by_the_retry(
    store: InMemoryOrderStore,
) -> None:
    publisher = RecordingPublisher(unreachable=1)

    with pytest.raises(ConnectionError):
        process_order(mugs(), store, publisher, now)
    waiting = store.get("ord-1")
    assert waiting is not None
    assert waiting.pending_event is not None
    assert publisher.published == []

    process_order(mugs(), store, publisher, now)

    assert publisher.types() == ["OrderReserved"]
    assert store.inventory.level("MUG-BLUE") == 3


def test_a_known_id_with_other_content_is_a_conflict_and_changes_nothing(
    store: InMemoryOrderStore,
) -> None:
    publisher = RecordingPublisher()
    process_order(mugs(units=1), store, publisher, now)

    with pytest.raises(ConflictingOrder):
        process_order(mugs(units=4), store, publisher, now)
    assert store.inventory.level("MUG-BLUE") == 4
    assert publisher.types() == ["OrderReserved"]


class LateReader(InMemoryOrderStore):
    """A store whose first read misses the record another delivery is writing meanwhile."""

    def __init__(self, shared: InMemoryOrderStore) -> None:
        super().__init__(shared.inventory)
        self.records, self.counters = shared.records, shared.counters
        self._missed = False

    def get(self, order_id: str) -> OrderRecord | None:
        if not self._missed:
            self._missed = True
            return None
        return super().get(order_id)


def test_a_delivery_that_loses_the_race_takes_the_winners_record(
    store: InMemoryOrderStore,
) -> None:
    publisher = RecordingPublisher()
    winner = process_order(mugs(), store, publisher, now)

    loser = process_order(mugs(), LateReader(store), publisher, now)

    assert loser.status == winner.status
    assert loser.history == winner.history
    assert store.inventory.level("MUG-BLUE") == 3
    assert store.counters[ORDERS_RESERVED] == 1
    assert publisher.types() == ["OrderReserved"]
