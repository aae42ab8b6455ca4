"""The catalog door: readers list the catalog; catalog managers change products and restock.

Each step either returns what the next needs or raises ApiError; api_door.answer turns a
refusal into its response, in one place.
"""

from typing import Any, TypeVar

from chalice.app import Response
from pydantic import ValidationError

from chalicelib.api_door import ApiError, answer, json_response, request_body
from chalicelib.catalog import (
    InvalidSku,
    ProductChange,
    Restock,
    UnknownProduct,
    check_sku,
    differences,
)
from chalicelib.observability import log_context, logger, utc_now
from chalicelib.services import Services
from order_contracts import FieldProblem
from order_contracts.order import ContractModel

REFUSED = "catalog request refused"
Body = TypeVar("Body", bound=ContractModel)


def list_catalog(correlation_id: str, services: Services) -> Response:
    """Every product: SKU, name, price, currency and units available."""
    with log_context(correlation_id=correlation_id):
        return answer(lambda: json_response(200, {"items": _listing(services)}), REFUSED)


def put_product(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Create a product or change its name, price or currency; never its stock."""
    with log_context(sku=sku, correlation_id=correlation_id):
        return answer(lambda: _put_product(sku, raw_body, caller, services), REFUSED)


def restock(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Add units to a product's stock atomically (never overwriting what orders took)."""
    with log_context(sku=sku, correlation_id=correlation_id):
        return answer(lambda: _restock(sku, raw_body, caller, services), REFUSED)


def _listing(services: Services) -> list[dict[str, Any]]:
    return [product.document() for product in services.catalog.products()]


def _put_product(sku: str, raw_body: bytes | str, caller: str, services: Services) -> Response:
    try:
        check_sku(sku)
    except InvalidSku as error:
        problem = FieldProblem("sku", str(error))
        raise ApiError(400, "invalid_request", f"sku: {error}", [problem]) from error
    change = _parse(ProductChange, raw_body, services)
    saved = services.catalog.save(sku, change, caller, utc_now())
    logger.info(
        "catalog product created" if saved.created else "catalog product changed",
        extra={"caller": caller, "changes": differences(saved.before, saved.after)},
    )
    if saved.created:
        return json_response(201, saved.after.document(), {"Location": f"/catalog/{sku}"})
    return json_response(200, saved.after.document())


def _restock(sku: str, raw_body: bytes | str, caller: str, services: Services) -> Response:
    try:
        check_sku(sku)
    except InvalidSku as error:  # a malformed SKU names no product, as GET /orders does
        raise _not_found(UnknownProduct(sku)) from error
    quantity = _parse(Restock, raw_body, services).quantity
    try:
        available = services.catalog.restock(sku, quantity, caller, utc_now())
    except UnknownProduct as error:
        raise _not_found(error) from error
    # The ADD was atomic, so the units before it are exactly these.
    logger.info(
        "catalog product restocked",
        extra={
            "caller": caller,
            "added": quantity,
            "changes": {"available": {"old": available - quantity, "new": available}},
        },
    )
    return json_response(200, {"sku": sku, "available": available})


def _parse(model: type[Body], raw_body: bytes | str, services: Services) -> Body:
    body = request_body(raw_body, services.settings.max_body_bytes)
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise ApiError.invalid(error, "invalid_request") from error


def _not_found(error: UnknownProduct) -> ApiError:
    return ApiError(404, "not_found", str(error))
