"""local_stack/stack.py's wiring with the AWS limits model, on moto: each queue's event source is
as concurrent as its trigger on AWS, and a paced batch cannot outlive its visibility timeout.

The running stack is in tests/system/test_local_stack.py and test_local_aws_limits.py.
"""

import app as module
from app import app
from local_stack.aws_limits import AwsLimits, Limits
from local_stack.resources import Provisioned
from local_stack.stack import _event_sources, _visibility


def test_each_event_source_polls_with_its_triggers_concurrency(aws: Provisioned) -> None:
    limited = _event_sources(app, module, aws, AwsLimits(Limits(ses_send_rate=50)))
    unlimited = _event_sources(app, module, aws)

    def concurrency(sources: list) -> dict[str, int]:
        return {s.queue_url.rsplit("/", 1)[1]: s.concurrency for s in sources}

    assert concurrency(limited) == {
        "order-fulfillment": 4,  # no cap on AWS: a few, so that transactions overlap
        "order-billing": 5,  # the billing database's cap
        "order-notifications": 10,  # what 50 emails a second need
    }
    assert set(concurrency(unlimited).values()) == {1}  # as before: one poller each


def test_a_short_retry_delay_never_shortens_the_notifications_visibility_below_a_paced_batch() -> (
    None
):
    sandbox = AwsLimits(Limits(ses_send_rate=1))
    assert _visibility("order-notifications", 2, sandbox) == 2 * 18 + 5
    assert _visibility("order-fulfillment", 2, sandbox) == 2
    assert _visibility("order-notifications", 2, None) == 2
