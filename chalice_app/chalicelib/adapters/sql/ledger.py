"""The billing ledger, exchange rates and guest email counts in SQL: written once, run by
either runner (db_api.py, data_api.py).
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.sql.runner import SqlRunner
from chalicelib.billing import LedgerEntry, LedgerReversal
from chalicelib.communications import EmailStatus, Outcome
from chalicelib.fx import EuroRate
from chalicelib.migrations import pending
from order_contracts.money import MINOR_UNITS

CHARGE_COLUMNS = (
    "order_id, customer_id, currency, amount_minor, usd_minor, usd_rate, rate_date, billed_at"
)
# Returns the row only when it inserted it: a first charge costs one round trip.
INSERT_CHARGE = f"""
    INSERT INTO billing ({CHARGE_COLUMNS})
    VALUES (:order_id, :customer_id, :currency, :amount_minor, :usd_minor, :usd_rate,
            :rate_date, :billed_at)
    ON CONFLICT (order_id) DO NOTHING
    RETURNING {CHARGE_COLUMNS}
"""  # noqa: S608 - a constant column list, no input
SELECT_CHARGE = f"SELECT {CHARGE_COLUMNS} FROM billing WHERE order_id = :order_id"  # noqa: S608
REVERSAL_COLUMNS = "order_id, currency, amount_minor, usd_minor, usd_rate, rate_date, reversed_at"
# The reversal is made from the charge row itself, in one statement: its amounts negated, its
# rate and rate date; no charge, no row. Returns the row only when it inserted it. SQLite
# needs the WHERE clause of an INSERT ... SELECT to parse ON CONFLICT.
INSERT_REVERSAL = f"""
    INSERT INTO billing_reversals ({REVERSAL_COLUMNS})
    SELECT order_id, currency, -amount_minor, -usd_minor, usd_rate, rate_date, :at
    FROM billing
    WHERE order_id = :order_id
    ON CONFLICT (order_id) DO NOTHING
    RETURNING {REVERSAL_COLUMNS}
"""  # noqa: S608 - a constant column list, no input
SELECT_REVERSAL = f"SELECT {REVERSAL_COLUMNS} FROM billing_reversals WHERE order_id = :order_id"  # noqa: S608
UPSERT_RATE = """
    INSERT INTO exchange_rates (currency, rate_date, per_euro)
    VALUES (:currency, :rate_date, :per_euro)
    ON CONFLICT (currency, rate_date) DO UPDATE SET per_euro = excluded.per_euro
"""
SELECT_LATEST_RATES = """
    SELECT currency, rate_date, per_euro FROM exchange_rates
    WHERE rate_date = (SELECT MAX(rate_date) FROM exchange_rates WHERE rate_date <= :day)
"""
# Counts and claims in one statement, so the decision is recorded with the claim: a repeat
# of the same order and outcome conflicts and reads the status decided first (a redelivery
# an hour later does not send what was refused). Counted: emails claimed to be sent or sent,
# not those suppressed or refused. The aggregate gives exactly one row to insert; SQLite
# needs the WHERE clause of an INSERT ... SELECT to parse ON CONFLICT; the CAST gives
# PostgreSQL one type for :recipient, used as a value and compared with the column.
CLAIM_GUEST_EMAIL = """
    INSERT INTO order_emails (order_id, outcome, status, recipient, claimed_at, updated_at)
    SELECT :order_id, :outcome,
           CASE WHEN COUNT(*) >= :limit THEN 'rate_limited' ELSE 'sending' END,
           CAST(:recipient AS VARCHAR(254)), :at, :at
    FROM order_emails
    WHERE recipient = :recipient AND claimed_at > :since AND status IN ('sending', 'sent')
    ON CONFLICT (order_id, outcome) DO NOTHING
    RETURNING status
"""
SELECT_EMAIL_STATUS = (
    "SELECT status FROM order_emails WHERE order_id = :order_id AND outcome = :outcome"
)
SELECT_ORDER_EMAILS = (
    "SELECT outcome, status FROM order_emails WHERE order_id = :order_id ORDER BY outcome"
)
CREATE_MIGRATIONS = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL
    )
"""


def to_minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(MINOR_UNITS[currency]))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


def charge_parameters(entry: LedgerEntry) -> dict[str, Any]:
    """The row of a ledger entry, as statement parameters (shared by both adapters)."""
    return {
        "order_id": entry.order_id,
        "customer_id": entry.customer_id,
        "currency": entry.currency,
        "amount_minor": to_minor(entry.amount, entry.currency),
        "usd_minor": to_minor(entry.usd_amount, "USD"),
        "usd_rate": str(entry.usd_rate),
        "rate_date": entry.rate_date,
        "billed_at": entry.billed_at.isoformat(),
    }


def charge_from_row(row: tuple[Any, ...]) -> LedgerEntry:
    order_id, customer_id, currency, amount_minor, usd_minor, usd_rate, rate_date, billed_at = row
    return LedgerEntry(
        order_id=order_id,
        customer_id=customer_id,
        currency=currency,
        amount=from_minor(int(amount_minor), currency),
        usd_amount=from_minor(int(usd_minor), "USD"),
        usd_rate=Decimal(usd_rate),
        rate_date=as_date(rate_date),
        billed_at=datetime.fromisoformat(billed_at),
    )


def reversal_from_row(row: tuple[Any, ...]) -> LedgerReversal:
    order_id, currency, amount_minor, usd_minor, usd_rate, rate_date, reversed_at = row
    return LedgerReversal(
        order_id=order_id,
        currency=currency,
        amount=from_minor(int(amount_minor), currency),
        usd_amount=from_minor(int(usd_minor), "USD"),
        usd_rate=Decimal(usd_rate),
        rate_date=as_date(rate_date),
        reversed_at=datetime.fromisoformat(reversed_at),
    )


def instant(at: datetime) -> str:
    """UTC as text of one width (microseconds always written), so text order is time order."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def as_date(value: date | str) -> date:
    """Engines return DATE columns as date objects or ISO text; accept both."""
    return value if isinstance(value, date) else date.fromisoformat(value)


class SqlLedger:
    def __init__(self, runner: SqlRunner) -> None:
        self._sql = runner

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, each in its own transaction."""
        self._sql.execute(CREATE_MIGRATIONS, {})
        applied = {
            int(row[0]) for row in self._sql.execute("SELECT version FROM schema_migrations", {})
        }
        names = []
        for migration in pending(applied):
            with self._sql.transaction() as execute:
                for statement in migration.statements:
                    execute(statement, {})
                execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (:version, :name)",
                    {"version": migration.version, "name": migration.name},
                )
            names.append(f"{migration.version:04d}_{migration.name}")
        return names

    def save_rates(self, rates: Iterable[EuroRate]) -> int:
        rows = [
            {"currency": r.currency, "rate_date": r.day, "per_euro": str(r.per_euro)} for r in rates
        ]
        with self._sql.transaction() as execute:
            for row in rows:
                execute(UPSERT_RATE, row)
        return len(rows)

    def rates_on_or_before(self, day: date) -> tuple[date, dict[str, Decimal]] | None:
        rows = self._sql.execute(SELECT_LATEST_RATES, {"day": day})
        if not rows:
            return None
        return as_date(rows[0][1]), {currency: Decimal(rate) for currency, _, rate in rows}

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        # The insert alone is atomic (ON CONFLICT DO NOTHING): no transaction needed.
        inserted = self._sql.execute(INSERT_CHARGE, charge_parameters(entry))
        if inserted:
            return charge_from_row(inserted[0])
        stored = self.charge(entry.order_id)  # a repeat: the row the first attempt wrote
        if stored is None:  # pragma: no cover - the row was just written
            raise RuntimeError(f"ledger row for {entry.order_id} vanished")
        return stored

    def charge(self, order_id: str) -> LedgerEntry | None:
        rows = self._sql.execute(SELECT_CHARGE, {"order_id": order_id})
        return charge_from_row(rows[0]) if rows else None

    def reverse_charge(self, order_id: str, at: datetime) -> LedgerReversal | None:
        inserted = self._sql.execute(INSERT_REVERSAL, {"order_id": order_id, "at": at.isoformat()})
        if inserted:
            return reversal_from_row(inserted[0])
        return self.reversal(order_id)  # a repeat reads the first one; no charge, None

    def reversal(self, order_id: str) -> LedgerReversal | None:
        rows = self._sql.execute(SELECT_REVERSAL, {"order_id": order_id})
        return reversal_from_row(rows[0]) if rows else None

    def claim_guest_email(
        self,
        order_id: str,
        outcome: Outcome,
        recipient: str,
        at: datetime,
        *,
        since: datetime,
        limit: int,
    ) -> EmailStatus:
        key = {"order_id": order_id, "outcome": outcome}
        claim = {
            **key,
            "recipient": recipient,
            "at": instant(at),
            "since": instant(since),
            "limit": limit,
        }
        # Concurrent claims for one address on PostgreSQL each count the others' committed
        # rows only, so a burst can pass the limit by the claims in flight at once (at most
        # the notification consumers' concurrency); SQLite serialises writers.
        rows = self._sql.execute(CLAIM_GUEST_EMAIL, claim) or self._sql.execute(
            SELECT_EMAIL_STATUS, key
        )
        status: EmailStatus = rows[0][0]
        return status

    def order_emails(self, order_id: str) -> list[tuple[Outcome, EmailStatus]]:
        """The order's emails and how far each got (the local dashboard shows them)."""
        return [
            (outcome, status)
            for outcome, status in self._sql.execute(SELECT_ORDER_EMAILS, {"order_id": order_id})
        ]
