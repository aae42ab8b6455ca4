"""chalicelib/orders_api.py, the order API door (with adapters/documents.py on moto): PUT
once, idempotent, 400/409/413 with no side effects, GET status.
"""

import json

import pytest
from chalice.test import Client

from local_stack.resources import Provisioned
from tests.conftest import BOTO3_SESSION, put_order
from tests.vectors import INVALID, VALID, raw_body


def stored_keys(provisioned: Provisioned) -> list[str]:
    listing = BOTO3_SESSION.client("s3").list_object_versions(Bucket=provisioned.bucket)
    return [version["Key"] for version in listing.get("Versions", [])]


def test_put_stores_the_order_document_once(client: Client, aws: Provisioned) -> None:
    response = put_order(client, "ord-1", raw_body(VALID[0]), {"X-Correlation-Id": "corr-42"})
    assert response.status_code == 201
    assert response.json_body == {
        "order_id": "ord-1",
        "status": "RECEIVED",
        "links": {"self": "/orders/ord-1"},
    }
    assert response.headers["Location"] == "/orders/ord-1"
    document = json.loads(
        BOTO3_SESSION.client("s3")
        .get_object(Bucket=aws.bucket, Key="orders/ord-1.json")["Body"]
        .read()
    )
    assert document["event_type"] == "OrderPlaced"
    assert document["source"] == "api"
    assert document["correlation_id"] == "corr-42"
    assert document["order"]["total"] == "21.00"


def test_same_body_again_is_a_success_that_changes_nothing(
    client: Client, aws: Provisioned
) -> None:
    assert put_order(client, "ord-1", raw_body(VALID[0])).status_code == 201
    s3 = BOTO3_SESSION.client("s3")
    first = s3.head_object(Bucket=aws.bucket, Key="orders/ord-1.json")
    # Same order, written differently: numbers instead of strings.
    again = put_order(client, "ord-1", raw_body(VALID[1]))
    assert again.status_code == 200
    assert again.json_body["status"] == "RECEIVED"
    assert s3.head_object(Bucket=aws.bucket, Key="orders/ord-1.json")["ETag"] == first["ETag"]
    assert stored_keys(aws) == ["orders/ord-1.json"]


def test_different_body_for_an_existing_id_is_a_conflict(client: Client, aws: Provisioned) -> None:
    assert put_order(client, "ord-1", raw_body(VALID[0])).status_code == 201
    response = put_order(client, "ord-1", raw_body(VALID[2]))
    assert response.status_code == 409
    assert response.json_body["error"] == "order_conflict"
    assert stored_keys(aws) == ["orders/ord-1.json"]


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_every_invalid_body_is_400_naming_the_field_and_stores_nothing(
    client: Client, aws: Provisioned, case: dict
) -> None:
    response = put_order(client, "ord-1", raw_body(case))
    assert response.status_code == 400
    assert response.json_body["error"] == "invalid_order"
    assert case["field"] in [problem["field"] for problem in response.json_body["problems"]]
    assert stored_keys(aws) == []


@pytest.mark.parametrize("order_id", ["-starts-with-dash", "a" * 65, "has.dot", "bang!"])
def test_bad_order_ids_are_400_and_store_nothing(
    client: Client, aws: Provisioned, order_id: str
) -> None:
    response = put_order(client, order_id, raw_body(VALID[0]))
    assert response.status_code == 400
    assert response.json_body["problems"][0]["field"] == "order_id"
    assert stored_keys(aws) == []


def test_oversized_body_is_413_and_stores_nothing(client: Client, aws: Provisioned) -> None:
    body = json.dumps({**VALID[0]["body"], "padding": "x" * 70_000})
    response = put_order(client, "ord-1", body)
    assert response.status_code == 413
    assert response.json_body["error"] == "body_too_large"
    assert stored_keys(aws) == []


def test_non_json_content_type_is_refused(client: Client, aws: Provisioned) -> None:
    response = client.http.put("/orders/ord-1", headers={"Content-Type": "text/plain"}, body="hi")
    assert response.status_code == 415
    assert stored_keys(aws) == []


def test_get_unknown_order_is_404(client: Client) -> None:
    response = client.http.get("/orders/nope")
    assert response.status_code == 404
    assert response.json_body["error"] == "not_found"


def test_get_is_received_before_fulfillment_has_run(client: Client) -> None:
    put_order(client, "ord-1", raw_body(VALID[0]))
    response = client.http.get("/orders/ord-1")
    assert response.status_code == 200
    assert response.json_body["status"] == "RECEIVED"
    assert [entry["status"] for entry in response.json_body["history"]] == ["RECEIVED"]
