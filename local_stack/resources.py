"""The one description of the pipeline's AWS resources for the local stack.

The CloudFormation templates define the same topics, queues, subscriptions, tables and
bucket notification; a test compares the two.
"""

import json
import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.in_flight import IN_FLIGHT_INDEX, PLACED_AT_ATTRIBUTE, SHARD_ATTRIBUTE
from chalicelib.intake import ORDER_DOCUMENT_PREFIX

SES_SENDER = "orders@shop.example.com"
# Lambda's timeout for the queue consumers (chalice_app/.chalice/config.json).
FUNCTION_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Queue:
    name: str
    # AWS asks for at least six times the function timeout, so a slow batch is not redelivered
    # to a second consumer while the first still works on it.
    visibility_timeout: int = 6 * FUNCTION_TIMEOUT_SECONDS
    max_receive_count: int = 5
    retention_seconds: int = 4 * 24 * 3600
    # Longer than the source, so a message cannot expire in the DLQ before its source would.
    dead_letter_retention_seconds: int = 14 * 24 * 3600

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}-dlq"


@dataclass(frozen=True)
class Subscription:
    topic: str
    queue: str
    filter_policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class Index:
    """A global secondary index with string keys, projecting the keys only."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Bucket:
    name_prefix: str
    notify_topic: str
    key_prefix: str
    key_suffix: str


@dataclass(frozen=True)
class SesEventDestination:
    """The configuration set the sender uses by default, and where it publishes which events."""

    configuration_set: str
    name: str
    topic: str
    # SES's lower-case event type names (ConfigurationSetEventDestination MatchingEventTypes)
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Resources:
    topics: tuple[str, ...]
    queues: tuple[Queue, ...]
    subscriptions: tuple[Subscription, ...]
    tables: tuple[Table, ...]
    bucket: Bucket
    ses_events: SesEventDestination = SesEventDestination(
        configuration_set="order-pipeline",
        name="ses-feedback",
        topic="ses-feedback",
        event_types=("bounce", "complaint"),
    )


RESOURCES = Resources(
    topics=("order-intake", "order-events", "ses-feedback"),
    queues=(Queue("order-fulfillment"), Queue("order-billing"), Queue("order-notifications")),
    subscriptions=(
        Subscription(topic="order-intake", queue="order-fulfillment"),
        Subscription(
            topic="order-events",
            queue="order-billing",
            filter_policy={"event_type": ["OrderCancelled", "OrderReserved"]},
        ),
        Subscription(
            topic="order-events",
            queue="order-notifications",
            filter_policy={"event_type": ["OrderBilled", "OrderCancelled", "OrderRejected"]},
        ),
    ),
    tables=(
        # Sparse: only orders in flight carry the shard, so only they are in the index.
        Table(
            "orders",
            "order_id",
            indexes=(Index(IN_FLIGHT_INDEX, SHARD_ATTRIBUTE, PLACED_AT_ATTRIBUTE),),
        ),
        Table("inventory", "sku"),
        Table("counters", "name"),
    ),
    bucket=Bucket(
        name_prefix="order-pipeline-orders",
        notify_topic="order-intake",
        key_prefix=ORDER_DOCUMENT_PREFIX,
        key_suffix=".json",
    ),
)


@dataclass(frozen=True)
class Provisioned:
    """What provisioning created: the names the handlers need, and the queues to poll."""

    environment: dict[str, str]
    topic_arns: dict[str, str]
    queue_urls: dict[str, str]
    queue_arns: dict[str, str]
    bucket: str


def provision(
    session: Any, billing_database_url: str, resources: Resources = RESOURCES
) -> Provisioned:
    """Create every resource through boto3 (against moto, via AWS_ENDPOINT_URL or mock_aws).

    The billing database gets its migrations and the recorded ECB rates.
    """
    sts, sns, sqs = session.client("sts"), session.client("sns"), session.client("sqs")
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    account = sts.get_caller_identity()["Account"]
    region = session.region_name

    topic_arns = {name: sns.create_topic(Name=name)["TopicArn"] for name in resources.topics}
    queue_urls: dict[str, str] = {}
    queue_arns: dict[str, str] = {}
    for queue in resources.queues:
        dlq_url = sqs.create_queue(
            QueueName=queue.dead_letter_name,
            Attributes={"MessageRetentionPeriod": str(queue.dead_letter_retention_seconds)},
        )["QueueUrl"]
        queue_urls[queue.dead_letter_name] = dlq_url
        queue_arns[queue.dead_letter_name] = _queue_arn(sqs, dlq_url)
        redrive = {
            "deadLetterTargetArn": queue_arns[queue.dead_letter_name],
            "maxReceiveCount": queue.max_receive_count,
        }
        url = sqs.create_queue(
            QueueName=queue.name,
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout),
                "MessageRetentionPeriod": str(queue.retention_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        queue_urls[queue.name] = url
        queue_arns[queue.name] = _queue_arn(sqs, url)

    for subscription in resources.subscriptions:
        attributes = {"RawMessageDelivery": "true"}
        if subscription.filter_policy is not None:
            attributes["FilterPolicy"] = json.dumps(subscription.filter_policy)
        sns.subscribe(
            TopicArn=topic_arns[subscription.topic],
            Protocol="sqs",
            Endpoint=queue_arns[subscription.queue],
            Attributes=attributes,
        )

    for table in resources.tables:
        dynamodb.create_table(**_table_definition(table))

    bucket = f"{resources.bucket.name_prefix}-{account}-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [
                {
                    "TopicArn": topic_arns[resources.bucket.notify_topic],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": resources.bucket.key_prefix},
                                {"Name": "suffix", "Value": resources.bucket.key_suffix},
                            ]
                        }
                    },
                }
            ]
        },
    )

    environment = {
        "ORDERS_BUCKET": bucket,
        "ORDERS_TABLE": "orders",
        "INVENTORY_TABLE": "inventory",
        "COUNTERS_TABLE": "counters",
        "ORDER_EVENTS_TOPIC_ARN": topic_arns["order-events"],
        "ORDER_INTAKE_TOPIC_ARN": topic_arns["order-intake"],
        "BILLING_DATABASE_URL": billing_database_url,
        "SES_SENDER": SES_SENDER,
        # As on AWS (deploy/stage_config.py); moto's SES v2 ignores it, the sender's default
        # configuration set is the same one, and that is what the local simulator reads.
        "SES_CONFIGURATION_SET": resources.ses_events.configuration_set,
        "MAX_RECEIVE_COUNT": str(_max_receive_count(resources)),
        "ORDER_LINK_KEY_PARAMETER": _order_link_key(session),
    }
    # Sandbox rules: SES sends only from verified identities (moto enforces it too).
    _provision_ses(session, resources.ses_events, topic_arns)
    prepare_billing_database(billing_database_url)
    return Provisioned(environment, topic_arns, queue_urls, queue_arns, bucket)


def _provision_ses(session: Any, events: SesEventDestination, topic_arns: dict[str, str]) -> None:
    """The sender, whose default configuration set publishes bounces and complaints to SNS.

    As cloudformation/messaging.yaml: moto keeps the configuration (SES v1 holds the event
    destination), and local_stack/ses_simulator.py publishes what it says, as SES would.
    """
    sesv2 = session.client("sesv2")
    sesv2.create_configuration_set(ConfigurationSetName=events.configuration_set)
    session.client("ses").create_configuration_set_event_destination(
        ConfigurationSetName=events.configuration_set,
        EventDestination={
            "Name": events.name,
            "Enabled": True,
            "MatchingEventTypes": list(events.event_types),
            "SNSDestination": {"TopicARN": topic_arns[events.topic]},
        },
    )
    sesv2.create_email_identity(
        EmailIdentity=SES_SENDER, ConfigurationSetName=events.configuration_set
    )


# As on AWS: a SecureString the email function reads and the web tier's host role copies into
# the service's ORDER_LINK_KEY; generated here, new for every local AWS.
ORDER_LINK_KEY_PARAMETER = "/order-pipeline/local/order-links/key"


def _order_link_key(session: Any) -> str:
    session.client("ssm").put_parameter(
        Name=ORDER_LINK_KEY_PARAMETER, Type="SecureString", Value=secrets.token_urlsafe(48)
    )
    return ORDER_LINK_KEY_PARAMETER


def _table_definition(table: Table) -> dict[str, Any]:
    keys = {table.hash_key} | {k for i in table.indexes for k in (i.hash_key, i.range_key)}
    definition: dict[str, Any] = {
        "TableName": table.name,
        "KeySchema": [{"AttributeName": table.hash_key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in sorted(keys)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.hash_key, "KeyType": "HASH"},
                    {"AttributeName": index.range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            for index in table.indexes
        ]
    return definition


def prepare_billing_database(url: str) -> None:
    """Apply the migrations and load the recorded ECB rates (on AWS a schedule refreshes them)."""
    from chalicelib.adapters.sql.database import database_from_url
    from chalicelib.adapters.sql.ledger import SqlLedger
    from chalicelib.fx import RECORDED_RATES, parse_ecb_rates

    ledger = SqlLedger(database_from_url(url))
    ledger.migrate()
    ledger.save_rates(parse_ecb_rates(RECORDED_RATES.read_bytes()))


def _max_receive_count(resources: Resources) -> int:
    # The handlers dead-letter on the last receive, so every queue must agree on it.
    (count,) = {queue.max_receive_count for queue in resources.queues}
    return count


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn
