"""The catalog door: readers list the catalog; catalog managers change products and restock."""

from chalice.app import Response

from chalicelib.services import Services


def list_catalog(correlation_id: str, services: Services) -> Response:
    """Every product: SKU, name, price, currency and units available."""
    raise NotImplementedError


def put_product(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Create a product or change its name, price or currency; never its stock."""
    raise NotImplementedError


def restock(
    sku: str, raw_body: bytes | str, caller: str, correlation_id: str, services: Services
) -> Response:
    """Add units to a product's stock atomically (never overwriting what orders took)."""
    raise NotImplementedError
