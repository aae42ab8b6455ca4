"""Tell the customer the outcome of their order, once, and record that they were told.

Plain Python: contacts, suppressions and sent emails sit behind ContactBook (SQL), the
sending behind Mailer (SES v2), the order's state behind OrderStore (DynamoDB).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from chalicelib import emails
from chalicelib.reservation import EventPublisher, OrderRecord, OrderStore, publish_pending
from order_contracts import Customer, OrderBilled, OrderConfirmed, OrderRejected

Outcome = Literal["confirmation", "rejection"]
EmailStatus = Literal["sending", "sent", "suppressed"]


@dataclass(frozen=True)
class Contact:
    customer_id: str
    name: str
    email: str


class MissingContact(LookupError):
    """No contact for the customer (yet): retried through the queue, then dead-lettered."""


class ContactBook(Protocol):
    def contact(self, customer_id: str) -> Contact | None: ...

    def suppression(self, email: str) -> str | None:
        """Why the address must not be mailed, or None."""
        ...

    def claim_email(self, order_id: str, outcome: Outcome, at: datetime) -> EmailStatus:
        """Record that this email is being sent unless it was already; return its status."""
        ...

    def mark_email(
        self,
        order_id: str,
        outcome: Outcome,
        status: EmailStatus,
        message_id: str | None,
        at: datetime,
    ) -> None: ...


class Mailer(Protocol):
    def send(self, to: str, email: emails.Email, order_id: str) -> str:
        """Send; return the provider's message id."""
        ...


def communicate(
    event: OrderBilled | OrderRejected,
    book: ContactBook,
    mailer: Mailer,
    orders: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
) -> EmailStatus:
    """Send the confirmation or the rejection notice once; confirm a billed order.

    The email is claimed before it is sent and marked sent after, so a retry after either
    step sends nothing more. Only a crash between SES accepting the email and the mark can
    send it twice: SES has no idempotency key, and losing a confirmation would be worse.
    """
    order = event.order
    outcome: Outcome = "confirmation" if isinstance(event, OrderBilled) else "rejection"
    contact = _contact(order.customer, book)
    status = book.claim_email(order.order_id, outcome, now())
    if status == "sending":
        status = _send(event, outcome, contact, book, mailer, now)
    if isinstance(event, OrderBilled):
        _confirm(event, status, orders, publisher, now)
    return status


def _contact(customer: Customer, book: ContactBook) -> Contact:
    """The contact book is the record for registered customers; a guest's order is its own."""
    contact = book.contact(customer.customer_id)
    if contact is not None:
        return contact
    if customer.is_guest:
        return Contact(customer.customer_id, customer.name, customer.email)
    raise MissingContact(f"no contact for customer {customer.customer_id}")


def _send(
    event: OrderBilled | OrderRejected,
    outcome: Outcome,
    contact: Contact,
    book: ContactBook,
    mailer: Mailer,
    now: Callable[[], datetime],
) -> EmailStatus:
    order_id = event.order_id
    if book.suppression(contact.email) is not None:
        book.mark_email(order_id, outcome, "suppressed", None, now())
        return "suppressed"
    if isinstance(event, OrderBilled):
        email = emails.confirmation(event.order, event.billing, contact.name)
    else:
        email = emails.rejection(event.order, event.reasons, contact.name)
    message_id = mailer.send(contact.email, email, order_id)
    book.mark_email(order_id, outcome, "sent", message_id, now())
    return "sent"


def _confirm(
    billed: OrderBilled,
    status: EmailStatus,
    orders: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
) -> OrderRecord | None:
    email: Literal["sent", "suppressed"] = "suppressed" if status == "suppressed" else "sent"
    confirmed = OrderConfirmed(
        order_id=billed.order_id,
        occurred_at=now(),
        correlation_id=billed.correlation_id,
        order=billed.order,
        email=email,
    )
    detail = "email suppressed: the address bounced or complained" if email == "suppressed" else ""
    record = orders.advance(billed.order_id, "BILLED", "CONFIRMED", confirmed, detail)
    record = record or orders.get(billed.order_id)
    if record is not None:
        publish_pending(record, orders, publisher)
    return record
