"""The customer's emails about an order, as text and HTML. Plain Python, no AWS.

They name the products as the catalog does, link to the order's status page at the
storefront, and promise only what the pipeline does: nothing ships or writes again after
these emails, so none of them says it will.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

from order_contracts import Billing, Order, round_money
from order_contracts.events import RejectionReason


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Details:
    """What an email says beyond the order: product names and links to the storefront."""

    # SKU -> the catalog's name; a SKU missing here is shown as it is.
    names: Mapping[str, str] = field(default_factory=dict)
    # The order's status page (a signed link), when the storefront's address is configured.
    status_url: str | None = None
    # The signed cancel link, in the confirmation only, while the order can be cancelled.
    cancel_url: str | None = None
    cancellation_window_hours: int = 24


@dataclass(frozen=True)
class _Link:
    text: str
    url: str


def confirmation(order: Order, billing: Billing, name: str, details: Details = Details()) -> Email:
    total = f"{order.total} {order.currency}"
    usd = "" if order.currency == "USD" else f" ({billing.usd_total} USD)"
    links = _status_link(details)
    if details.cancel_url:
        links.append(
            _Link(
                "Changed your mind? You can cancel it within "
                f"{details.cancellation_window_hours} hours of placing it",
                details.cancel_url,
            )
        )
    return _email(
        f"Order {order.order_id} confirmed",
        name,
        f"Thank you for your order {order.order_id}. It is confirmed:",
        _lines(order, details, priced=True),
        [f"Total: {total}{usd}", "Keep this email as your receipt."],
        links,
    )


def rejection(
    order: Order, reasons: list[RejectionReason], name: str, details: Details = Details()
) -> Email:
    why = [reason.describe(details.names.get(getattr(reason, "sku", ""))) for reason in reasons]
    return _email(
        f"Order {order.order_id} could not be accepted",
        name,
        f"We are sorry: we could not accept your order {order.order_id}.",
        why,
        ["You have not been charged."],
        _status_link(details),
    )


def cancellation(order: Order, name: str, details: Details = Details()) -> Email:
    total = f"{order.total} {order.currency}"
    # Sent from OrderCancelled, while billing reverses any charge: both cases in one sentence.
    refund = f"If you were charged for it, the charge of {total} is reversed in full."
    return _email(
        f"Order {order.order_id} cancelled",
        name,
        f"Your order {order.order_id} is cancelled, as you asked:",
        _lines(order, details, priced=False),
        [refund],
        _status_link(details),
    )


def _lines(order: Order, details: Details, *, priced: bool) -> list[str]:
    lines = []
    for line in order.lines:
        product = details.names.get(line.sku, line.sku)
        if priced:
            amount = round_money(line.unit_price * line.quantity, order.currency)
            lines.append(
                f"{line.quantity} x {product} at {line.unit_price} {order.currency}"
                f" = {amount} {order.currency}"
            )
        else:
            lines.append(f"{line.quantity} x {product}")
    return lines


def _status_link(details: Details) -> list[_Link]:
    return [_Link("See your order", details.status_url)] if details.status_url else []


def _email(
    subject: str, name: str, opening: str, items: list[str], closing: list[str], links: list[_Link]
) -> Email:
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            opening,
            "",
            *(f"  {item}" for item in items),
            "",
            *closing,
            *(line for link in links for line in ("", f"{link.text}: {link.url}")),
        ]
    )
    html = (
        f"<p>Hello {escape(name)},</p>"
        f"<p>{escape(opening)}</p>"
        f"<ul>{''.join(f'<li>{escape(item)}</li>' for item in items)}</ul>"
        f"{''.join(f'<p>{escape(line)}</p>' for line in closing)}"
        + "".join(f'<p><a href="{escape(link.url)}">{escape(link.text)}</a></p>' for link in links)
    )
    return Email(subject, text, html)
