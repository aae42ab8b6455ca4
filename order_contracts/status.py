"""An order's status as both doors show it: where it is, how it got there, what was ordered,
what it was charged in USD and why it was rejected.

`document()` is the body of the order API's `GET /orders/{id}`, and the storefront's status
page renders the same model, so the two doors cannot drift. Built from an orders-table item as
boto3 returns it (resource or TypeDeserializer: numbers as Decimal); no AWS access here.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, PlainSerializer

from order_contracts.events import Billing, RejectionReason
from order_contracts.order import ContractModel, Order, OrderId

Status = Literal["RECEIVED", "RESERVED", "REJECTED", "BILLED", "CONFIRMED", "CANCELLED"]
# Nothing further happens on its own: REJECTED and CANCELLED never move again; a CONFIRMED
# order moves only if it is cancelled (within the cancellation window).
FINAL_STATUSES: frozenset[Status] = frozenset({"CONFIRMED", "REJECTED", "CANCELLED"})
# The states a cancel moves to CANCELLED with the order's stock (chalicelib.cancellation).
# RECEIVED is cancellable too, but only where a door can read the order before it is recorded.
HOLDING_STOCK: frozenset[Status] = frozenset({"RESERVED", "BILLED", "CONFIRMED"})

# Written back as the pipeline stored it (isoformat, "+00:00"), not as pydantic's "Z".
Moment = Annotated[
    AwareDatetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


class StatusEntry(ContractModel):
    """One step of the order's history: the status it reached, when, and a note."""

    status: Status
    at: Moment
    detail: str = ""


class OrderStatusView(ContractModel):
    """What the pipeline recorded of an order, in the shape both doors answer with."""

    order_id: OrderId
    status: Status
    history: list[StatusEntry] = Field(default_factory=list)
    rejection: list[RejectionReason] = Field(default_factory=list)
    # The order as placed, once fulfillment has recorded it; absent before.
    order: Order | None = None
    # What billing charged in USD (kept after a cancel: the ledger reverses it by a row).
    billing: Billing | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "OrderStatusView":
        """Read an orders-table item (other attributes are ignored); the contract checks it.

        Rejection reasons and billing are stored in their JSON form (amounts as strings, so
        they keep their digits); counts and quantities come back from DynamoDB as Decimal and
        are made ints again.
        """
        stored_order = item.get("order")
        return cls.model_validate(
            {
                "order_id": item["order_id"],
                "status": item["status"],
                "history": item.get("history", []),
                "rejection": [
                    {key: _integer(value) for key, value in reason.items()}
                    for reason in item.get("rejection", [])
                ],
                "order": None if stored_order is None else _order(stored_order),
                "billing": item.get("billing"),
            }
        )

    @property
    def is_final(self) -> bool:
        """CONFIRMED, REJECTED or CANCELLED: the pipeline has nothing further to do."""
        return self.status in FINAL_STATUSES

    @property
    def placed_at(self) -> datetime | None:
        """When the order was placed at its door (its first history entry), if recorded."""
        return self.history[0].at if self.history else None

    def cancellable_until(self, window: timedelta) -> datetime | None:
        """Until when a cancel is accepted, or None if this order cannot be cancelled now.

        The storefront's rule for showing its cancel button; chalicelib.cancellation decides.
        """
        placed_at = self.placed_at
        if self.status not in HOLDING_STOCK or placed_at is None:
            return None
        return placed_at + window

    def document(self) -> dict[str, Any]:
        """Return the status as JSON-ready data: order_id, status, history, rejection, and
        the order and its billing once they are recorded."""
        document = self.model_dump(mode="json")
        for known_later in ("order", "billing"):
            if document[known_later] is None:
                del document[known_later]
        return document


def _order(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The stored order with its quantities as the ints they were."""
    lines = [{**line, "quantity": _integer(line["quantity"])} for line in stored["lines"]]
    return {**stored, "lines": lines}


def _integer(value: Any) -> Any:
    """A Decimal written without a point (a reason's requested or available count) as an int.

    A price written with one ("12.00") stays Decimal, with its digits.
    """
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # a letter for NaN and infinity
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
    return value
