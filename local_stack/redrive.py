"""Send a queue's dead letters back to it, once the cause of their failure is fixed.

Usage: python -m local_stack.redrive QUEUE [QUEUE ...]   (or: make redrive QUEUE=...)

Each message is sent to the source queue before it is deleted from the dead-letter queue, so
a crash in between repeats a message rather than losing it; the handlers are idempotent on
the order id. The reason the message failed is dropped: a new failure records a new one.
Works on the local stack (moto has no StartMessageMoveTask) and on AWS alike.
"""

import argparse
import sys
from typing import Any

import boto3

from chalicelib.adapters.dead_letters import (
    DEAD_LETTER_SUFFIX,
    FAILURE_REASON_ATTRIBUTE,
    SOURCE_MESSAGE_ID_ATTRIBUTE,
)

BATCH = 10
# Long enough to send a batch back; short enough that a crashed redrive's batch reappears soon.
VISIBILITY_SECONDS = 30
_DEAD_LETTER_ATTRIBUTES = {FAILURE_REASON_ATTRIBUTE, SOURCE_MESSAGE_ID_ATTRIBUTE}


def redrive(sqs: Any, queue: str) -> int:
    """Move every message of QUEUE-dlq back to QUEUE; return how many moved."""
    source_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    dead_letter_url = sqs.get_queue_url(QueueName=queue + DEAD_LETTER_SUFFIX)["QueueUrl"]
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url,
            MaxNumberOfMessages=BATCH,
            VisibilityTimeout=VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=source_url,
            Entries=[
                {
                    "Id": str(index),
                    "MessageBody": message["Body"],
                    "MessageAttributes": {
                        name: value
                        for name, value in message.get("MessageAttributes", {}).items()
                        if name not in _DEAD_LETTER_ATTRIBUTES
                    },
                }
                for index, message in enumerate(messages)
            ],
        )
        if sent.get("Failed"):
            raise RuntimeError(f"SQS refused to take messages back: {sent['Failed']}")
        sqs.delete_message_batch(
            QueueUrl=dead_letter_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
        moved += len(messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Send the dead letters of each QUEUE (from QUEUE-dlq) back to QUEUE.",
        epilog="The AWS endpoint, region and credentials come from the usual AWS_* variables; "
        "`make redrive` points them at the running local stack.",
    )
    parser.add_argument("queues", nargs="+", metavar="QUEUE", help="e.g. order-fulfillment")
    arguments = parser.parse_args(argv)
    sqs = boto3.client("sqs")
    for queue in arguments.queues:
        try:
            moved = redrive(sqs, queue)
        except sqs.exceptions.QueueDoesNotExist:
            print(f"{queue}: no such queue (or no {queue}{DEAD_LETTER_SUFFIX}).", file=sys.stderr)
            return 2
        print(f"{queue}: {moved} message(s) sent back from {queue}{DEAD_LETTER_SUFFIX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
