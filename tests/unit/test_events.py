"""order_contracts/events.py: the pipeline's events, as JSON and back, with their type."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from order_contracts import OrderRejected, StockShortage, parse_event
from tests.factories import order, placed


def test_events_round_trip_through_json_with_their_type() -> None:
    event = placed(order("ord-9"), source="api")
    parsed = parse_event(event.to_json())
    assert parsed == event
    assert event.attributes() == {"event_type": "OrderPlaced", "correlation_id": "corr-test"}

    rejected = OrderRejected(
        order_id="ord-9",
        occurred_at=datetime.now(UTC),
        correlation_id="corr-test",
        order=order("ord-9"),
        reasons=[StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1)],
    )
    assert parse_event(rejected.to_json()) == rejected


def test_event_order_id_must_match_its_order() -> None:
    document = json.loads(placed(order("ord-1")).to_json())
    document["order_id"] = "ord-2"
    with pytest.raises(ValidationError, match="order_id differs"):
        parse_event(json.dumps(document))


def test_event_timestamps_must_carry_a_timezone() -> None:
    document = json.loads(placed(order("ord-1")).to_json())
    document["occurred_at"] = "2026-11-21T10:00:00"
    with pytest.raises(ValidationError):
        parse_event(json.dumps(document))
