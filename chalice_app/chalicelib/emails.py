"""The customer's emails about an order, as text and HTML. Plain Python, no AWS."""

from dataclasses import dataclass
from html import escape

from order_contracts import Billing, Order
from order_contracts.events import RejectionReason


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def confirmation(order: Order, billing: Billing, name: str) -> Email:
    lines = [
        f"{line.quantity} x {line.sku} at {line.unit_price} {order.currency}"
        for line in order.lines
    ]
    total = f"{order.total} {order.currency}"
    usd = "" if order.currency == "USD" else f" ({billing.usd_total} USD)"
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            f"Thank you for your order {order.order_id}. It is confirmed:",
            "",
            *(f"  {line}" for line in lines),
            "",
            f"Total: {total}{usd}",
            "",
            "Keep this email as your receipt.",
        ]
    )
    html = (
        f"<p>Hello {escape(name)},</p>"
        f"<p>Thank you for your order <strong>{escape(order.order_id)}</strong>. "
        "It is confirmed:</p>"
        f"<ul>{''.join(f'<li>{escape(line)}</li>' for line in lines)}</ul>"
        f"<p>Total: <strong>{escape(total)}</strong>{escape(usd)}</p>"
        "<p>Keep this email as your receipt.</p>"
    )
    return Email(f"Order {order.order_id} confirmed", text, html)


def rejection(order: Order, reasons: list[RejectionReason], name: str) -> Email:
    why = [reason.describe() for reason in reasons]
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            f"We are sorry: we could not accept your order {order.order_id}.",
            "",
            *(f"  {reason}" for reason in why),
            "",
            "You have not been charged.",
        ]
    )
    html = (
        f"<p>Hello {escape(name)},</p>"
        f"<p>We are sorry: we could not accept your order <strong>{escape(order.order_id)}"
        "</strong>.</p>"
        f"<ul>{''.join(f'<li>{escape(reason)}</li>' for reason in why)}</ul>"
        "<p>You have not been charged.</p>"
    )
    return Email(f"Order {order.order_id} could not be accepted", text, html)


def cancellation(order: Order, name: str) -> Email:
    lines = [f"{line.quantity} x {line.sku}" for line in order.lines]
    total = f"{order.total} {order.currency}"
    # Sent from OrderCancelled, while billing reverses any charge: both cases in one sentence.
    refund = f"If you were charged for it, the charge of {total} is reversed in full."
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            f"Your order {order.order_id} is cancelled, as you asked:",
            "",
            *(f"  {line}" for line in lines),
            "",
            refund,
        ]
    )
    html = (
        f"<p>Hello {escape(name)},</p>"
        f"<p>Your order <strong>{escape(order.order_id)}</strong> is cancelled, as you asked:</p>"
        f"<ul>{''.join(f'<li>{escape(line)}</li>' for line in lines)}</ul>"
        f"<p>{escape(refund)}</p>"
    )
    return Email(f"Order {order.order_id} cancelled", text, html)
