"""Send a message that can never succeed to its dead-letter queue, with the reason."""

from typing import Any

FAILURE_REASON_ATTRIBUTE = "failure_reason"
SOURCE_MESSAGE_ID_ATTRIBUTE = "source_message_id"
# SQS attribute values may be 256 KB, but a reason that long is a stack dump, not a reason.
_MAX_REASON = 1024


class SqsDeadLetters:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._sqs = client
        self.queue_url = queue_url

    def send(self, body: str, reason: str, source_message_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
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
