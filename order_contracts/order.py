"""The order contract: what both doors accept and what the pipeline carries."""

import hashlib
import json
import re
from decimal import Decimal
from typing import Annotated, Any, Self

from iso3166 import countries_by_alpha2
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from order_contracts.money import has_at_most_minor_units, is_currency, round_money

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ORDER_ID_RULE = "must be 1-64 letters, digits, '-' or '_'"
SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
# Deliberately simple: SES is the real judge of deliverability; this only rejects typos.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_LINES = 50
MAX_QUANTITY = 1000
# Customers of the storefront check out as guests: no account, so no row in the contact
# book. Their id carries this prefix and the details typed at checkout are their contact.
GUEST_CUSTOMER_PREFIX = "guest-"


_ORDER_ID = re.compile(ORDER_ID_PATTERN)


def is_order_id(text: str) -> bool:
    """Tell whether text can be an order id (ORDER_ID_RULE), as every door checks a URL's."""
    return _ORDER_ID.fullmatch(text) is not None


def _check_country(code: str) -> str:
    # The pattern has made it two capitals; ISO 3166-1 (the iso3166 package, a 9 KB table
    # where pycountry would add 22 MB of translations to the Lambda bundle) says if assigned.
    if code not in countries_by_alpha2:
        raise PydanticCustomError(
            "country", "'{code}' is not an ISO 3166-1 alpha-2 country code", {"code": code}
        )
    return code


def _check_currency(code: str) -> str:
    if not is_currency(code):
        raise PydanticCustomError(
            "currency", "'{code}' is not a supported ISO 4217 currency", {"code": code}
        )
    return code


OrderId = Annotated[str, StringConstraints(pattern=ORDER_ID_PATTERN)]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
Money = Annotated[Decimal, Field(gt=0, max_digits=14, allow_inf_nan=False)]


class ContractModel(BaseModel):
    """Base of every contract: unknown fields are errors and values never change after parsing."""

    # defer_build: a model's validator is built on its first use, not at import, so a Lambda
    # function's cold start builds only the contracts that function validates or builds.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class OrderLine(ContractModel):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]
    unit_price: Money


class Customer(ContractModel):
    customer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
    country: Annotated[
        str, StringConstraints(pattern=r"^[A-Z]{2}$"), AfterValidator(_check_country)
    ]

    @property
    def is_guest(self) -> bool:
        return self.customer_id.startswith(GUEST_CUSTOMER_PREFIX)


def guest_customer_id(email: str) -> str:
    """A guest's stable id: the same address always maps to the same customer."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
    return GUEST_CUSTOMER_PREFIX + digest


class OrderRequest(ContractModel):
    """An order as a client submits it; the id comes from the URL or the form's key."""

    customer: Customer
    currency: Currency
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_LINES)]
    total: Money

    @model_validator(mode="after")
    def _money_is_exact_and_adds_up(self) -> Self:
        currency = self.currency
        for index, line in enumerate(self.lines):
            if not has_at_most_minor_units(line.unit_price, currency):
                raise _money_error(
                    f"lines[{index}].unit_price", f"has more decimals than {currency} allows"
                )
        # The catalog has one price per SKU: two prices for one SKU cannot both be it.
        first_line: dict[str, int] = {}
        for index, line in enumerate(self.lines):
            earlier = first_line.setdefault(line.sku, index)
            if line.unit_price != self.lines[earlier].unit_price:
                raise _money_error(
                    f"lines[{index}].unit_price",
                    f"differs from lines[{earlier}].unit_price, of the same SKU {line.sku}",
                )
        if not has_at_most_minor_units(self.total, currency):
            raise _money_error("total", f"has more decimals than {currency} allows")
        expected = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if self.total != expected:
            raise _money_error(
                "total",
                f"is {self.total} but the lines add up to {round_money(expected, currency)}",
            )
        # Normalise amounts to the currency's minor unit so 12.3 and 12.30 are the same order.
        lines = [
            line.model_copy(update={"unit_price": round_money(line.unit_price, currency)})
            for line in self.lines
        ]
        return self.model_copy(update={"lines": lines, "total": round_money(self.total, currency)})


def _money_error(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError("money", "{field} {detail}", {"field": field, "detail": message})


class Order(OrderRequest):
    """An accepted order: a request plus its id, the idempotency key of the whole pipeline."""

    order_id: OrderId

    @classmethod
    def from_request(cls, order_id: str, request: OrderRequest) -> "Order":
        """Give a validated request its id, validating the id too."""
        return cls.model_validate({**request.model_dump(), "order_id": order_id})

    def quantities_by_sku(self) -> dict[str, int]:
        """Sum the lines per SKU: a DynamoDB transaction may touch each item only once."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.quantity
        return dict(sorted(totals.items()))

    def fingerprint(self) -> str:
        """Hash the order's content: equal orders (however submitted) share a fingerprint."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """Return the order as JSON-ready data (money as strings, never floats)."""
        return self.model_dump(mode="json")
