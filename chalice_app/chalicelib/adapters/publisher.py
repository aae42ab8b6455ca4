"""Publish pipeline events to an SNS topic with the attributes subscriptions filter on."""

from typing import Any

from order_contracts import AnyEvent


class SnsEventPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self.topic_arn = topic_arn

    def publish(self, event: AnyEvent) -> None:
        self._sns.publish(
            TopicArn=self.topic_arn,
            Message=event.to_json(),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in event.attributes().items()
            },
        )
