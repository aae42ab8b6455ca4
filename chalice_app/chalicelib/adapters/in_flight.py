"""The orders table's sparse index of orders in flight, which the stuck-order watchdog reads.

An order record carries `in_flight_shard` only while it is not final (DynamoOrderStore writes
it with the reservation and removes it in the write that makes the order final), so the
index `orders-in-flight` holds exactly the orders still moving, sorted by placement time:
finding those placed before a cutoff is one Query per shard, never a Scan of the table.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import shard

IN_FLIGHT_INDEX = "orders-in-flight"
SHARD_ATTRIBUTE = "in_flight_shard"
PLACED_AT_ATTRIBUTE = "placed_at"
# One index partition takes at most 1,000 write units a second, and each order writes two
# (entering the index and leaving it): a few shards keep a flash sale off that limit, and
# the watchdog pays one Query per shard per run.
SHARDS = 4


def shard_of(order_id: str) -> str:
    """The order's index partition: stable, and spread evenly over SHARDS."""
    return str(shard(order_id, SHARDS))


def sortable_instant(moment: datetime) -> str:
    """An instant as a fixed-width UTC string, so the index's sort key orders it as time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class DynamoInFlightOrders:
    def __init__(self, client: Any, orders_table: str) -> None:
        self._dynamodb = client
        self._orders = orders_table

    def placed_before(self, cutoff: datetime) -> Iterator[str]:
        """The ids of orders in flight placed before cutoff, oldest first within each shard.

        The index is eventually consistent: an order that has just become final may still
        be listed, so the caller reads each record before it believes it.
        """
        for partition in range(SHARDS):
            query: dict[str, Any] = {
                "TableName": self._orders,
                "IndexName": IN_FLIGHT_INDEX,
                "KeyConditionExpression": "#shard = :shard AND #placed_at < :cutoff",
                "ExpressionAttributeNames": {
                    "#shard": SHARD_ATTRIBUTE,
                    "#placed_at": PLACED_AT_ATTRIBUTE,
                },
                "ExpressionAttributeValues": {
                    ":shard": {"S": str(partition)},
                    ":cutoff": {"S": sortable_instant(cutoff)},
                },
            }
            while True:
                page = self._dynamodb.query(**query)
                for item in page["Items"]:
                    yield item["order_id"]["S"]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
