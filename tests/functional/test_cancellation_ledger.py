"""The reversal of a charge in SQL (chalicelib/adapters/sql/ledger.py): on SQLite and through the
Data API here; tests/system/test_cancellation_ledger.py runs the same class on PostgreSQL."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.adapters.sql.data_api import DataApiRunner
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import INSERT_REVERSAL, SELECT_REVERSAL, SqlLedger
from chalicelib.billing import LedgerEntry, LedgerReversal

AT = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
CHARGE = LedgerEntry(
    order_id="ord-1",
    customer_id="cust-1",
    currency="JPY",
    amount=Decimal("3600"),
    usd_amount=Decimal("23.32"),
    usd_rate=Decimal("0.0064776854"),
    rate_date=date(2026, 11, 20),
    billed_at=datetime(2026, 11, 21, 9, 31, tzinfo=UTC),
)
REVERSAL = LedgerReversal(
    order_id="ord-1",
    currency="JPY",
    amount=Decimal("-3600"),
    usd_amount=Decimal("-23.32"),
    usd_rate=Decimal("0.0064776854"),
    rate_date=date(2026, 11, 20),
    reversed_at=AT,
)


class ReversalTests:
    @pytest.fixture
    def empty_database(self, tmp_path: Path) -> Callable[[], str]:
        return lambda: f"sqlite:///{tmp_path / 'ledger.db'}"

    @pytest.fixture
    def ledger(self, empty_database: Callable[[], str]) -> SqlLedger:
        store = SqlLedger(database_from_url(empty_database()))
        store.migrate()
        return store

    def test_a_charge_is_reversed_once_from_its_own_row(self, ledger: SqlLedger) -> None:
        assert ledger.reverse_charge("ord-1", AT) is None
        ledger.record_charge(CHARGE)

        assert ledger.reverse_charge("ord-1", AT) == REVERSAL
        assert ledger.reverse_charge("ord-1", datetime(2026, 12, 1, tzinfo=UTC)) == REVERSAL
        assert ledger.reversal("ord-1") == REVERSAL
        assert ledger.charge("ord-1") == CHARGE  # the charge row is never touched
        assert ledger.reversal("ord-2") is None

    def test_the_ledger_refuses_a_reversal_that_would_add_money(self, ledger: SqlLedger) -> None:
        """The CHECK constraints hold a reversal to zero or less, on every engine."""
        ledger.record_charge(CHARGE)
        # The constraint is under test, not the adapter: its runner writes the row directly.
        with pytest.raises(Exception, match=r"(?i)check"):
            ledger._sql.execute(
                "INSERT INTO billing_reversals (order_id, currency, amount_minor, usd_minor, "
                "usd_rate, rate_date, reversed_at) VALUES ('ord-1', 'JPY', 1, 1, '1', :day, 'now')",
                {"day": date(2026, 11, 20)},
            )


class TestOnSqlite(ReversalTests):
    pass


def test_the_data_api_sends_the_reversal_as_one_statement_and_reads_its_row() -> None:
    client = boto3.client("rds-data", region_name="us-east-1")
    target = {
        "resourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:order-pipeline-billing",
        "secretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:order-pipeline-x",
        "database": "orders",
    }
    ledger = SqlLedger(
        DataApiRunner(
            client,
            resource_arn=target["resourceArn"],
            secret_arn=target["secretArn"],
            database="orders",
        )
    )
    row = [
        {"stringValue": "ord-1"},
        {"stringValue": "JPY"},
        {"longValue": -3600},
        {"longValue": -2332},
        {"stringValue": "0.0064776854"},
        {"stringValue": "2026-11-20"},
        {"stringValue": AT.isoformat()},
    ]
    parameters = [
        {"name": "order_id", "value": {"stringValue": "ord-1"}},
        {"name": "at", "value": {"stringValue": AT.isoformat()}},
    ]
    with Stubber(client) as stubber:
        stubber.add_response(
            "execute_statement",
            {"records": [row]},
            {**target, "sql": INSERT_REVERSAL, "parameters": parameters},
        )
        # A repeat inserts nothing and reads the reversal back.
        stubber.add_response(
            "execute_statement",
            {"records": []},
            {**target, "sql": INSERT_REVERSAL, "parameters": parameters},
        )
        stubber.add_response(
            "execute_statement",
            {"records": [row]},
            {**target, "sql": SELECT_REVERSAL, "parameters": parameters[:1]},
        )
        assert ledger.reverse_charge("ord-1", AT) == REVERSAL
        assert ledger.reverse_charge("ord-1", AT) == REVERSAL
        stubber.assert_no_pending_responses()
