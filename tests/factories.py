"""Events and orders for tests.

chalice.test's generated SQS events give every record the same messageId, which hides
exactly the bugs batch and retry tests look for, so records are built here.
"""

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from order_contracts import Order, OrderPlaced, OrderRequest, order_placed
from tests.vectors import VALID

FULFILLMENT_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:order-fulfillment"
BILLING_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:order-billing"
NOW = "2026-11-21T10:00:00+00:00"


def order(
    order_id: str = "ord-1", lines: list[tuple[str, int, str]] | None = None, **changes: Any
) -> Order:
    """An order for the given (sku, quantity, unit price) lines, total computed."""
    body: dict[str, Any] = json.loads(json.dumps(VALID[0]["body"]))
    if lines is not None:
        body["lines"] = [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines]
        body["total"] = str(sum(Decimal(p) * q for _, q, p in lines))
    body.update(changes)
    return Order.from_request(order_id, OrderRequest.model_validate(body))


def placed(
    order_: Order, source: Literal["web", "api"] = "web", correlation_id: str = "corr-test"
) -> OrderPlaced:
    return order_placed(
        order_, source=source, correlation_id=correlation_id, now=datetime.fromisoformat(NOW)
    )


def sqs_record(
    body: str,
    *,
    message_id: str | None = None,
    receive_count: int = 1,
    attributes: dict[str, str] | None = None,
    queue_arn: str = FULFILLMENT_QUEUE_ARN,
) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": str(uuid.uuid4()),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1700000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1700000000000",
        },
        "messageAttributes": {
            name: {
                "stringValue": value,
                "dataType": "String",
                "stringListValues": [],
                "binaryListValues": [],
            }
            for name, value in (attributes or {}).items()
        },
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def s3_notification(bucket: str, key: str, event_name: str = "ObjectCreated:Put") -> str:
    """An S3 event notification as S3 publishes it to SNS (keys URL-encoded)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": NOW,
                    "eventName": event_name,
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {"key": quote(key, safe="/"), "size": 100},
                    },
                }
            ]
        }
    )
