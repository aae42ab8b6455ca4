"""The web tier's AWS access: publish OrderPlaced, read the catalog and an order's status."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from order_contracts import OrderPlaced


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    price: Decimal
    currency: str
    in_stock: bool


class IntakePublisher:
    """Publishes to order-intake, the one topic the web hosts may publish to."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic_arn = topic_arn

    def publish(self, placed: OrderPlaced) -> None:
        self._sns.publish(
            TopicArn=self._topic_arn,
            Message=placed.to_json(),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in placed.attributes().items()
            },
        )


class Catalog:
    def __init__(self, client: Any, table: str) -> None:
        self._dynamodb = client
        self._table = table

    def items(self) -> list[CatalogItem]:
        """Every SKU, sorted by name (the catalog is small: one page of a scan)."""
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

    def status(self, order_id: str) -> dict[str, Any] | None:
        """The order's status and history as the pipeline recorded them, or None."""
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key={"order_id": {"S": order_id}},
            ProjectionExpression="order_id, #status, history, rejection",
            ExpressionAttributeNames={"#status": "status"},
        )
        if "Item" not in response:
            return None
        item = response["Item"]
        return {
            "order_id": item["order_id"]["S"],
            "status": item["status"]["S"],
            "history": [
                {key: value["S"] for key, value in entry["M"].items()}
                for entry in item.get("history", {"L": []})["L"]
            ],
        }
