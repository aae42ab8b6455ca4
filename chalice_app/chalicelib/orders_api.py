"""The order API door: accept an order document once, report an order's progress, cancel it.

Each step either returns what the next needs or raises ApiError; api_door.answer turns a
refusal into its response, in one place.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime

from chalice.app import Response
from pydantic import ValidationError

from chalicelib.adapters.documents import DocumentConflict
from chalicelib.api_door import ApiError, answer, json_response, request_body
from chalicelib.cancellation import NotCancellable
from chalicelib.cancellation import cancel_order as cancel
from chalicelib.metrics import CountingPublisher, count
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.orders import OrderRecord
from chalicelib.services import Services
from order_contracts import (
    ORDER_ID_RULE,
    FieldProblem,
    Order,
    OrderPlaced,
    OrderRequest,
    correlation_id_or,
    is_order_id,
    order_placed,
)
from order_contracts.metrics import Metric
from order_contracts.status import OrderStatusView, StatusEntry

CORRELATION_HEADER = "x-correlation-id"
REFUSED = "order request refused"
# Guests exist only at the storefront (CSRF, per-address email limits); through the API a
# caller could have the pipeline mail any address it chose.
GUESTS_REFUSED = "guest customers order at the storefront; use a registered customer id"


def correlation_id_from(headers: Mapping[str, str], request_id: str | None) -> str:
    """Use the caller's correlation id when it is well formed, else API Gateway's request id."""
    return correlation_id_or(headers.get(CORRELATION_HEADER), request_id or str(uuid.uuid4()))


def put_order(
    order_id: str, raw_body: bytes | str, correlation_id: str, services: Services
) -> Response:
    """Validate the body and store the order document once (PUT is idempotent)."""
    with log_context(order_id=order_id, correlation_id=correlation_id):
        return answer(lambda: _put_order(order_id, raw_body, correlation_id, services), REFUSED)


def get_order(order_id: str, correlation_id: str, services: Services) -> Response:
    """Return the order's status and history; RECEIVED until fulfillment has recorded it."""
    with log_context(order_id=order_id, correlation_id=correlation_id):
        return answer(lambda: _get_order(order_id, services), REFUSED)


def cancel_order(order_id: str, correlation_id: str, services: Services) -> Response:
    """Cancel the order (a repeat is answered the same); answer with its status."""
    with log_context(order_id=order_id, correlation_id=correlation_id):
        return answer(lambda: _cancel_order(order_id, correlation_id, services), REFUSED)


def _put_order(
    order_id: str, raw_body: bytes | str, correlation_id: str, services: Services
) -> Response:
    _check_id(order_id)
    order = _parse(order_id, request_body(raw_body, services.settings.max_body_bytes))
    _refuse_guests(order)
    placed = order_placed(order, source="api", correlation_id=correlation_id, now=utc_now())
    created = _store_once(placed, services)
    if created:
        count(Metric.ORDERS_PLACED, "api")
    logger.info("order accepted" if created else "order already accepted, unchanged")
    return json_response(
        201 if created else 200,
        {"order_id": order_id, "status": "RECEIVED", "links": {"self": f"/orders/{order_id}"}},
        headers={"Location": f"/orders/{order_id}"},
    )


def _check_id(order_id: str) -> None:
    if not is_order_id(order_id):
        problem = FieldProblem("order_id", ORDER_ID_RULE)
        raise ApiError(400, "invalid_order", f"order_id: {ORDER_ID_RULE}", [problem])


def _parse(order_id: str, body: bytes) -> Order:
    try:
        return Order.from_request(order_id, OrderRequest.model_validate_json(body))
    except ValidationError as error:
        raise ApiError.invalid(error, "invalid_order") from error


def _refuse_guests(order: Order) -> None:
    if order.customer.is_guest:
        problem = FieldProblem("customer.customer_id", GUESTS_REFUSED)
        raise ApiError(400, "invalid_order", f"customer.customer_id: {GUESTS_REFUSED}", [problem])


def _store_once(placed: OrderPlaced, services: Services) -> bool:
    try:
        return services.documents.put_once(placed)
    except DocumentConflict as error:
        raise ApiError(
            409,
            "order_conflict",
            f"order {placed.order_id} already exists with a different body; "
            "use a new order id for a new order",
        ) from error


def _get_order(order_id: str, services: Services) -> Response:
    not_found = ApiError(404, "not_found", f"no order {order_id!r}")
    if not is_order_id(order_id):
        raise not_found
    record = services.store.get(order_id)
    if record is not None:
        return json_response(200, _view(record).document())
    received_at = services.documents.received_at(order_id)
    if received_at is None:
        raise not_found
    received = StatusEntry(status="RECEIVED", at=received_at, detail="via api")
    view = OrderStatusView(order_id=order_id, status="RECEIVED", history=[received])
    return json_response(200, view.document())


def _cancel_order(order_id: str, correlation_id: str, services: Services) -> Response:
    not_found = ApiError(404, "not_found", f"no order {order_id!r}")
    if not is_order_id(order_id):
        raise not_found
    try:
        record = cancel(
            order_id,
            store=services.store,
            documents=services.documents,
            publisher=CountingPublisher(services.publisher),
            now=utc_now,
            window=services.settings.cancellation_window,
            correlation_id=correlation_id,
        )
    except NotCancellable as refused:
        raise ApiError(409, "not_cancellable", str(refused)) from refused
    if record is None:
        raise not_found
    logger.info("order cancelled", extra={"status": record.status})
    return json_response(200, _view(record).document())


def _view(record: OrderRecord) -> OrderStatusView:
    return OrderStatusView(
        order_id=record.order_id,
        status=record.status,
        history=[
            StatusEntry(
                status=entry.status, at=datetime.fromisoformat(entry.at), detail=entry.detail
            )
            for entry in record.history
        ],
        rejection=record.rejection,
        order=record.order,
        billing=record.billing,
    )
