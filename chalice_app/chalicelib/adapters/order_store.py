"""The orders, inventory and counters tables in DynamoDB."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from chalicelib.reservation import (
    HistoryEntry,
    OrderAlreadyRecorded,
    OrderRecord,
    OrderStatus,
    StockUnavailable,
)
from order_contracts import AnyEvent, Order, OrderPlaced, OrderRejected, OrderReserved
from order_contracts.events import RejectionReason, StockShortage

ORDERS_RESERVED = "orders_reserved"
ORDERS_REJECTED = "orders_rejected"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_rejection_reasons: TypeAdapter[list[RejectionReason]] = TypeAdapter(list[RejectionReason])


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

    def get(self, order_id: str) -> OrderRecord | None:
        response = self._dynamodb.get_item(
            TableName=self._orders, Key=_to_item({"order_id": order_id}), ConsistentRead=True
        )
        return _record(_from_item(response["Item"])) if "Item" in response else None

    def reserve(self, placed: OrderPlaced, event: OrderReserved) -> OrderRecord:
        quantities = placed.order.quantities_by_sku()
        decrements = [
            {
                "Update": {
                    "TableName": self._inventory,
                    "Key": _to_item({"sku": sku}),
                    "UpdateExpression": "SET stock = stock - :quantity",
                    # Never below zero: the decrement happens only if the stock covers it.
                    "ConditionExpression": "attribute_exists(sku) AND stock >= :quantity",
                    "ExpressionAttributeValues": _to_item({":quantity": quantity}),
                    # The current item in CancellationReasons tells out-of-stock from unknown.
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for sku, quantity in quantities.items()
        ]
        record, put = self._order_put(placed, "RESERVED", event)
        try:
            self._dynamodb.transact_write_items(
                TransactItems=[put, *decrements, self._count(ORDERS_RESERVED)]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            if _failed_condition(reasons, 0):
                raise OrderAlreadyRecorded(placed.order_id) from error
            shortages = [
                _shortage(sku, quantity, reasons[position])
                for position, (sku, quantity) in enumerate(quantities.items(), start=1)
                if _failed_condition(reasons, position)
            ]
            if not shortages:  # a conflict with a concurrent transaction: worth a retry
                raise
            raise StockUnavailable(shortages) from error
        return record

    def reject(self, placed: OrderPlaced, event: OrderRejected) -> OrderRecord:
        record, put = self._order_put(placed, "REJECTED", event)
        try:
            self._dynamodb.transact_write_items(TransactItems=[put, self._count(ORDERS_REJECTED)])
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if _failed_condition(reasons, 0):
                raise OrderAlreadyRecorded(placed.order_id) from error
            raise
        return record

    def advance(
        self,
        order_id: str,
        expected: OrderStatus,
        status: OrderStatus,
        event: AnyEvent,
        detail: str = "",
    ) -> OrderRecord | None:
        step = self._step(order_id, expected, status, event, detail)
        try:
            response = self._dynamodb.update_item(**step)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return _record(_from_item(response["Attributes"]))

    def release(self, order: Order, event: OrderRejected) -> OrderRecord | None:
        step = self._step(order.order_id, "RESERVED", "REJECTED", event)
        step["UpdateExpression"] += ", rejection = :rejection"
        step["ExpressionAttributeValues"].update(
            _to_item({":rejection": [reason.model_dump() for reason in event.reasons]})
        )
        del step["ReturnValues"]
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
                TransactItems=[{"Update": step}, *restock, self._count(ORDERS_REJECTED)]
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

    def _step(
        self,
        order_id: str,
        expected: OrderStatus,
        status: OrderStatus,
        event: AnyEvent,
        detail: str = "",
    ) -> dict[str, Any]:
        entry = asdict(HistoryEntry(status, event.occurred_at.isoformat(), detail))
        return {
            "TableName": self._orders,
            "Key": _to_item({"order_id": order_id}),
            "UpdateExpression": (
                "SET #status = :status, pending_event = :event, "
                "history = list_append(history, :entry)"
            ),
            "ConditionExpression": "#status = :expected",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _to_item(
                {
                    ":status": status,
                    ":expected": expected,
                    ":event": event.to_json(),
                    ":entry": [entry],
                }
            ),
            "ReturnValues": "ALL_NEW",
        }

    def _order_put(
        self, placed: OrderPlaced, status: OrderStatus, event: OrderReserved | OrderRejected
    ) -> tuple[OrderRecord, dict[str, Any]]:
        record = OrderRecord(
            order_id=placed.order_id,
            status=status,
            fingerprint=placed.order.fingerprint(),
            history=[
                HistoryEntry("RECEIVED", placed.occurred_at.isoformat(), f"via {placed.source}"),
                HistoryEntry(status, event.occurred_at.isoformat()),
            ],
            rejection=event.reasons if isinstance(event, OrderRejected) else [],
            pending_event=event.to_json(),
        )
        order = placed.order
        item = {
            "order_id": record.order_id,
            "status": record.status,
            "fingerprint": record.fingerprint,
            "history": [asdict(entry) for entry in record.history],
            "rejection": [reason.model_dump() for reason in record.rejection],
            "pending_event": record.pending_event,
            "order": order.model_dump(),
            "customer_id": order.customer.customer_id,
            "currency": order.currency,
            "total": order.total,
            "source": placed.source,
            "correlation_id": placed.correlation_id,
        }
        put = {
            "Put": {
                "TableName": self._orders,
                "Item": _to_item(item),
                "ConditionExpression": "attribute_not_exists(order_id)",
            }
        }
        return record, put

    def _count(self, counter: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._counters,
                "Key": _to_item({"name": counter}),
                "UpdateExpression": "ADD #value :one",
                "ExpressionAttributeNames": {"#value": "value"},
                "ExpressionAttributeValues": _to_item({":one": 1}),
            }
        }


def _failed_condition(reasons: Sequence[Mapping[str, Any]], position: int) -> bool:
    return position < len(reasons) and reasons[position].get("Code") == "ConditionalCheckFailed"


def _shortage(sku: str, requested: int, reason: Mapping[str, Any]) -> StockShortage:
    if "Item" not in reason:
        return StockShortage(sku=sku, reason="unknown_sku", requested=requested, available=0)
    available = int(_from_item(reason["Item"]).get("stock", 0))
    return StockShortage(
        sku=sku, reason="out_of_stock", requested=requested, available=max(available, 0)
    )


def _record(item: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        order_id=item["order_id"],
        status=item["status"],
        fingerprint=item["fingerprint"],
        history=[
            HistoryEntry(entry["status"], entry["at"], entry.get("detail", ""))
            for entry in item.get("history", [])
        ],
        rejection=_rejection_reasons.validate_python(
            [
                {
                    key: int(value) if isinstance(value, Decimal) else value
                    for key, value in r.items()
                }
                for r in item.get("rejection", [])
            ]
        ),
        pending_event=item.get("pending_event"),
    )
