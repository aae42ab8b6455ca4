"""The web tier's readers: the catalog, and an order's status as the pipeline recorded it.

Publishing OrderPlaced (the group-commit publisher) is order_web.publisher.
"""

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from order_contracts.status import OrderStatusView
from order_web.orders import CatalogItem

_deserializer = TypeDeserializer()


class Catalog:
    """The catalog as the storefront shows it and prices its form from.

    Read at most once per max_age seconds per process: every page view and every order post
    needs it, and a scan per post was the web tier's largest cost per order. A price that
    changed within max_age is still safe: the reservation checks each line's price and
    currency against the catalog item itself and rejects the order (price_changed).
    """

    def __init__(
        self,
        client: Any,
        table: str,
        max_age: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb = client
        self._table = table
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[CatalogItem]] | None = None

    def items(self) -> list[CatalogItem]:
        """Every SKU, sorted by name; at most max_age seconds old."""
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._max_age:
                self._cached = (now, self._scan())
            return list(self._cached[1])

    def _scan(self) -> list[CatalogItem]:
        items: list[CatalogItem] = []
        request: dict[str, Any] = {"TableName": self._table}
        while True:
            page = self._dynamodb.scan(**request)
            items.extend(_catalog_item(item) for item in page.get("Items", []) if "price" in item)
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda item: item.name)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def reachable(self) -> bool:
        self._dynamodb.describe_table(TableName=self._table)
        return True


def _catalog_item(item: dict[str, Any]) -> CatalogItem:
    return CatalogItem(
        sku=item["sku"]["S"],
        name=item.get("name", item["sku"])["S"],
        price=Decimal(item["price"]["N"]),
        currency=item["currency"]["S"],
        in_stock=int(item.get("stock", {"N": "0"})["N"]) > 0,
    )


class OrderStatuses:
    def __init__(self, client: Any, table: str) -> None:
        self._dynamodb = client
        self._table = table

    def status(self, order_id: str) -> OrderStatusView | None:
        """The order's status, history, lines, billing and rejection reasons as the pipeline
        recorded them."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key={"order_id": {"S": order_id}},
            ProjectionExpression="order_id, #status, history, rejection, #order, billing",
            # Both are reserved words in DynamoDB expressions.
            ExpressionAttributeNames={"#status": "status", "#order": "order"},
        )
        if "Item" not in response:
            return None
        item = {key: _deserializer.deserialize(value) for key, value in response["Item"].items()}
        # The contract validates what fulfillment stored: each reason can say itself in words.
        return OrderStatusView.from_item(item)
