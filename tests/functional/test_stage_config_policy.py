"""The functions' IAM policies allow every AWS call the handlers make.

The handlers run a representative flow through the Chalice test client on moto (an order put
through the API, fulfilled, billed, emailed with its signed links, cancelled; the catalog;
SES feedback; the day's rates; the watchdog; a dead letter; a copy put back on contention),
with a recorder on the boto3 session their clients are built from. Each call is then turned
into the IAM actions and resources AWS authorizes it against (tests/iam.py) and checked
against the policy deploy/stage_config.py renders from the stacks' outputs (created in moto,
as test_stage_config.py does) and against chalice_app/.chalice/policy-dev.json.

What the flow cannot reach on moto: the billing database is SQLite here, so its rds-data and
secretsmanager calls are not recorded (test_stage_config.py checks those statements name the
cluster and the secret); X-Ray and the logs are written by Lambda, not by our clients.
"""

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.communications import Contact
from chalicelib.services import get_services
from deploy import stage_config
from local_stack.resources import Provisioned
from order_contracts import OrderBilled
from tests import ROOT
from tests.conftest import EventTap, Inventory, invoke, replace_services
from tests.factories import BILLING_QUEUE_ARN, order, placed, s3_notification, sqs_record
from tests.functional.conftest import LimitedAws
from tests.functional.test_fx import NEXT_DAY_FEED
from tests.functional.test_stage_config import PARAMETERS
from tests.iam import CallRecorder, Permission, allows, required_permissions
from tests.moto_stacks import create_stacks

JSON = {"Content-Type": "application/json"}
NOTIFICATIONS_QUEUE_ARN = BILLING_QUEUE_ARN.replace("billing", "notifications")
FULFILLMENT_QUEUE_ARN = BILLING_QUEUE_ARN.replace("billing", "fulfillment")
# The local stack's link key is /order-pipeline/local/...: render the policy for that web stage.
WEB_STAGE = "local"
DEV_POLICY = ROOT / "chalice_app" / ".chalice" / "policy-dev.json"


@pytest.fixture(scope="module")
def stage() -> tuple[dict[str, Any], str]:
    """The policy stage_config renders from the stacks made in moto, and their key's ARN."""
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        create_stacks(session, PARAMETERS)
        outputs = stage_config.read_outputs(session.client("cloudformation"))
    return stage_config.policy(outputs, "prod", WEB_STAGE), outputs["security"]["KeyArn"]


def events_of(published: EventTap, event_type: str) -> list[dict[str, Any]]:
    return [body for body, _ in published.drain() if body["event_type"] == event_type]


def delivered(body: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {"event_type": body["event_type"], "correlation_id": body["correlation_id"]}
    return sqs_record(json.dumps(body), attributes=attributes, queue_arn=queue_arn)


def scheduled(client: Client, function: str) -> None:
    event = client.events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
    client.lambda_.invoke(function, event)


def run_the_flow(client: Client, aws: Provisioned, limited: LimitedAws) -> None:
    """Every handler, on the paths that reach AWS."""
    published = EventTap(aws)
    Inventory().stock("MUG-BLUE", 10, price="12.00")
    get_services().contacts.save_contact(Contact("cust-0001", "Ada", "ada@example.com"))
    o = order("ord-1", [("MUG-BLUE", 2, "12.00")])
    body = json.dumps({k: v for k, v in o.document().items() if k != "order_id"})
    # The API: the order, its status, the catalog.
    assert client.http.put("/orders/ord-1", headers=JSON, body=body).status_code == 201
    assert client.http.get("/orders/ord-1").status_code == 200
    assert client.http.get("/catalog").status_code == 200
    product = {"name": "Tea", "price": "4.50", "currency": "EUR"}
    assert client.http.put("/catalog/TEA-1", headers=JSON, body=json.dumps(product)).status_code
    assert client.http.post("/catalog/TEA-1/restock", headers=JSON, body='{"quantity": 3}')
    # The pipeline: fulfilled from the document, billed, emailed (with the product's name and
    # the signed links), cancelled, the cancellation billed and emailed.
    notification = sqs_record(s3_notification(aws.bucket, "orders/ord-1.json"))
    assert invoke(client, "process_order", notification) == []
    [reserved] = events_of(published, "OrderReserved")
    assert invoke(client, "initiate_billing", delivered(reserved, BILLING_QUEUE_ARN)) == []
    [billed] = events_of(published, "OrderBilled")
    OrderBilled.model_validate(billed)
    assert (
        invoke(client, "customer_communications", delivered(billed, NOTIFICATIONS_QUEUE_ARN)) == []
    )
    assert client.http.post("/orders/ord-1/cancel", headers=JSON).status_code == 200
    [cancelled] = events_of(published, "OrderCancelled")
    assert invoke(client, "initiate_billing", delivered(cancelled, BILLING_QUEUE_ARN)) == []
    notice = delivered(cancelled, NOTIFICATIONS_QUEUE_ARN)
    assert invoke(client, "customer_communications", notice) == []
    # SES feedback, the day's rates, the watchdog.
    bounce = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "b@x.io"}]},
    }
    client.lambda_.invoke(
        "record_ses_feedback", client.events.generate_sns_event(message=json.dumps(bounce))
    )
    replace_services(fetch_rates_feed=lambda: NEXT_DAY_FEED)
    scheduled(client, "refresh_exchange_rates")
    scheduled(client, "watch_stuck_orders")
    # A message failing on its last receive is dead-lettered with its reason (not reported).
    junk = sqs_record("{}", queue_arn=BILLING_QUEUE_ARN, receive_count=5)
    assert invoke(client, "initiate_billing", junk) == []
    # An order meeting contention past its retries goes back on its queue as a delayed copy.
    with limited.model.hold("inventory", {"sku": {"S": "MUG-BLUE"}}):
        contended = placed(order("ord-2", [("MUG-BLUE", 1, "12.00")])).to_json()
        record = sqs_record(contended, queue_arn=FULFILLMENT_QUEUE_ARN, receive_count=5)
        assert invoke(client, "process_order", record) == []


def record_the_flow(
    client: Client, aws: Provisioned, aws_limits: Callable[..., LimitedAws]
) -> CallRecorder:
    """What the handlers call on AWS while running the flow."""
    # The emails carry signed links: the handlers read the link key from SSM.
    aws.environment["STOREFRONT_URL"] = "https://shop.example.com"
    limited = aws_limits()
    assert not any(lazy.built for lazy in limited.services.clients)  # all built after this
    recorder = CallRecorder()
    recorder.install(limited.session)
    run_the_flow(client, aws, limited)
    return recorder


def assert_representative(calls: CallRecorder) -> None:
    """The flow made the calls that once lacked a permission, and the usual ones."""
    assert {
        ("dynamodb", "BatchGetItem"),  # the product names in the emails
        ("dynamodb", "TransactWriteItems"),
        ("dynamodb", "Query"),
        ("dynamodb", "Scan"),
        ("s3", "GetObject"),
        ("s3", "PutObject"),
        ("sns", "Publish"),
        ("sesv2", "SendEmail"),
        ("ssm", "GetParameter"),  # the link key
        ("sqs", "SendMessage"),  # the dead letter, and the copy put back on contention
    } <= calls.operations
    requeued = [
        call
        for call in calls.calls
        if call.operation == "SendMessage" and not call.params["QueueUrl"].endswith("-dlq")
    ]
    assert requeued, "no copy was put back on its queue"


def missing(policy: dict[str, Any], needed: list[Permission]) -> str:
    return "\n".join(str(permission) for permission in needed if not allows(policy, permission))


def test_the_stage_and_dev_policies_allow_every_call_the_handlers_make(
    client: Client,
    aws: Provisioned,
    aws_limits: Callable[..., LimitedAws],
    stage: tuple[dict[str, Any], str],
) -> None:
    calls = record_the_flow(client, aws, aws_limits)
    assert_representative(calls)

    policy, key_arn = stage
    assert missing(policy, required_permissions(calls.calls, key_arn)) == ""
    dev_policy = json.loads(DEV_POLICY.read_text())
    assert missing(dev_policy, required_permissions(calls.calls)) == ""
