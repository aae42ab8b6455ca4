"""Poll an SQS queue and call a Lambda handler as Lambda's event source mapping does.

Lambda deletes what succeeded and leaves the rest to the visibility timeout and the queue's
redrive policy: with ReportBatchItemFailures only the reported records stay; if the handler
raises, the whole batch stays.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

from chalice.local import LambdaContext

LambdaHandler = Callable[[dict[str, Any], Any], Any]
log = logging.getLogger(__name__)


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """Shape one ReceiveMessage result as a record of a Lambda SQS event."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str,
        queue_arn: str,
        handler: LambdaHandler,
        function_name: str,
        batch_size: int = 10,
        wait_seconds: int = 1,
        concurrency: int = 1,
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._handler = handler
        self._function_name = function_name
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._region = queue_arn.split(":")[3]
        # How many batches may run at once (the trigger's MaximumConcurrency): the stack runs
        # this many pollers, each one execution environment handling one batch at a time.
        self.concurrency = concurrency

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, delete what succeeded; return the batch size."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [lambda_sqs_record(m, self.queue_arn, self._region) for m in messages]}
        try:
            response = self._handler(event, LambdaContext(self._function_name, 512))
        except Exception:  # Lambda's rule: a raising handler fails the whole batch
            log.exception(
                "%s failed; the batch of %d stays on the queue", self._function_name, len(messages)
            )
            return len(messages)
        failed = {item["itemIdentifier"] for item in (response or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]}
                    for index, m in enumerate(done)
                ],
            )
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        """Poll until stop is set."""
        while not stop.is_set():
            self.poll_once()
