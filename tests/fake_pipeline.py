"""The whole pipeline on the in-memory fakes, delivering events as the subscriptions do.

Each step is the real plain-Python step (process_order, initiate_billing, reverse_cancelled,
customer_communications, cancel_order) on the fakes of tests/fakes.py. Events go to the
consumers whose subscription's filter policy (local_stack.resources, held to the templates
by tests/test_resources_match.py) lets them through, so the tests of cancellation races and
the state machine of tests/test_cancellation_states.py deliver exactly what AWS would.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from chalicelib import billing, cancellation, communications, reservation
from chalicelib.billing import LedgerEntry
from chalicelib.communications import Contact, GuestEmailLimit
from chalicelib.emails import Email
from chalicelib.fx import EuroRate
from chalicelib.orders import OrderRecord
from local_stack.resources import RESOURCES
from order_contracts import (
    AnyEvent,
    Order,
    OrderBilled,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    OrderReserved,
    order_placed,
)
from tests.fakes import (
    InMemoryContactBook,
    InMemoryDocuments,
    InMemoryInventory,
    InMemoryLedger,
    InMemoryOrderStore,
    RecordingMailer,
    RecordingPublisher,
)

PLACED_AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # tests.factories.NOW
FRIDAY = date(2026, 11, 20)
WINDOW = timedelta(hours=24)
ADA = Contact("cust-0001", "Ada Lovelace", "ada@example.com")
# Which queue each event type reaches, from the subscriptions' filter policies.
QUEUES: dict[str, tuple[str, ...]] = {
    event_type: tuple(
        s.queue
        for s in RESOURCES.subscriptions
        if s.topic == "order-events"
        and s.filter_policy is not None
        and event_type in s.filter_policy["event_type"]
    )
    for event_type in (
        "OrderReserved",
        "OrderRejected",
        "OrderBilled",
        "OrderConfirmed",
        "OrderCancelled",
    )
}


# The moments inside a step where another step can land (the writes that decide a race):
# the reservation's put, billing's charge, the email's sending, the cancel's write.
Moment = Literal["reserve", "charge", "send", "cancel"]


class Interleaving:
    """One step to run at one moment inside another: how tests land a step mid-way."""

    def __init__(self) -> None:
        self._armed: dict[Moment, Callable[[], None]] = {}

    def arm(self, moment: Moment, step: Callable[[], None]) -> None:
        self._armed[moment] = step

    def disarm(self) -> None:
        self._armed.clear()

    def reach(self, moment: Moment) -> None:
        step = self._armed.pop(moment, None)  # once: a step run there cannot re-arm it
        if step is not None:
            step()


class InterleavedStore(InMemoryOrderStore):
    def __init__(self, inventory: InMemoryInventory, meanwhile: Interleaving) -> None:
        super().__init__(inventory)
        self._meanwhile = meanwhile

    def reserve(self, placed: OrderPlaced, record: OrderRecord) -> None:
        self._meanwhile.reach("reserve")
        super().reserve(placed, record)

    def cancel_received(self, placed: OrderPlaced, record: OrderRecord) -> None:
        self._meanwhile.reach("cancel")
        super().cancel_received(placed, record)

    def cancel(self, cancelled: OrderCancelled) -> OrderRecord | None:
        self._meanwhile.reach("cancel")
        return super().cancel(cancelled)


class InterleavedLedger(InMemoryLedger):
    def __init__(self, meanwhile: Interleaving) -> None:
        super().__init__()
        self._meanwhile = meanwhile

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        self._meanwhile.reach("charge")
        return super().record_charge(entry)


class InterleavedMailer(RecordingMailer):
    def __init__(self, meanwhile: Interleaving) -> None:
        super().__init__()
        self._meanwhile = meanwhile

    def send(self, to: str, email: Email, order_id: str) -> str:
        self._meanwhile.reach("send")
        return super().send(to, email, order_id)


class FakePipeline:
    def __init__(self) -> None:
        self.meanwhile = Interleaving()
        self.inventory = InMemoryInventory()
        self.store: InMemoryOrderStore = InterleavedStore(self.inventory, self.meanwhile)
        self.ledger = InterleavedLedger(self.meanwhile)
        self.ledger.save_rates([EuroRate("USD", FRIDAY, Decimal("1.0523"))])
        self.book = InMemoryContactBook()
        self.book.save_contact(ADA)
        self.mailer = InterleavedMailer(self.meanwhile)
        self.publisher = RecordingPublisher()
        self.documents = InMemoryDocuments()
        self.at = PLACED_AT + timedelta(minutes=1)

    def now(self) -> datetime:
        return self.at

    def place(self, order: Order) -> OrderPlaced:
        """The order API's PUT, now: the document, which S3 then announces to fulfillment."""
        event = order_placed(order, source="api", correlation_id="corr-test", now=self.at)
        self.documents.put(event)
        return event

    def fulfil(self, event: OrderPlaced) -> OrderRecord:
        return reservation.process_order(event, self.store, self.publisher, self.now)

    def bill(self, event: OrderReserved | OrderCancelled) -> None:
        """initiate_billing as chalicelib.consumers dispatches order-billing's events."""
        if isinstance(event, OrderCancelled):
            billing.reverse_cancelled(event, self.ledger, self.now)
        else:
            billing.initiate_billing(event, self.ledger, self.store, self.publisher, self.now)

    def tell(self, event: OrderBilled | OrderRejected | OrderCancelled) -> None:
        communications.customer_communications(
            event,
            self.book,
            self.mailer,
            self.store,
            self.publisher,
            self.now,
            GuestEmailLimit(self.book, per_hour=5),
        )

    def cancel(
        self,
        order_id: str,
        correlation_id: str = "corr-cancel",
        requested_at: datetime | None = None,
    ) -> OrderRecord | None:
        return cancellation.cancel_order(
            order_id,
            store=self.store,
            documents=self.documents,
            publisher=self.publisher,
            now=self.now,
            window=WINDOW,
            correlation_id=correlation_id,
            requested_at=requested_at,
        )

    def deliver(self, queue: str, event: AnyEvent) -> None:
        """One delivery of event from queue to its consumer."""
        if queue == "order-billing":
            assert isinstance(event, OrderReserved | OrderCancelled), event.event_type
            self.bill(event)
        elif queue == "order-notifications":
            assert isinstance(event, OrderBilled | OrderRejected | OrderCancelled), event
            self.tell(event)
        else:  # pragma: no cover - no other queue is subscribed to order-events
            raise AssertionError(queue)

    def published_since(self, seen: int) -> list[tuple[str, AnyEvent]]:
        """The deliveries the events published after the first `seen` ones make."""
        return [
            (queue, event)
            for event in self.publisher.published[seen:]
            for queue in QUEUES[event.event_type]
        ]

    def run(self) -> None:
        """Deliver every event once, in order, until none is left (the happy path)."""
        seen = 0
        while seen < len(self.publisher.published):
            deliveries = self.published_since(seen)
            seen = len(self.publisher.published)
            for queue, event in deliveries:
                self.deliver(queue, event)

    # What the invariants look at ------------------------------------------------------------

    def net_usd(self, order_id: str) -> Decimal:
        charge = self.ledger.charge(order_id)
        reversal = self.ledger.reversal(order_id)
        return (charge.usd_amount if charge else Decimal(0)) + (
            reversal.usd_amount if reversal else Decimal(0)
        )

    def emails(self, order_id: str) -> list[str]:
        return [sent.email.subject for sent in self.mailer.sent if sent.order_id == order_id]

    def status(self, order_id: str) -> str:
        record = self.store.get(order_id)
        return "RECEIVED" if record is None else record.status
