"""order_contracts/money.py: ISO 4217 minor units and one rounding rule, half even."""

from decimal import Decimal

import pytest

from order_contracts import round_money
from order_contracts.money import MINOR_UNITS


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4)],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    assert MINOR_UNITS[currency] == digits


def test_rounding_is_half_even_to_the_minor_unit() -> None:
    assert round_money(Decimal("0.125"), "EUR") == Decimal("0.12")
    assert round_money(Decimal("0.135"), "EUR") == Decimal("0.14")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("2")
