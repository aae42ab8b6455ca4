"""chalicelib/fx.py: exchange rates from the ECB feed and conversion to USD, in exact cents.

The scheduled refresh (refresh_exchange_rates) is in tests/functional/test_fx.py.
"""

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.fx import (
    RECORDED_RATES,
    NoRateForCurrency,
    RatesFeedError,
    fetch_feed,
    parse_ecb_rates,
    to_usd,
)

RATES = parse_ecb_rates(RECORDED_RATES.read_bytes())
NOV_20 = {rate.currency: rate.per_euro for rate in RATES if rate.day == date(2026, 11, 20)}


def test_the_recorded_feed_holds_two_days_of_rates() -> None:
    assert {rate.day for rate in RATES} == {date(2026, 11, 19), date(2026, 11, 20)}
    assert NOV_20["USD"] == Decimal("1.0523")
    assert NOV_20["JPY"] == Decimal("162.45")
    assert len(NOV_20) == 29


@pytest.mark.parametrize(
    ("amount", "currency", "usd", "rate"),
    [
        # USD per EUR is the feed's USD rate: 21.00 x 1.0523 = 22.0983
        ("21.00", "EUR", "22.10", "1.0523000000"),
        # 1.0523 / 162.45 = 0.00647768544...; 3600 x 0.0064776854 = 23.31966744
        ("3600", "JPY", "23.32", "0.0064776854"),
        # 1.0523 / 0.8321 = 1.26463165484...; 19.99 x 1.2646316548 = 25.27998677...
        ("19.99", "GBP", "25.28", "1.2646316548"),
        # 1.0523 / 1.4712 = 0.71526644915...; 45.50 x 0.7152664492 = 32.54462343...
        ("45.50", "CAD", "32.54", "0.7152664492"),
        # 1.0523 / 21.4375 = 0.04908688046...; 1234.56 x 0.0490868805 = 60.60069919...
        ("1234.56", "MXN", "60.60", "0.0490868805"),
        ("12.34", "USD", "12.34", "1"),
    ],
)
def test_totals_convert_to_hand_computed_cents(
    amount: str, currency: str, usd: str, rate: str
) -> None:
    conversion = to_usd(Decimal(amount), currency, NOV_20, date(2026, 11, 20))
    assert conversion.usd_amount == Decimal(usd)
    assert str(conversion.usd_amount) == usd  # exactly two places, never a float
    assert conversion.usd_rate == Decimal(rate)
    assert conversion.rate_date == date(2026, 11, 20)


def test_a_currency_the_ecb_does_not_publish_has_no_rate() -> None:
    with pytest.raises(NoRateForCurrency, match="ARS"):
        to_usd(Decimal("100"), "ARS", NOV_20, date(2026, 11, 20))


@pytest.mark.parametrize(
    "document",
    [
        b"not xml",
        b"<Envelope/>",
        b"<x xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'>"
        b"<Cube><Cube time='2026-11-20'><Cube currency='USD' rate='-1'/></Cube></Cube></x>",
    ],
)
def test_a_feed_that_is_not_the_ecbs_is_refused(document: bytes) -> None:
    with pytest.raises(RatesFeedError):
        parse_ecb_rates(document)


def test_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x>&a;&a;</x>'
    with pytest.raises(RatesFeedError, match="refused XML construct"):
        parse_ecb_rates(bomb)


def test_rates_are_only_fetched_over_https() -> None:
    with pytest.raises(ValueError, match="use https"):
        fetch_feed("http://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml")
    assert RECORDED_RATES.exists()
