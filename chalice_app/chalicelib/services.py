"""Build the adapters the handlers use, once per Lambda container, from typed Settings.

Nothing touches AWS at import time. On Lambda the settings come from the environment on
first use; the local stack and the tests build the services from their own settings and
hand them over with set_services (each test gets clients bound to its own moto endpoint).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.adapters import CLIENT_CONFIG
from chalicelib.adapters.catalog import DynamoCatalog
from chalicelib.adapters.dead_letters import SqsDeadLetters
from chalicelib.adapters.documents import S3OrderDocuments
from chalicelib.adapters.in_flight import DynamoInFlightOrders
from chalicelib.adapters.mailer import SesMailer
from chalicelib.adapters.order_store import DynamoOrderStore
from chalicelib.adapters.parameters import secure_string
from chalicelib.adapters.publisher import SnsEventPublisher
from chalicelib.adapters.requeue import SqsRequeue
from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from chalicelib.communications import GuestEmailLimit
from chalicelib.contention import Contention
from chalicelib.email_details import EmailDetails
from chalicelib.fx import fetch_feed
from chalicelib.pacing import email_pacer
from chalicelib.settings import Settings


class LazyClient:
    """A boto3 client built on first use, so a function pays only for the services it calls.

    Building a client loads its service model, 15-30 ms each at a cold start; every function
    would otherwise build all six, and most call two or three.
    """

    def __init__(
        self,
        session: boto3.session.Session,
        service: str,
        lock: threading.Lock,
        config: Config = CLIENT_CONFIG,
    ) -> None:
        self._session: Any = session
        self._service = service
        self._config = config
        # One lock per session: a boto3 session is not safe to build clients from in
        # parallel (the local stack's event sources share these services across threads).
        self._lock = lock
        self._client: Any = None

    @property
    def service(self) -> str:
        return self._service

    @property
    def built(self) -> bool:
        return self._client is not None

    def build(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._session.client(self._service, config=self._config)
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.build(), name)


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
    catalog: DynamoCatalog
    guest_emails: GuestEmailLimit
    email_details: EmailDetails
    in_flight: DynamoInFlightOrders
    fetch_rates_feed: Callable[[], bytes] = fetch_feed
    clients: tuple[LazyClient, ...] = ()
    # How queue consumers ride out transaction conflicts and throttling (None: they don't).
    contention: Contention | None = None

    def warm_up(self) -> None:
        """Build every client now: for a long-lived process, not for a Lambda cold start."""
        for client in self.clients:
            client.build()


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


def build_services(
    settings: Settings,
    session: boto3.session.Session | None = None,
    client_config: Config = CLIENT_CONFIG,
) -> Services:
    """The services, their clients built from session (tests: with their own client_config)."""
    session = session or boto3.session.Session()
    lock = threading.Lock()
    clients: list[LazyClient] = []

    def client(service: str) -> LazyClient:
        clients.append(LazyClient(session, service, lock, client_config))
        return clients[-1]

    database = database_from_url(settings.billing_database_url, session, client)
    ledger = SqlLedger(database)
    dynamodb = client("dynamodb")
    catalog = DynamoCatalog(dynamodb, settings.inventory_table)
    link_key = (
        secure_string(client("ssm"), settings.order_link_key_parameter)
        if settings.order_link_key_parameter
        else None
    )
    sqs = client("sqs")
    return Services(
        settings=settings,
        documents=S3OrderDocuments(client("s3"), settings.orders_bucket),
        store=DynamoOrderStore(
            dynamodb,
            orders_table=settings.orders_table,
            inventory_table=settings.inventory_table,
            counters_table=settings.counters_table,
        ),
        publisher=SnsEventPublisher(client("sns"), settings.order_events_topic_arn),
        dead_letters=SqsDeadLetters(sqs),
        ledger=ledger,
        contacts=SqlContactBook(database),
        mailer=SesMailer(
            client("sesv2"),
            sender=settings.ses_sender,
            configuration_set=settings.ses_configuration_set,
            pacer=email_pacer(
                settings.ses_max_send_rate, settings.notifications_maximum_concurrency
            ),
        ),
        catalog=catalog,
        guest_emails=GuestEmailLimit(ledger, per_hour=settings.guest_emails_per_hour),
        email_details=EmailDetails(
            catalog,
            settings.cancellation_window,
            storefront_url=settings.storefront_url,
            link_key=link_key,
        ),
        in_flight=DynamoInFlightOrders(dynamodb, settings.orders_table),
        clients=tuple(clients),
        contention=Contention(SqsRequeue(sqs)),
    )
