"""chalicelib/adapters/sql/data_api.py on botocore's Stubber: the exact requests the ledger
sends through the Data API and the responses it parses.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib.adapters.sql.data_api import DataApiRunner
from chalicelib.adapters.sql.ledger import (
    CLAIM_GUEST_EMAIL,
    INSERT_CHARGE,
    SELECT_CHARGE,
    SELECT_LATEST_RATES,
    UPSERT_RATE,
    SqlLedger,
)
from chalicelib.billing import LedgerEntry
from chalicelib.fx import EuroRate
from tests.conftest import BOTO3_SESSION

CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:orders-billing"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:billing-app-AbCdEf"
TARGET = {"resourceArn": CLUSTER, "secretArn": SECRET, "database": "orders"}


@pytest.fixture
def rds_data() -> Iterator[tuple[SqlLedger, Stubber]]:
    client = BOTO3_SESSION.client("rds-data", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield (
            SqlLedger(
                DataApiRunner(client, resource_arn=CLUSTER, secret_arn=SECRET, database="orders")
            ),
            stubber,
        )
        stubber.assert_no_pending_responses()


def test_rates_are_read_with_a_date_typed_parameter(rds_data: tuple[SqlLedger, Stubber]) -> None:
    ledger, stubber = rds_data
    stubber.add_response(
        "execute_statement",
        {
            "records": [
                [{"stringValue": "USD"}, {"stringValue": "2026-11-20"}, {"stringValue": "1.0523"}],
                [{"stringValue": "JPY"}, {"stringValue": "2026-11-20"}, {"stringValue": "162.45"}],
            ]
        },
        {
            **TARGET,
            "sql": SELECT_LATEST_RATES,
            "parameters": [
                {"name": "day", "value": {"stringValue": "2026-11-22"}, "typeHint": "DATE"}
            ],
        },
    )
    assert ledger.rates_on_or_before(date(2026, 11, 22)) == (
        date(2026, 11, 20),
        {"USD": Decimal("1.0523"), "JPY": Decimal("162.45")},
    )


def test_no_rates_is_none(rds_data: tuple[SqlLedger, Stubber]) -> None:
    ledger, stubber = rds_data
    stubber.add_response("execute_statement", {"records": []})
    assert ledger.rates_on_or_before(date(2026, 1, 1)) is None


CHARGE = LedgerEntry(
    order_id="ord-1",
    customer_id="cust-1",
    currency="JPY",
    amount=Decimal("3600"),
    usd_amount=Decimal("23.32"),
    usd_rate=Decimal("0.0064776854"),
    rate_date=date(2026, 11, 20),
    billed_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
)
CHARGE_PARAMETERS = [
    {"name": "order_id", "value": {"stringValue": "ord-1"}},
    {"name": "customer_id", "value": {"stringValue": "cust-1"}},
    {"name": "currency", "value": {"stringValue": "JPY"}},
    {"name": "amount_minor", "value": {"longValue": 3600}},
    {"name": "usd_minor", "value": {"longValue": 2332}},
    {"name": "usd_rate", "value": {"stringValue": "0.0064776854"}},
    {"name": "rate_date", "value": {"stringValue": "2026-11-20"}, "typeHint": "DATE"},
    {"name": "billed_at", "value": {"stringValue": "2026-11-21T09:30:00+00:00"}},
]
CHARGE_RECORD = [
    {"stringValue": "ord-1"},
    {"stringValue": "cust-1"},
    {"stringValue": "JPY"},
    {"longValue": 3600},
    {"longValue": 2332},
    {"stringValue": "0.0064776854"},
    {"stringValue": "2026-11-20"},
    {"stringValue": "2026-11-21T09:30:00+00:00"},
]


def test_a_first_charge_is_one_insert_with_typed_values_returning_the_row(
    rds_data: tuple[SqlLedger, Stubber],
) -> None:
    ledger, stubber = rds_data
    stubber.add_response(
        "execute_statement",
        {"records": [CHARGE_RECORD], "numberOfRecordsUpdated": 1},
        {**TARGET, "sql": INSERT_CHARGE, "parameters": CHARGE_PARAMETERS},
    )
    assert ledger.record_charge(CHARGE) == CHARGE  # and no second request (the stub has none)


def test_a_repeated_charge_reads_back_the_row_the_first_one_wrote(
    rds_data: tuple[SqlLedger, Stubber],
) -> None:
    ledger, stubber = rds_data
    # The insert conflicts: it returns no row, and the stored one is read.
    stubber.add_response(
        "execute_statement",
        {"records": [], "numberOfRecordsUpdated": 0},
        {**TARGET, "sql": INSERT_CHARGE, "parameters": CHARGE_PARAMETERS},
    )
    stubber.add_response(
        "execute_statement",
        {"records": [CHARGE_RECORD]},
        {
            **TARGET,
            "sql": SELECT_CHARGE,
            "parameters": [{"name": "order_id", "value": {"stringValue": "ord-1"}}],
        },
    )
    assert ledger.record_charge(CHARGE) == CHARGE


def test_rates_are_saved_in_one_transaction(rds_data: tuple[SqlLedger, Stubber]) -> None:
    ledger, stubber = rds_data
    stubber.add_response("begin_transaction", {"transactionId": "tx-1"}, TARGET)
    for currency, rate in (("USD", "1.0523"), ("JPY", "162.45")):
        stubber.add_response(
            "execute_statement",
            {"numberOfRecordsUpdated": 1},
            {
                **TARGET,
                "sql": UPSERT_RATE,
                "transactionId": "tx-1",
                "parameters": [
                    {"name": "currency", "value": {"stringValue": currency}},
                    {
                        "name": "rate_date",
                        "value": {"stringValue": "2026-11-20"},
                        "typeHint": "DATE",
                    },
                    {"name": "per_euro", "value": {"stringValue": rate}},
                ],
            },
        )
    stubber.add_response(
        "commit_transaction",
        {"transactionStatus": "Transaction Committed"},
        {"resourceArn": CLUSTER, "secretArn": SECRET, "transactionId": "tx-1"},
    )
    rates = [
        EuroRate("USD", date(2026, 11, 20), Decimal("1.0523")),
        EuroRate("JPY", date(2026, 11, 20), Decimal("162.45")),
    ]
    assert ledger.save_rates(rates) == 2


def test_a_failing_statement_rolls_the_transaction_back(
    rds_data: tuple[SqlLedger, Stubber],
) -> None:
    ledger, stubber = rds_data
    stubber.add_response("begin_transaction", {"transactionId": "tx-2"}, TARGET)
    stubber.add_client_error(
        "execute_statement",
        service_error_code="BadRequestException",
        service_message='relation "exchange_rates" does not exist',
    )
    stubber.add_response(
        "rollback_transaction",
        {"transactionStatus": "Rollback Complete"},
        {"resourceArn": CLUSTER, "secretArn": SECRET, "transactionId": "tx-2"},
    )
    with pytest.raises(ClientError, match="exchange_rates"):
        ledger.save_rates([EuroRate("USD", date(2026, 11, 20), Decimal("1.0523"))])


def test_a_resuming_database_is_an_error_the_queue_retries(
    rds_data: tuple[SqlLedger, Stubber],
) -> None:
    ledger, stubber = rds_data
    # Aurora Serverless v2 scaled to zero answers this while it wakes up.
    stubber.add_client_error(
        "execute_statement", service_error_code="DatabaseResumingException", http_status_code=400
    )
    with pytest.raises(ClientError) as raised:
        ledger.charge("ord-1")
    assert raised.value.response["Error"]["Code"] == "DatabaseResumingException"


def test_the_claim_is_one_data_api_statement_with_typed_parameters() -> None:
    client = BOTO3_SESSION.client("rds-data", region_name="us-east-1")
    cluster = "arn:aws:rds:us-east-1:123456789012:cluster:orders-billing"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:billing-app-AbCdEf"
    ledger = SqlLedger(
        DataApiRunner(client, resource_arn=cluster, secret_arn=secret, database="orders")
    )
    with Stubber(client) as stubber:
        stubber.add_response(
            "execute_statement",
            {"records": [[{"stringValue": "rate_limited"}]], "numberOfRecordsUpdated": 1},
            {
                "resourceArn": cluster,
                "secretArn": secret,
                "database": "orders",
                "sql": CLAIM_GUEST_EMAIL,
                "parameters": [
                    {"name": "order_id", "value": {"stringValue": "web-1"}},
                    {"name": "outcome", "value": {"stringValue": "confirmation"}},
                    {"name": "recipient", "value": {"stringValue": "grace@example.com"}},
                    {"name": "at", "value": {"stringValue": "2026-11-21T09:30:00.000000+00:00"}},
                    {
                        "name": "since",
                        "value": {"stringValue": "2026-11-21T08:30:00.000000+00:00"},
                    },
                    {"name": "limit", "value": {"longValue": 3}},
                ],
            },
        )
        at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
        status = ledger.claim_guest_email(
            "web-1", "confirmation", "grace@example.com", at, since=at - timedelta(hours=1), limit=3
        )
        assert status == "rate_limited"
        stubber.assert_no_pending_responses()
