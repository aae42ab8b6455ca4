"""Fill a Chalice stage from the stacks' outputs: its environment and a resource-scoped policy.

Usage: PYTHONPATH=chalice_app python -m deploy.stage_config --stage prod [--region REGION]
       [--chalice-dir DIR] [--ses-send-rate N]

Writes the stage's environment_variables into .chalice/config.json and .chalice/policy-<stage>.json
with the exact ARNs the stacks created, so no ARN is ever typed by hand.
"""

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.in_flight import IN_FLIGHT_INDEX
from chalicelib.pacing import DEFAULT_SES_SEND_RATE, notifications_concurrency
from deploy.stacks import stack
from order_contracts.cancellation import (
    CANCELLATION_WINDOW_VARIABLE,
    DEFAULT_CANCELLATION_WINDOW_HOURS,
)

CHALICE_DIR = Path(__file__).resolve().parent.parent / "chalice_app" / ".chalice"
# What every environment shares, the web hosts' role reads it too: the cancellation window is
# set there once for both tiers (order_pipeline_cancellation_window_hours).
SHARED_GROUP_VARS = CHALICE_DIR.parent.parent / "playbooks" / "group_vars" / "all.yml"
CANCELLATION_WINDOW_GROUP_VAR = "order_pipeline_cancellation_window_hours"
APP_NAME = "order-pipeline"
# The functions of app.py; the API handler is named after the app and stage alone.
EVENT_FUNCTIONS = (
    "process_order",
    "initiate_billing",
    "customer_communications",
    "record_ses_feedback",
    "refresh_exchange_rates",
    "watch_stuck_orders",
)
# The functions' copy of the notifications trigger's MaximumConcurrency (chalicelib/settings.py).
NOTIFICATIONS_CONCURRENCY_VARIABLE = "NOTIFICATIONS_MAXIMUM_CONCURRENCY"
# The stage the local stack and the tests package: its settings come from the local stack.
LOCAL_STAGE = "dev"

# stack key (security, messaging, data) -> output name -> value
StackOutputs = Mapping[str, Mapping[str, str]]
Statement = dict[str, Any]


class StageConfigError(RuntimeError):
    """An output is missing or the stage cannot be written; the message says which."""


@dataclass(frozen=True)
class Account:
    partition: str
    region: str
    account_id: str

    @classmethod
    def from_arn(cls, arn: str) -> "Account":
        _, partition, _, region, account_id, _ = arn.split(":", 5)
        return cls(partition, region, account_id)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"


# The stacks the functions need, and the one they use when it is there: the edge stack (the
# storefront's address for the emails' links) may be absent, for an API-only stage, or still
# waiting on its certificate (ACM validation), and then has no outputs yet.
REQUIRED_STACKS = ("security", "messaging", "data")
OPTIONAL_STACKS = ("edge",)


def _described_outputs(cloudformation: Any, name: str) -> dict[str, str] | None:
    """The stack's outputs, or None when there is no such stack."""
    try:
        (described,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        # CloudFormation's answer for a stack it has not got: ValidationError "... does not exist".
        if "does not exist" in str(error):
            return None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def read_outputs(
    cloudformation: Any,
    keys: Sequence[str] = REQUIRED_STACKS,
    optional: Sequence[str] = OPTIONAL_STACKS,
) -> dict[str, dict[str, str]]:
    """The outputs of the stacks the serverless half uses, read with DescribeStacks; an
    optional stack that does not exist is left out."""
    outputs: dict[str, dict[str, str]] = {}
    for key in (*keys, *optional):
        found = _described_outputs(cloudformation, stack(key).name)
        if found is not None:
            outputs[key] = found
        elif key not in optional:
            raise StageConfigError(
                f"stack {stack(key).name} does not exist in this region: deploy the stacks "
                "first (make deploy, or python -m deploy.sequence), or pass the stacks' --region"
            )
    return outputs


def storefront_url(outputs: StackOutputs) -> str | None:
    """The storefront's address, or None without an edge stack that has one (yet)."""
    return outputs.get("edge", {}).get("StorefrontUrl")


def _output(outputs: StackOutputs, key: str, name: str) -> str:
    try:
        return outputs[key][name]
    except KeyError:
        raise StageConfigError(f"stack {stack(key).name} has no output {name}") from None


def billing_database_url(outputs: StackOutputs) -> str:
    """rds-data:///<db>?cluster=<arn>&secret=<arn>, as chalicelib.services reads it."""
    database = _output(outputs, "data", "BillingDatabaseName")
    cluster = quote(_output(outputs, "data", "BillingClusterArn"), safe=":/")
    secret = quote(_output(outputs, "data", "BillingSecretArn"), safe=":/")
    return f"rds-data:///{database}?cluster={cluster}&secret={secret}"


def order_link_key_parameter(web_stage: str) -> str:
    """The SSM SecureString (on our KMS key) the emails' links are signed with; the web hosts
    of that deployment read the same one (cloudformation/web-fleet.yaml, the order_web role)."""
    return f"/order-pipeline/{web_stage}/order-links/key"


def environment(outputs: StackOutputs, web_stage: str = "production") -> dict[str, str]:
    """The Lambda functions' environment (chalicelib.settings reads it)."""
    variables = {
        "ORDERS_BUCKET": _output(outputs, "data", "OrdersBucketName"),
        "ORDERS_TABLE": _output(outputs, "data", "OrdersTableName"),
        "INVENTORY_TABLE": _output(outputs, "data", "InventoryTableName"),
        "COUNTERS_TABLE": _output(outputs, "data", "CountersTableName"),
        "ORDER_EVENTS_TOPIC_ARN": _output(outputs, "messaging", "OrderEventsTopicArn"),
        "ORDER_INTAKE_TOPIC_ARN": _output(outputs, "messaging", "OrderIntakeTopicArn"),
        "BILLING_DATABASE_URL": billing_database_url(outputs),
        "SES_SENDER": _output(outputs, "messaging", "SesSenderAddress"),
        "SES_CONFIGURATION_SET": _output(outputs, "messaging", "SesConfigurationSetName"),
        # The handlers dead-letter on this receive; it must equal the queues' maxReceiveCount.
        "MAX_RECEIVE_COUNT": _output(outputs, "messaging", "MaxReceiveCount"),
    }
    storefront = storefront_url(outputs)
    if storefront:
        # The emails link to the storefront's order pages, signed with the web tier's key.
        variables["STOREFRONT_URL"] = storefront
        variables["ORDER_LINK_KEY_PARAMETER"] = order_link_key_parameter(web_stage)
    return variables


def cancellation_window_hours(group_vars: Path = SHARED_GROUP_VARS) -> int:
    """The cancellation window the web hosts get too (the playbooks' shared group vars)."""
    shared = yaml.safe_load(group_vars.read_text()) or {}
    value = shared.get(CANCELLATION_WINDOW_GROUP_VAR, DEFAULT_CANCELLATION_WINDOW_HOURS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StageConfigError(
            f"{group_vars}: {CANCELLATION_WINDOW_GROUP_VAR}={value!r} must be a whole number of "
            "hours, at least 1"
        )
    return value


def ses_send_rate(sesv2: Any) -> float | None:
    """The account's SES maximum send rate in this region (emails a second), or None if the
    caller may not read it (ses:GetAccount); the functions pace their email to it."""
    try:
        quota = sesv2.get_account().get("SendQuota", {})
    except (ClientError, BotoCoreError) as error:
        print(f"warning: cannot read the SES send quota ({error}); email is not paced")
        return None
    rate = quota.get("MaxSendRate")
    return float(rate) if rate else None


def _queues(outputs: StackOutputs, suffix: str) -> list[str]:
    return [
        _output(outputs, "messaging", f"{queue}{suffix}")
        for queue in ("OrderFulfillment", "OrderBilling", "OrderNotifications")
    ]


def policy(outputs: StackOutputs, stage: str, web_stage: str = "production") -> dict[str, Any]:
    """The stage's IAM policy: every statement names the exact resources it may touch."""
    key_arn = _output(outputs, "security", "KeyArn")
    account = Account.from_arn(key_arn)
    bucket = _output(outputs, "data", "OrdersBucketName")
    function_names = [f"{APP_NAME}-{stage}"] + [f"{APP_NAME}-{stage}-{f}" for f in EVENT_FUNCTIONS]
    statements: list[Statement] = [
        {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            # The group's own ARN (CreateLogGroup, on the chalice deploy path where Lambda
            # creates it) and its streams (":*").
            "Resource": [
                account.arn("logs", f"log-group:/aws/lambda/{name}{streams}")
                for name in function_names
                for streams in ("", ":*")
            ],
        },
        {
            "Sid": "ReadAndWriteOrderDocuments",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:{account.partition}:s3:::{bucket}/orders/*",
        },
        {
            # Without ListBucket, S3 answers a GET or HEAD of a missing key with 403, and an
            # unknown order would be a 500. No s3:prefix condition: a GET or HEAD carries no
            # prefix, so the condition would never match on the requests it exists for.
            "Sid": "TellMissingDocumentsFromForbiddenOnes",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:{account.partition}:s3:::{bucket}",
        },
        {
            "Sid": "OrderStateStockAndCounters",
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
            ],
            "Resource": [
                _output(outputs, "data", f"{table}TableArn")
                for table in ("Orders", "Inventory", "Counters")
            ],
        },
        {
            # The stuck-order watchdog queries the orders table's sparse index, never the table.
            "Sid": "FindOrdersInFlight",
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{_output(outputs, 'data', 'OrdersTableArn')}/index/{IN_FLIGHT_INDEX}",
        },
        {
            # The emails name the order's products, read in one batch (chalicelib/adapters/
            # catalog.py); only the inventory table is read that way.
            "Sid": "NameTheProductsInEmails",
            "Effect": "Allow",
            "Action": "dynamodb:BatchGetItem",
            "Resource": _output(outputs, "data", "InventoryTableArn"),
        },
        {
            # GET /catalog lists the inventory table; the catalog writes are UpdateItem above.
            "Sid": "ListTheCatalog",
            "Effect": "Allow",
            "Action": "dynamodb:Scan",
            "Resource": _output(outputs, "data", "InventoryTableArn"),
        },
        {
            "Sid": "ConsumeOrderQueues",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": _queues(outputs, "QueueArn"),
        },
        {
            "Sid": "DeadLetterWithReason",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
            "Resource": _queues(outputs, "DeadLetterQueueArn"),
        },
        {
            # A message that met contention (a transaction conflict, throttling) goes back on
            # its own queue as a delayed copy (chalicelib/contention.py).
            "Sid": "RequeueOnContention",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
            "Resource": _queues(outputs, "QueueArn"),
        },
        {
            "Sid": "PublishOrderEvents",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": _output(outputs, "messaging", "OrderEventsTopicArn"),
        },
        {
            # SES authorises a send against every identity it involves: the sender's, and in
            # the sandbox the verified recipient's too. So any identity, but only ever from
            # our sender's address (docs: "Identity and access management in Amazon SES").
            "Sid": "SendCustomerEmail",
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": [
                account.arn("ses", "identity/*"),
                account.arn(
                    "ses",
                    f"configuration-set/{_output(outputs, 'messaging', 'SesConfigurationSetName')}",
                ),
            ],
            "Condition": {
                "StringEquals": {
                    "ses:FromAddress": _output(outputs, "messaging", "SesSenderAddress")
                }
            },
        },
        {
            "Sid": "BillingDatabaseThroughDataApi",
            "Effect": "Allow",
            "Action": [
                "rds-data:ExecuteStatement",
                "rds-data:BeginTransaction",
                "rds-data:CommitTransaction",
                "rds-data:RollbackTransaction",
            ],
            "Resource": _output(outputs, "data", "BillingClusterArn"),
        },
        {
            "Sid": "BillingDatabaseCredentials",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": _output(outputs, "data", "BillingSecretArn"),
        },
        {
            # Queues, topics, the bucket, the tables, the secret and the link key's
            # SecureString are encrypted with this key.
            "Sid": "UseThePipelineKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
        },
        {
            # Active tracing: the X-Ray daemon in each execution environment sends the
            # function's segments (and the SDK's subsegments) with the function's role. X-Ray
            # has no resource-level permissions, so "*" is the only resource; the sampling
            # actions of AWSXRayDaemonWriteAccess are left out (Lambda samples, not the SDK).
            "Sid": "WriteTraces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
    ]
    if storefront_url(outputs):  # the emails' links are signed: read the key they are signed with
        statements.append(
            {
                "Sid": "ReadTheOrderLinkKey",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": account.arn("ssm", f"parameter{order_link_key_parameter(web_stage)}"),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def write_stage(
    chalice_dir: Path, stage: str, variables: Mapping[str, str], document: Mapping[str, Any]
) -> Path:
    """Set the stage's environment and policy file in config.json; write policy-<stage>.json."""
    if stage == LOCAL_STAGE:
        raise StageConfigError(f"stage {stage!r} is the local stack's; deploy another stage (prod)")
    config_path = chalice_dir / "config.json"
    config = json.loads(config_path.read_text())
    policy_file = f"policy-{stage}.json"
    settings = config.setdefault("stages", {}).setdefault(stage, {"api_gateway_stage": "api"})
    settings["autogen_policy"] = False
    settings["iam_policy_file"] = policy_file
    settings["environment_variables"] = dict(variables)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    policy_path = chalice_dir / policy_file
    policy_path.write_text(json.dumps(document, indent=2) + "\n")
    return policy_path


def configure_stage(
    cloudformation: Any,
    stage: str,
    chalice_dir: Path = CHALICE_DIR,
    web_stage: str = "production",
    send_rate: float | None = None,
    group_vars: Path = SHARED_GROUP_VARS,
) -> Path:
    """Read the stacks' outputs and write the stage's configuration (with the account's SES
    send rate, if known); return the policy's path."""
    outputs = read_outputs(cloudformation)
    if not storefront_url(outputs):
        print(
            f"==> no storefront address (stack {stack('edge').name} absent or not complete): "
            "the emails carry no order links; run this again once the edge stack is deployed"
        )
    variables = environment(outputs, web_stage)
    if send_rate is not None:
        # The notifications consumer paces its sends to it (chalicelib/pacing.py).
        variables["SES_MAX_SEND_RATE"] = f"{send_rate:g}"
    # The same window as the web hosts' (one setting, the playbooks' shared group vars).
    variables[CANCELLATION_WINDOW_VARIABLE] = str(cancellation_window_hours(group_vars))
    # The notifications trigger's MaximumConcurrency: each environment paces to the rate over
    # it, and deploy/batch_failures.py sets the trigger from this same variable.
    variables[NOTIFICATIONS_CONCURRENCY_VARIABLE] = str(
        notifications_concurrency(send_rate or DEFAULT_SES_SEND_RATE)
    )
    return write_stage(chalice_dir, stage, variables, policy(outputs, stage, web_stage))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, help="Chalice stage to fill, such as prod")
    parser.add_argument("--region", help="region of the stacks (default: the AWS configuration's)")
    parser.add_argument(
        "--chalice-dir", type=Path, default=CHALICE_DIR, help="the .chalice directory"
    )
    parser.add_argument(
        "--web-stage",
        default="production",
        help="the web hosts' deployment (the inventory's order_pipeline_stage) whose link key "
        "the emails sign with (default: production)",
    )
    parser.add_argument(
        "--ses-send-rate",
        type=float,
        help="the account's SES maximum send rate (emails a second) the functions pace their "
        "email to (default: read from SES, sesv2 GetAccount)",
    )
    arguments = parser.parse_args(argv)
    session = boto3.session.Session(region_name=arguments.region)
    send_rate = arguments.ses_send_rate or ses_send_rate(session.client("sesv2"))
    try:
        policy_path = configure_stage(
            session.client("cloudformation"),
            arguments.stage,
            arguments.chalice_dir,
            arguments.web_stage,
            send_rate=send_rate,
        )
    except StageConfigError as error:
        parser.exit(2, f"error: {error}\n")
    config_path = arguments.chalice_dir / "config.json"
    print(f"==> stage {arguments.stage}: environment in {config_path}, policy in {policy_path}")
    if send_rate:
        print(
            f"==> SES sends {send_rate:g} emails a second: deploy the packaged template with "
            f"NotificationsMaximumConcurrency={notifications_concurrency(send_rate)}"
        )


if __name__ == "__main__":
    main()
