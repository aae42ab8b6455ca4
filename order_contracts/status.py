"""An order's status as both doors show it: where it is, how it got there and why it was rejected.

`document()` is the body of the order API's `GET /orders/{id}`, and the storefront's status
page renders the same model, so the two doors cannot drift. Built from an orders-table item as
boto3 returns it (resource or TypeDeserializer: numbers as Decimal); no AWS access here.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, PlainSerializer

from order_contracts.events import RejectionReason
from order_contracts.order import ContractModel, OrderId

Status = Literal["RECEIVED", "RESERVED", "REJECTED", "BILLED", "CONFIRMED", "CANCELLED"]
# Nothing further happens on its own: REJECTED and CANCELLED never move again; a CONFIRMED
# order moves only if it is cancelled (within the cancellation window).
FINAL_STATUSES: frozenset[Status] = frozenset({"CONFIRMED", "REJECTED", "CANCELLED"})

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

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "OrderStatusView":
        """Read an orders-table item (other attributes are ignored); the contract checks it.

        Rejection reasons are stored in their JSON form (prices as strings, so they keep their
        digits); their counts come back from DynamoDB as Decimal and are made ints again.
        """
        return cls.model_validate(
            {
                "order_id": item["order_id"],
                "status": item["status"],
                "history": item.get("history", []),
                "rejection": [
                    {key: _integer(value) for key, value in reason.items()}
                    for reason in item.get("rejection", [])
                ],
            }
        )

    @property
    def is_final(self) -> bool:
        """CONFIRMED, REJECTED or CANCELLED: the pipeline has nothing further to do."""
        return self.status in FINAL_STATUSES

    def document(self) -> dict[str, Any]:
        """Return the status as JSON-ready data: order_id, status, history, rejection."""
        return self.model_dump(mode="json")


def _integer(value: Any) -> Any:
    """A Decimal written without a point (a reason's requested or available count) as an int.

    A price written with one ("12.00") stays Decimal, with its digits.
    """
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # a letter for NaN and infinity
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
    return value
