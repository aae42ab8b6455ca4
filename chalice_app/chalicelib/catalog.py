"""The catalog: what a product is, what a manager may change, and how a product is shown.

Plain Python and pydantic: the inventory table sits behind Catalog, with its DynamoDB adapter
in chalicelib.adapters.catalog.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol, Self

from pydantic import Field, StrictInt, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from order_contracts.money import has_at_most_minor_units, is_currency, round_money
from order_contracts.order import SKU_PATTERN, ContractModel, Currency, Money

MAX_RESTOCK = 100_000
_SKU = re.compile(SKU_PATTERN)


class ProductChange(ContractModel):
    """A PUT /catalog/{sku} body: everything about a product except its stock."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    price: Money
    currency: Currency

    @model_validator(mode="after")
    def _price_fits_the_currency(self) -> Self:
        if not has_at_most_minor_units(self.price, self.currency):
            raise PydanticCustomError(
                "money",
                "{field} {detail}",
                {"field": "price", "detail": f"has more decimals than {self.currency} allows"},
            )
        # Stored as orders write it (12.5 EUR is 12.50), so the reservation's price check,
        # which compares numbers, and what GET shows agree.
        return self.model_copy(update={"price": round_money(self.price, self.currency)})


class Restock(ContractModel):
    """A POST /catalog/{sku}/restock body: units that arrived."""

    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_RESTOCK)]


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    currency: str
    available: int

    def document(self) -> dict[str, Any]:
        """The product as the API shows it: the price as exact text, never a float."""
        return {
            "sku": self.sku,
            "name": self.name,
            "price": exact_price(self.price, self.currency),
            "currency": self.currency,
            "available": self.available,
        }


@dataclass(frozen=True)
class SavedProduct:
    """A product after a PUT, and what it was before (None: new, or not priced until now)."""

    created: bool
    before: Product | None
    after: Product


class InvalidSku(ValueError):
    """The SKU in the URL cannot name a product."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"{sku!r} is not a SKU: 1-32 capital letters, digits or '-'")
        self.sku = sku


class UnknownProduct(LookupError):
    """No product has this SKU."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"no product {sku!r}")
        self.sku = sku


class Catalog(Protocol):
    def products(self) -> list[Product]:
        """Every priced product, sorted by SKU."""
        ...

    def save(self, sku: str, change: ProductChange, caller: str, at: datetime) -> SavedProduct:
        """Create the product with no stock, or change all but its stock; stamp who and when."""
        ...

    def restock(self, sku: str, quantity: int, caller: str, at: datetime) -> int:
        """Add units to the stock in one atomic step; return the units now available.

        Raises UnknownProduct: restocking never creates a product.
        """
        ...


def check_sku(sku: str) -> str:
    if not _SKU.match(sku):
        raise InvalidSku(sku)
    return sku


def exact_price(price: Decimal, currency: str) -> str:
    """The price with the currency's minor units (DynamoDB gives 12.50 back as 12.5)."""
    if is_currency(currency) and has_at_most_minor_units(price, currency):
        return str(round_money(price, currency))
    return str(price)  # written by something else than this API: shown as it is, not rounded


def differences(before: Product | None, after: Product) -> dict[str, dict[str, Any]]:
    """What a save changed, field by field, for the log (a new product: every field)."""
    old = before.document() if before is not None else {}
    new = after.document()
    return {
        field: {"old": old.get(field), "new": value}
        for field, value in new.items()
        if field not in ("sku", "available") and old.get(field) != value
    }
