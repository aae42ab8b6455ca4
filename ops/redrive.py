"""Send a queue's dead letters back to it, once the cause of their failure is fixed.

Usage: python -m ops.redrive [--local [--aws-port PORT]] QUEUE [QUEUE ...]
       (or: make redrive QUEUE=... [LOCAL=1] [AWS_PORT=...])

On AWS it uses the caller's AWS environment (AWS_PROFILE, AWS_REGION, keys, SSO), as the AWS
CLI does; --local points it at `make run`'s local AWS on 127.0.0.1 with moto's fake keys.

Each message is sent to the source queue before it is deleted from the dead-letter queue, so
a crash in between repeats a message rather than losing it; the handlers are idempotent on
the order id. The reason the message failed is dropped: a new failure records a new one.
Works on the local stack (moto has no StartMessageMoveTask) and on AWS alike.
"""

import argparse
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import NoCredentialsError, NoRegionError

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


LOCAL_HOST = "127.0.0.1"
LOCAL_AWS_PORT = 4566  # make run's default (its --aws-port, AWS_PORT)


def sqs_client(local: bool, aws_port: int) -> Any:
    """The caller's AWS, or the local stack's with fake keys (never the caller's real ones)."""
    if not local:
        # AWS_REGION first, as the AWS CLI v2 reads it; then boto3's own chain.
        return boto3.client("sqs", region_name=os.environ.get("AWS_REGION") or None)
    return boto3.client(
        "sqs",
        endpoint_url=f"http://{LOCAL_HOST}:{aws_port}",
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.redrive",
        description="Send the dead letters of each QUEUE (from QUEUE-dlq) back to QUEUE.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""\
On AWS, with your AWS environment (AWS_PROFILE, AWS_REGION, keys or SSO, as the AWS CLI):
  make redrive QUEUE=order-notifications
  python -m ops.redrive order-notifications
On make run's local stack (127.0.0.1, fake keys; your AWS environment is not used):
  make redrive QUEUE=order-notifications LOCAL=1     (or AWS_PORT=PORT)
  python -m ops.redrive --local [--aws-port PORT] order-notifications
""",
    )
    parser.add_argument("queues", nargs="+", metavar="QUEUE", help="e.g. order-fulfillment")
    parser.add_argument(
        "--local",
        action="store_true",
        help=f"the local stack's AWS on {LOCAL_HOST} instead of AWS, with fake credentials",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        metavar="PORT",
        default=int(os.environ.get("AWS_PORT", LOCAL_AWS_PORT)),
        help=f"with --local: the local AWS's port (default: AWS_PORT, else {LOCAL_AWS_PORT})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        sqs = sqs_client(arguments.local, arguments.aws_port)
    except NoRegionError:
        print("No AWS region: set AWS_REGION (or use --local).", file=sys.stderr)
        return 2
    # Where it acts, on stderr: stdout is one result line per queue, for scripts.
    print(f"==> SQS at {sqs.meta.endpoint_url}", file=sys.stderr)
    for queue in arguments.queues:
        try:
            moved = redrive(sqs, queue)
        except sqs.exceptions.QueueDoesNotExist:
            print(f"{queue}: no such queue (or no {queue}{DEAD_LETTER_SUFFIX}).", file=sys.stderr)
            return 2
        except NoCredentialsError:
            print("No AWS credentials: set AWS_PROFILE or keys (or use --local).", file=sys.stderr)
            return 2
        print(f"{queue}: {moved} message(s) sent back from {queue}{DEAD_LETTER_SUFFIX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
