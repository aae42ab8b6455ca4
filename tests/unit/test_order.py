"""order_contracts/order.py: the order contract, one definition with exact money and clear
errors (order_contracts/errors.py), held to the shared vectors (tests/vectors).
"""

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from order_contracts import Customer, Order, OrderRequest, is_order_id, validation_error_body
from tests.factories import order
from tests.vectors import INVALID, VALID, raw_body


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vectors_are_accepted(case: dict) -> None:
    request = OrderRequest.model_validate_json(raw_body(case))
    assert request.total == sum(line.unit_price * line.quantity for line in request.lines)


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_vectors_name_the_bad_field(case: dict) -> None:
    with pytest.raises(ValidationError) as raised:
        OrderRequest.model_validate_json(raw_body(case))
    body = validation_error_body(raised.value)
    assert case["field"] in [problem["field"] for problem in body["problems"]]
    assert case["field"] in body["message"]


def test_amounts_are_normalised_so_equal_orders_share_a_fingerprint() -> None:
    a = order(lines=[("MUG-BLUE", 2, "12.3")])
    b = order(lines=[("MUG-BLUE", 2, "12.30")])
    assert a.lines[0].unit_price == Decimal("12.30")
    assert str(a.total) == "24.60"
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != order(lines=[("MUG-BLUE", 3, "12.30")]).fingerprint()


def test_money_never_goes_through_float() -> None:
    request = OrderRequest.model_validate_json(
        json.dumps(
            {
                **VALID[0]["body"],
                "lines": [{"sku": "MUG-BLUE", "quantity": 3, "unit_price": 0.1}],
                "total": 0.3,
            }
        )
    )
    # 3 * 0.1 != 0.3 in binary floating point; in Decimal it is exact.
    assert request.total == Decimal("0.30")


def test_lines_of_one_sku_are_summed() -> None:
    o = order(
        lines=[("MUG-BLUE", 1, "12.00"), ("TEA-EARLGREY", 2, "4.50"), ("MUG-BLUE", 3, "12.00")]
    )
    assert o.quantities_by_sku() == {"MUG-BLUE": 4, "TEA-EARLGREY": 2}


def test_one_sku_at_two_prices_is_refused_naming_the_later_line() -> None:
    with pytest.raises(ValidationError) as raised:
        order(lines=[("MUG-BLUE", 1, "12.00"), ("TEA-EARLGREY", 1, "4.50"), ("MUG-BLUE", 1, "9")])
    assert validation_error_body(raised.value)["problems"] == [
        {
            "field": "lines[2].unit_price",
            "message": "differs from lines[0].unit_price, of the same SKU MUG-BLUE",
        }
    ]


def test_one_price_written_two_ways_is_one_price() -> None:
    o = order(lines=[("MUG-BLUE", 1, "12.3"), ("MUG-BLUE", 1, "12.30")])
    assert [line.unit_price for line in o.lines] == [Decimal("12.30")] * 2


def test_order_id_is_validated() -> None:
    request = OrderRequest.model_validate(VALID[0]["body"])
    with pytest.raises(ValidationError):
        Order.from_request("../etc/passwd", request)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ord-1", True),
        ("A", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("-starts-with-dash", False),
        ("has.dot", False),
        ("../etc/passwd", False),
        ("ord-1\n", False),  # the whole text, not a line of it
        ("", False),
    ],
)
def test_is_order_id_agrees_with_the_contract(text: str, expected: bool) -> None:
    assert is_order_id(text) is expected
    request = OrderRequest.model_validate(VALID[0]["body"])
    if expected:
        assert Order.from_request(text, request).order_id == text
    else:
        with pytest.raises(ValidationError):
            Order.from_request(text, request)


@pytest.mark.parametrize("country", ["GB", "US", "DE", "JP", "BR"])
def test_assigned_country_codes_are_accepted(country: str) -> None:
    customer = {**VALID[0]["body"]["customer"], "country": country}
    assert Customer.model_validate(customer).country == country


@pytest.mark.parametrize("country", ["ZZ", "UK", "AA", "QM"])
def test_unassigned_country_codes_are_refused_saying_so(country: str) -> None:
    # UK is reserved (the code is GB); ZZ, AA and QM are unassigned or user-assigned codes.
    body = {**VALID[0]["body"], "customer": {**VALID[0]["body"]["customer"], "country": country}}
    with pytest.raises(ValidationError) as raised:
        OrderRequest.model_validate(body)
    assert validation_error_body(raised.value)["problems"] == [
        {
            "field": "customer.country",
            "message": f"'{country}' is not an ISO 3166-1 alpha-2 country code",
        }
    ]
