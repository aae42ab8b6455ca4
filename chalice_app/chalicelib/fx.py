"""Exchange rates from the ECB's reference-rate feed, and conversion of order totals to USD."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from defusedxml import DefusedXmlException, ElementTree

from order_contracts import round_money

ECB_DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
RECORDED_RATES = Path(__file__).parent / "data" / "eurofxref-recorded.xml"
_ECB_NAMESPACE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
# The USD rate kept with each ledger row: enough places that amounts up to billions
# convert to the same cents as the unrounded cross rate would give.
RATE_QUANTUM = Decimal("1E-10")


class RatesFeedError(ValueError):
    """The feed is not the ECB's reference-rate XML."""


class NoRateForCurrency(Exception):
    """No reference rate exists for the currency: the ECB publishes about 30."""

    def __init__(self, currency: str) -> None:
        super().__init__(f"no exchange rate to USD is published for {currency}")
        self.currency = currency


@dataclass(frozen=True)
class EuroRate:
    """Units of currency per euro on a day, as the ECB publishes them."""

    currency: str
    day: date
    per_euro: Decimal


@dataclass(frozen=True)
class UsdConversion:
    usd_amount: Decimal
    usd_rate: Decimal  # USD per unit of the order's currency
    rate_date: date


def parse_ecb_rates(document: bytes | str) -> list[EuroRate]:
    """Read every day's rates from an ECB feed (the daily file or the 90-day history)."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise RatesFeedError(f"not XML: {error}") from error
    except DefusedXmlException as error:  # entities, DTDs: never in the ECB's feed
        raise RatesFeedError(f"refused XML construct: {error!r}") from error
    rates = []
    for day_cube in root.iter(f"{_ECB_NAMESPACE}Cube"):
        if "time" not in day_cube.attrib:
            continue
        day = date.fromisoformat(day_cube.attrib["time"])
        for cube in day_cube:
            try:
                per_euro = Decimal(cube.attrib["rate"])
            except (KeyError, InvalidOperation) as error:
                raise RatesFeedError(f"bad rate on {day}: {cube.attrib}") from error
            if not per_euro.is_finite() or per_euro <= 0:
                raise RatesFeedError(f"bad rate on {day}: {cube.attrib}")
            rates.append(EuroRate(cube.attrib["currency"], day, per_euro))
    if not rates:
        raise RatesFeedError("the feed holds no rates")
    return rates


def usd_rate(currency: str, per_euro: Mapping[str, Decimal]) -> Decimal:
    """USD per unit of currency from one day's euro rates (EUR is the ECB's base)."""
    if currency == "USD":
        return Decimal(1)
    if "USD" not in per_euro:
        raise RatesFeedError("the day's rates lack USD")
    if currency == "EUR":
        return per_euro["USD"].quantize(RATE_QUANTUM)
    if currency not in per_euro:
        raise NoRateForCurrency(currency)
    return (per_euro["USD"] / per_euro[currency]).quantize(RATE_QUANTUM)


def to_usd(
    amount: Decimal, currency: str, per_euro: Mapping[str, Decimal], rate_date: date
) -> UsdConversion:
    """Convert with the day's cross rate, rounded half-even to cents."""
    rate = usd_rate(currency, per_euro)
    return UsdConversion(round_money(amount * rate, "USD"), rate, rate_date)


def fetch_feed(url: str = ECB_DAILY_URL, timeout: float = 10) -> bytes:
    """Download the ECB feed (HTTPS only: the rates decide what customers are billed)."""
    import urllib.request

    if not url.startswith("https://"):
        raise ValueError(f"refusing to fetch rates over {url.split(':', 1)[0]}: use https")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - https checked
        body: bytes = response.read()
    return body
