"""local_stack/resources.py and the CloudFormation templates describe the same resources.

local_stack.resources.RESOURCES provisions moto for make run and the tests; the templates
provision AWS. Both are reduced to one plain description and compared, so a change to either
side alone fails here.
"""

import copy
import dataclasses
import json
from typing import Any

import pytest

from deploy.templates import Template
from local_stack.resources import RESOURCES, Resources
from tests.cfn import of_type, referenced, templates, value

# Topics only AWS has: alarms notify operators, nothing of the pipeline reads them.
AWS_ONLY_TOPICS = {"order-pipeline-alarms"}
BUCKET_NAME_SUFFIX = "-${AWS::AccountId}-${AWS::Region}"

Description = dict[str, Any]


def describe_local(resources: Resources) -> Description:
    return {
        "topics": sorted(resources.topics),
        "queues": {
            queue.name: {
                "dead_letter_queue": queue.dead_letter_name,
                "max_receive_count": queue.max_receive_count,
                "visibility_timeout": queue.visibility_timeout,
                "retention": queue.retention_seconds,
                "dead_letter_retention": queue.dead_letter_retention_seconds,
            }
            for queue in resources.queues
        },
        "subscriptions": sorted(
            (s.topic, s.queue, json.dumps(s.filter_policy, sort_keys=True))
            for s in resources.subscriptions
        ),
        "tables": {
            table.name: {
                "key": table.hash_key,
                "indexes": {i.name: [i.hash_key, i.range_key, "KEYS_ONLY"] for i in table.indexes},
            }
            for table in resources.tables
        },
        "bucket": {
            "name_prefix": resources.bucket.name_prefix,
            "notify_topic": resources.bucket.notify_topic,
            "key_prefix": resources.bucket.key_prefix,
            "key_suffix": resources.bucket.key_suffix,
        },
    }


def describe_templates(messaging: Template, data: Template) -> Description:
    topics = {
        logical_id: topic["Properties"]["TopicName"]
        for logical_id, topic in of_type(messaging, "AWS::SNS::Topic").items()
    }
    queues = of_type(messaging, "AWS::SQS::Queue")
    queue_names = {logical_id: q["Properties"]["QueueName"] for logical_id, q in queues.items()}
    described_queues = {}
    for queue in queues.values():
        properties = queue["Properties"]
        if "RedrivePolicy" not in properties:
            continue  # a dead-letter queue, described with its source
        redrive = properties["RedrivePolicy"]
        dead_letter_id = referenced(redrive["deadLetterTargetArn"]) or ""
        dead_letter = queues[dead_letter_id]["Properties"]
        described_queues[properties["QueueName"]] = {
            "dead_letter_queue": queue_names[dead_letter_id],
            "max_receive_count": value(messaging, redrive["maxReceiveCount"]),
            "visibility_timeout": value(messaging, properties["VisibilityTimeout"]),
            "retention": value(messaging, properties["MessageRetentionPeriod"]),
            "dead_letter_retention": value(messaging, dead_letter["MessageRetentionPeriod"]),
        }
    subscriptions = sorted(
        (
            topics[referenced(s["Properties"]["TopicArn"]) or ""],
            queue_names[referenced(s["Properties"]["Endpoint"]) or ""],
            json.dumps(s["Properties"].get("FilterPolicy"), sort_keys=True),
        )
        for s in of_type(messaging, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "sqs"
    )
    tables = {}
    for table in of_type(data, "AWS::DynamoDB::Table").values():
        (key,) = table["Properties"]["KeySchema"]
        tables[table["Properties"]["TableName"]] = {
            "key": key["AttributeName"],
            "indexes": {
                index["IndexName"]: [
                    *(k["AttributeName"] for k in index["KeySchema"]),
                    index["Projection"]["ProjectionType"],
                ]
                for index in table["Properties"].get("GlobalSecondaryIndexes", [])
            },
        }
    (bucket,) = [
        b["Properties"]
        for b in of_type(data, "AWS::S3::Bucket").values()
        if "NotificationConfiguration" in b["Properties"]
    ]
    (notification,) = bucket["NotificationConfiguration"]["TopicConfigurations"]
    rules = {r["Name"]: r["Value"] for r in notification["Filter"]["S3Key"]["Rules"]}
    # The topic is imported from the messaging stack's export of that topic's ARN.
    export = notification["Topic"]["Fn::ImportValue"]["Fn::Sub"].removeprefix("${MessagingStack}-")
    return {
        "topics": sorted(set(topics.values()) - AWS_ONLY_TOPICS),
        "queues": described_queues,
        "subscriptions": subscriptions,
        "tables": tables,
        "bucket": {
            "name_prefix": bucket["BucketName"]["Fn::Sub"].removesuffix(BUCKET_NAME_SUFFIX),
            "notify_topic": topics[referenced(messaging["Outputs"][export]["Value"]) or ""],
            "key_prefix": rules["prefix"],
            "key_suffix": rules["suffix"],
        },
    }


@pytest.fixture(scope="module")
def stacks() -> tuple[Template, Template]:
    loaded = templates()
    return loaded["messaging"], loaded["data"]


def test_the_local_stack_and_the_templates_define_the_same_resources(
    stacks: tuple[Template, Template],
) -> None:
    assert describe_templates(*stacks) == describe_local(RESOURCES)


def test_a_change_to_the_local_description_alone_is_caught(
    stacks: tuple[Template, Template],
) -> None:
    longer_visibility = dataclasses.replace(RESOURCES.queues[1], visibility_timeout=600)
    changed = dataclasses.replace(
        RESOURCES, queues=(RESOURCES.queues[0], longer_visibility, *RESOURCES.queues[2:])
    )
    assert describe_templates(*stacks) != describe_local(changed)


@pytest.mark.parametrize(
    "mutation",
    [
        "filter policy",
        "subscription endpoint",
        "max receive count",
        "table key",
        "index sort key",
        "notification suffix",
    ],
)
def test_a_change_to_the_templates_alone_is_caught(
    stacks: tuple[Template, Template], mutation: str
) -> None:
    messaging, data = copy.deepcopy(stacks)
    resources = {**messaging["Resources"], **data["Resources"]}
    if mutation == "filter policy":
        resources["OrderBillingSubscription"]["Properties"]["FilterPolicy"] = {
            "event_type": ["OrderReserved", "OrderBilled"]
        }
    elif mutation == "subscription endpoint":
        resources["OrderNotificationsSubscription"]["Properties"]["Endpoint"] = {
            "Fn::GetAtt": ["OrderBillingQueue", "Arn"]
        }
    elif mutation == "max receive count":
        resources["OrderFulfillmentQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 3
    elif mutation == "table key":
        resources["CountersTable"]["Properties"]["KeySchema"][0]["AttributeName"] = "counter"
    elif mutation == "index sort key":
        (index,) = resources["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
        index["KeySchema"][1]["AttributeName"] = "updated_at"
    elif mutation == "notification suffix":
        configuration = resources["OrdersBucket"]["Properties"]["NotificationConfiguration"]
        configuration["TopicConfigurations"][0]["Filter"]["S3Key"]["Rules"][1]["Value"] = ".xml"
    assert describe_templates(messaging, data) != describe_local(RESOURCES)


def describe_ses_events(messaging: Template) -> dict[str, Any]:
    """The configuration set's event destination as messaging.yaml declares it."""
    topics = {
        logical_id: topic["Properties"]["TopicName"]
        for logical_id, topic in of_type(messaging, "AWS::SNS::Topic").items()
    }
    sets = of_type(messaging, "AWS::SES::ConfigurationSet")
    (destination,) = of_type(messaging, "AWS::SES::ConfigurationSetEventDestination").values()
    properties = destination["Properties"]["EventDestination"]
    (sender,) = of_type(messaging, "AWS::SES::EmailIdentity").values()
    sender_set = sender["Properties"]["ConfigurationSetAttributes"]["ConfigurationSetName"]
    return {
        "configuration_set": sets[
            referenced(destination["Properties"]["ConfigurationSetName"]) or ""
        ]["Properties"]["Name"],
        "sender_default": sets[referenced(sender_set) or ""]["Properties"]["Name"],
        "name": properties["Name"],
        "topic": topics[referenced(properties["SnsDestination"]["TopicARN"]) or ""],
        "event_types": sorted(properties["MatchingEventTypes"]),
    }


def test_the_local_ses_events_go_where_the_templates_send_them(
    stacks: tuple[Template, Template],
) -> None:
    """The local mailbox simulator publishes as the configuration set of messaging.yaml does."""
    local = RESOURCES.ses_events
    assert describe_ses_events(stacks[0]) == {
        "configuration_set": local.configuration_set,
        "sender_default": local.configuration_set,
        "name": local.name,
        "topic": local.topic,
        "event_types": sorted(local.event_types),
    }
