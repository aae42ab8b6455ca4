"""ISO 4217 currencies and the rounding rule every tier uses for money."""

from decimal import ROUND_HALF_EVEN, Decimal

# Active ISO 4217 codes and their minor units (digits after the decimal point).
# Funds and precious metals (XAU, XDR, ...) have no minor unit and are not accepted for orders.
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
    "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV "
    "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR "
    "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH "
    "USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

MINOR_UNITS: dict[str, int] = {
    code: digits
    for codes, digits in (
        (_ZERO_DECIMALS, 0),
        (_TWO_DECIMALS, 2),
        (_THREE_DECIMALS, 3),
        (_FOUR_DECIMALS, 4),
    )
    for code in codes.split()
}


def is_currency(code: str) -> bool:
    """Tell whether code is an active ISO 4217 currency accepted for orders."""
    return code in MINOR_UNITS


def minor_unit_exponent(currency: str) -> Decimal:
    """Return the quantum of the currency's minor unit, e.g. Decimal('0.01') for EUR."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def has_at_most_minor_units(amount: Decimal, currency: str) -> bool:
    """Tell whether amount can be written in the currency without rounding."""
    exponent = amount.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= MINOR_UNITS[currency]


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-even to the currency's minor unit: the one rounding rule of the system."""
    return amount.quantize(minor_unit_exponent(currency), rounding=ROUND_HALF_EVEN)
