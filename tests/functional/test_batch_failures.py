"""deploy/batch_failures.py, on moto: the post-deploy command gives chalice deploy's SQS
triggers partial batch responses and the database consumers' concurrency cap.
"""

import io
import zipfile

import boto3
import pytest
from moto import mock_aws

from chalicelib.pacing import notifications_concurrency
from deploy.batch_failures import NoQueueTriggers, report_batch_item_failures
from tests import ROOT
from tests.conftest import BOTO3_SESSION

MERGE_TEMPLATE = ROOT / "chalice_app" / "merge-template.json"


def _function(
    session: boto3.session.Session, name: str, role: str, variables: dict[str, str] | None = None
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return {}\n")
    session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": variables or {}},
    )


@mock_aws
def test_every_sqs_trigger_of_the_stage_reports_batch_item_failures() -> None:
    session = boto3.session.Session(region_name="us-east-1")
    role = session.client("iam").create_role(
        RoleName="order-pipeline-prod", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lambda_client, sqs = session.client("lambda"), session.client("sqs")
    # What chalice deploy leaves: mappings without FunctionResponseTypes.
    for function, queue in (
        ("process_order", "order-fulfillment"),
        ("initiate_billing", "order-billing"),
        ("customer_communications", "order-notifications"),
    ):
        _function(session, f"order-pipeline-prod-{function}", role)
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        lambda_client.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=f"order-pipeline-prod-{function}", BatchSize=10
        )
    _function(session, "order-pipeline-prod-record_ses_feedback", role)

    updated = report_batch_item_failures(lambda_client, "prod")
    again = report_batch_item_failures(lambda_client, "prod")

    assert sorted(arn.rsplit(":", 1)[1] for arn in updated) == [
        "order-billing",
        "order-fulfillment",
        "order-notifications",
    ]
    assert again == updated
    caps: dict[str, int | None] = {}
    for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = mapping["EventSourceArn"].rsplit(":", 1)[1]
        caps[queue] = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    # The billing database's and SES's consumers are capped; fulfilment scales freely. With
    # no SES rate known, the notifications cap is the production default's (14 a second).
    assert caps == {"order-fulfillment": None, "order-billing": 5, "order-notifications": 3}

    # An account whose SES quota was raised to 50 a second: more environments, each paced.
    report_batch_item_failures(lambda_client, "prod", send_rate=50)
    notifications = [
        mapping
        for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]
        if mapping["EventSourceArn"].endswith(":order-notifications")
    ]
    assert [m["ScalingConfig"]["MaximumConcurrency"] for m in notifications] == [
        notifications_concurrency(50)
    ]
    assert notifications_concurrency(50) > 2


@mock_aws
def test_a_stage_not_deployed_is_an_error_not_a_silent_success() -> None:
    with pytest.raises(NoQueueTriggers, match="chalice deploy first"):
        report_batch_item_failures(BOTO3_SESSION.client("lambda", region_name="us-east-1"), "prod")


@mock_aws
def test_the_notifications_trigger_is_the_concurrency_the_function_paces_by() -> None:
    """stage_config wrote NOTIFICATIONS_MAXIMUM_CONCURRENCY (say for a quota since raised):
    the trigger follows the function's own number, or its sends would exceed the rate."""
    session = boto3.session.Session(region_name="us-east-1")
    role = session.client("iam").create_role(
        RoleName="order-pipeline-prod", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    lambda_client, sqs = session.client("lambda"), session.client("sqs")
    name = "order-pipeline-prod-customer_communications"
    _function(session, name, role, {"NOTIFICATIONS_MAXIMUM_CONCURRENCY": "4"})
    url = sqs.create_queue(QueueName="order-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)

    report_batch_item_failures(lambda_client, "prod", send_rate=1)

    [mapping] = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 4}
    assert notifications_concurrency(1) != 4  # not what the rate alone would have set
