"""The catalog door: readers list the catalog; catalog managers change products and restock."""

import json
from collections.abc import Callable
from typing import Any

from chalice.app import Response
from pydantic import ValidationError

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
from order_contracts import error_body, validation_error_body
from order_contracts.errors import FieldProblem


class BodyTooLarge(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the body is {size} bytes; the limit is {limit}")


def list_catalog(correlation_id: str, services: Services) -> Response:
    """Every product: SKU, name, price, currency and units available."""
    with log_context(correlation_id=correlation_id):
        return _answer(lambda: _json(200, {"items": _listing(services)}))


def put_product(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Create a product or change its name, price or currency; never its stock."""
    with log_context(sku=sku, correlation_id=correlation_id):
        return _answer(lambda: _put_product(sku, raw_body, caller, services))


def restock(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Add units to a product's stock atomically (never overwriting what orders took)."""
    with log_context(sku=sku, correlation_id=correlation_id):
        return _answer(lambda: _restock(sku, raw_body, caller, services))


def _listing(services: Services) -> list[dict[str, Any]]:
    return [product.document() for product in services.catalog.products()]


def _put_product(sku: str, raw_body: bytes | str, caller: str, services: Services) -> Response:
    check_sku(sku)
    change = ProductChange.model_validate_json(_body(raw_body, services))
    saved = services.catalog.save(sku, change, caller, utc_now())
    logger.info(
        "catalog product created" if saved.created else "catalog product changed",
        extra={"caller": caller, "changes": differences(saved.before, saved.after)},
    )
    if saved.created:
        return _json(201, saved.after.document(), {"Location": f"/catalog/{sku}"})
    return _json(200, saved.after.document())


def _restock(sku: str, raw_body: bytes | str, caller: str, services: Services) -> Response:
    try:
        check_sku(sku)
    except InvalidSku as error:  # a malformed SKU names no product, as GET /orders does
        raise UnknownProduct(sku) from error
    quantity = Restock.model_validate_json(_body(raw_body, services)).quantity
    available = services.catalog.restock(sku, quantity, caller, utc_now())
    # The ADD was atomic, so the units before it are exactly these.
    logger.info(
        "catalog product restocked",
        extra={
            "caller": caller,
            "added": quantity,
            "changes": {"available": {"old": available - quantity, "new": available}},
        },
    )
    return _json(200, {"sku": sku, "available": available})


def _body(raw_body: bytes | str, services: Services) -> bytes:
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body or b""
    limit = services.settings.max_body_bytes
    if len(body) > limit:
        raise BodyTooLarge(len(body), limit)
    return body


def _answer(work: Callable[[], Response]) -> Response:
    """Run the request; the one place where a refusal becomes its HTTP status and error body."""
    try:
        return work()
    except ValidationError as error:
        status, body = 400, {**validation_error_body(error), "error": "invalid_request"}
    except InvalidSku as error:
        problem = FieldProblem("sku", str(error))
        status, body = 400, error_body("invalid_request", f"sku: {error}", [problem])
    except UnknownProduct as error:
        status, body = 404, error_body("not_found", str(error))
    except BodyTooLarge as error:
        status, body = 413, error_body("body_too_large", str(error))
    logger.info(
        "catalog request refused", extra={"error": body["error"], "problems": body.get("problems")}
    )
    return _json(status, body)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
