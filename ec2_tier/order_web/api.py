"""The JSON API for integrators: the same contract and error shape as the order API."""

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from pydantic import ValidationError

from order_contracts import Order, OrderRequest, error_body, order_placed, validation_error_body
from order_contracts.order import ORDER_ID_PATTERN
from order_web.adapters import IntakeUnavailable
from order_web.extensions import services, utc_now

bp = Blueprint("api", __name__, url_prefix="/api")
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_PATTERN = r"^[A-Za-z0-9_-]{8,60}$"


def web_order_id(idempotency_key: str | None) -> str:
    """Web orders get ids of their own: the client's idempotency key, or a fresh one."""
    return f"web-{idempotency_key or uuid.uuid4().hex}"


@bp.post("/orders")
def place_order() -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    if not request.is_json:
        return jsonify(error_body("unsupported_media_type", "send application/json")), 415
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not _matches(_KEY_PATTERN, key):
        message = f"{IDEMPOTENCY_HEADER}: 8-60 letters, digits, '-' or '_'"
        return jsonify(error_body("invalid_order", message)), 400
    try:
        order = Order.from_request(
            web_order_id(key), OrderRequest.model_validate_json(request.get_data())
        )
    except ValidationError as error:
        return jsonify(validation_error_body(error)), 400
    placed = order_placed(order, source="web", correlation_id=g.correlation_id, now=utc_now())
    try:
        services().publisher.publish(placed)
    except IntakeUnavailable:
        current_app.logger.exception("order-intake unreachable", extra={"order_id": order.order_id})
        return jsonify(
            error_body("try_again", "we could not take your order just now; try again")
        ), 503
    location = url_for("api.order_status", order_id=order.order_id)
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "status": "RECEIVED",
        "links": {"self": location},
    }
    return jsonify(body), 202, {"Location": location}


@bp.get("/orders/<order_id>")
def order_status(order_id: str) -> tuple[Response, int]:
    status = services().statuses.status(order_id) if _matches(ORDER_ID_PATTERN, order_id) else None
    if status is None:
        # Accepted orders appear here once fulfillment has recorded them, within seconds.
        return jsonify(error_body("not_found", f"no order {order_id!r} (yet)")), 404
    return jsonify(status), 200


def _matches(pattern: str, value: str) -> bool:
    import re

    return re.match(pattern, value) is not None
