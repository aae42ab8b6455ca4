"""Build the adapters the handlers use, once per Lambda container.

Nothing touches AWS at import time; tests call reset_services() so each test gets clients
bound to its own (moto) endpoint.
"""

from dataclasses import dataclass

import boto3
from botocore.config import Config

from chalicelib.adapters.dead_letters import SqsDeadLetters
from chalicelib.adapters.documents import S3OrderDocuments
from chalicelib.adapters.order_store import DynamoOrderStore
from chalicelib.adapters.publisher import SnsEventPublisher
from chalicelib.adapters.sql_ledger import DbApiLedger
from chalicelib.settings import Settings

# Standard retry mode: exponential backoff with jitter, throttling retried, validation not.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)


@dataclass(frozen=True)
class Services:
    settings: Settings
    documents: S3OrderDocuments
    store: DynamoOrderStore
    publisher: SnsEventPublisher
    dead_letters: SqsDeadLetters
    ledger: DbApiLedger


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
    return Services(
        settings=settings,
        documents=S3OrderDocuments(
            session.client("s3", config=_CLIENT_CONFIG), settings.orders_bucket
        ),
        store=DynamoOrderStore(
            session.client("dynamodb", config=_CLIENT_CONFIG),
            orders_table=settings.orders_table,
            inventory_table=settings.inventory_table,
            counters_table=settings.counters_table,
        ),
        publisher=SnsEventPublisher(
            session.client("sns", config=_CLIENT_CONFIG), settings.order_events_topic_arn
        ),
        dead_letters=SqsDeadLetters(session.client("sqs", config=_CLIENT_CONFIG)),
        ledger=DbApiLedger.from_url(settings.billing_database_url),
    )
