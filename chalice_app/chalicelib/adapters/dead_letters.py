"""Send a message that never succeeded to its queue's dead-letter queue, with the reason."""

from typing import Any

FAILURE_REASON_ATTRIBUTE = "failure_reason"
SOURCE_MESSAGE_ID_ATTRIBUTE = "source_message_id"
# Every queue's DLQ is named after it (see local_stack/resources.py and the templates).
DEAD_LETTER_SUFFIX = "-dlq"
# SQS attribute values may be 256 KB, but a reason that long is a stack dump, not a reason.
_MAX_REASON = 1024


class SqsDeadLetters:
    def __init__(self, client: Any) -> None:
        self._sqs = client
        self._urls: dict[str, str] = {}

    def send(self, source_queue_arn: str, body: str, reason: str, source_message_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._dead_letter_url(source_queue_arn),
            MessageBody=body,
            MessageAttributes={
                FAILURE_REASON_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": reason[:_MAX_REASON],
                },
                SOURCE_MESSAGE_ID_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": source_message_id,
                },
            },
        )

    def _dead_letter_url(self, source_queue_arn: str) -> str:
        if source_queue_arn not in self._urls:
            account, name = source_queue_arn.split(":")[4:6]
            self._urls[source_queue_arn] = self._sqs.get_queue_url(
                QueueName=name + DEAD_LETTER_SUFFIX, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._urls[source_queue_arn]
