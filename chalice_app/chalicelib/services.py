"""Build the adapters the handlers use, once per Lambda container.

Nothing touches AWS at import time; tests call reset_services() so each test gets clients
bound to its own (moto) endpoint.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config

from chalicelib.adapters.data_api import DataApiRunner
from chalicelib.adapters.dead_letters import SqsDeadLetters
from chalicelib.adapters.documents import S3OrderDocuments
from chalicelib.adapters.mailer import SesMailer
from chalicelib.adapters.order_store import DynamoOrderStore
from chalicelib.adapters.publisher import SnsEventPublisher
from chalicelib.adapters.sql_contacts import SqlContactBook
from chalicelib.adapters.sql_ledger import SqlLedger, SqlRunner
from chalicelib.adapters.sql_runners import DbApiRunner
from chalicelib.fx import fetch_feed
from chalicelib.settings import Settings, SettingsError

# Standard retry mode: exponential backoff with jitter, throttling retried, validation not.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)


@dataclass(frozen=True)
class Services:
    settings: Settings
    documents: S3OrderDocuments
    store: DynamoOrderStore
    publisher: SnsEventPublisher
    dead_letters: SqsDeadLetters
    ledger: SqlLedger
    contacts: SqlContactBook
    mailer: SesMailer
    fetch_rates_feed: Callable[[], bytes] = fetch_feed


_services: Services | None = None


def get_services() -> Services:
    """The services of this Lambda container, built from the environment on first use."""
    if _services is None:
        set_services(build_services(Settings.from_env()))
    assert _services is not None
    return _services


def set_services(services: Services | None) -> None:
    """Use these services from now on; None builds them again on next use (tests, benchmarks)."""
    global _services  # one set of clients per Lambda container, by design
    _services = services


def reset_services() -> None:
    set_services(None)


def build_services(settings: Settings, session: boto3.session.Session | None = None) -> Services:
    session = session or boto3.session.Session()
    database = runner_from_url(settings.billing_database_url, session)
    return Services(
        settings=settings,
        documents=S3OrderDocuments(
            session.client("s3", config=CLIENT_CONFIG), settings.orders_bucket
        ),
        store=DynamoOrderStore(
            session.client("dynamodb", config=CLIENT_CONFIG),
            orders_table=settings.orders_table,
            inventory_table=settings.inventory_table,
            counters_table=settings.counters_table,
        ),
        publisher=SnsEventPublisher(
            session.client("sns", config=CLIENT_CONFIG), settings.order_events_topic_arn
        ),
        dead_letters=SqsDeadLetters(session.client("sqs", config=CLIENT_CONFIG)),
        ledger=SqlLedger(database),
        contacts=SqlContactBook(database),
        mailer=SesMailer(
            session.client("sesv2", config=CLIENT_CONFIG),
            sender=settings.ses_sender,
            configuration_set=settings.ses_configuration_set,
        ),
    )


def ledger_from_url(url: str, session: boto3.session.Session | None = None) -> SqlLedger:
    return SqlLedger(runner_from_url(url, session))


def runner_from_url(url: str, session: boto3.session.Session | None = None) -> SqlRunner:
    """The billing database behind BILLING_DATABASE_URL (ledger, rates, contacts).

    sqlite:///PATH (local default), postgresql://USER@HOST/DB, or on AWS
    rds-data:///DATABASE?cluster=CLUSTER_ARN&secret=SECRET_ARN (the RDS Data API).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return DbApiRunner.sqlite(parts.path)
    if parts.scheme in ("postgresql", "postgres"):
        return DbApiRunner.postgresql(url)
    if parts.scheme == "rds-data":
        query = parse_qs(parts.query)
        if not (parts.path.strip("/") and query.get("cluster") and query.get("secret")):
            raise SettingsError(f"{url!r} needs rds-data:///DATABASE?cluster=ARN&secret=ARN")
        client = (session or boto3.session.Session()).client("rds-data", config=CLIENT_CONFIG)
        return DataApiRunner(
            client,
            resource_arn=query["cluster"][0],
            secret_arn=query["secret"][0],
            database=parts.path.strip("/"),
        )
    raise SettingsError(
        f"BILLING_DATABASE_URL {url!r}: use sqlite:///PATH, postgresql://... or rds-data:///DB?..."
    )
