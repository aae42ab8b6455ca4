"""chalicelib/pacing.py: the notifications trigger's concurrency and each environment's pace
follow the SES send rate, so that together they never exceed it."""

import json
import threading

import pytest

from chalicelib.pacing import (
    Pacer,
    burst_per_environment,
    email_pacer,
    notifications_concurrency,
    paced_batch_seconds,
    rate_per_environment,
)
from tests import ROOT


@pytest.mark.parametrize(
    ("send_rate", "concurrency"),
    [(1, 2), (10, 2), (14, 3), (15, 3), (16, 4), (50, 10), (100000, 1000)],
)
def test_the_notifications_concurrency_follows_the_send_rate_within_sqs_bounds(
    send_rate: float, concurrency: int
) -> None:
    assert notifications_concurrency(send_rate) == concurrency


@pytest.mark.parametrize("send_rate", [0.5, 1, 14, 50, 200])
def test_all_environments_together_send_at_most_the_rate(send_rate: float) -> None:
    assert rate_per_environment(send_rate) * notifications_concurrency(send_rate) == pytest.approx(
        send_rate
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_pacer_spaces_its_calls_evenly() -> None:
    clock = Clock()
    pacer = Pacer(4, clock, clock.sleep)
    times = []
    for _ in range(5):
        pacer.wait()
        times.append(clock.now)
    assert times == [0, 0.25, 0.5, 0.75, 1.0]


def test_a_pacer_does_not_wait_when_its_calls_are_slower_than_its_rate() -> None:
    clock = Clock()
    pacer = Pacer(4, clock, clock.sleep)
    pacer.wait()
    clock.now = 10
    pacer.wait()
    assert clock.now == 10


def test_each_thread_is_an_environment_of_its_own() -> None:
    clock = Clock()
    waits: list[float] = []
    pacer = Pacer(1, clock, waits.append)
    pacer.wait()
    other = threading.Thread(target=pacer.wait)
    other.start()
    other.join()
    assert waits == []  # the other thread's first call does not wait for this one's


def paced_times(pacer: Pacer, clock: Clock, work: list[float]) -> list[float]:
    """When each of len(work) sends goes, with work[n] seconds of work after the nth."""
    times = []
    for seconds in work:
        pacer.wait()
        times.append(clock.now)
        clock.now += seconds
    return times


def test_a_late_send_is_caught_up_within_the_burst_and_the_schedule_resumes() -> None:
    clock = Clock()
    pacer = Pacer(4, clock, clock.sleep, burst=2)
    # Full at the start: two at once. Then one slow email (0.6 s of work): it missed the slots
    # at 0.75 and 1.0; one is made up at once (the burst's bound), then every 0.25 s again.
    times = paced_times(pacer, clock, [0, 0, 0, 0.6, 0, 0, 0])
    assert times == pytest.approx([0, 0, 0.25, 0.5, 1.1, 1.1, 1.35])


def test_variable_work_under_the_interval_on_average_keeps_the_rate_with_a_burst() -> None:
    """Work of 0.05 s and 0.4 s in turn, against an interval of 0.25 s: 0.225 s on average."""
    work = [0.05, 0.4] * 40
    restarted = paced_times(Pacer(4, (c1 := Clock()), c1.sleep), c1, work)
    kept = paced_times(Pacer(4, (c2 := Clock()), c2.sleep, burst=2), c2, work)
    # Restarting the interval after each late send loses the time: 0.325 s a send, not 0.25.
    assert (len(work) - 1) / restarted[-1] == pytest.approx(1 / 0.325, rel=0.02)
    assert (len(work) - 1) / kept[-1] == pytest.approx(4, rel=0.02)


@pytest.mark.parametrize("burst", [1, 2, 4])
def test_a_pacer_never_exceeds_its_rate_by_more_than_its_burst(burst: int) -> None:
    import random

    clock = Clock()
    draw = random.Random(15)
    times = paced_times(
        Pacer(4, clock, clock.sleep, burst=burst),
        clock,
        [draw.choice([0, 0.1, 0.6, 1.5]) for _ in range(300)],
    )
    for first, start in enumerate(times):
        for last in range(first, len(times)):
            sent = last - first + 1
            assert sent <= burst + 4 * (times[last] - start) + 1e-9


@pytest.mark.parametrize("send_rate", [2, 5, 14, 50, 200])
def test_the_environments_bursts_together_stay_within_one_second_of_the_rate(
    send_rate: float,
) -> None:
    assert burst_per_environment(send_rate) * notifications_concurrency(send_rate) <= send_rate


def test_below_one_email_a_second_an_environment_never_bursts() -> None:
    assert burst_per_environment(1) == 1  # the sandbox: two environments at 0.5 a second


def test_no_rate_no_pacing() -> None:
    assert email_pacer(None) is None
    pacer = email_pacer(14)
    assert pacer is not None
    assert pacer.per_second == pytest.approx(14 / 3)  # three environments share 14 a second
    assert pacer.burst == 4


def test_a_paced_batch_fits_in_the_functions_timeout_even_in_the_sandbox() -> None:
    """Else Lambda would stop the invocation mid-batch, and its emails be sent again."""
    from chalice.app import SQSEventConfig

    from app import app
    from local_stack.resources import FUNCTION_TIMEOUT_SECONDS
    from local_stack.stack import NOTIFICATIONS_BATCH_SIZE

    [notifications] = [
        config
        for config in app.event_sources
        if isinstance(config, SQSEventConfig) and config.name == "customer_communications"
    ]
    assert notifications.batch_size == NOTIFICATIONS_BATCH_SIZE
    sandbox = 1.0
    assert paced_batch_seconds(sandbox, notifications.batch_size) == 18
    assert paced_batch_seconds(sandbox, notifications.batch_size) < FUNCTION_TIMEOUT_SECONDS
    # The packaged template's default concurrency (3), each environment paced to 1/3 a second.
    template = json.loads((ROOT / "chalice_app" / "merge-template.json").read_text())
    packaged = template["Parameters"]["NotificationsMaximumConcurrency"]["Default"]
    assert paced_batch_seconds(sandbox, notifications.batch_size, packaged) == 27
    assert paced_batch_seconds(sandbox, notifications.batch_size, packaged) < (
        FUNCTION_TIMEOUT_SECONDS
    )


@pytest.mark.parametrize(("send_rate", "concurrency"), [(1, 3), (1, 2), (14, 3), (14, 10)])
def test_each_environment_paces_by_the_concurrency_it_runs_under(
    send_rate: float, concurrency: int
) -> None:
    """The packaged template's NotificationsMaximumConcurrency (default 3) in the sandbox (1 a
    second): three environments at 1/3 each, not at the 1/2 that two would need."""
    pacer = email_pacer(send_rate, concurrency)
    assert pacer is not None
    assert pacer.per_second * concurrency == pytest.approx(send_rate)
    assert paced_batch_seconds(send_rate, 10, concurrency) == pytest.approx(
        9 * concurrency / send_rate
    )


def test_one_default_ses_rate() -> None:
    from chalicelib import pacing
    from deploy import batch_failures
    from local_stack.__main__ import parse_arguments
    from local_stack.aws_limits import Limits

    assert batch_failures.DEFAULT_SES_SEND_RATE is pacing.DEFAULT_SES_SEND_RATE
    assert Limits().ses_send_rate == pacing.DEFAULT_SES_SEND_RATE
    assert parse_arguments([]).ses_rate == pacing.DEFAULT_SES_SEND_RATE
