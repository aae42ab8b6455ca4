"""The order every benchmark places: a registered customer of the demo contact book."""

import json
from decimal import Decimal
from typing import Any

ORDER_BODY = {
    "customer": {
        "customer_id": "cust-0001",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "country": "GB",
    },
    "currency": "EUR",
    "lines": [{"sku": "TEA-EARLGREY", "quantity": 1, "unit_price": "4.50"}],
    "total": "4.50",
}


def order_body(lines: list[tuple[str, int, str]] | None = None) -> str:
    """ORDER_BODY as JSON, with these (sku, quantity, unit price) lines and their total."""
    if lines is None:
        return json.dumps(ORDER_BODY)
    total = sum(Decimal(price) * quantity for _, quantity, price in lines)
    return json.dumps(
        {
            **ORDER_BODY,
            "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
            "total": str(total),
        }
    )


def catalog_item(sku: str, unit_price: str, stock: int) -> dict[str, Any]:
    """The inventory item that prices a benchmark line: the catalog is the price authority."""
    return {
        "sku": sku,
        "name": sku.title(),
        "price": Decimal(unit_price),
        "currency": ORDER_BODY["currency"],
        "stock": stock,
    }
