"""One decoding function for both shapes that reach the order-intake topic."""

import json
from datetime import UTC, datetime

import pytest

from chalicelib.failures import InvalidMessage
from chalicelib.intake import decode_intake_message, document_key
from order_contracts import CancelRequested
from tests.factories import order, placed, s3_notification

BUCKET = "order-pipeline-orders-123456789012-us-east-1"


class Documents:
    def __init__(self, documents: dict[tuple[str, str], str]) -> None:
        self.documents = documents
        self.fetched: list[tuple[str, str]] = []

    def fetch(self, bucket: str, key: str) -> str:
        self.fetched.append((bucket, key))
        return self.documents[(bucket, key)]


def test_order_placed_from_the_web_tier_decodes_without_s3() -> None:
    event = placed(order("ord-1"), source="web")
    documents = Documents({})
    assert decode_intake_message(event.to_json(), documents.fetch) == event
    assert documents.fetched == []


def test_s3_notification_reads_the_document_it_points_to() -> None:
    event = placed(order("ord-1"), source="api")
    documents = Documents({(BUCKET, "orders/ord-1.json"): event.to_json()})
    assert (
        decode_intake_message(s3_notification(BUCKET, "orders/ord-1.json"), documents.fetch)
        == event
    )


def test_s3_keys_are_url_decoded() -> None:
    event = placed(order("ord_1-a"), source="api")
    documents = Documents({(BUCKET, "orders/ord_1-a.json"): event.to_json()})
    encoded = json.loads(s3_notification(BUCKET, "x"))
    encoded["Records"][0]["s3"]["object"]["key"] = "orders%2Ford_1%2Da.json"
    assert decode_intake_message(json.dumps(encoded), documents.fetch) == event
    assert documents.fetched == [(BUCKET, "orders/ord_1-a.json")]


def test_s3_test_event_is_ignored() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert decode_intake_message(body, Documents({}).fetch) is None


def test_sns_envelope_is_unwrapped_when_raw_delivery_is_off() -> None:
    event = placed(order("ord-1"))
    envelope = json.dumps({"Type": "Notification", "MessageId": "m", "Message": event.to_json()})
    assert decode_intake_message(envelope, Documents({}).fetch) == event


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"hello": "world"}', "neither an S3 notification nor an OrderPlaced"),
        ('{"event_type": "OrderPlaced", "order_id": "x"}', "OrderPlaced is invalid"),
        ('{"Records": []}', "exactly one record"),
        (
            s3_notification(BUCKET, "orders/ord-1.json", "ObjectRemoved:Delete"),
            "unexpected S3 event",
        ),
        (s3_notification(BUCKET, "uploads/ord-1.json"), "is not an order document"),
    ],
)
def test_malformed_messages_are_invalid_with_a_reason(body: str, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode_intake_message(body, Documents({}).fetch)


def test_a_document_under_another_orders_key_is_refused() -> None:
    documents = Documents({(BUCKET, "orders/ord-1.json"): placed(order("ord-2")).to_json()})
    with pytest.raises(InvalidMessage, match="holds order ord-2"):
        decode_intake_message(s3_notification(BUCKET, document_key("ord-1")), documents.fetch)


def test_the_storefronts_cancel_request_decodes_without_s3() -> None:
    request = CancelRequested(
        order_id="web-1", requested_at=datetime(2026, 11, 21, tzinfo=UTC), correlation_id="c"
    )
    documents = Documents({})
    assert decode_intake_message(request.to_json(), documents.fetch) == request
    assert documents.fetched == []


def test_a_malformed_cancel_request_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessage, match="CancelRequested is invalid"):
        decode_intake_message('{"event_type": "CancelRequested"}', Documents({}).fetch)
