"""The storefront: catalog and order form, confirmation, the order's status page and its
cancel button.

Shoppers check out as guests: there is no login, so the browser session is what knows which
orders are the shopper's. The confirmation and status pages answer only for orders this
session placed (the idempotency keys it remembers) or opened through a signed link from the
customer's email (order_contracts.links); any other id is 404, whether or not the order
exists. Cancelling is for the session that placed the order or opened its cancel link.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from pydantic import ValidationError
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional, Regexp

from order_contracts import CancelRequested, Order, order_placed, round_money
from order_contracts.errors import describe_validation_error
from order_contracts.events import RejectionReason
from order_contracts.links import (
    LINK_PARAMETER,
    STATUS_LINK_MAX_AGE,
    LinkExpired,
    LinkPurpose,
    LinkRefused,
)
from order_contracts.order import MAX_QUANTITY
from order_contracts.status import HOLDING_STOCK, OrderStatusView
from order_web.extensions import order_links, services, utc_now, web_settings
from order_web.metrics import count_order_placed
from order_web.orders import (
    CartRefused,
    CatalogItem,
    EmptyCart,
    MixedCurrencies,
    Shopper,
    idempotency_key,
    web_order,
    web_order_id,
)
from order_web.publisher import TRACE_HEADER, IntakeUnavailable, trace_header

bp = Blueprint("shop", __name__)
# How many recent submissions a session remembers, to answer a double submit and to show
# their status pages. Each is a 32-character key and a 64-character fingerprint: with twenty
# the signed session cookie is about 1.7 KB, well under browsers' 4 KB per cookie.
_REMEMBERED = 20
# What the shopper is told when the chosen items cannot make one order.
_CART_REFUSALS: dict[type[CartRefused], str] = {
    EmptyCart: "Choose at least one item.",
    MixedCurrencies: (
        "One order takes items priced in one currency; place a second order for the others."
    ),
}


class CustomerForm(FlaskForm):  # type: ignore[misc]
    """What the shopper types; the order contract judges it (one definition for every door)."""

    name = StringField("Name", validators=[DataRequired()])
    email = EmailField("Email", validators=[DataRequired()])
    country = StringField("Country (ISO code, e.g. GB)", validators=[DataRequired()])
    # Rendered once with the form: a second post of the same form is the same order.
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[a-f0-9]{32}$")])


def order_form(catalog: list[CatalogItem]) -> CustomerForm:
    """The customer form plus one quantity field per SKU of the catalog."""

    class OrderForm(CustomerForm):
        pass

    for item in catalog:
        setattr(
            OrderForm,
            f"qty_{item.sku}",
            IntegerField(
                item.name, default=0, validators=[Optional(), NumberRange(0, MAX_QUANTITY)]
            ),
        )
    form: CustomerForm = OrderForm()
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    return form


@bp.get("/")
def storefront() -> str:
    catalog = services().catalog.items()
    return render_template("storefront.html", catalog=catalog, form=order_form(catalog))


@bp.post("/orders")
def place_order() -> Response | tuple[str, int]:
    catalog = services().catalog.items()
    form = order_form(catalog)
    if not form.validate_on_submit():
        return _storefront(catalog, form, 400)
    key: str = form.idempotency_key.data or ""
    g.order_id = web_order_id(key)  # on every log line of this request from here on
    try:
        order = web_order(key, _shopper(form), _quantities(form, catalog), catalog)
    except (CartRefused, ValidationError) as refused:
        for message in _refusal_messages(refused):
            flash(message)
        return _storefront(catalog, form, 400)

    remembered = _remembered()
    previous = remembered.get(key)
    if previous == order.fingerprint():  # the same form sent twice: one order
        return _to_confirmation(order)
    if previous is not None:
        flash("This form was already sent with other items. Start a new order below.")
        return _storefront(catalog, order_form(catalog), 409)

    placed = order_placed(order, source="web", correlation_id=g.correlation_id, now=utc_now())
    try:
        message_id = services().publisher.publish(
            placed, trace_header(request.headers.get(TRACE_HEADER))
        )
    except IntakeUnavailable:
        current_app.logger.exception("order-intake unreachable")
        flash("We could not take your order just now. Nothing was charged; please try again.")
        return _storefront(catalog, form, 503)
    count_order_placed(placed.occurred_at)
    # The web hop of the order's timeline (make trace), with its ids from the request.
    current_app.logger.info("order placed", extra={"message_id": message_id})
    remembered[key] = order.fingerprint()
    session["orders"] = [[key, fingerprint] for key, fingerprint in remembered.items()][
        -_REMEMBERED:
    ]
    return _to_confirmation(order)


@bp.get("/orders/<order_id>/thanks")
def confirmation(order_id: str) -> str:
    return render_template("confirmation.html", order_id=_placed_here(order_id))


@bp.get("/orders/<order_id>")
def order_status(order_id: str) -> Response | str | tuple[str, int]:
    token = request.args.get(LINK_PARAMETER)
    if token is not None:  # from an email: let this session see the order, then drop the token
        return _follow_link(order_id, token, "status")
    holder = _holder(order_id)
    status = _status(order_id)
    cancelling = _cancel_in_flight(status)
    cancel_until = status.cancellable_until(web_settings().cancellation_window)
    can_cancel = (
        holder.may_cancel
        and not cancelling
        and cancel_until is not None
        and utc_now() <= cancel_until
    )
    return render_template(
        "status.html",
        status=status,
        names=_product_names(),
        cancel_until=cancel_until if can_cancel else None,
        cancelling=cancelling,
        refresh=not status.is_final or cancelling,
    )


@bp.get("/orders/<order_id>/cancel")
def cancel_link(order_id: str) -> Response | tuple[str, int]:
    """The cancel link of an email: lets this session cancel the order (a GET never does it,
    since mail scanners open links), then shows the status page with its cancel button."""
    return _follow_link(order_id, request.args.get(LINK_PARAMETER, ""), "cancel")


@bp.post("/orders/<order_id>/cancel")
def cancel_order(order_id: str) -> Response | tuple[str, int]:
    """Ask the pipeline to cancel the order; a refusal changes nothing and says why."""
    if not _holder(order_id).may_cancel:
        abort(404)
    status = _status(order_id)
    refusal = _cancel_refusal(status)
    if refusal is not None:
        flash(refusal)
        return _status_page(status, 409)
    if status.status == "CANCELLED" or order_id in session.get("cancelling", []):
        return _to_status(order_id)  # a repeat: done, or on its way
    requested = CancelRequested(
        order_id=order_id, requested_at=utc_now(), correlation_id=g.correlation_id
    )
    try:
        services().publisher.publish(requested, trace_header(request.headers.get(TRACE_HEADER)))
    except IntakeUnavailable:
        current_app.logger.exception("order-intake unreachable")
        flash("We could not cancel your order just now. Nothing has changed; please try again.")
        return _status_page(status, 503)
    _remember("cancelling", order_id)
    flash("We are cancelling your order: this page shows it once it is done.")
    return _to_status(order_id)


@bp.app_template_filter("readable_time")
def readable_time(moment: datetime) -> str:
    """A recorded time for people: "21 Nov 2026, 14:03:07 UTC" (no script, so no local zone)."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


@bp.app_template_filter("money")
def money(amount: Decimal, currency: str) -> str:
    """An amount as its currency writes it: 24.00 EUR, 2400 JPY."""
    return f"{round_money(amount, currency)} {currency}"


@bp.app_template_global()
def in_words(reason: RejectionReason, names: dict[str, str]) -> str:
    """Why the order was rejected, naming the product as the catalog does."""
    return reason.describe(names.get(getattr(reason, "sku", "")))


def _storefront(catalog: list[CatalogItem], form: CustomerForm, status: int) -> tuple[str, int]:
    return render_template("storefront.html", catalog=catalog, form=form), status


def _to_confirmation(order: Order) -> Response:
    return redirect(url_for("shop.confirmation", order_id=order.order_id), code=303)


def _shopper(form: CustomerForm) -> Shopper:
    return Shopper(
        name=form.name.data or "", email=form.email.data or "", country=form.country.data or ""
    )


def _quantities(form: CustomerForm, catalog: list[CatalogItem]) -> dict[str, int]:
    """The quantity typed for each SKU; 0 where the field was left empty."""
    return {item.sku: getattr(form, f"qty_{item.sku}").data or 0 for item in catalog}


def _refusal_messages(refused: CartRefused | ValidationError) -> list[str]:
    """Why the form is not an order, in words for the shopper: the one place that says it."""
    if isinstance(refused, ValidationError):
        return [
            f"{problem.field}: {problem.message}" for problem in describe_validation_error(refused)
        ]
    return [_CART_REFUSALS[type(refused)]]


def _remembered() -> dict[str, str]:
    """The orders this session placed, oldest first: idempotency key to order fingerprint."""
    stored = session.get("orders", [])
    # Stored as [key, fingerprint] pairs: Flask's session serializer sorts a dict's keys,
    # which would make "the last twenty" twenty random ones. Older cookies hold a dict.
    return dict(stored.items() if isinstance(stored, dict) else stored)


def _placed_here(order_id: str) -> str:
    """The order id if this session placed the order, else 404 (as for an unknown order)."""
    key = idempotency_key(order_id)
    if key is None or key not in _remembered():
        abort(404)
    g.order_id = order_id
    return order_id


@dataclass(frozen=True)
class _Holder:
    """Why this session may see an order: it placed it, or opened a link to it."""

    may_cancel: bool


def _holder(order_id: str) -> _Holder:
    """What this session may do with the order; 404 (as for an unknown order) if nothing."""
    key = idempotency_key(order_id)
    if key is not None and key in _remembered():
        g.order_id = order_id
        return _Holder(may_cancel=True)
    purposes = {purpose for linked, purpose in session.get("linked", []) if linked == order_id}
    if not purposes:
        abort(404)
    g.order_id = order_id
    return _Holder(may_cancel="cancel" in purposes)


def _follow_link(order_id: str, token: str, purpose: LinkPurpose) -> Response | tuple[str, int]:
    """Check an email's link; if it is ours, this session holds the order from now on."""
    window = web_settings().cancellation_window
    max_age = window if purpose == "cancel" else STATUS_LINK_MAX_AGE
    try:
        order_links().check(order_id, token, purpose, max_age)
    except LinkExpired:
        message = "This link has expired."
        if purpose == "cancel":
            message = f"This link has expired: {_window_rule()}."
        return render_template("link_expired.html", message=message), 410
    except LinkRefused:
        abort(404)
    _remember("linked", [order_id, purpose])
    if purpose == "cancel":
        flash("To cancel this order, press Cancel order below.")
    return _to_status(order_id)


def _remember(name: str, value: object) -> None:
    """Add value to the session's list name, keeping the last few, once each."""
    remembered = [item for item in session.get(name, []) if item != value]
    session[name] = [*remembered, value][-_REMEMBERED:]


def _status(order_id: str) -> OrderStatusView:
    status = services().statuses.status(order_id)
    if status is None:  # published, not yet recorded by fulfillment (seconds at most)
        status = OrderStatusView(order_id=order_id, status="RECEIVED")
    return status


def _cancel_refusal(status: OrderStatusView) -> str | None:
    """Why this order cannot be cancelled now, in words; None if it can (or already is)."""
    if status.status == "REJECTED":
        return "This order was rejected, so there is nothing to cancel: you were not charged."
    if status.status == "RECEIVED":
        return "We are still receiving this order: you can cancel it in a few seconds."
    until = status.cancellable_until(web_settings().cancellation_window)
    if status.status != "CANCELLED" and (until is None or utc_now() > until):
        return f"{_window_rule().capitalize()}; this one no longer can."
    return None


def _window_rule() -> str:
    hours = web_settings().cancellation_window / timedelta(hours=1)
    return f"orders can be cancelled within {hours:g} hours of being placed"


def _cancel_in_flight(status: OrderStatusView) -> bool:
    """This session asked to cancel the order and the pipeline has not answered yet.

    Only while the order holds stock: the pipeline may also settle the request by rejecting
    the order first (billing refused its currency); then there is nothing to wait for, and a
    page that kept refreshing "until your order is cancelled" would refresh for ever.
    """
    return status.order_id in session.get("cancelling", []) and status.status in HOLDING_STOCK


def _status_page(status: OrderStatusView, code: int) -> tuple[str, int]:
    cancelling = _cancel_in_flight(status)
    page = render_template(
        "status.html",
        status=status,
        names=_product_names(),
        cancel_until=None,
        cancelling=cancelling,
        refresh=False,
    )
    return page, code


def _to_status(order_id: str) -> Response:
    return redirect(url_for("shop.order_status", order_id=order_id), code=303)


def _product_names() -> dict[str, str]:
    return {item.sku: item.name for item in services().catalog.items()}
