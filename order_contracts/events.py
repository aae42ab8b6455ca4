"""Versioned events of the pipeline: one definition, used by every producer and consumer."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from order_contracts.order import ContractModel, Order, OrderId, Sku

# SNS message attributes set on every event: subscriptions filter on event_type, and
# correlation_id lets every log line of every consumer be traced back to one request.
EVENT_TYPE_ATTRIBUTE = "event_type"
CORRELATION_ID_ATTRIBUTE = "correlation_id"

CORRELATION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
CorrelationId = Annotated[str, StringConstraints(pattern=CORRELATION_ID_PATTERN)]


def correlation_id_or(supplied: str | None, fallback: str) -> str:
    """The caller's correlation id when it is well formed, else the fallback (a request id)."""
    if supplied and re.match(CORRELATION_ID_PATTERN, supplied):
        return supplied
    return fallback


class EventEnvelope(ContractModel):
    """Fields every event carries, whatever its type."""

    event_type: str
    event_version: Literal[1] = 1
    order_id: OrderId
    occurred_at: AwareDatetime
    correlation_id: CorrelationId
    order: Order

    @model_validator(mode="after")
    def _ids_agree(self) -> Self:
        if self.order.order_id != self.order_id:
            raise ValueError("order_id differs from order.order_id")
        return self

    def attributes(self) -> dict[str, str]:
        """Return the message attributes to publish the event with."""
        return {
            EVENT_TYPE_ATTRIBUTE: self.event_type,
            CORRELATION_ID_ATTRIBUTE: self.correlation_id,
        }

    def to_json(self) -> str:
        return self.model_dump_json()


class OrderPlaced(EventEnvelope):
    """An order accepted at a door (the storefront's form or the order API's S3 document)."""

    event_type: Literal["OrderPlaced"] = "OrderPlaced"
    source: Literal["web", "api"]


class OrderReserved(EventEnvelope):
    """Stock for every line was reserved in one transaction."""

    event_type: Literal["OrderReserved"] = "OrderReserved"


class StockShortage(ContractModel):
    sku: Sku
    reason: Literal["out_of_stock", "unknown_sku"]
    requested: Annotated[StrictInt, Field(ge=1)]
    available: Annotated[StrictInt, Field(ge=0)]

    def describe(self, product: str | None = None) -> str:
        """The reason in words, for the rejection email and the status pages; product is the
        SKU's name in the catalog, where the reader has it."""
        if self.reason == "unknown_sku":
            return f"{self.sku} is not in our catalog."
        if self.available == 0:
            return f"{product or self.sku}: you asked for {self.requested}, we have none left."
        return f"{product or self.sku}: you asked for {self.requested}, only {self.available} left."


class UnsupportedCurrency(ContractModel):
    reason: Literal["unsupported_currency"] = "unsupported_currency"
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    def describe(self, product: str | None = None) -> str:
        return f"We cannot take payment in {self.currency}."


class PriceChanged(ContractModel):
    """The line's unit price is not the catalog's price when the reservation ran."""

    reason: Literal["price_changed"] = "price_changed"
    sku: Sku
    offered_price: Annotated[Decimal, Field(allow_inf_nan=False)]
    catalog_price: Annotated[Decimal, Field(allow_inf_nan=False)]

    def describe(self, product: str | None = None) -> str:
        return (
            f"{product or self.sku}: the order offered {self.offered_price}, "
            f"but the price is {self.catalog_price}."
        )


class CurrencyMismatch(ContractModel):
    """The catalog prices the SKU in another currency than the order's."""

    reason: Literal["currency_mismatch"] = "currency_mismatch"
    sku: Sku
    order_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    catalog_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    def describe(self, product: str | None = None) -> str:
        return (
            f"{product or self.sku} is sold in {self.catalog_currency}, "
            f"not in {self.order_currency}: order it separately."
        )


RejectionReason = Annotated[
    StockShortage | UnsupportedCurrency | PriceChanged | CurrencyMismatch,
    Field(discriminator="reason"),
]


class OrderRejected(EventEnvelope):
    """The order cannot be fulfilled; any stock it held is released and the reasons say why."""

    event_type: Literal["OrderRejected"] = "OrderRejected"
    reasons: Annotated[list[RejectionReason], Field(min_length=1)]


class Billing(ContractModel):
    """What the ledger row says: the total in USD, the rate used and the day of that rate."""

    usd_total: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    usd_rate: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    rate_date: date


class OrderBilled(EventEnvelope):
    """The order has its one ledger row; customer communications confirm it."""

    event_type: Literal["OrderBilled"] = "OrderBilled"
    billing: Billing


class OrderConfirmed(EventEnvelope):
    """The customer was told, or why not: the address is suppressed or, a guest's, rate limited."""

    event_type: Literal["OrderConfirmed"] = "OrderConfirmed"
    email: Literal["sent", "suppressed", "rate_limited"]


# Where an order was when it was cancelled: RECEIVED means before fulfillment recorded it
# (no stock held, nothing billed); RESERVED, BILLED and CONFIRMED orders held stock.
CancelledFrom = Literal["RECEIVED", "RESERVED", "BILLED", "CONFIRMED"]


class OrderCancelled(EventEnvelope):
    """The order is cancelled: its stock is back (in the same write); billing reverses any
    charge and customer communications tell the customer, each once."""

    event_type: Literal["OrderCancelled"] = "OrderCancelled"
    cancelled_from: CancelledFrom

    @property
    def held_stock(self) -> bool:
        return self.cancelled_from != "RECEIVED"


class CancelRequested(ContractModel):
    """A shopper asked the storefront to cancel their order (a request, not yet a fact).

    The web tier publishes it on order-intake, as it publishes OrderPlaced; the fulfillment
    consumer applies the cancellation rules (chalicelib.cancellation) to it, judging the
    window at requested_at. It names the order only: the consumer reads the order's record.
    """

    event_type: Literal["CancelRequested"] = "CancelRequested"
    event_version: Literal[1] = 1
    order_id: OrderId
    requested_at: AwareDatetime
    correlation_id: CorrelationId
    source: Literal["web"] = "web"

    def attributes(self) -> dict[str, str]:
        return {
            EVENT_TYPE_ATTRIBUTE: self.event_type,
            CORRELATION_ID_ATTRIBUTE: self.correlation_id,
        }

    def to_json(self) -> str:
        return self.model_dump_json()


AnyEvent = (
    OrderPlaced | OrderReserved | OrderRejected | OrderBilled | OrderConfirmed | OrderCancelled
)
OrderEvent = Annotated[AnyEvent, Field(discriminator="event_type")]
# Built on the first parse, as the models are (ContractModel's defer_build).
_EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(OrderEvent, config=ConfigDict(defer_build=True))


def parse_event(raw: str | bytes) -> AnyEvent:
    """Parse any pipeline event from its JSON text (money stays exact Decimal)."""
    return _EVENT_ADAPTER.validate_json(raw)


def order_placed(
    order: Order, *, source: Literal["web", "api"], correlation_id: str, now: datetime
) -> OrderPlaced:
    """Build the OrderPlaced event both doors emit for an accepted order."""
    return OrderPlaced(
        order_id=order.order_id,
        occurred_at=now,
        correlation_id=correlation_id,
        order=order,
        source=source,
    )
