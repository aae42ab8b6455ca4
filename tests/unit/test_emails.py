"""chalicelib/emails.py: what the customer emails say, escaped."""

from decimal import Decimal
from html import escape
from typing import Any

import pytest

from chalicelib.emails import Details, cancellation, confirmation, rejection
from order_contracts import Billing, Order, StockShortage
from order_contracts.events import RejectionReason
from tests.factories import order


def test_names_and_ids_are_escaped_in_html() -> None:
    o = order("ord-1", [("MUG-BLUE", 1, "12.00")])
    billing = Billing(
        usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"
    )
    email = confirmation(o, billing, "<script>alert(1)</script>")
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<script>alert(1)</script>" in email.text


BILLING = Billing(usd_total=Decimal("34.73"), usd_rate=Decimal("1.0524"), rate_date="2026-11-20")
NAMES = {"MUG-BLUE": "Blue enamel mug", "TEA-EARLGREY": "Earl Grey tea, 100 g"}
STATUS_URL = "https://shop.example.com/orders/ord-1?link=abc.def&x=1"
CANCEL_URL = "https://shop.example.com/orders/ord-1/cancel?link=ghi.jkl"
# What nothing in the system does: no email may promise it.
UNKEPT_PROMISES = ("let you know", "ship", "dispatch", "deliver", "track")


def two_lines() -> Order:
    return order("ord-1", [("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 2, "4.50")])


def test_the_confirmation_names_the_products_and_links_to_the_order_and_its_cancel() -> None:
    details = Details(NAMES, status_url=STATUS_URL, cancel_url=CANCEL_URL)

    email = confirmation(two_lines(), BILLING, "Ada", details)

    assert "2 x Blue enamel mug at 12.00 EUR = 24.00 EUR" in email.text
    assert "2 x Earl Grey tea, 100 g at 4.50 EUR = 9.00 EUR" in email.text
    assert "MUG-BLUE" not in email.text
    assert "Total: 33.00 EUR (34.73 USD)" in email.text
    assert f"See your order: {STATUS_URL}" in email.text
    assert (
        "Changed your mind? You can cancel it within 24 hours of placing it: " + CANCEL_URL
    ) in email.text
    assert f'<a href="{escape(STATUS_URL)}">See your order</a>' in email.html
    assert f'<a href="{escape(CANCEL_URL)}">' in email.html
    assert "<li>2 x Blue enamel mug at 12.00 EUR = 24.00 EUR</li>" in email.html


@pytest.mark.parametrize(
    "write",
    [
        lambda d: confirmation(two_lines(), BILLING, "Ada", d),
        lambda d: rejection(
            two_lines(),
            [StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1)],
            "Ada",
            d,
        ),
        lambda d: cancellation(two_lines(), "Ada", d),
    ],
    ids=["confirmation", "rejection", "cancellation"],
)
def test_no_email_promises_what_the_system_does_not_do(write: Any) -> None:
    email = write(Details(NAMES, status_url=STATUS_URL, cancel_url=CANCEL_URL))
    for promise in UNKEPT_PROMISES:
        assert promise not in email.text.lower()
        assert promise not in email.html.lower()


def test_the_rejection_says_why_naming_the_product_and_links_to_the_order() -> None:
    reasons: list[RejectionReason] = [
        StockShortage(sku="MUG-BLUE", reason="out_of_stock", requested=2, available=1)
    ]

    email = rejection(two_lines(), reasons, "Ada", Details(NAMES, status_url=STATUS_URL))

    assert "Blue enamel mug: you asked for 2, only 1 left." in email.text
    assert "You have not been charged." in email.text
    assert f"See your order: {STATUS_URL}" in email.text
    assert "cancel" not in email.text.lower()


def test_the_cancellation_names_what_was_cancelled_and_links_to_the_order() -> None:
    email = cancellation(two_lines(), "Ada", Details(NAMES, status_url=STATUS_URL))

    assert "Your order ord-1 is cancelled, as you asked:" in email.text
    assert "  2 x Blue enamel mug" in email.text
    assert "the charge of 33.00 EUR is reversed in full" in email.text
    assert f"See your order: {STATUS_URL}" in email.text
    assert "/cancel" not in email.text


def test_without_details_the_emails_show_skus_and_carry_no_links() -> None:
    email = confirmation(two_lines(), BILLING, "Ada")
    assert "2 x MUG-BLUE at 12.00 EUR = 24.00 EUR" in email.text
    assert "http" not in email.text
    assert "<a " not in email.html
