"""The watchdog's decisions on the fakes (chalicelib/watchdog.py): which orders are stuck, and
what each waits for. On moto, through the scheduled function: tests/functional/test_watchdog.py.
"""

import dataclasses
from datetime import datetime, timedelta

from chalicelib.orders import OrderRecord, OrderStatus, new_record
from chalicelib.watchdog import MOST_REPORTED, find_stuck, waiting_for
from order_contracts import OrderReserved, order_placed
from tests.factories import order
from tests.fakes import InMemoryInFlightOrders, InMemoryOrderStore

NOW = datetime.fromisoformat("2026-11-30T12:00:00+00:00")
STUCK_AFTER = timedelta(minutes=30)


def recorded(
    store: InMemoryOrderStore,
    order_id: str,
    minutes_ago: int,
    status: OrderStatus = "RESERVED",
    pending: bool = False,
) -> OrderRecord:
    placed = order_placed(
        order(order_id),
        source="web",
        correlation_id=f"c-{order_id}",
        now=NOW - timedelta(minutes=minutes_ago),
    )
    reserved = OrderReserved(
        order_id=order_id,
        occurred_at=placed.occurred_at,
        correlation_id=placed.correlation_id,
        order=placed.order,
    )
    record = dataclasses.replace(
        new_record(placed, reserved),
        status=status,
        pending_event=reserved.to_json() if pending else None,
    )
    store.records[order_id] = record
    return record


def test_orders_in_flight_past_the_threshold_are_stuck_and_no_others() -> None:
    store = InMemoryOrderStore()
    recorded(store, "reserved-long-ago", 45)
    recorded(store, "billed-long-ago", 31, "BILLED")
    recorded(store, "reserved-just-now", 29)
    for final in ("CONFIRMED", "REJECTED", "CANCELLED"):
        recorded(store, final.lower(), 60, final)  # type: ignore[arg-type]

    stuck, count = find_stuck(InMemoryInFlightOrders(store), store, NOW, STUCK_AFTER)

    assert [(s.order_id, s.status, s.minutes_since_placement(NOW)) for s in stuck] == [
        ("reserved-long-ago", "RESERVED", 45),
        ("billed-long-ago", "BILLED", 31),
    ]
    assert stuck[0].correlation_id == "c-reserved-long-ago"
    assert count == 2


def test_an_order_the_index_still_lists_after_it_finished_is_not_reported() -> None:
    store = InMemoryOrderStore()
    recorded(store, "confirmed-a-moment-ago", 40, "CONFIRMED")
    in_flight = InMemoryInFlightOrders(store)
    in_flight.stale.append("confirmed-a-moment-ago")

    assert find_stuck(in_flight, store, NOW, STUCK_AFTER) == ([], 0)


def test_past_the_reporting_cap_the_rest_are_counted_not_read() -> None:
    store = InMemoryOrderStore()
    for index in range(MOST_REPORTED + 5):
        recorded(store, f"ord-{index}", 60 + index)

    stuck, count = find_stuck(InMemoryInFlightOrders(store), store, NOW, STUCK_AFTER)

    assert (len(stuck), count) == (MOST_REPORTED, MOST_REPORTED + 5)


def test_each_stuck_order_says_what_it_waits_for() -> None:
    store = InMemoryOrderStore()

    assert (
        waiting_for(recorded(store, "a", 40)) == "billing (initiate_billing, queue order-billing)"
    )
    assert waiting_for(recorded(store, "b", 40, "BILLED")) == (
        "the confirmation email (customer_communications, queue order-notifications)"
    )
    assert waiting_for(recorded(store, "c", 40, pending=True)) == (
        "OrderReserved to be published to order-events (the record's outbox)"
    )
