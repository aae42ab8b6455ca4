"""The order contract and the pipeline's events, shared by the API, handlers and web tier.

Plain Python and pydantic only: no AWS access here, so every tier can import it.
"""

from order_contracts.errors import FieldProblem, error_body, validation_error_body
from order_contracts.events import (
    CORRELATION_ID_ATTRIBUTE,
    EVENT_TYPE_ATTRIBUTE,
    AnyEvent,
    Billing,
    CancelRequested,
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
    correlation_id_or,
    order_placed,
    parse_event,
)
from order_contracts.money import is_currency, round_money
from order_contracts.order import (
    ORDER_ID_PATTERN,
    ORDER_ID_RULE,
    Customer,
    Order,
    OrderLine,
    OrderRequest,
    guest_customer_id,
    is_order_id,
)

__all__ = [
    "CORRELATION_ID_ATTRIBUTE",
    "EVENT_TYPE_ATTRIBUTE",
    "ORDER_ID_PATTERN",
    "ORDER_ID_RULE",
    "AnyEvent",
    "Billing",
    "CancelRequested",
    "CurrencyMismatch",
    "Customer",
    "FieldProblem",
    "Order",
    "OrderBilled",
    "OrderCancelled",
    "OrderConfirmed",
    "OrderLine",
    "OrderPlaced",
    "OrderRejected",
    "OrderRequest",
    "OrderReserved",
    "PriceChanged",
    "StockShortage",
    "UnsupportedCurrency",
    "correlation_id_or",
    "error_body",
    "guest_customer_id",
    "is_currency",
    "is_order_id",
    "order_placed",
    "parse_event",
    "round_money",
    "validation_error_body",
]
