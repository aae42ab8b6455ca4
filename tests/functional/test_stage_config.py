"""deploy/stage_config.py on moto: the stacks moto's CloudFormation can create, created in
moto, feeding the stage configuration.

moto's CloudFormation skips resource types it does not implement (with a warning) and then
fails on any Ref, GetAtt or output that names a skipped resource. So each template is cut to
the subset moto supports, plus everything that depends only on that subset; the cut is
asserted below (it is the measurement), and the few outputs the stage needs from cut
resources (Aurora cluster, its secret, the SES identity and configuration set) come from the
same resources created in moto through their own APIs.
"""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.adapters.sql.database import database_from_url
from chalicelib.settings import Settings
from deploy import stage_config
from local_stack.resources import RESOURCES
from tests import ROOT
from tests.conftest import BOTO3_SESSION
from tests.moto_stacks import create_stacks

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"
PARAMETERS = {
    "messaging": {"SenderDomain": "shop.example.com"},
    "edge": {"DomainName": "shop.example.com"},
}
# A region the module's stacks are not in (moto in process keeps them while the module runs).
OTHER_REGION = "eu-west-1"
EMPTY_REGION = "ap-southeast-2"  # no test creates stacks there
# Measured with moto 5.2: the resource types its CloudFormation does not create.
NOT_IN_MOTO = {
    "network": set(),
    "security": {
        "AWS::EC2::SecurityGroupEgress",
        "AWS::ApiGateway::Account",
        "AWS::IAM::ServiceLinkedRole",
    },
    "messaging": {
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::Subscription",
        "AWS::CloudWatch::Alarm",
        "AWS::SES::ConfigurationSet",
        "AWS::SES::ConfigurationSetEventDestination",
        "AWS::SES::EmailIdentity",
        "AWS::XRay::ResourcePolicy",
    },
    "data": {
        "AWS::S3::BucketPolicy",
        "AWS::SecretsManager::Secret",
        "AWS::SecretsManager::SecretTargetAttachment",
        "AWS::RDS::DBCluster",
    },
    "edge": {
        "AWS::CertificateManager::Certificate",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::WebACLAssociation",
        "AWS::WAFv2::LoggingConfiguration",
    },
    "observability": {"AWS::CloudWatch::Alarm"},
}
# Outputs lost with the cut resources that the stage configuration needs.
STAND_IN_OUTPUTS = {
    "messaging": {"SesConfigurationSetName", "SesIdentityName"},
    "data": {"BillingClusterArn", "BillingSecretArn"},
}


@pytest.fixture(scope="module")
def deployed() -> Iterator[boto3.session.Session]:
    """Every stack of the issue created in moto's CloudFormation, in deploy order."""
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        cuts = create_stacks(session, PARAMETERS)
        for key, (cut_types, cut_outputs) in cuts.items():
            assert cut_types == NOT_IN_MOTO[key], key
            assert STAND_IN_OUTPUTS.get(key, set()) <= cut_outputs
        yield session


def test_moto_creates_the_queues_with_their_dead_letter_queues_and_our_key(
    deployed: boto3.session.Session,
) -> None:
    sqs = deployed.client("sqs")
    outputs = stage_config.read_outputs(deployed.client("cloudformation"))
    for queue in RESOURCES.queues:
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":{queue.dead_letter_name}")
        assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
        assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout
        assert attributes["KmsMasterKeyId"] == outputs["security"]["KeyArn"]


def test_moto_creates_the_tables_and_topics(deployed: boto3.session.Session) -> None:
    dynamodb = deployed.client("dynamodb")
    for table in RESOURCES.tables:
        described = dynamodb.describe_table(TableName=table.name)["Table"]
        assert described["KeySchema"] == [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
    topics = {arn.rsplit(":", 1)[1] for arn in _topic_arns(deployed)}
    assert set(RESOURCES.topics) <= topics


def test_moto_creates_the_dashboard_with_the_load_balancers_metric_names(
    deployed: boto3.session.Session,
) -> None:
    body = json.loads(
        deployed.client("cloudwatch").get_dashboard(DashboardName="order-pipeline")["DashboardBody"]
    )
    edge = stage_config.read_outputs(deployed.client("cloudformation"), ["edge"])["edge"]
    balancer_metrics = [
        entry
        for widget in body["widgets"]
        for entry in widget["properties"]["metrics"]
        if entry[0] == "AWS/ApplicationELB"
    ]
    healthy = next(entry for entry in balancer_metrics if entry[1] == "HealthyHostCount")
    # targetgroup/NAME/ID, cut from the edge stack's target group ARN.
    assert healthy[3] == edge["TargetGroupArn"].split(":")[5]
    assert healthy[3].startswith("targetgroup/")
    assert healthy[5] == edge["LoadBalancerFullName"]


def _topic_arns(session: boto3.session.Session) -> list[str]:
    return [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]


def test_moto_ignores_subscriptions_and_bucket_notifications(
    deployed: boto3.session.Session,
) -> None:
    """Measured: the two kinds of wiring only the template tests can check."""
    assert deployed.client("sns").list_subscriptions()["Subscriptions"] == []
    bucket = f"{RESOURCES.bucket.name_prefix}-123456789012-us-east-1"
    notification = deployed.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    assert "TopicConfigurations" not in notification


def test_the_stage_configuration_comes_from_the_stacks_outputs(
    deployed: boto3.session.Session, tmp_path: Path
) -> None:
    chalice_dir = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, chalice_dir)
    dev_before = json.loads((chalice_dir / "config.json").read_text())["stages"]["dev"]

    # moto has no sesv2 GetAccount: the send rate is given (test_ses_send_rate_* read it).
    arguments = ["--stage", "prod", "--region", "us-east-1", "--chalice-dir", str(chalice_dir)]
    stage_config.main([*arguments, "--ses-send-rate", "14"])

    config = json.loads((chalice_dir / "config.json").read_text())
    assert config["stages"]["dev"] == dev_before
    prod = config["stages"]["prod"]
    assert prod["iam_policy_file"] == "policy-prod.json"
    environment = prod["environment_variables"]
    settings = Settings.from_env(environment)
    assert settings.max_receive_count == 5
    assert settings.ses_max_send_rate == 14
    # The web hosts' window, from the one setting both read.
    assert settings.cancellation_window_hours == stage_config.cancellation_window_hours()
    # The notifications trigger's concurrency for that rate, which the function paces by.
    assert settings.notifications_maximum_concurrency == 3
    assert settings.order_events_topic_arn in _topic_arns(deployed)
    assert settings.orders_bucket == f"{RESOURCES.bucket.name_prefix}-123456789012-us-east-1"
    assert (settings.ses_sender, settings.ses_configuration_set) == (
        "orders@shop.example.com",
        "order-pipeline",
    )
    # The emails link to the storefront, signed with the production web hosts' link key.
    assert settings.storefront_url == "https://shop.example.com"
    assert settings.order_link_key_parameter == "/order-pipeline/production/order-links/key"
    runner = database_from_url(settings.billing_database_url, deployed)
    cluster = deployed.client("rds").describe_db_clusters()["DBClusters"][0]
    secret = deployed.client("secretsmanager").describe_secret(
        SecretId="order-pipeline-billing-master"
    )
    assert runner._target == {  # type: ignore[attr-defined]
        "resourceArn": cluster["DBClusterArn"],
        "secretArn": secret["ARN"],
        "database": "billing",
    }

    policy = json.loads((chalice_dir / "policy-prod.json").read_text())
    # X-Ray has no resource-level permissions: "*", for the two actions that write traces only.
    (traces,) = [s for s in policy["Statement"] if s["Resource"] == "*"]
    assert traces["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = {
        resource
        for statement in policy["Statement"]
        if statement is not traces
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    }
    queue_arns = {
        deployed.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for url in deployed.client("sqs").list_queues()["QueueUrls"]
    }
    table_arns = {
        deployed.client("dynamodb").describe_table(TableName=t.name)["Table"]["TableArn"]
        for t in RESOURCES.tables
    }
    assert queue_arns <= resources  # the three queues and their three DLQs
    assert table_arns <= resources
    # GET /catalog scans the inventory table, and no other table may be scanned.
    inventory_arn = deployed.client("dynamodb").describe_table(TableName="inventory")["Table"][
        "TableArn"
    ]
    scans = [
        statement["Resource"]
        for statement in policy["Statement"]
        if "dynamodb:Scan" in statement["Action"]
    ]
    assert scans == [inventory_arn]
    assert settings.order_events_topic_arn in resources
    assert cluster["DBClusterArn"] in resources
    # A missing order is a 404 only with ListBucket, and a GET or HEAD carries no s3:prefix.
    (listing,) = [s for s in policy["Statement"] if s["Action"] == "s3:ListBucket"]
    assert listing["Resource"].endswith(f":::{settings.orders_bucket}")
    assert "Condition" not in listing
    # Lambda creates its own log group on the chalice deploy path: the group's ARN, not ":*".
    (logs,) = [s for s in policy["Statement"] if "logs:CreateLogGroup" in s["Action"]]
    assert (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/order-pipeline-prod"
        in (logs["Resource"])
    )
    (link_key,) = [s for s in policy["Statement"] if s["Action"] == "ssm:GetParameter"]
    assert link_key["Resource"] == (
        "arn:aws:ssm:us-east-1:123456789012:parameter/order-pipeline/production/order-links/key"
    )
    # SES checks the recipient's identity too in the sandbox: any identity, from our sender only.
    (send,) = [s for s in policy["Statement"] if s["Action"] == "ses:SendEmail"]
    assert send["Resource"][0] == "arn:aws:ses:us-east-1:123456789012:identity/*"
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": settings.ses_sender}}
    for resource in resources:  # exact ARNs: only object keys and log streams end in a wildcard
        _, _, _, region, account, name = resource.split(":", 5)
        assert "*" not in region + account, resource
        if resource in send["Resource"]:
            name = name.removesuffix("identity/*")  # held to the sender by the condition
        assert "*" not in name.removesuffix("/orders/*").removesuffix(":*"), resource


def test_ses_send_rate_is_the_accounts_max_send_rate() -> None:
    sesv2 = BOTO3_SESSION.client("sesv2", region_name="us-east-1")
    with Stubber(sesv2) as stub:
        stub.add_response(
            "get_account",
            {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 3.0}},
        )
        assert stage_config.ses_send_rate(sesv2) == 14.0


def test_ses_send_rate_unreadable_leaves_email_unpaced() -> None:
    sesv2 = BOTO3_SESSION.client("sesv2", region_name="us-east-1")
    with Stubber(sesv2) as stub:
        stub.add_client_error("get_account", "AccessDeniedException", http_status_code=403)
        assert stage_config.ses_send_rate(sesv2) is None


def test_a_stage_without_the_edge_stack_is_configured_without_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An API-only stage, or one whose certificate is pending: no storefront, no links."""
    chalice_dir = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, chalice_dir)
    with mock_aws():  # in a region of its own: the module's stacks may be in moto already
        session = boto3.session.Session(region_name=OTHER_REGION)
        create_stacks(session, PARAMETERS, keys=("network", "security", "messaging", "data"))
        stage_config.configure_stage(session.client("cloudformation"), "prod", chalice_dir)

    environment = json.loads((chalice_dir / "config.json").read_text())["stages"]["prod"][
        "environment_variables"
    ]
    assert "STOREFRONT_URL" not in environment
    assert "ORDER_LINK_KEY_PARAMETER" not in environment
    assert Settings.from_env(environment).storefront_url == ""
    policy = json.loads((chalice_dir / "policy-prod.json").read_text())
    assert [s for s in policy["Statement"] if s["Action"] == "ssm:GetParameter"] == []
    [said] = [line for line in capsys.readouterr().out.splitlines() if "storefront" in line]
    assert "order-pipeline-edge" in said
    assert "no order links" in said


def test_a_missing_stack_is_an_error_that_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chalice_dir = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, chalice_dir)
    with mock_aws(), pytest.raises(SystemExit) as exited:
        stage_config.main(
            [
                "--stage",
                "prod",
                "--chalice-dir",
                str(chalice_dir),
                "--ses-send-rate",
                "14",
                "--region",
                EMPTY_REGION,
            ]
        )

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "does not exist" in error
    assert "deploy the stacks first" in error
    assert "Traceback" not in error


def test_the_cancellation_window_comes_from_the_playbooks_shared_setting(
    deployed: boto3.session.Session, tmp_path: Path
) -> None:
    chalice_dir = tmp_path / ".chalice"
    shutil.copytree(CHALICE_DIR, chalice_dir)
    group_vars = tmp_path / "all.yml"
    group_vars.write_text("order_pipeline_cancellation_window_hours: 48\n")
    cloudformation = deployed.client("cloudformation")

    stage_config.configure_stage(cloudformation, "prod", chalice_dir, group_vars=group_vars)

    config = json.loads((chalice_dir / "config.json").read_text())
    assert config["stages"]["prod"]["environment_variables"]["CANCELLATION_WINDOW_HOURS"] == "48"
    group_vars.write_text("order_pipeline_cancellation_window_hours: a day\n")
    with pytest.raises(stage_config.StageConfigError, match="cancellation_window_hours"):
        stage_config.configure_stage(cloudformation, "prod", chalice_dir, group_vars=group_vars)
