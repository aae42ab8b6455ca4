"""Decode what arrives on the order-intake topic, whichever door the order came through."""

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

from pydantic import ValidationError

from chalicelib.failures import InvalidMessage
from order_contracts import CancelRequested, OrderPlaced
from order_contracts.order import ORDER_ID_PATTERN

ORDER_DOCUMENT_PREFIX = "orders/"
_DOCUMENT_KEY = re.compile(
    rf"^{re.escape(ORDER_DOCUMENT_PREFIX)}({ORDER_ID_PATTERN.strip('^$')})\.json$"
)

# (bucket, key) -> document text
FetchDocument = Callable[[str, str], str]


def document_key(order_id: str) -> str:
    """Return the S3 key under which the order API stores an order's OrderPlaced document."""
    return f"{ORDER_DOCUMENT_PREFIX}{order_id}.json"


def decode_intake_message(
    body: str, fetch_document: FetchDocument
) -> OrderPlaced | CancelRequested | None:
    """Return the OrderPlaced (or the web tier's CancelRequested) an intake message carries,
    or None for messages to ignore.

    Three shapes arrive on order-intake: an S3 ObjectCreated notification for a document the
    order API wrote (the document itself is an OrderPlaced event), an OrderPlaced the web
    tier published, and a CancelRequested the web tier published for one of its orders. Raw
    delivery is expected, but an SNS envelope is unwrapped too.
    """
    payload = _load_json(body)
    if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
        body = payload["Message"]
        payload = _load_json(body)
    if payload.get("Event") == "s3:TestEvent":
        return None
    if "Records" in payload:
        bucket, key = _created_object(payload["Records"])
        order_id = _order_id_of(key)  # before fetching: never read keys that are not orders
        return _parse_order_placed(fetch_document(bucket, key), expected_id=order_id)
    if payload.get("event_type") == "OrderPlaced":
        return _parse_order_placed(body, expected_id=None)
    if payload.get("event_type") == "CancelRequested":
        return _parse_cancel_request(body)
    raise InvalidMessage(
        "message is neither an S3 notification nor an OrderPlaced or CancelRequested event"
    )


def _load_json(body: str) -> dict[str, Any]:
    try:
        payload = json.loads(body, parse_float=Decimal)
    except ValueError as error:
        raise InvalidMessage(f"message body is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise InvalidMessage("message body is not a JSON object")
    return payload


def _created_object(records: Any) -> tuple[str, str]:
    # S3 sends one record per notification; anything else is not from our bucket.
    if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
        raise InvalidMessage("S3 notification must hold exactly one record")
    record = records[0]
    if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
        "ObjectCreated:"
    ):
        raise InvalidMessage(f"unexpected S3 event {record.get('eventName')!r}")
    try:
        bucket = record["s3"]["bucket"]["name"]
        # Keys in S3 notifications are URL-encoded, with spaces as '+'.
        key = unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, TypeError) as error:
        raise InvalidMessage("S3 notification lacks bucket or key") from error
    return str(bucket), key


def _order_id_of(key: str) -> str:
    match = _DOCUMENT_KEY.match(key)
    if match is None:
        raise InvalidMessage(f"S3 key {key!r} is not an order document")
    return match.group(1)


def _parse_order_placed(text: str, expected_id: str | None) -> OrderPlaced:
    try:
        placed = OrderPlaced.model_validate_json(text)
    except ValidationError as error:
        raise InvalidMessage(f"OrderPlaced is invalid: {error}") from error
    if expected_id is not None and placed.order_id != expected_id:
        raise InvalidMessage(f"document for {expected_id} holds order {placed.order_id}")
    return placed


def _parse_cancel_request(text: str) -> CancelRequested:
    try:
        return CancelRequested.model_validate_json(text)
    except ValidationError as error:
        raise InvalidMessage(f"CancelRequested is invalid: {error}") from error
