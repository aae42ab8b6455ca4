"""A web order: its id, and its request priced from the catalog. Plain Python, no Flask.

The storefront's form says who the shopper is and how many of each SKU they want; the
prices come from the catalog, never from the browser, and the order contract judges the rest.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from order_contracts import Order, OrderRequest, guest_customer_id

WEB_ORDER_PREFIX = "web-"


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    price: Decimal
    currency: str
    in_stock: bool


@dataclass(frozen=True)
class Shopper:
    """What the shopper typed at checkout, as typed."""

    name: str
    email: str
    country: str


class CartRefused(ValueError):
    """The chosen items cannot make one order (before the contract is asked)."""


class EmptyCart(CartRefused):
    """No item has a quantity above zero."""


class MixedCurrencies(CartRefused):
    """The items are priced in more than one currency: one order takes one currency."""


def web_order_id(idempotency_key: str) -> str:
    """A web order's id: the form's idempotency key, so a second post is the same order."""
    return f"{WEB_ORDER_PREFIX}{idempotency_key}"


def idempotency_key(order_id: str) -> str | None:
    """The idempotency key a web order's id was made from; None for other doors' ids."""
    key = order_id.removeprefix(WEB_ORDER_PREFIX)
    return None if key == order_id else key


def web_order(
    key: str, shopper: Shopper, quantities: Mapping[str, int], catalog: Iterable[CatalogItem]
) -> Order:
    """The order the form describes, with its web order id.

    Raises EmptyCart, MixedCurrencies, or the contract's pydantic ValidationError.
    """
    return Order.from_request(web_order_id(key), order_request(shopper, quantities, catalog))


def order_request(
    shopper: Shopper, quantities: Mapping[str, int], catalog: Iterable[CatalogItem]
) -> OrderRequest:
    """The order as the contract has it, one line per chosen SKU in catalog order."""
    chosen = [(item, quantities[item.sku]) for item in catalog if quantities.get(item.sku, 0) > 0]
    if not chosen:
        raise EmptyCart
    currencies = {item.currency for item, _ in chosen}
    if len(currencies) > 1:
        raise MixedCurrencies
    email = shopper.email.strip()
    return OrderRequest.model_validate(
        {
            "customer": {
                # Web shoppers check out as guests: their email is their identity.
                "customer_id": guest_customer_id(email),
                "name": shopper.name,
                "email": email,
                "country": shopper.country.upper(),
            },
            "currency": currencies.pop(),
            "lines": [
                {"sku": item.sku, "quantity": quantity, "unit_price": item.price}
                for item, quantity in chosen
            ],
            "total": sum((item.price * quantity for item, quantity in chosen), Decimal(0)),
        }
    )
