"""In-memory fakes of the ports, behaving as the adapters do
(tests/functional/test_port_contracts.py holds each fake and its adapter to the same assertions).

They let the steps (reservation.process_order, billing.initiate_billing,
communications.customer_communications) be tested in microseconds, including the cases that
are awkward on moto: a publish that fails once, a delivery that loses a race, a stale read.
"""

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from chalicelib.adapters.order_store import ORDERS_CANCELLED, ORDERS_REJECTED, ORDERS_RESERVED
from chalicelib.billing import LedgerEntry, LedgerReversal
from chalicelib.catalog import Product, ProductChange, SavedProduct, UnknownProduct
from chalicelib.communications import Contact, EmailStatus, Outcome
from chalicelib.emails import Email
from chalicelib.fx import EuroRate
from chalicelib.orders import (
    OrderAlreadyRecorded,
    OrderRecord,
    ReservationRefused,
    Transition,
)
from order_contracts import (
    AnyEvent,
    CurrencyMismatch,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PriceChanged,
    StockShortage,
)
from order_contracts.events import RejectionReason
from order_contracts.money import has_at_most_minor_units, round_money
from order_contracts.status import FINAL_STATUSES


@dataclass
class StockItem:
    """One item of the inventory table: a product if it has a price and a currency."""

    sku: str
    stock: int = 0
    name: str | None = None
    price: Decimal | None = None
    currency: str | None = None


class InMemoryInventory(dict[str, StockItem]):
    """The inventory table, shared by the order store (reservations) and the catalog."""

    def stock(self, sku: str, units: int, price: str = "4.50", currency: str = "EUR") -> None:
        self[sku] = StockItem(sku, units, sku.title(), Decimal(price), currency)

    def level(self, sku: str) -> int:
        return self[sku].stock


def _copy(record: OrderRecord) -> OrderRecord:
    return dataclasses.replace(
        record, history=list(record.history), rejection=list(record.rejection)
    )


class InMemoryOrderStore:
    """OrderStore as DynamoOrderStore: the orders, inventory and counters tables."""

    def __init__(self, inventory: InMemoryInventory | None = None) -> None:
        self.inventory = inventory if inventory is not None else InMemoryInventory()
        self.records: dict[str, OrderRecord] = {}
        self.counters: Counter[str] = Counter()

    def get(self, order_id: str) -> OrderRecord | None:
        record = self.records.get(order_id)
        return _copy(record) if record is not None else None

    def reserve(self, placed: OrderPlaced, record: OrderRecord) -> None:
        if placed.order_id in self.records:
            raise OrderAlreadyRecorded(placed.order_id)
        order = placed.order
        quantities = order.quantities_by_sku()
        prices = {line.sku: line.unit_price for line in order.lines}
        refusals = [
            refusal
            for sku, quantity in quantities.items()
            if (refusal := self._refusal(sku, quantity, prices[sku], order.currency)) is not None
        ]
        if refusals:
            raise ReservationRefused(refusals)
        for sku, quantity in quantities.items():
            self.inventory[sku].stock -= quantity
        self.records[record.order_id] = _copy(record)
        self.counters[ORDERS_RESERVED] += 1

    def reject(self, placed: OrderPlaced, record: OrderRecord) -> None:
        if placed.order_id in self.records:
            raise OrderAlreadyRecorded(placed.order_id)
        self.records[record.order_id] = _copy(record)
        self.counters[ORDERS_REJECTED] += 1

    def advance(self, move: Transition) -> OrderRecord | None:
        record = self.records.get(move.order_id)
        if record is None or record.status != move.expected:
            return None
        self.records[move.order_id] = dataclasses.replace(
            record,
            status=move.status,
            history=[*record.history, move.entry],
            pending_event=move.event.to_json(),
            billing=move.billing or record.billing,
        )
        return self.get(move.order_id)

    def reject_reserved(self, rejected: OrderRejected) -> OrderRecord | None:
        moved = self.advance(Transition("RESERVED", "REJECTED", rejected))
        if moved is None:
            return None
        self.records[moved.order_id] = dataclasses.replace(moved, rejection=list(rejected.reasons))
        for sku, quantity in rejected.order.quantities_by_sku().items():
            self.inventory.setdefault(sku, StockItem(sku)).stock += quantity
        self.counters[ORDERS_REJECTED] += 1
        return self.get(moved.order_id)

    def cancel_received(self, placed: OrderPlaced, record: OrderRecord) -> None:
        if placed.order_id in self.records:
            raise OrderAlreadyRecorded(placed.order_id)
        self.records[record.order_id] = _copy(record)
        self.counters[ORDERS_CANCELLED] += 1

    def cancel(self, cancelled: OrderCancelled) -> OrderRecord | None:
        if not cancelled.held_stock:
            return None
        move = Transition(cancelled.cancelled_from, "CANCELLED", cancelled, "stock returned")
        moved = self.advance(move)
        if moved is None:
            return None
        for sku, quantity in cancelled.order.quantities_by_sku().items():
            self.inventory.setdefault(sku, StockItem(sku)).stock += quantity
        self.counters[ORDERS_CANCELLED] += 1
        return moved

    def mark_published(self, order_id: str, event_json: str) -> None:
        record = self.records.get(order_id)
        if record is not None and record.pending_event == event_json:
            self.records[order_id] = dataclasses.replace(record, pending_event=None)

    def _refusal(
        self, sku: str, requested: int, offered: Decimal, currency: str
    ) -> RejectionReason | None:
        """Unknown, then currency, then price, then stock: as the adapter classifies them."""
        item = self.inventory.get(sku)
        if item is None or item.price is None or item.currency is None:
            return StockShortage(sku=sku, reason="unknown_sku", requested=requested, available=0)
        if item.currency != currency:
            return CurrencyMismatch(
                sku=sku, order_currency=currency, catalog_currency=item.currency
            )
        if item.price != offered:
            price = item.price
            if has_at_most_minor_units(price, currency):
                price = round_money(price, currency)
            return PriceChanged(sku=sku, offered_price=offered, catalog_price=price)
        if item.stock < requested:
            return StockShortage(
                sku=sku, reason="out_of_stock", requested=requested, available=max(item.stock, 0)
            )
        return None


class RecordingPublisher:
    """EventPublisher that keeps what it published; the first `unreachable` calls fail."""

    def __init__(self, unreachable: int = 0) -> None:
        self.published: list[AnyEvent] = []
        self._unreachable = unreachable

    def publish(self, event: AnyEvent) -> None:
        if self._unreachable:
            self._unreachable -= 1
            raise ConnectionError("SNS unreachable")
        self.published.append(event)

    def types(self) -> list[str]:
        return [event.event_type for event in self.published]


class InMemoryLedger:
    """Ledger as SqlLedger: exchange rates and one charge per order."""

    def __init__(self) -> None:
        self.rates: dict[date, dict[str, Decimal]] = {}
        self.charges: dict[str, LedgerEntry] = {}
        self.reversals: dict[str, LedgerReversal] = {}

    def save_rates(self, rates: Iterable[EuroRate]) -> int:
        saved = 0
        for rate in rates:
            self.rates.setdefault(rate.day, {})[rate.currency] = rate.per_euro
            saved += 1
        return saved

    def rates_on_or_before(self, day: date) -> tuple[date, dict[str, Decimal]] | None:
        days = [known for known in self.rates if known <= day]
        if not days:
            return None
        latest = max(days)
        return latest, dict(self.rates[latest])

    def record_charge(self, entry: LedgerEntry) -> LedgerEntry:
        return self.charges.setdefault(entry.order_id, entry)

    def charge(self, order_id: str) -> LedgerEntry | None:
        return self.charges.get(order_id)

    def reverse_charge(self, order_id: str, at: datetime) -> LedgerReversal | None:
        charge = self.charges.get(order_id)
        if charge is None:
            return None
        reversal = LedgerReversal(
            order_id=order_id,
            currency=charge.currency,
            amount=-charge.amount,
            usd_amount=-charge.usd_amount,
            usd_rate=charge.usd_rate,
            rate_date=charge.rate_date,
            reversed_at=at,
        )
        return self.reversals.setdefault(order_id, reversal)

    def reversal(self, order_id: str) -> LedgerReversal | None:
        return self.reversals.get(order_id)


class InMemoryDocuments:
    """The order API's documents (S3OrderDocuments), as far as a cancel reads them."""

    def __init__(self) -> None:
        self.documents: dict[str, OrderPlaced] = {}

    def put(self, placed: OrderPlaced) -> None:
        self.documents.setdefault(placed.order_id, placed)

    def placed(self, order_id: str) -> OrderPlaced | None:
        return self.documents.get(order_id)


@dataclass
class EmailClaim:
    status: EmailStatus
    recipient: str | None = None
    claimed_at: datetime | None = None
    message_id: str | None = None


class InMemoryContactBook:
    """ContactBook as SqlContactBook, and GuestEmailLog as SqlLedger's claim_guest_email.

    One object for both, because in SQL both claim in the one order_emails table: a guest's
    email marked sent is then found sent by a redelivery's claim, and not sent again.
    """

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.suppressions: dict[str, str] = {}
        self.emails: dict[tuple[str, Outcome], EmailClaim] = {}

    def contact(self, customer_id: str) -> Contact | None:
        return self.contacts.get(customer_id)

    def save_contact(self, contact: Contact) -> None:
        self.contacts[contact.customer_id] = contact

    def suppression(self, email: str) -> str | None:
        return self.suppressions.get(_normalise(email))

    def suppress(self, email: str, reason: str, at: datetime) -> None:
        self.suppressions.setdefault(_normalise(email), reason)

    def claim_email(self, order_id: str, outcome: Outcome, at: datetime) -> EmailStatus:
        return self.emails.setdefault((order_id, outcome), EmailClaim("sending")).status

    def mark_email(
        self,
        order_id: str,
        outcome: Outcome,
        status: EmailStatus,
        message_id: str | None,
        at: datetime,
    ) -> None:
        claim = self.emails.get((order_id, outcome))
        if claim is not None:
            claim.status, claim.message_id = status, message_id

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
        earlier = self.emails.get((order_id, outcome))
        if earlier is not None:
            return earlier.status
        counted = sum(
            1
            for claim in self.emails.values()
            if claim.recipient == recipient
            and claim.claimed_at is not None
            and claim.claimed_at > since
            and claim.status in ("sending", "sent")
        )
        status: EmailStatus = "rate_limited" if counted >= limit else "sending"
        self.emails[(order_id, outcome)] = EmailClaim(status, recipient, at)
        return status


def _normalise(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class SentEmail:
    to: str
    email: Email
    order_id: str
    message_id: str


class RecordingMailer:
    """Mailer that keeps what it sent; the first `refusals` sends fail as SES would."""

    def __init__(self, refusals: int = 0) -> None:
        self.sent: list[SentEmail] = []
        self._refusals = refusals

    def send(self, to: str, email: Email, order_id: str) -> str:
        if self._refusals:
            self._refusals -= 1
            raise ConnectionError("SES refused the message")
        message_id = f"fake-message-{len(self.sent) + 1}"
        self.sent.append(SentEmail(to, email, order_id, message_id))
        return message_id


class InMemoryCatalog:
    """Catalog as DynamoCatalog: products in the inventory the order store reserves from."""

    def __init__(self, inventory: InMemoryInventory | None = None) -> None:
        self.inventory = inventory if inventory is not None else InMemoryInventory()

    def products(self) -> list[Product]:
        products = [_product(item) for item in self.inventory.values()]
        return sorted((product for product in products if product is not None), key=lambda p: p.sku)

    def save(self, sku: str, change: ProductChange, caller: str, at: datetime) -> SavedProduct:
        old = self.inventory.get(sku)
        before = _product(old) if old is not None else None
        item = old or StockItem(sku)
        item.name, item.price, item.currency = change.name, change.price, change.currency
        self.inventory[sku] = item
        after = _product(item)
        assert after is not None
        return SavedProduct(created=old is None, before=before, after=after)

    def restock(self, sku: str, quantity: int, caller: str, at: datetime) -> int:
        if sku not in self.inventory:
            raise UnknownProduct(sku)
        self.inventory[sku].stock += quantity
        return max(self.inventory[sku].stock, 0)


def _product(item: StockItem) -> Product | None:
    if item.price is None or item.currency is None:
        return None
    return Product(
        sku=item.sku,
        name=item.name if item.name is not None else item.sku,
        price=item.price,
        currency=item.currency,
        available=max(item.stock, 0),
    )


class InMemoryInFlightOrders:
    """InFlightOrders as DynamoInFlightOrders: the records not final, by placement time.

    stale holds ids the index still lists after their record became final (the index lags).
    """

    def __init__(self, store: InMemoryOrderStore) -> None:
        self._store = store
        self.stale: list[str] = []

    def placed_before(self, cutoff: datetime) -> list[str]:
        in_flight = [
            record
            for record in self._store.records.values()
            if record.status not in FINAL_STATUSES and record.placed_at < cutoff
        ]
        return [r.order_id for r in sorted(in_flight, key=lambda r: r.placed_at)] + self.stale
