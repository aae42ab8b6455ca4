"""The storefront: catalog and order form, confirmation, and the order's status page."""

import re
import uuid
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
from order_contracts.order import MAX_QUANTITY, ORDER_ID_PATTERN
from order_web.adapters import CatalogItem, IntakeUnavailable
from order_web.api import web_order_id
from order_web.extensions import services, utc_now

bp = Blueprint("shop", __name__)
FINAL_STATUSES = {"CONFIRMED", "REJECTED"}
# How many recent submissions a session remembers, to answer a double submit.
_REMEMBERED = 20


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

    remembered: dict[str, str] = session.get("orders", {})
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
    remembered = {**remembered, key: order.fingerprint()}
    session["orders"] = dict(list(remembered.items())[-_REMEMBERED:])
    return redirect(url_for("shop.confirmation", order_id=order.order_id), code=303)


@bp.get("/orders/<order_id>/thanks")
def confirmation(order_id: str) -> str:
    return render_template("confirmation.html", order_id=_valid_id(order_id))


@bp.get("/orders/<order_id>")
def order_status(order_id: str) -> str:
    order_id = _valid_id(order_id)
    status = services().statuses.status(order_id)
    if status is None:
        placed_here = any(web_order_id(key) == order_id for key in session.get("orders", {}))
        if not placed_here:
            abort(404)
        status = {"order_id": order_id, "status": "RECEIVED", "history": []}
    refresh = status["status"] not in FINAL_STATUSES
    return render_template("status.html", status=status, refresh=refresh)


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


def _valid_id(order_id: str) -> str:
    if not re.match(ORDER_ID_PATTERN, order_id):
        abort(404)
    return order_id
