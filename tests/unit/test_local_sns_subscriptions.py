"""local_stack/sns_subscriptions.py: SNS's notification as Lambda's SNS event, and Lambda's retries.

The event must have the shape of AWS's documented Lambda SNS event
(https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html, in tests/vectors/ses_feedback.json)
and Chalice's SNSEvent must read it. The endpoint on a running stack is in tests/system/.
"""

from typing import Any

from chalice.app import SNSEvent

from local_stack.sns_subscriptions import AsyncInvoker, lambda_sns_event
from tests.vectors import SES_FEEDBACK

# What SNS POSTs to an HTTP subscriber (moto's is the same, signed with SignatureVersion 2):
# https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html
HTTP_NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
    "Message": '{"eventType": "Bounce"}',
    "Timestamp": "2026-11-30T12:00:00.123Z",
    "SignatureVersion": "2",
    "Signature": "EXAMPLE",
    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
    "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
}
SUBSCRIPTION = "arn:aws:sns:us-east-1:123456789012:ses-feedback:0f2e"


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(value)
    return type(value).__name__


def test_the_event_has_the_documented_shape_of_lambdas_sns_event() -> None:
    event = lambda_sns_event(HTTP_NOTIFICATION, SUBSCRIPTION)
    documented = SES_FEEDBACK["lambda_sns_event"]
    assert sorted(event) == sorted(documented)
    (record,), (documented_record,) = event["Records"], documented["Records"]
    assert sorted(record) == sorted(documented_record)
    assert sorted(record["Sns"]) == sorted(documented_record["Sns"])
    assert (record["EventSource"], record["EventVersion"]) == ("aws:sns", "1.0")
    assert record["EventSubscriptionArn"] == SUBSCRIPTION
    assert record["Sns"]["SigningCertUrl"] == HTTP_NOTIFICATION["SigningCertURL"]


def test_chalices_sns_event_reads_it_with_no_subject_and_no_attributes() -> None:
    sns_event = SNSEvent(lambda_sns_event(HTTP_NOTIFICATION, SUBSCRIPTION), context=None)
    assert sns_event.message == HTTP_NOTIFICATION["Message"]
    assert sns_event.subject is None
    assert sns_event.message_attributes == {}


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("boom")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(invoker: AsyncInvoker, clock: Clock, delays: tuple[float, ...]) -> None:
    """Run what is due; move the clock past each retry's delay."""
    for delay in (0.0, *delays, 0.0):
        clock.now += delay
        while invoker.run_due(wait=0):
            pass


def test_a_failed_invocation_is_retried_after_lambdas_delays_and_then_succeeds() -> None:
    handler, clock = Flaky(failures=2), Clock()
    invoker = AsyncInvoker({"f": handler}, retry_delays=(60, 120), clock=clock)
    invoker.submit("f", {"Records": []})
    invoker.run_due(wait=0)
    clock.now += 59
    invoker.run_due(wait=0)
    assert handler.calls == 1  # the first retry waits a minute
    drain(invoker, clock, (1, 120))
    assert (handler.calls, invoker.dropped) == (3, [])


def test_an_invocation_that_fails_three_times_is_dropped() -> None:
    handler, clock = Flaky(failures=3), Clock()
    invoker = AsyncInvoker({"f": handler}, retry_delays=(60, 120), clock=clock)
    invoker.submit("f", {"Records": []})
    drain(invoker, clock, (60, 120, 1000))
    assert handler.calls == 3
    assert invoker.dropped == [("f", {"Records": []})]


def test_events_submitted_at_the_same_instant_run_in_order() -> None:
    seen: list[str] = []
    clock = Clock()
    invoker = AsyncInvoker({"f": lambda event, context: seen.append(event["n"])}, clock=clock)
    for n in ("a", "b", "c"):
        invoker.submit("f", {"n": n})
    drain(invoker, clock, ())
    assert seen == ["a", "b", "c"]
