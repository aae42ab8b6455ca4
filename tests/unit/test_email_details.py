"""chalicelib/email_details.py: the products' names (read once in a while) and the signed
links each email carries."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.email_details import NAMES_MAX_AGE_SECONDS, EmailDetails
from order_contracts import Billing, OrderBilled, OrderCancelled, OrderRejected, UnsupportedCurrency
from order_contracts.links import LinkRefused, OrderLinks
from tests.factories import order

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
KEY = "the-link-key"
ORDER = order("ord-1", [("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 1, "4.50")])
BILLED = OrderBilled(
    order_id="ord-1",
    occurred_at=AT,
    correlation_id="c",
    order=ORDER,
    billing=Billing(usd_total=Decimal("30.52"), usd_rate=Decimal("1.05"), rate_date="2026-11-20"),
)
REJECTED = OrderRejected(
    order_id="ord-1",
    occurred_at=AT,
    correlation_id="c",
    order=ORDER,
    reasons=[UnsupportedCurrency(currency="EUR")],
)
CANCELLED = OrderCancelled(
    order_id="ord-1", occurred_at=AT, correlation_id="c", order=ORDER, cancelled_from="CONFIRMED"
)


class Catalog:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def names(self, skus: Iterable[str]) -> dict[str, str]:
        self.asked.append(list(skus))
        return {"MUG-BLUE": "Blue enamel mug"}  # TEA-EARLGREY is not in the catalog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def details(
    catalog: Catalog, clock: Clock | None = None, url: str = "https://shop"
) -> EmailDetails:
    return EmailDetails(
        catalog,
        timedelta(hours=24),
        storefront_url=url,
        link_key=lambda: KEY,
        clock=clock or Clock(),
    )


def test_names_are_read_for_the_order_skus_and_kept_for_a_few_minutes() -> None:
    catalog, clock = Catalog(), Clock()
    writer = details(catalog, clock)

    assert writer.for_event(BILLED).names == {"MUG-BLUE": "Blue enamel mug"}
    assert writer.for_event(BILLED).names == {"MUG-BLUE": "Blue enamel mug"}
    assert catalog.asked == [["MUG-BLUE", "TEA-EARLGREY"], ["TEA-EARLGREY"]]  # the unknown again

    clock.now += NAMES_MAX_AGE_SECONDS
    writer.for_event(BILLED)
    assert catalog.asked[-1] == ["MUG-BLUE", "TEA-EARLGREY"]


def test_every_email_links_to_the_order_and_only_the_confirmation_to_its_cancel() -> None:
    writer = details(Catalog())
    links = OrderLinks(KEY)

    for event in (BILLED, REJECTED, CANCELLED):
        said = writer.for_event(event)
        assert said.status_url is not None
        assert said.status_url.startswith("https://shop/orders/ord-1?link=")
        links.check("ord-1", said.status_url.split("link=")[1], "status", timedelta(days=1))
    cancel_url = writer.for_event(BILLED).cancel_url
    assert cancel_url is not None
    links.check("ord-1", cancel_url.split("link=")[1], "cancel", timedelta(hours=24))
    with pytest.raises(LinkRefused):
        OrderLinks("another key").check(
            "ord-1", cancel_url.split("link=")[1], "cancel", timedelta(hours=24)
        )
    assert writer.for_event(REJECTED).cancel_url is None
    assert writer.for_event(CANCELLED).cancel_url is None


def test_without_the_storefront_address_the_emails_carry_no_links() -> None:
    said = details(Catalog(), url="").for_event(BILLED)
    assert said.status_url is None
    assert said.cancel_url is None
