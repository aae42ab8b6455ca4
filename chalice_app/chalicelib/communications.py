"""customer_communications: tell the customer the outcome of their order, once, and record
that they were told.

Plain Python: contacts, suppressions and sent emails sit behind ContactBook (SQL), the
sending behind Mailer (SES v2), the order's state behind OrderStore (DynamoDB, see
chalicelib.orders), the count of emails to a guest's address behind GuestEmailLog (SQL).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from chalicelib import emails
from chalicelib.email_details import EmailDetails
from chalicelib.observability import logger
from chalicelib.orders import (
    EventPublisher,
    OrderRecord,
    OrderStore,
    Transition,
    publish_pending,
)
from order_contracts import Customer, OrderBilled, OrderCancelled, OrderConfirmed, OrderRejected

Outcome = Literal["confirmation", "rejection", "cancellation"]
CustomerEvent = OrderBilled | OrderRejected | OrderCancelled
_OUTCOMES: dict[type[CustomerEvent], Outcome] = {
    OrderBilled: "confirmation",
    OrderRejected: "rejection",
    OrderCancelled: "cancellation",
}
# rate_limited: a guest's address had its hour's emails already; this order's was not sent
# and never will be (the claim records the decision, so a redelivery finds it).
EmailStatus = Literal["sending", "sent", "suppressed", "rate_limited"]
GUEST_EMAIL_WINDOW = timedelta(hours=1)
# What OrderConfirmed says of the email ("sending" is not seen here: _send moved it on).
_CONFIRMED_EMAIL: dict[EmailStatus, Literal["sent", "suppressed", "rate_limited"]] = {
    "sending": "sent",
    "sent": "sent",
    "suppressed": "suppressed",
    "rate_limited": "rate_limited",
}


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


class GuestEmailLog(Protocol):
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
        """Claim the email as ContactBook.claim_email does, recording its recipient; but if
        `limit` emails were claimed for that recipient since `since`, record it rate_limited.

        Counting and claiming are one step, so the decision is made once per order and
        outcome: a repeat returns the status recorded first.
        """
        ...


@dataclass(frozen=True)
class GuestEmailLimit:
    """At most per_hour emails an hour to one guest address.

    Guests type any address at the storefront's checkout: without this, anyone could have
    the shop mail an address of their choosing as often as they can place orders.
    """

    log: GuestEmailLog
    per_hour: int

    def claim(self, order_id: str, outcome: Outcome, address: str, at: datetime) -> EmailStatus:
        return self.log.claim_guest_email(
            order_id,
            outcome,
            # One mailbox however it was typed: Grace@Example.com is grace@example.com.
            address.strip().lower(),
            at,
            since=at - GUEST_EMAIL_WINDOW,
            limit=self.per_hour,
        )


class Mailer(Protocol):
    def send(self, to: str, email: emails.Email, order_id: str) -> str:
        """Send; return the provider's message id."""
        ...


def customer_communications(
    event: CustomerEvent,
    book: ContactBook,
    mailer: Mailer,
    orders: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
    guest_emails: GuestEmailLimit,
    details: EmailDetails | None = None,
) -> EmailStatus | None:
    """Send the confirmation, the rejection or the cancellation notice once; confirm a
    billed order. None: no email, because the order was cancelled before its confirmation.

    The email is claimed before it is sent and marked sent after, so a retry after either
    step sends nothing more. Only a crash between SES accepting the email and the mark can
    send it twice: SES has no idempotency key, and losing a confirmation would be worse.
    A guest's email is claimed through guest_emails, which refuses it (rate_limited) when
    the address has had its hour's emails; the order is confirmed all the same.
    details names the products and gives the links to the storefront (without it, the
    emails show SKUs and carry no links).
    """
    order = event.order
    outcome = _OUTCOMES[type(event)]
    if isinstance(event, OrderBilled) and _cancelled(orders, event.order_id):
        # The cancellation email says what happened; a confirmation now would contradict it.
        logger.info("no confirmation: the order was cancelled before it was confirmed")
        return None
    contact = _contact(order.customer, book)
    if order.customer.is_guest:
        status = guest_emails.claim(order.order_id, outcome, contact.email, now())
    else:
        status = book.claim_email(order.order_id, outcome, now())
    if status == "sending":
        status = _send(event, outcome, contact, book, mailer, now, details)
    elif status == "rate_limited":
        logger.warning(
            "no email: the guest address already had its emails for the hour",
            extra={
                "customer_id": order.customer.customer_id,  # a hash of the address, not it
                "outcome": outcome,
                "guest_emails_per_hour": guest_emails.per_hour,
            },
        )
    if isinstance(event, OrderBilled):
        _confirm(event, status, orders, publisher, now, guest_emails)
    return status


def _cancelled(orders: OrderStore, order_id: str) -> bool:
    record = orders.get(order_id)
    return record is not None and record.status == "CANCELLED"


def _contact(customer: Customer, book: ContactBook) -> Contact:
    """The contact book is the record for registered customers; a guest's order is its own."""
    contact = book.contact(customer.customer_id)
    if contact is not None:
        return contact
    if customer.is_guest:
        return Contact(customer.customer_id, customer.name, customer.email)
    raise MissingContact(f"no contact for customer {customer.customer_id}")


def _send(
    event: CustomerEvent,
    outcome: Outcome,
    contact: Contact,
    book: ContactBook,
    mailer: Mailer,
    now: Callable[[], datetime],
    details: EmailDetails | None,
) -> EmailStatus:
    order_id = event.order_id
    if book.suppression(contact.email) is not None:
        book.mark_email(order_id, outcome, "suppressed", None, now())
        return "suppressed"
    said = details.for_event(event) if details is not None else emails.Details()
    if isinstance(event, OrderBilled):
        email = emails.confirmation(event.order, event.billing, contact.name, said)
    elif isinstance(event, OrderRejected):
        email = emails.rejection(event.order, event.reasons, contact.name, said)
    else:
        email = emails.cancellation(event.order, contact.name, said)
    message_id = mailer.send(contact.email, email, order_id)
    book.mark_email(order_id, outcome, "sent", message_id, now())
    return "sent"


def _confirm(
    billed: OrderBilled,
    status: EmailStatus,
    orders: OrderStore,
    publisher: EventPublisher,
    now: Callable[[], datetime],
    guest_emails: GuestEmailLimit,
) -> OrderRecord | None:
    email = _CONFIRMED_EMAIL[status]
    confirmed = OrderConfirmed(
        order_id=billed.order_id,
        occurred_at=now(),
        correlation_id=billed.correlation_id,
        order=billed.order,
        email=email,
    )
    detail = ""
    if email == "suppressed":
        detail = "email suppressed: the address bounced or complained"
    elif email == "rate_limited":
        detail = (
            f"no email: this guest address already had its {guest_emails.per_hour} emails "
            "in the last hour"
        )
    record = orders.advance(Transition("BILLED", "CONFIRMED", confirmed, detail))
    record = record or orders.get(billed.order_id)
    if record is not None:
        publish_pending(record, orders, publisher)
    return record
