"""The storefront: catalog and order form, confirmation, and the order's status page.

Shoppers check out as guests: there is no login, so the browser session is what knows which
orders are the shopper's. The confirmation and status pages answer only for orders this
session placed (the idempotency keys it remembers); any other id is 404, whether or not the
order exists.
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from pydantic import ValidationError
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional, Regexp

from order_contracts import Order, OrderRequest, guest_customer_id, order_placed
from order_contracts.errors import describe_validation_error
from order_contracts.order import MAX_QUANTITY
from order_web.adapters import CatalogItem, IntakeUnavailable, OrderStatus
from order_web.extensions import services, utc_now

bp = Blueprint("shop", __name__)
FINAL_STATUSES = {"CONFIRMED", "REJECTED"}
# How many recent submissions a session remembers, to answer a double submit and to show
# their status pages. Each is a 32-character key and a 64-character fingerprint: with twenty
# the signed session cookie is about 1.7 KB, well under browsers' 4 KB per cookie.
_REMEMBERED = 20
WEB_ORDER_PREFIX = "web-"


def web_order_id(idempotency_key: str) -> str:
    """A web order's id: the form's idempotency key, so a second post is the same order."""
    return f"{WEB_ORDER_PREFIX}{idempotency_key}"


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
        return render_template("storefront.html", catalog=catalog, form=form), 400
    key: str = form.idempotency_key.data or ""
    try:
        request_body = _order_request(form, catalog)
        order = Order.from_request(web_order_id(key), request_body)
    except _NoLines:
        flash("Choose at least one item.")
        return render_template("storefront.html", catalog=catalog, form=form), 400
    except _MixedCurrencies:
        flash("One order takes items priced in one currency; place a second order for the others.")
        return render_template("storefront.html", catalog=catalog, form=form), 400
    except ValidationError as error:
        for problem in describe_validation_error(error):
            flash(f"{problem.field}: {problem.message}")
        return render_template("storefront.html", catalog=catalog, form=form), 400

    remembered = _remembered()
    previous = remembered.get(key)
    if previous == order.fingerprint():  # the same form sent twice: one order
        return redirect(url_for("shop.confirmation", order_id=order.order_id), code=303)
    if previous is not None:
        flash("This form was already sent with other items. Start a new order below.")
        return render_template("storefront.html", catalog=catalog, form=order_form(catalog)), 409

    placed = order_placed(order, source="web", correlation_id=g.correlation_id, now=utc_now())
    try:
        services().publisher.publish(placed)
    except IntakeUnavailable:
        current_app.logger.exception("order-intake unreachable")
        flash("We could not take your order just now. Nothing was charged; please try again.")
        return render_template("storefront.html", catalog=catalog, form=form), 503
    remembered[key] = order.fingerprint()
    session["orders"] = [[key, fingerprint] for key, fingerprint in remembered.items()][
        -_REMEMBERED:
    ]
    return redirect(url_for("shop.confirmation", order_id=order.order_id), code=303)


@bp.get("/orders/<order_id>/thanks")
def confirmation(order_id: str) -> str:
    return render_template("confirmation.html", order_id=_placed_here(order_id))


@bp.get("/orders/<order_id>")
def order_status(order_id: str) -> str:
    order_id = _placed_here(order_id)
    status = services().statuses.status(order_id)
    if status is None:  # published, not yet recorded by fulfillment (seconds at most)
        status = OrderStatus(order_id=order_id, status="RECEIVED")
    refresh = status.status not in FINAL_STATUSES
    return render_template("status.html", status=status, refresh=refresh)


@bp.app_template_filter("readable_time")
def readable_time(moment: datetime) -> str:
    """A recorded time for people: "21 Nov 2026, 14:03:07 UTC" (no script, so no local zone)."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


def _remembered() -> dict[str, str]:
    """The orders this session placed, oldest first: idempotency key to order fingerprint."""
    stored = session.get("orders", [])
    # Stored as [key, fingerprint] pairs: Flask's session serializer sorts a dict's keys,
    # which would make "the last twenty" twenty random ones. Older cookies hold a dict.
    return dict(stored.items() if isinstance(stored, dict) else stored)


def _placed_here(order_id: str) -> str:
    """The order id if this session placed the order, else 404 (as for an unknown order)."""
    key = order_id.removeprefix(WEB_ORDER_PREFIX)
    if key == order_id or key not in _remembered():
        abort(404)
    return order_id


class _NoLines(ValueError):
    pass


class _MixedCurrencies(ValueError):
    pass


def _order_request(form: CustomerForm, catalog: list[CatalogItem]) -> OrderRequest:
    """The order as the contract has it, priced from the catalog (never from the browser)."""
    chosen = [
        (item, quantity)
        for item in catalog
        if (quantity := getattr(form, f"qty_{item.sku}").data or 0) > 0
    ]
    if not chosen:
        raise _NoLines
    currencies = {item.currency for item, _ in chosen}
    if len(currencies) > 1:
        raise _MixedCurrencies
    email = (form.email.data or "").strip()
    body: dict[str, Any] = {
        "customer": {
            # Web shoppers check out as guests: their email is their identity.
            "customer_id": guest_customer_id(email),
            "name": form.name.data,
            "email": email,
            "country": (form.country.data or "").upper(),
        },
        "currency": currencies.pop(),
        "lines": [
            {"sku": item.sku, "quantity": quantity, "unit_price": item.price}
            for item, quantity in chosen
        ],
        "total": sum((item.price * quantity for item, quantity in chosen), Decimal(0)),
    }
    return OrderRequest.model_validate(body)
