"""Put a copy of a message back on its own queue, delayed (see chalicelib.contention)."""

from collections.abc import Mapping
from typing import Any


class SqsRequeue:
    def __init__(self, client: Any) -> None:
        self._sqs = client
        self._urls: dict[str, str] = {}

    def send_later(
        self,
        source_queue_arn: str,
        body: str,
        attributes: Mapping[str, Mapping[str, str]],
        delay_seconds: int,
    ) -> None:
        self._sqs.send_message(
            QueueUrl=self._url(source_queue_arn),
            MessageBody=body,
            MessageAttributes=dict(attributes),
            DelaySeconds=delay_seconds,
        )

    def _url(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            account, name = queue_arn.split(":")[4:6]
            self._urls[queue_arn] = self._sqs.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._urls[queue_arn]
