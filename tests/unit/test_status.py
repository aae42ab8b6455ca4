"""order_contracts/status.py: OrderStatusView, read from an order item and written back.

Both doors answering with it, from what the order store wrote, is in
tests/functional/test_status.py.
"""

from typing import Any

import pytest
from pydantic import ValidationError

from order_contracts.status import OrderStatusView


def test_times_are_aware_and_written_back_as_the_pipeline_recorded_them() -> None:
    recorded = ["2026-11-21T14:03:07.123456+00:00", "2026-11-21T15:03:08+01:00"]
    item = {
        "order_id": "web-0123456789abcdef0123456789abcdef",
        "status": "RESERVED",
        "history": [
            {"status": "RECEIVED", "at": recorded[0], "detail": "via web"},
            {"status": "RESERVED", "at": recorded[1], "detail": ""},
        ],
        "fingerprint": "ignored",
    }

    view = OrderStatusView.from_item(item)

    assert [entry.at.utcoffset() is not None for entry in view.history] == [True, True]
    assert [entry["at"] for entry in view.document()["history"]] == recorded
    assert view.document()["rejection"] == []
    assert not view.is_final


def test_a_status_not_recorded_yet_is_received_with_no_history() -> None:
    view = OrderStatusView(order_id="web-0123456789abcdef0123456789abcdef", status="RECEIVED")
    assert view.document() == {
        "order_id": "web-0123456789abcdef0123456789abcdef",
        "status": "RECEIVED",
        "history": [],
        "rejection": [],
    }


@pytest.mark.parametrize(
    "change",
    [
        {"status": "LOST"},
        {"history": [{"status": "RECEIVED", "at": "2026-11-21T14:03:07"}]},  # no zone
        {"rejection": [{"reason": "teleported", "sku": "MUG-BLUE"}]},
        {"order_id": "no spaces allowed"},
    ],
    ids=["status", "naive time", "reason", "order id"],
)
def test_the_contract_refuses_what_it_does_not_know(change: dict[str, Any]) -> None:
    item = {"order_id": "ord-1", "status": "RECEIVED", **change}
    with pytest.raises(ValidationError):
        OrderStatusView.from_item(item)
