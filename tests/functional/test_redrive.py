"""ops/redrive.py on moto: dead letters go back to their queue without their failure reason."""

from typing import Any

from moto import mock_aws

from chalicelib.adapters.dead_letters import FAILURE_REASON_ATTRIBUTE
from ops.redrive import redrive
from tests.conftest import BOTO3_SESSION


def dead_letter(sqs: Any, queue: str, body: str) -> None:
    """A queue and its DLQ, with one dead letter carrying its failure reason."""
    sqs.create_queue(QueueName=queue)
    dead_letters = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    sqs.send_message(
        QueueUrl=dead_letters,
        MessageBody=body,
        MessageAttributes={
            FAILURE_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": "MissingContact"},
            "correlation_id": {"DataType": "String", "StringValue": "c-1"},
        },
    )


def test_dead_letters_go_back_without_their_failure_reason() -> None:
    with mock_aws():
        sqs = BOTO3_SESSION.client("sqs")
        dead_letter(sqs, "order-notifications", '{"order_id": "o-1"}')

        assert redrive(sqs, "order-notifications") == 1

        url = sqs.get_queue_url(QueueName="order-notifications")["QueueUrl"]
        [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
        assert message["Body"] == '{"order_id": "o-1"}'
        assert set(message["MessageAttributes"]) == {"correlation_id"}
        dlq = sqs.get_queue_url(QueueName="order-notifications-dlq")["QueueUrl"]
        assert "Messages" not in sqs.receive_message(QueueUrl=dlq)
