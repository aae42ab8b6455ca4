"""The billing ledger and exchange rates over DB-API: SQLite (local default) or PostgreSQL."""

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from chalicelib.billing import LedgerEntry
from chalicelib.fx import EuroRate
from chalicelib.migrations import pending
from order_contracts.money import MINOR_UNITS

SUPPORTED_URLS = "sqlite:///PATH or postgresql://USER@HOST/DB"

# Statements are written once with :name parameters (SQLite's and the Data API's style).
_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")

INSERT_CHARGE = """
    INSERT INTO billing (order_id, customer_id, currency, amount_minor, usd_minor, usd_rate,
                         rate_date, billed_at)
    VALUES (:order_id, :customer_id, :currency, :amount_minor, :usd_minor, :usd_rate,
            :rate_date, :billed_at)
    ON CONFLICT (order_id) DO NOTHING
"""
SELECT_CHARGE = """
    SELECT order_id, customer_id, currency, amount_minor, usd_minor, usd_rate, rate_date, billed_at
    FROM billing WHERE order_id = :order_id
"""
UPSERT_RATE = """
    INSERT INTO exchange_rates (currency, rate_date, per_euro)
    VALUES (:currency, :rate_date, :per_euro)
    ON CONFLICT (currency, rate_date) DO UPDATE SET per_euro = excluded.per_euro
"""
SELECT_LATEST_RATES = """
    SELECT currency, rate_date, per_euro FROM exchange_rates
    WHERE rate_date = (SELECT MAX(rate_date) FROM exchange_rates WHERE rate_date <= :day)
"""
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
        "rate_date": entry.rate_date.isoformat(),
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


def as_date(value: date | str) -> date:
    """Engines return DATE columns as date objects or ISO text; accept both."""
    return value if isinstance(value, date) else date.fromisoformat(value)


class DbApiLedger:
    def __init__(self, connect: Callable[[], Any], paramstyle: str = "named") -> None:
        self._connect = connect
        self._pyformat = paramstyle == "pyformat"

    @classmethod
    def from_url(cls, url: str) -> "DbApiLedger":
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            path = parts.path or ":memory:"
            # A fresh connection per unit of work: sqlite3 connections are bound to a thread.
            return cls(lambda: sqlite3.connect(path, timeout=30))
        if parts.scheme in ("postgresql", "postgres"):
            import psycopg  # only where PostgreSQL is used; the Lambda bundle uses the Data API

            return cls(lambda: psycopg.connect(url), paramstyle="pyformat")
        raise ValueError(f"unsupported billing database URL {url!r}: use {SUPPORTED_URLS}")

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied, each in its own transaction."""
        with self._transaction() as cursor:
            cursor.execute(CREATE_MIGRATIONS)
            cursor.execute("SELECT version FROM schema_migrations")
            applied = {int(row[0]) for row in cursor.fetchall()}
        names = []
        for migration in pending(applied):
            with self._transaction() as cursor:
                for statement in migration.statements:
                    cursor.execute(statement)
                self._execute(
                    cursor,
                    "INSERT INTO schema_migrations (version, name) VALUES (:version, :name)",
                    {"version": migration.version, "name": migration.name},
                )
            names.append(f"{migration.version:04d}_{migration.name}")
        return names

    def save_rates(self, rates: Iterable[EuroRate]) -> int:
        rows = [
            {"currency": r.currency, "rate_date": r.day.isoformat(), "per_euro": str(r.per_euro)}
            for r in rates
        ]
        with self._transaction() as cursor:
            for row in rows:
                self._execute(cursor, UPSERT_RATE, row)
        return len(rows)

    def rates_on_or_before(self, day: date) -> tuple[date, dict[str, Decimal]] | None:
        with self._transaction() as cursor:
            self._execute(cursor, SELECT_LATEST_RATES, {"day": day.isoformat()})
            rows = cursor.fetchall()
        if not rows:
            return None
        return as_date(rows[0][1]), {currency: Decimal(rate) for currency, _, rate in rows}

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        with self._transaction() as cursor:
            self._execute(cursor, INSERT_CHARGE, charge_parameters(entry))
            self._execute(cursor, SELECT_CHARGE, {"order_id": entry.order_id})
            return charge_from_row(cursor.fetchone())

    def charge(self, order_id: str) -> LedgerEntry | None:
        with self._transaction() as cursor:
            self._execute(cursor, SELECT_CHARGE, {"order_id": order_id})
            row = cursor.fetchone()
        return None if row is None else charge_from_row(row)

    def _execute(self, cursor: Any, statement: str, parameters: dict[str, Any]) -> None:
        if self._pyformat:
            statement = _NAMED.sub(r"%(\1)s", statement)
        cursor.execute(statement, parameters)

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        connection = self._connect()
        try:
            cursor = connection.cursor()
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
