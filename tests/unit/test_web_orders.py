"""A web order from the form's answers: plain Python, no Flask, no AWS."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from order_contracts import guest_customer_id
from order_web.orders import (
    CatalogItem,
    EmptyCart,
    MixedCurrencies,
    Shopper,
    idempotency_key,
    order_request,
    web_order,
    web_order_id,
)

CATALOG = [
    CatalogItem("DATES-1KG", "Dates", Decimal("7.25"), "EUR", in_stock=True),
    CatalogItem("MUG-BLUE", "Mug, blue", Decimal("12.00"), "EUR", in_stock=True),
    CatalogItem("TEA-MATCHA", "Matcha", Decimal("1200"), "JPY", in_stock=True),
]
ADA = Shopper(name="Ada Lovelace", email="  Ada@Example.com ", country="gb")
KEY = "0123456789abcdef0123456789abcdef"


def test_an_order_is_priced_from_the_catalog_in_catalog_order() -> None:
    request = order_request(ADA, {"MUG-BLUE": 2, "DATES-1KG": 1}, CATALOG)

    assert [(line.sku, line.quantity, line.unit_price) for line in request.lines] == [
        ("DATES-1KG", 1, Decimal("7.25")),
        ("MUG-BLUE", 2, Decimal("12.00")),
    ]
    assert (request.currency, request.total) == ("EUR", Decimal("31.25"))


def test_the_shopper_checks_out_as_a_guest_known_by_email() -> None:
    customer = order_request(ADA, {"MUG-BLUE": 1}, CATALOG).customer

    assert customer.email == "Ada@Example.com"
    assert customer.customer_id == guest_customer_id("ada@example.com")
    assert customer.is_guest
    assert customer.country == "GB"


@pytest.mark.parametrize(
    "quantities",
    [{}, {"MUG-BLUE": 0}, {"NOT-IN-CATALOG": 3}],
    ids=["nothing", "zero", "unknown sku"],
)
def test_a_cart_without_a_catalog_item_is_empty(quantities: dict[str, int]) -> None:
    with pytest.raises(EmptyCart):
        order_request(ADA, quantities, CATALOG)


def test_one_order_takes_one_currency() -> None:
    with pytest.raises(MixedCurrencies):
        order_request(ADA, {"MUG-BLUE": 1, "TEA-MATCHA": 1}, CATALOG)


@pytest.mark.parametrize(
    ("shopper", "field"),
    [
        (Shopper("Ada", "ada-at-example", "GB"), "customer.email"),
        (Shopper("Ada", "ada@example.com", "Britain"), "customer.country"),
        (Shopper(" ", "ada@example.com", "GB"), "customer.name"),
    ],
)
def test_the_contract_judges_what_the_shopper_typed(shopper: Shopper, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        order_request(shopper, {"MUG-BLUE": 1}, CATALOG)
    [error] = refused.value.errors()
    assert ".".join(str(part) for part in error["loc"]) == field


def test_a_web_orders_id_is_its_idempotency_key_so_a_second_post_is_the_same_order() -> None:
    first = web_order(KEY, ADA, {"MUG-BLUE": 2}, CATALOG)
    again = web_order(KEY, ADA, {"MUG-BLUE": 2}, CATALOG)

    assert first.order_id == web_order_id(KEY) == f"web-{KEY}"
    assert first.fingerprint() == again.fingerprint()
    assert idempotency_key(first.order_id) == KEY


def test_ids_of_the_other_door_have_no_idempotency_key() -> None:
    assert idempotency_key("e2e-api-1") is None
