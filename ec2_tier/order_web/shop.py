"""The storefront: catalog and order form, confirmation, and the order's status page.

Shoppers check out as guests: there is no login, so the browser session is what knows which
orders are the shopper's. The confirmation and status pages answer only for orders this
session placed (the idempotency keys it remembers); any other id is 404, whether or not the
order exists.
"""

import uuid
from datetime import UTC, datetime

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

from order_contracts import Order, order_placed
from order_contracts.errors import describe_validation_error
from order_contracts.order import MAX_QUANTITY
from order_contracts.status import OrderStatusView
from order_web.extensions import services, utc_now
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
def order_status(order_id: str) -> str:
    order_id = _placed_here(order_id)
    status = services().statuses.status(order_id)
    if status is None:  # published, not yet recorded by fulfillment (seconds at most)
        status = OrderStatusView(order_id=order_id, status="RECEIVED")
    return render_template("status.html", status=status, refresh=not status.is_final)


@bp.app_template_filter("readable_time")
def readable_time(moment: datetime) -> str:
    """A recorded time for people: "21 Nov 2026, 14:03:07 UTC" (no script, so no local zone)."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


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
