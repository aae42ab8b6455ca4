"""The catalog in the inventory table (DynamoDB): sku, name, price N, currency S, stock N."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.catalog import Product, ProductChange, SavedProduct, UnknownProduct

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Stock is left out on purpose: orders decrement it concurrently (the reservation
# transaction), so a write of a value read earlier would undo their reservations.
# if_not_exists gives a new product its stock of 0 and leaves an existing one's alone.
SAVE_PRODUCT = (
    "SET #name = :name, #price = :price, #currency = :currency, "
    "updated_by = :caller, updated_at = :at, stock = if_not_exists(stock, :zero)"
)
# ADD is applied by DynamoDB to the stored value: units reserved meanwhile stay reserved.
RESTOCK = "SET updated_by = :caller, updated_at = :at ADD stock :quantity"


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _python(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class DynamoCatalog:
    def __init__(self, client: Any, table: str) -> None:
        self._dynamodb = client
        self._table = table

    def products(self) -> list[Product]:
        products: list[Product] = []
        # Consistent: a manager who just restocked sees the units in the next listing.
        request: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            page = self._dynamodb.scan(**request)
            for item in page.get("Items", []):
                product = _product(_python(item))
                if product is not None:
                    products.append(product)
            if "LastEvaluatedKey" not in page:
                return sorted(products, key=lambda product: product.sku)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def names(self, skus: Iterable[str]) -> dict[str, str]:
        """The name of each SKU the catalog has, for the emails (one BatchGetItem per 100)."""
        wanted = list(dict.fromkeys(skus))
        names: dict[str, str] = {}
        for start in range(0, len(wanted), 100):  # BatchGetItem's limit per request
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [_values({"sku": sku}) for sku in wanted[start : start + 100]],
                    "ProjectionExpression": "sku, #name",
                    "ExpressionAttributeNames": {"#name": "name"},
                }
            }
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    found = _python(item)
                    if "name" in found:
                        names[found["sku"]] = str(found["name"])
                # Keys DynamoDB did not get to (throttled, or over its size limit): again.
                request = response.get("UnprocessedKeys") or {}
        return names

    def save(self, sku: str, change: ProductChange, caller: str, at: datetime) -> SavedProduct:
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key=_values({"sku": sku}),
            UpdateExpression=SAVE_PRODUCT,
            # name is a reserved word in DynamoDB expressions; the others are named alike.
            ExpressionAttributeNames={"#name": "name", "#price": "price", "#currency": "currency"},
            ExpressionAttributeValues=_values(
                {
                    ":name": change.name,
                    ":price": change.price,
                    ":currency": change.currency,
                    ":caller": caller,
                    ":at": at.isoformat(),
                    ":zero": 0,
                }
            ),
            # The item as it was, in the same atomic write: tells new from changed, gives
            # the old values for the log, and the stock this write left as it was.
            ReturnValues="ALL_OLD",
        )
        old = _python(response.get("Attributes", {}))
        after = Product(
            sku=sku,
            name=change.name,
            price=change.price,
            currency=change.currency,
            available=_available(old),
        )
        return SavedProduct(created=not old, before=_product(old), after=after)

    def restock(self, sku: str, quantity: int, caller: str, at: datetime) -> int:
        try:
            response = self._dynamodb.update_item(
                TableName=self._table,
                Key=_values({"sku": sku}),
                UpdateExpression=RESTOCK,
                # ADD would otherwise create an item holding only stock: a product nobody named.
                ConditionExpression="attribute_exists(sku)",
                ExpressionAttributeValues=_values(
                    {":quantity": quantity, ":caller": caller, ":at": at.isoformat()}
                ),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownProduct(sku) from error
            raise
        return _available(_python(response["Attributes"]))


def _available(item: dict[str, Any]) -> int:
    return max(int(item.get("stock", 0)), 0)


def _product(item: dict[str, Any]) -> Product | None:
    """The product an item describes; None for no item, or one without a price or currency
    (not for sale: the reservation refuses it too, and a PUT prices it)."""
    if "price" not in item or "currency" not in item:
        return None
    return Product(
        sku=item["sku"],
        name=str(item.get("name", item["sku"])),
        price=item["price"],
        currency=item["currency"],
        available=_available(item),
    )
