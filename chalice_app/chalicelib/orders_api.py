"""The order API door: accept an order document once, report an order's progress."""

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from chalice.app import Response
from pydantic import ValidationError

from chalicelib.adapters.documents import DocumentConflict
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.services import Services
from order_contracts import (
    ORDER_ID_PATTERN,
    Order,
    OrderRequest,
    correlation_id_or,
    error_body,
    order_placed,
    validation_error_body,
)
from order_contracts.errors import FieldProblem

CORRELATION_HEADER = "x-correlation-id"
_ORDER_ID = re.compile(ORDER_ID_PATTERN)


def correlation_id_from(headers: Mapping[str, str], request_id: str | None) -> str:
    """Use the caller's correlation id when it is well formed, else API Gateway's request id."""
    return correlation_id_or(headers.get(CORRELATION_HEADER), request_id or str(uuid.uuid4()))


def put_order(
    order_id: str, raw_body: bytes | str, correlation_id: str, services: Services
) -> Response:
    """Validate the body and store the order document once (PUT is idempotent)."""
    with log_context(order_id=order_id, correlation_id=correlation_id):
        if not _ORDER_ID.match(order_id):
            return _json(
                400,
                error_body(
                    "invalid_order",
                    "order_id: must be 1-64 letters, digits, '-' or '_'",
                    [FieldProblem("order_id", "must be 1-64 letters, digits, '-' or '_'")],
                ),
            )
        if isinstance(raw_body, str):
            raw_body = raw_body.encode()
        if len(raw_body) > services.settings.max_body_bytes:
            return _json(
                413,
                error_body(
                    "body_too_large",
                    f"the body is {len(raw_body)} bytes; the limit is "
                    f"{services.settings.max_body_bytes}",
                ),
            )
        try:
            order = Order.from_request(order_id, OrderRequest.model_validate_json(raw_body))
        except ValidationError as error:
            body = validation_error_body(error)
            logger.info("order rejected at the door", extra={"problems": body["problems"]})
            return _json(400, body)
        if order.customer.is_guest:
            # Guests exist only at the storefront (CSRF, per-address email limits); through
            # the API a caller could have the pipeline mail any address it chose.
            message = "guest customers order at the storefront; use a registered customer id"
            logger.info("guest order refused at the API door")
            return _json(
                400,
                error_body(
                    "invalid_order",
                    f"customer.customer_id: {message}",
                    [FieldProblem("customer.customer_id", message)],
                ),
            )
        placed = order_placed(order, source="api", correlation_id=correlation_id, now=utc_now())
        try:
            created = services.documents.put_once(placed)
        except DocumentConflict:
            return _json(
                409,
                error_body(
                    "order_conflict",
                    f"order {order_id} already exists with a different body; "
                    "use a new order id for a new order",
                ),
            )
        logger.info("order accepted" if created else "order already accepted, unchanged")
        return _json(
            201 if created else 200,
            {"order_id": order_id, "status": "RECEIVED", "links": {"self": f"/orders/{order_id}"}},
            headers={"Location": f"/orders/{order_id}"},
        )


def get_order(order_id: str, correlation_id: str, services: Services) -> Response:
    """Return the order's status and history; RECEIVED until fulfillment has recorded it."""
    with log_context(order_id=order_id, correlation_id=correlation_id):
        if not _ORDER_ID.match(order_id):
            return _json(404, error_body("not_found", f"no order {order_id!r}"))
        record = services.store.get(order_id)
        if record is not None:
            return _json(
                200,
                {
                    "order_id": order_id,
                    "status": record.status,
                    "history": [entry.__dict__ for entry in record.history],
                    "rejection": [reason.model_dump(mode="json") for reason in record.rejection],
                },
            )
        received_at = services.documents.received_at(order_id)
        if received_at is None:
            return _json(404, error_body("not_found", f"no order {order_id!r}"))
        history = [{"status": "RECEIVED", "at": received_at.isoformat(), "detail": "via api"}]
        return _json(200, {"order_id": order_id, "status": "RECEIVED", "history": history})


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
