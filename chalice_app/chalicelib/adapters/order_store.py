"""The orders, inventory and counters tables in DynamoDB."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import ConfigDict, TypeAdapter

from chalicelib.adapters import shard
from chalicelib.adapters.in_flight import (
    PLACED_AT_ATTRIBUTE,
    SHARD_ATTRIBUTE,
    shard_of,
    sortable_instant,
)
from chalicelib.orders import (
    HistoryEntry,
    OrderAlreadyRecorded,
    OrderRecord,
    ReservationRefused,
    Transition,
)
from order_contracts import Billing, Order, OrderCancelled, OrderPlaced, OrderRejected
from order_contracts.events import (
    CurrencyMismatch,
    PriceChanged,
    RejectionReason,
    StockShortage,
)
from order_contracts.money import has_at_most_minor_units, round_money
from order_contracts.status import FINAL_STATUSES

ORDERS_RESERVED = "orders_reserved"
ORDERS_REJECTED = "orders_rejected"
ORDERS_CANCELLED = "orders_cancelled"
# Each count is spread over this many items ("orders_reserved#17"), the order's shard chosen by
# a hash of its id, and summed on read. One item takes at most 1,000 write units a second and
# a transactional write costs two, so a single counter item capped every reservation of the
# system at 500 a second and made any two overlapping reservations conflict on it; 64 shards
# raise that to 32,000 a second, past the table's default on-demand quota (40,000 write units
# a second, ~4 per reservation), and two orders meet on a shard 1 time in 64. The sum is exact:
# each ADD is in the transaction that records the outcome. A read is one BatchGetItem of 65
# keys (the shards and the unsharded item earlier versions wrote, so no count is lost).
COUNTER_SHARDS = 64
_BATCH_GET_LIMIT = 100

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
# Built on first use, as the contract models are (their defer_build).
_rejection_reasons: TypeAdapter[list[RejectionReason]] = TypeAdapter(
    list[RejectionReason], config=ConfigDict(defer_build=True)
)


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class DynamoOrderStore:
    def __init__(
        self, client: Any, *, orders_table: str, inventory_table: str, counters_table: str
    ) -> None:
        self._dynamodb = client
        self._orders = orders_table
        self._inventory = inventory_table
        self._counters = counters_table

    def count(self, counter: str) -> int:
        """The counter's value: the sum of its shards."""
        keys = [counter, *(_shard_name(counter, shard) for shard in range(COUNTER_SHARDS))]
        total = 0
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._counters: {
                    "Keys": [
                        _to_item({"name": key}) for key in keys[start : start + _BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                items = response.get("Responses", {}).get(self._counters, [])
                total += sum(int(_from_item(item).get("value", 0)) for item in items)
                request = response.get("UnprocessedKeys") or {}
        return total

    def get(self, order_id: str) -> OrderRecord | None:
        response = self._dynamodb.get_item(
            TableName=self._orders, Key=_to_item({"order_id": order_id}), ConsistentRead=True
        )
        return _record(_from_item(response["Item"])) if "Item" in response else None

    def reserve(self, placed: OrderPlaced, record: OrderRecord) -> None:
        order = placed.order
        quantities = order.quantities_by_sku()
        # The contract makes every line of a SKU carry the same unit price.
        prices = {line.sku: line.unit_price for line in order.lines}
        decrements = [
            {
                "Update": {
                    "TableName": self._inventory,
                    "Key": _to_item({"sku": sku}),
                    "UpdateExpression": "SET stock = stock - :quantity",
                    # Never below zero, and only at the catalog's price in the order's
                    # currency (numbers compare as numbers: 39 = 39.00), checked in the same
                    # write, so a price changed since the order was placed is caught too.
                    "ConditionExpression": (
                        "attribute_exists(sku) AND stock >= :quantity"
                        " AND #price = :price AND #currency = :currency"
                    ),
                    "ExpressionAttributeNames": {"#price": "price", "#currency": "currency"},
                    "ExpressionAttributeValues": _to_item(
                        {":quantity": quantity, ":price": prices[sku], ":currency": order.currency}
                    ),
                    # The current item in CancellationReasons tells which condition failed.
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for sku, quantity in quantities.items()
        ]
        put = self._order_put(placed, record)
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[put, *decrements, self._count(ORDERS_RESERVED, placed.order_id)]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            if _failed_condition(reasons, 0):
                raise OrderAlreadyRecorded(placed.order_id) from error
            refusals = [
                _refusal(sku, quantity, prices[sku], order.currency, reasons[position])
                for position, (sku, quantity) in enumerate(quantities.items(), start=1)
                if _failed_condition(reasons, position)
            ]
            if not refusals:  # a conflict with a concurrent transaction: worth a retry
                raise
            raise ReservationRefused(refusals) from error

    def reject(self, placed: OrderPlaced, record: OrderRecord) -> None:
        self._record_without_stock(placed, record, ORDERS_REJECTED)

    def cancel_received(self, placed: OrderPlaced, record: OrderRecord) -> None:
        self._record_without_stock(placed, record, ORDERS_CANCELLED)

    def _record_without_stock(self, placed: OrderPlaced, record: OrderRecord, counter: str) -> None:
        put = self._order_put(placed, record)
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[put, self._count(counter, placed.order_id)]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if _failed_condition(reasons, 0):
                raise OrderAlreadyRecorded(placed.order_id) from error
            raise

    def advance(self, move: Transition) -> OrderRecord | None:
        # The SET clause takes it: _step may end the expression with a REMOVE clause.
        step = self._step(move, also_set=", billing = :billing" if move.billing else "")
        if move.billing is not None:
            # In its JSON form, as the rejection reasons: an amount keeps its exact digits.
            step["ExpressionAttributeValues"].update(
                _to_item({":billing": move.billing.model_dump(mode="json")})
            )
        try:
            response = self._dynamodb.update_item(**step)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _record(_from_item(response["Attributes"]))

    def reject_reserved(self, rejected: OrderRejected) -> OrderRecord | None:
        order = rejected.order
        step = self._step(
            Transition("RESERVED", "REJECTED", rejected), also_set=", rejection = :rejection"
        )
        step["ExpressionAttributeValues"].update(
            _to_item({":rejection": _reasons(rejected.reasons)})
        )
        del step["ReturnValues"]
        return self._release(step, order, ORDERS_REJECTED)

    def cancel(self, cancelled: OrderCancelled) -> OrderRecord | None:
        if not cancelled.held_stock:  # nothing recorded, nothing held: cancel_received's case
            return None
        move = Transition(cancelled.cancelled_from, "CANCELLED", cancelled, "stock returned")
        step = self._step(move)
        del step["ReturnValues"]
        return self._release(step, cancelled.order, ORDERS_CANCELLED)

    def _release(self, step: dict[str, Any], order: Order, counter: str) -> OrderRecord | None:
        """Make the order's move and give its stock back in one transaction; None if the
        order was not where the move expected it."""
        restock = [
            {
                "Update": {
                    "TableName": self._inventory,
                    "Key": _to_item({"sku": sku}),
                    "UpdateExpression": "ADD stock :quantity",
                    "ExpressionAttributeValues": _to_item({":quantity": quantity}),
                }
            }
            for sku, quantity in order.quantities_by_sku().items()
        ]
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[{"Update": step}, *restock, self._count(counter, order.order_id)]
            )
        except ClientError as error:
            if _failed_condition(error.response.get("CancellationReasons", []), 0):
                return None
            raise
        return self.get(order.order_id)

    def mark_published(self, order_id: str, event_json: str) -> None:
        try:
            self._dynamodb.update_item(
                TableName=self._orders,
                Key=_to_item({"order_id": order_id}),
                UpdateExpression="REMOVE pending_event",
                # A later step may have put its own event there since: leave that one alone.
                ConditionExpression="pending_event = :published",
                ExpressionAttributeValues=_to_item({":published": event_json}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _step(self, move: Transition, also_set: str = "") -> dict[str, Any]:
        update = (
            "SET #status = :status, pending_event = :event, "
            f"history = list_append(history, :entry){also_set}"
        )
        if move.status in FINAL_STATUSES:  # out of the in-flight index, in the same write
            update += f" REMOVE {SHARD_ATTRIBUTE}"
        return {
            "TableName": self._orders,
            "Key": _to_item({"order_id": move.order_id}),
            "UpdateExpression": update,
            "ConditionExpression": "#status = :expected",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _to_item(
                {
                    ":status": move.status,
                    ":expected": move.expected,
                    ":event": move.event.to_json(),
                    ":entry": [asdict(move.entry)],
                }
            ),
            "ReturnValues": "ALL_NEW",
        }

    def _order_put(self, placed: OrderPlaced, record: OrderRecord) -> dict[str, Any]:
        order = placed.order
        item = {
            "order_id": record.order_id,
            "status": record.status,
            "fingerprint": record.fingerprint,
            "history": [asdict(entry) for entry in record.history],
            "rejection": _reasons(record.rejection),
            "pending_event": record.pending_event,
            "order": order.model_dump(),
            "customer_id": order.customer.customer_id,
            "currency": order.currency,
            "total": order.total,
            "source": placed.source,
            "correlation_id": placed.correlation_id,
            PLACED_AT_ATTRIBUTE: sortable_instant(record.placed_at),
        }
        if record.status not in FINAL_STATUSES:  # in the in-flight index until it is final
            item[SHARD_ATTRIBUTE] = shard_of(record.order_id)
        return {
            "Put": {
                "TableName": self._orders,
                "Item": _to_item(item),
                "ConditionExpression": "attribute_not_exists(order_id)",
            }
        }

    def _count(self, counter: str, order_id: str) -> dict[str, Any]:
        """Add one to the counter's shard of this order (see COUNTER_SHARDS)."""
        return {
            "Update": {
                "TableName": self._counters,
                "Key": _to_item({"name": _shard_name(counter, counter_shard(order_id))}),
                "UpdateExpression": "ADD #value :one",
                "ExpressionAttributeNames": {"#value": "value"},
                "ExpressionAttributeValues": _to_item({":one": 1}),
            }
        }


def counter_shard(order_id: str) -> int:
    """The shard an order counts in: stable (a retry adds to the same item), evenly spread."""
    return shard(order_id, COUNTER_SHARDS)


def _shard_name(counter: str, shard: int) -> str:
    return f"{counter}#{shard}"


def counter_name(item_name: str) -> str:
    """The counter of an item of the counters table ("orders_reserved#17": orders_reserved)."""
    return item_name.split("#", 1)[0]


def counter_totals(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each counter's value from the counters table's items (a scan): the sum of its shards."""
    totals: dict[str, int] = {}
    for item in items:
        name = counter_name(str(item["name"]))
        totals[name] = totals.get(name, 0) + int(item["value"])
    return totals


def _failed_condition(reasons: Sequence[Mapping[str, Any]], position: int) -> bool:
    return position < len(reasons) and reasons[position].get("Code") == "ConditionalCheckFailed"


def _refusal(
    sku: str, requested: int, offered: Decimal, currency: str, reason: Mapping[str, Any]
) -> RejectionReason:
    """Say why the catalog refused a SKU: unknown, then currency, then price, then stock."""
    item = _from_item(reason.get("Item", {}))
    # An item with no price or currency is not for sale: to the customer, it is not there.
    if "price" not in item or "currency" not in item:
        return StockShortage(sku=sku, reason="unknown_sku", requested=requested, available=0)
    if item["currency"] != currency:
        return CurrencyMismatch(sku=sku, order_currency=currency, catalog_currency=item["currency"])
    if item["price"] != offered:
        return PriceChanged(
            sku=sku, offered_price=offered, catalog_price=_in_minor_units(item["price"], currency)
        )
    available = int(item.get("stock", 0))
    return StockShortage(
        sku=sku, reason="out_of_stock", requested=requested, available=max(available, 0)
    )


def _in_minor_units(price: Decimal, currency: str) -> Decimal:
    """Write a catalog price as the order's prices are (DynamoDB returns 12.50 as 12.5)."""
    return round_money(price, currency) if has_at_most_minor_units(price, currency) else price


def _reasons(reasons: Sequence[RejectionReason]) -> list[dict[str, Any]]:
    """Rejection reasons as stored: in their JSON form, so a price keeps its exact digits.

    A DynamoDB number would not: it is stored without trailing zeros (12.50 comes back 12.5).
    """
    return [reason.model_dump(mode="json") for reason in reasons]


def _record(item: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        order_id=item["order_id"],
        status=item["status"],
        fingerprint=item["fingerprint"],
        history=[
            HistoryEntry(entry["status"], entry["at"], entry.get("detail", ""))
            for entry in item.get("history", [])
        ],
        order=_order(item["order"]),
        rejection=_rejection_reasons.validate_python(
            [
                {key: _integer(value) for key, value in reason.items()}
                for reason in item.get("rejection", [])
            ]
        ),
        pending_event=item.get("pending_event"),
        billing=Billing.model_validate(item["billing"]) if "billing" in item else None,
        correlation_id=item.get("correlation_id", ""),
    )


def _order(stored: dict[str, Any]) -> Order:
    """The order as placed; DynamoDB gives its numbers back as Decimal, quantities are ints."""
    lines = [{**line, "quantity": int(line["quantity"])} for line in stored["lines"]]
    return Order.model_validate({**stored, "lines": lines})


def _integer(value: Any) -> Any:
    """The counts of a reason (requested, available) as the int they were; nothing else."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value
