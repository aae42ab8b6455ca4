"""refresh_exchange_rates through the Chalice client on moto (consumers.py, chalicelib/fx.py):
the scheduled load of the ECB feed into the rate table.

Parsing the feed and converting to USD is in tests/unit/test_fx.py.
"""

from datetime import date
from decimal import Decimal

import pytest
from chalice.test import Client

from chalicelib.fx import RatesFeedError
from chalicelib.services import get_services
from local_stack.resources import Provisioned
from tests.conftest import replace_services

NEXT_DAY_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"'
    b' xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
    b"<gesmes:subject>Reference rates</gesmes:subject>"
    b"<Cube><Cube time='2026-11-23'>"
    b"<Cube currency='USD' rate='1.0611'/><Cube currency='JPY' rate='163.10'/>"
    b"</Cube></Cube></gesmes:Envelope>"
)


def use_feed(feed: bytes) -> None:
    replace_services(fetch_rates_feed=lambda: feed)


def test_the_schedule_loads_the_days_rates(client: Client, aws: Provisioned) -> None:
    use_feed(NEXT_DAY_FEED)
    client.lambda_.invoke(
        "refresh_exchange_rates",
        client.events.generate_cw_event("Scheduled Event", "aws.events", {}, []),
    )

    assert get_services().ledger.rates_on_or_before(date(2026, 11, 23)) == (
        date(2026, 11, 23),
        {"USD": Decimal("1.0611"), "JPY": Decimal("163.10")},
    )
    # Earlier days stay for orders placed then.
    day, rates = get_services().ledger.rates_on_or_before(date(2026, 11, 20)) or (None, {})
    assert (day, rates["USD"]) == (date(2026, 11, 20), Decimal("1.0523"))


def test_a_feed_that_is_not_the_ecbs_changes_nothing(client: Client, aws: Provisioned) -> None:
    use_feed(b"<html>maintenance</html>")
    with pytest.raises(RatesFeedError, match="holds no rates"):
        client.lambda_.invoke(
            "refresh_exchange_rates",
            client.events.generate_cw_event("Scheduled Event", "aws.events", {}, []),
        )
    day, _ = get_services().ledger.rates_on_or_before(date(2026, 12, 31)) or (None, {})
    assert day == date(2026, 11, 20)
