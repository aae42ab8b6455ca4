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


_services: Services | None = None


def get_services() -> Services:
    global _services
    if _services is None:
        _services = build_services(Settings.from_env())
    return _services


def reset_services() -> None:
    global _services
    _services = None


def build_services(settings: Settings) -> Services:
    session = boto3.session.Session()
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
        dead_letters=SqsDeadLetters(
            session.client("sqs", config=_CLIENT_CONFIG), settings.fulfillment_dlq_url
        ),
    )
