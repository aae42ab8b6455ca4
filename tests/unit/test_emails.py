"""chalicelib/emails.py: what the customer emails say, escaped."""

from decimal import Decimal

from chalicelib.emails import confirmation
from order_contracts import Billing
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
