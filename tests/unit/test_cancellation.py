"""Cancelling an order on the in-memory fakes: the state change, its compensations, the races.

Each race is written out in the order its steps land, GIVEN/WHEN/THEN, on the real steps
(tests/fake_pipeline.py). The stateful property test (test_cancellation_states.py) then
tries every order of arrival.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.adapters.order_store import ORDERS_CANCELLED, ORDERS_RESERVED
from chalicelib.billing import LedgerEntry, LedgerReversal, initiate_billing
from chalicelib.cancellation import NotCancellable
from chalicelib.orders import OrderRecord
from order_contracts import (
    OrderBilled,
    OrderCancelled,
    OrderPlaced,
    OrderReserved,
)
from tests.factories import order
from tests.fake_pipeline import FakePipeline
from tests.fakes import InMemoryOrderStore

MUGS = [("MUG-BLUE", 2, "12.00")]


@pytest.fixture
def shop() -> FakePipeline:
    shop = FakePipeline()
    shop.inventory.stock("MUG-BLUE", 10, price="12.00")
    return shop


def placed_mugs(shop: FakePipeline, order_id: str = "ord-1") -> OrderPlaced:
    return shop.place(order(order_id, MUGS))


def answer(record: OrderRecord | None) -> tuple[str, list[tuple[str, str, str]]] | None:
    """What the API answers with: the status and the history."""
    if record is None:
        return None
    return record.status, [(e.status, e.at, e.detail) for e in record.history]


def events(shop: FakePipeline, kind: type) -> list:  # type: ignore[type-arg]
    return [event for event in shop.publisher.published if isinstance(event, kind)]


# The state change and its compensations -----------------------------------------------------


def test_a_reserved_order_is_cancelled_its_stock_back_in_the_same_write_and_announced(
    shop: FakePipeline,
) -> None:
    shop.fulfil(placed_mugs(shop))
    assert shop.inventory.level("MUG-BLUE") == 8

    record = shop.cancel("ord-1")

    assert record is not None
    assert record.status == "CANCELLED"
    assert [(e.status, e.detail) for e in record.history][-1] == ("CANCELLED", "stock returned")
    assert shop.inventory.level("MUG-BLUE") == 10
    assert shop.store.counters[ORDERS_CANCELLED] == 1
    [cancelled] = events(shop, OrderCancelled)
    assert (cancelled.cancelled_from, cancelled.correlation_id) == ("RESERVED", "corr-cancel")
    assert shop.store.get("ord-1").pending_event is None  # type: ignore[union-attr]


def test_a_repeat_is_the_same_answer_and_changes_nothing(shop: FakePipeline) -> None:
    shop.fulfil(placed_mugs(shop))
    first = shop.cancel("ord-1")

    again = shop.cancel("ord-1")

    assert answer(again) == answer(first)
    assert shop.inventory.level("MUG-BLUE") == 10
    assert shop.store.counters[ORDERS_CANCELLED] == 1
    assert len(events(shop, OrderCancelled)) == 1


def test_every_compensation_happens_once_for_a_confirmed_order(shop: FakePipeline) -> None:
    shop.fulfil(placed_mugs(shop))
    shop.run()
    assert shop.status("ord-1") == "CONFIRMED"
    charged = shop.net_usd("ord-1")
    assert charged == Decimal("25.26")

    shop.cancel("ord-1")
    shop.run()
    shop.run()  # nothing left: running again changes nothing

    reversal = shop.ledger.reversal("ord-1")
    charge = shop.ledger.charge("ord-1")
    assert reversal is not None
    assert charge is not None
    assert (reversal.usd_amount, reversal.amount) == (-charge.usd_amount, -charge.amount)
    assert (reversal.usd_rate, reversal.rate_date) == (charge.usd_rate, charge.rate_date)
    assert shop.net_usd("ord-1") == 0
    assert shop.emails("ord-1") == ["Order ord-1 confirmed", "Order ord-1 cancelled"]
    assert shop.inventory.level("MUG-BLUE") == 10


def test_each_delivery_of_order_cancelled_twice_compensates_once(shop: FakePipeline) -> None:
    shop.fulfil(placed_mugs(shop))
    shop.run()
    shop.cancel("ord-1")
    [cancelled] = events(shop, OrderCancelled)

    for _ in range(3):
        shop.bill(cancelled)
        shop.tell(cancelled)

    assert shop.net_usd("ord-1") == 0
    assert shop.emails("ord-1").count("Order ord-1 cancelled") == 1


def test_the_cancellation_email_says_what_was_cancelled_and_about_the_charge(
    shop: FakePipeline,
) -> None:
    shop.fulfil(placed_mugs(shop))
    shop.cancel("ord-1")
    shop.run()

    [sent] = shop.mailer.sent
    assert sent.to == "ada@example.com"
    assert "Your order ord-1 is cancelled" in sent.email.text
    assert "2 x MUG-BLUE" in sent.email.text
    assert "24.00 EUR is reversed in full" in sent.email.text


# What cannot be cancelled ------------------------------------------------------------------


def test_an_unknown_order_is_none(shop: FakePipeline) -> None:
    assert shop.cancel("no-such") is None
    assert shop.publisher.published == []


def test_a_rejected_order_is_not_cancellable(shop: FakePipeline) -> None:
    shop.fulfil(shop.place(order("ord-1", [("MUG-BLUE", 11, "12.00")])))

    with pytest.raises(NotCancellable, match="was rejected"):
        shop.cancel("ord-1")
    assert shop.status("ord-1") == "REJECTED"
    assert shop.inventory.level("MUG-BLUE") == 10


@pytest.mark.parametrize("recorded", [False, True], ids=["received", "reserved"])
def test_past_the_window_is_not_cancellable_but_a_repeat_still_answers(
    shop: FakePipeline, recorded: bool
) -> None:
    placed_at = shop.at
    for event in (placed_mugs(shop, "ord-1"), placed_mugs(shop, "ord-2")):
        if recorded:
            shop.fulfil(event)
    shop.at = placed_at + timedelta(hours=24)  # the last moment of the window
    assert shop.cancel("ord-1") is not None

    shop.at += timedelta(microseconds=1)
    again = shop.cancel("ord-1")
    assert again is not None
    assert again.status == "CANCELLED"
    with pytest.raises(NotCancellable, match="within 24 hours"):
        shop.cancel("ord-2")
    assert shop.status("ord-2") == ("RESERVED" if recorded else "RECEIVED")


def test_a_queued_cancel_is_judged_at_the_time_it_was_asked_for(shop: FakePipeline) -> None:
    """The storefront's CancelRequested waits in a queue: asked for within the window, it
    cancels even if handled after the window closed; asked for after it, it changes nothing."""
    placed_at = shop.at
    for event in (placed_mugs(shop, "ord-1"), placed_mugs(shop, "ord-2")):
        shop.fulfil(event)
    shop.at = placed_at + timedelta(hours=25)  # handled an hour after the window closed

    record = shop.cancel("ord-1", requested_at=placed_at + timedelta(hours=23, minutes=59))
    assert record is not None
    assert record.history[-1].at == shop.at.isoformat()  # recorded when it happened
    with pytest.raises(NotCancellable, match="within 24 hours"):
        shop.cancel("ord-2", requested_at=placed_at + timedelta(hours=24, seconds=1))
    assert shop.status("ord-2") == "RESERVED"
    assert shop.inventory.level("MUG-BLUE") == 8


# The races -----------------------------------------------------------------------------------


def test_cancel_before_the_reservation_reserves_nothing(shop: FakePipeline) -> None:
    # GIVEN an order the API accepted, not yet fulfilled
    event = placed_mugs(shop)
    # WHEN it is cancelled, and its intake message is delivered afterwards (twice)
    cancelled = shop.cancel("ord-1")
    later = [shop.fulfil(event), shop.fulfil(event)]
    # THEN the cancel wrote the record; the reservation found it and took nothing
    assert cancelled is not None
    assert [e.status for e in cancelled.history] == ["RECEIVED", "CANCELLED"]
    assert [record.status for record in later] == ["CANCELLED", "CANCELLED"]
    assert shop.inventory.level("MUG-BLUE") == 10
    assert shop.store.counters[ORDERS_RESERVED] == 0
    assert [e.cancelled_from for e in events(shop, OrderCancelled)] == ["RECEIVED"]
    assert events(shop, OrderReserved) == []
    shop.run()
    assert shop.ledger.charges == {}
    assert shop.emails("ord-1") == ["Order ord-1 cancelled"]


class ReservedMeanwhile(InMemoryOrderStore):
    """The store as a cancel sees it when the reservation lands between its read and its write."""

    def __init__(self, shop: FakePipeline, event: OrderPlaced) -> None:
        super().__init__(shop.inventory)
        self.records, self.counters = shop.store.records, shop.store.counters
        self._reserve = lambda: shop.fulfil(event)

    def cancel_received(self, placed: OrderPlaced, record: OrderRecord) -> None:
        self._reserve()
        super().cancel_received(placed, record)


def test_a_reservation_between_the_cancels_read_and_write_is_cancelled_with_its_stock(
    shop: FakePipeline,
) -> None:
    # GIVEN a cancel that read no record, and a reservation that writes one before the cancel
    event = placed_mugs(shop)
    shop.store = ReservedMeanwhile(shop, event)
    # WHEN the cancel's conditional put runs
    record = shop.cancel("ord-1")
    # THEN it loses to the reservation, and moves the reserved record, stock and all
    assert record is not None
    assert [e.status for e in record.history] == ["RECEIVED", "RESERVED", "CANCELLED"]
    assert shop.inventory.level("MUG-BLUE") == 10
    assert [e.cancelled_from for e in events(shop, OrderCancelled)] == ["RESERVED"]


def test_billing_after_the_cancel_charges_nothing(shop: FakePipeline) -> None:
    shop.fulfil(placed_mugs(shop))
    [reserved] = events(shop, OrderReserved)
    shop.cancel("ord-1")

    shop.bill(reserved)  # OrderReserved delivered after the cancel

    assert shop.ledger.charges == {}
    assert events(shop, OrderBilled) == []
    assert shop.status("ord-1") == "CANCELLED"


class CancelledWhileCharging:
    """Billing's ledger when the cancel, and its OrderCancelled at billing, land after billing
    read the order RESERVED and before it records its charge."""

    def __init__(self, shop: FakePipeline) -> None:
        self._shop = shop

    def rates_on_or_before(self, day: date) -> tuple[date, dict[str, Decimal]] | None:
        return self._shop.ledger.rates_on_or_before(day)

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        self._shop.cancel(entry.order_id)
        [cancelled] = events(self._shop, OrderCancelled)
        self._shop.bill(cancelled)  # nothing charged yet: nothing to reverse
        assert self._shop.ledger.reversal(entry.order_id) is None
        return self._shop.ledger.record_charge(entry)

    def reverse_charge(self, order_id: str, at: datetime) -> LedgerReversal | None:
        return self._shop.ledger.reverse_charge(order_id, at)


def test_a_charge_made_while_the_order_was_cancelled_is_reversed_by_billing_itself(
    shop: FakePipeline,
) -> None:
    # GIVEN billing read the order RESERVED; the cancel lands, and its OrderCancelled reaches
    # billing, before billing records its charge
    shop.fulfil(placed_mugs(shop))
    [reserved] = events(shop, OrderReserved)
    # WHEN billing charges and tries to move the order to BILLED
    record = initiate_billing(
        reserved, CancelledWhileCharging(shop), shop.store, shop.publisher, shop.now
    )
    # THEN the move finds CANCELLED, billing reverses its own charge, nothing is announced
    assert record.status == "CANCELLED"
    assert shop.ledger.charge("ord-1") is not None
    assert shop.ledger.reversal("ord-1") is not None
    assert shop.net_usd("ord-1") == 0
    assert events(shop, OrderBilled) == []
    # AND redeliveries of either event change nothing
    shop.bill(reserved)
    shop.bill(events(shop, OrderCancelled)[0])
    assert shop.net_usd("ord-1") == 0
    assert shop.inventory.level("MUG-BLUE") == 10


def test_billed_then_cancelled_is_reversed_when_order_cancelled_reaches_billing(
    shop: FakePipeline,
) -> None:
    shop.fulfil(placed_mugs(shop))
    [reserved] = events(shop, OrderReserved)
    shop.bill(reserved)
    assert shop.status("ord-1") == "BILLED"

    shop.cancel("ord-1")
    [cancelled] = events(shop, OrderCancelled)
    shop.bill(cancelled)

    assert cancelled.cancelled_from == "BILLED"
    assert shop.net_usd("ord-1") == 0


def test_a_confirmation_delivered_after_the_cancel_is_not_sent(shop: FakePipeline) -> None:
    # GIVEN a billed order whose OrderBilled is still on its way to notifications
    shop.fulfil(placed_mugs(shop))
    shop.bill(events(shop, OrderReserved)[0])
    [billed] = events(shop, OrderBilled)
    # WHEN the cancel lands first, then both events are delivered (the cancel's first)
    shop.cancel("ord-1")
    [cancelled] = events(shop, OrderCancelled)
    shop.tell(cancelled)
    shop.tell(billed)
    shop.tell(billed)
    # THEN only the cancellation is sent, and the order stays CANCELLED
    assert shop.emails("ord-1") == ["Order ord-1 cancelled"]
    assert shop.status("ord-1") == "CANCELLED"


def test_a_confirmation_sent_before_the_cancel_is_followed_by_one_cancellation(
    shop: FakePipeline,
) -> None:
    shop.fulfil(placed_mugs(shop))
    shop.run()
    shop.cancel("ord-1")
    shop.run()
    assert shop.emails("ord-1") == ["Order ord-1 confirmed", "Order ord-1 cancelled"]
    assert [e.status for e in shop.store.get("ord-1").history] == [  # type: ignore[union-attr]
        "RECEIVED",
        "RESERVED",
        "BILLED",
        "CONFIRMED",
        "CANCELLED",
    ]


class StaleFirstRead(InMemoryOrderStore):
    """A second cancel whose first read is from before the first cancel's write."""

    def __init__(self, shared: InMemoryOrderStore, stale: OrderRecord | None) -> None:
        super().__init__(shared.inventory)
        self.records, self.counters = shared.records, shared.counters
        self._stale: list[OrderRecord | None] = [stale]

    def get(self, order_id: str) -> OrderRecord | None:
        return self._stale.pop() if self._stale else super().get(order_id)


@pytest.mark.parametrize("recorded", [False, True], ids=["before reservation", "reserved"])
def test_two_cancels_at_once_cancel_once_and_answer_alike(
    shop: FakePipeline, recorded: bool
) -> None:
    event = placed_mugs(shop)
    if recorded:
        shop.fulfil(event)
    seen_by_both = shop.store.get("ord-1")
    first = shop.cancel("ord-1")

    shared = shop.store
    shop.store = StaleFirstRead(shared, seen_by_both)
    second = shop.cancel("ord-1")

    assert first is not None
    assert answer(second) == answer(first)
    assert shop.inventory.level("MUG-BLUE") == 10
    assert shared.counters[ORDERS_CANCELLED] == 1
    # The second found the first's record, its outbox already cleared: nothing more to say.
    assert len(events(shop, OrderCancelled)) == 1
