"""local_stack/aws_limits.py's arithmetic: the token bucket and each trigger's concurrency.

The refusals themselves, through botocore and moto, are in tests/functional.
"""

from local_stack.aws_limits import Limits, TokenBucket, trigger_concurrency


def test_a_bucket_starts_full_and_refills_at_its_rate_up_to_its_capacity() -> None:
    bucket = TokenBucket(rate=2, capacity=2, now=0)
    assert bucket.take(2, now=0)
    assert not bucket.take(1, now=0.25)  # half a token
    assert bucket.take(1, now=0.5)
    assert bucket.available(now=100) == 2  # never more than one second's worth


def test_a_refused_take_takes_nothing() -> None:
    bucket = TokenBucket(rate=1, capacity=1, now=0)
    assert not bucket.take(2, now=0)
    assert bucket.available(now=0) == 1


def test_a_clock_going_back_refills_nothing() -> None:
    bucket = TokenBucket(rate=1, capacity=1, now=10)
    assert bucket.take(1, now=10)
    assert bucket.available(now=5) == 0


def test_each_trigger_runs_as_concurrently_as_on_aws() -> None:
    limits = Limits(ses_send_rate=50, uncapped_concurrency=4)
    assert trigger_concurrency("initiate_billing", limits) == 5  # the database's cap
    assert trigger_concurrency("customer_communications", limits) == 10  # SES's rate's
    assert trigger_concurrency("process_order", limits) == 4  # no cap on AWS
    assert trigger_concurrency("customer_communications", Limits(ses_send_rate=1)) == 2
