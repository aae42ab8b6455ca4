"""The local stack's scheduled invocations: the event EventBridge sends a scheduled rule."""

from datetime import UTC, datetime

from chalice.app import CloudWatchEvent

from local_stack.stack import scheduled_event


def test_the_scheduled_event_is_one_chalice_reads_whole() -> None:
    """The stuck-order watchdog ran locally with an event missing `version`, `time`...: Chalice
    raised KeyError on every run, so locally it never ran."""
    event = scheduled_event("123456789012", "us-east-1", "order-pipeline-watch", datetime.now(UTC))

    read = CloudWatchEvent(event, context=None)

    assert read.detail_type == "Scheduled Event"
    assert read.source == "aws.events"
    assert read.resources == ["arn:aws:events:us-east-1:123456789012:rule/order-pipeline-watch"]
    assert read.time.endswith("Z")
