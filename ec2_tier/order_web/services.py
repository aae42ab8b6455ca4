"""The web tier's AWS adapters, built once when the app is created (no network at start)."""

from dataclasses import dataclass

import boto3
from botocore.config import Config

from order_web.adapters import Catalog, OrderStatuses
from order_web.publisher import IntakePublisher
from order_web.settings import WebSettings

# A shopper is waiting: few, quick retries (with jitter) before answering "try again".
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
)


@dataclass(frozen=True)
class WebServices:
    publisher: IntakePublisher
    catalog: Catalog
    statuses: OrderStatuses


def build_services(
    settings: WebSettings, session: boto3.session.Session | None = None
) -> WebServices:
    session = session or boto3.session.Session()
    dynamodb = session.client("dynamodb", config=CLIENT_CONFIG)
    return WebServices(
        publisher=IntakePublisher(
            session.client("sns", config=CLIENT_CONFIG), settings.order_intake_topic_arn
        ),
        catalog=Catalog(
            dynamodb, settings.inventory_table, max_age=settings.catalog_max_age_seconds
        ),
        statuses=OrderStatuses(dynamodb, settings.orders_table),
    )
