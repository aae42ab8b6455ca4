"""chalicelib/adapters/sql/ledger.py on SQLite: migrations, charges, rates, guest email claims.

The tests are LedgerTests; tests/system/test_ledger.py runs the same ones on a real PostgreSQL,
so the one SQL the ledger writes is proven on both engines.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from chalicelib.billing import LedgerEntry
from chalicelib.communications import EmailStatus
from chalicelib.fx import RECORDED_RATES, EuroRate, parse_ecb_rates
from chalicelib.migrations import all_migrations

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


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


def claim(
    ledger: SqlLedger,
    order_id: str,
    at: datetime = AT,
    recipient: str = "grace@example.com",
    limit: int = 3,
    outcome: str = "confirmation",
) -> EmailStatus:
    return ledger.claim_guest_email(
        order_id,
        outcome,  # type: ignore[arg-type]
        recipient,
        at,
        since=at - timedelta(hours=1),
        limit=limit,
    )


class LedgerTests:
    """The ledger's tests, on the engine whose empty databases `empty_database` makes."""

    @pytest.fixture
    def empty_database(self) -> Callable[[], str]:
        raise NotImplementedError("a subclass gives the engine")

    @pytest.fixture
    def ledger(self, empty_database: Callable[[], str]) -> SqlLedger:
        store = SqlLedger(database_from_url(empty_database()))
        store.migrate()
        return store

    @pytest.fixture
    def database(self, empty_database: Callable[[], str]) -> tuple[SqlLedger, SqlContactBook]:
        """The ledger and the contact book on one database (the guest limit counts both)."""
        runner = database_from_url(empty_database())
        ledger = SqlLedger(runner)
        ledger.migrate()
        return ledger, SqlContactBook(runner)

    def test_migrations_apply_once(self, empty_database: Callable[[], str]) -> None:
        store = SqlLedger(database_from_url(empty_database()))
        assert store.migrate() == [f"{m.version:04d}_{m.name}" for m in all_migrations()]
        assert store.migrate() == []

    def test_a_charge_is_recorded_once_and_the_first_one_wins(self, ledger: SqlLedger) -> None:
        first = ledger.record_charge(entry())
        again = ledger.record_charge(
            entry(usd_amount=Decimal("99.99"), billed_at=datetime.now(UTC))
        )
        assert first == entry()
        assert again == first
        assert ledger.charge("ord-1") == first
        assert ledger.charge("ord-2") is None

    @pytest.mark.parametrize(
        ("currency", "amount"), [("JPY", "3600"), ("BHD", "2.250"), ("EUR", "12345678.91")]
    )
    def test_amounts_come_back_exactly(self, ledger: SqlLedger, currency: str, amount: str) -> None:
        stored = ledger.record_charge(entry(currency=currency, amount=amount))
        assert stored.amount == Decimal(amount)
        assert str(stored.amount) == amount

    def test_the_latest_rates_on_or_before_a_day(self, ledger: SqlLedger) -> None:
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

    def test_saving_a_days_rates_again_replaces_them(self, ledger: SqlLedger) -> None:
        ledger.save_rates([EuroRate("USD", date(2026, 11, 20), Decimal("1.05"))])
        ledger.save_rates([EuroRate("USD", date(2026, 11, 20), Decimal("1.0523"))])
        assert ledger.rates_on_or_before(date(2026, 11, 20)) == (
            date(2026, 11, 20),
            {"USD": Decimal("1.0523")},
        )

    # Guests' emails: limited per address and hour (communications.GuestEmailLimit) -----------

    def test_the_emails_past_the_limit_in_an_hour_are_refused(
        self, database: tuple[SqlLedger, SqlContactBook]
    ) -> None:
        ledger, contacts = database
        statuses = [claim(ledger, f"g-{n}", AT + timedelta(minutes=n)) for n in range(5)]
        assert statuses == ["sending", "sending", "sending", "rate_limited", "rate_limited"]
        # Another address is counted on its own.
        assert claim(ledger, "g-9", AT, recipient="ada@example.com") == "sending"
        assert ledger.order_emails("g-3") == [("confirmation", "rate_limited")]
        assert ledger.order_emails("g-0") == [("confirmation", "sending")]
        contacts.mark_email("g-0", "confirmation", "sent", "msg-0", AT)  # sent still counts
        assert claim(ledger, "g-5", AT + timedelta(minutes=30)) == "rate_limited"

    def test_the_decision_is_made_once_per_order_and_outcome(
        self, database: tuple[SqlLedger, SqlContactBook]
    ) -> None:
        ledger, _ = database
        for n in range(3):
            claim(ledger, f"g-{n}", AT)
        assert claim(ledger, "g-3", AT) == "rate_limited"
        # Redelivered two hours later, when the address could be mailed again: still refused.
        assert claim(ledger, "g-3", AT + timedelta(hours=2)) == "rate_limited"
        # And a claim being sent stays being sent (the existing retry after a crash mid-send).
        assert claim(ledger, "g-0", AT + timedelta(hours=2)) == "sending"

    def test_only_the_last_hour_counts(self, database: tuple[SqlLedger, SqlContactBook]) -> None:
        ledger, _ = database
        for n in range(3):
            claim(ledger, f"g-{n}", AT + timedelta(minutes=n))
        assert claim(ledger, "g-3", AT + timedelta(minutes=59)) == "rate_limited"
        # An hour after the first claim it drops out of the window (microseconds and all).
        assert claim(ledger, "g-4", AT + timedelta(hours=1, microseconds=1)) == "sending"

    def test_refused_suppressed_and_registered_emails_are_not_counted(
        self, database: tuple[SqlLedger, SqlContactBook]
    ) -> None:
        ledger, contacts = database
        assert claim(ledger, "g-0", AT, limit=1) == "sending"
        contacts.mark_email("g-0", "confirmation", "suppressed", None, AT)
        for n in range(3):  # a registered customer's emails: no recipient recorded, not counted
            assert contacts.claim_email(f"r-{n}", "confirmation", AT) == "sending"
        assert claim(ledger, "g-1", AT, limit=1) == "sending"
        assert claim(ledger, "g-2", AT, limit=1) == "rate_limited"
        assert claim(ledger, "g-3", AT, limit=1) == "rate_limited"
        assert claim(ledger, "g-4", AT, limit=0) == "rate_limited"


class TestOnSqlite(LedgerTests):
    @pytest.fixture
    def empty_database(self, tmp_path: Path) -> Callable[[], str]:
        return lambda: f"sqlite:///{tmp_path / 'ledger.db'}"
