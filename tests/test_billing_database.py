"""The billing database (ledger, rates, contacts): the same SQL on SQLite and PostgreSQL."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from chalicelib.billing import LedgerEntry
from chalicelib.communications import Contact
from chalicelib.fx import RECORDED_RATES, EuroRate, parse_ecb_rates
from chalicelib.migrations import all_migrations
from tests.postgres import fresh_database, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A factory of empty databases of one engine, as URLs."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / 'ledger.db'}"
    server: str = request.getfixturevalue("postgres")
    return lambda: fresh_database(server)


@pytest.fixture
def ledger(empty_database: Callable[[], str]) -> SqlLedger:
    store = SqlLedger(database_from_url(empty_database()))
    store.migrate()
    return store


def entry(
    order_id: str = "ord-1", currency: str = "EUR", amount: str = "21.00", **changes: object
) -> LedgerEntry:
    values: dict[str, object] = {
        "order_id": order_id,
        "customer_id": "cust-1",
        "currency": currency,
        "amount": Decimal(amount),
        "usd_amount": Decimal("22.10"),
        "usd_rate": Decimal("1.0523000000"),
        "rate_date": date(2026, 11, 20),
        "billed_at": datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        **changes,
    }
    return LedgerEntry(**values)  # type: ignore[arg-type]


def test_migrations_apply_once(empty_database: Callable[[], str]) -> None:
    store = SqlLedger(database_from_url(empty_database()))
    assert store.migrate() == [f"{m.version:04d}_{m.name}" for m in all_migrations()]
    assert store.migrate() == []


def test_a_charge_is_recorded_once_and_the_first_one_wins(ledger: SqlLedger) -> None:
    first = ledger.record_charge(entry())
    again = ledger.record_charge(entry(usd_amount=Decimal("99.99"), billed_at=datetime.now(UTC)))
    assert first == entry()
    assert again == first
    assert ledger.charge("ord-1") == first
    assert ledger.charge("ord-2") is None


@pytest.mark.parametrize(
    ("currency", "amount"), [("JPY", "3600"), ("BHD", "2.250"), ("EUR", "12345678.91")]
)
def test_amounts_come_back_exactly(ledger: SqlLedger, currency: str, amount: str) -> None:
    stored = ledger.record_charge(entry(currency=currency, amount=amount))
    assert stored.amount == Decimal(amount)
    assert str(stored.amount) == amount


def test_the_latest_rates_on_or_before_a_day(ledger: SqlLedger) -> None:
    assert ledger.rates_on_or_before(date(2026, 11, 20)) is None
    assert ledger.save_rates(parse_ecb_rates(RECORDED_RATES.read_bytes())) == 58

    day, rates = ledger.rates_on_or_before(date(2026, 11, 22)) or (None, {})
    assert (day, rates["USD"], rates["JPY"]) == (
        date(2026, 11, 20),
        Decimal("1.0523"),
        Decimal("162.45"),
    )
    day, rates = ledger.rates_on_or_before(date(2026, 11, 19)) or (None, {})
    assert (day, rates["USD"]) == (date(2026, 11, 19), Decimal("1.0547"))
    assert ledger.rates_on_or_before(date(2026, 11, 18)) is None


def test_saving_a_days_rates_again_replaces_them(ledger: SqlLedger) -> None:
    ledger.save_rates([EuroRate("USD", date(2026, 11, 20), Decimal("1.05"))])
    ledger.save_rates([EuroRate("USD", date(2026, 11, 20), Decimal("1.0523"))])
    assert ledger.rates_on_or_before(date(2026, 11, 20)) == (
        date(2026, 11, 20),
        {"USD": Decimal("1.0523")},
    )


@pytest.fixture
def contacts(empty_database: Callable[[], str]) -> SqlContactBook:
    runner = database_from_url(empty_database())
    SqlLedger(runner).migrate()
    return SqlContactBook(runner)


def test_contacts_are_looked_up_by_customer_id(contacts: SqlContactBook) -> None:
    assert contacts.contact("cust-1") is None
    contacts.save_contact(Contact("cust-1", "Ada", "ada@example.com"))
    contacts.save_contact(Contact("cust-1", "Ada L.", "ada@new.example"))
    assert contacts.contact("cust-1") == Contact("cust-1", "Ada L.", "ada@new.example")
    # Parameterised: a hostile id is just an id that matches nobody.
    assert contacts.contact("x' OR '1'='1") is None


def test_suppressions_ignore_case_and_keep_the_first_reason(contacts: SqlContactBook) -> None:
    at = datetime(2026, 11, 21, tzinfo=UTC)
    contacts.suppress("Ada@Example.com", "permanent_bounce", at)
    contacts.suppress("ada@example.com", "complaint", at)
    assert contacts.suppression("ADA@example.COM") == "permanent_bounce"
    assert contacts.suppression("bob@example.com") is None


def test_an_email_is_claimed_once_then_marked(contacts: SqlContactBook) -> None:
    at = datetime(2026, 11, 21, tzinfo=UTC)
    assert contacts.claim_email("ord-1", "confirmation", at) == "sending"
    assert contacts.claim_email("ord-1", "confirmation", at) == "sending"  # a crash mid-send
    contacts.mark_email("ord-1", "confirmation", "sent", "msg-1", at)
    assert contacts.claim_email("ord-1", "confirmation", at) == "sent"
    assert contacts.claim_email("ord-1", "rejection", at) == "sending"
