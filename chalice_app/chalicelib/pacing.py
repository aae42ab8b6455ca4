"""Pace email to the account's SES sending rate.

SES refuses sends past the account's maximum send rate (1 a second in the sandbox, 14 by
default in production). The notifications consumer runs in at most as many execution
environments at once as its trigger's MaximumConcurrency, and each environment runs one
invocation at a time; so each environment sends at most rate / concurrency emails a second and
all of them together stay within the rate. `notifications_concurrency` says what concurrency a
rate needs; the functions pace by the concurrency they actually run under, which reaches them
as NOTIFICATIONS_MAXIMUM_CONCURRENCY from the number that sets the trigger: stage_config writes
both (deploy/batch_failures.py sets the trigger from the function's variable), the packaged
template passes its NotificationsMaximumConcurrency parameter to both (merge-template.json),
and the local stack its own trigger's.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# SES's default maximum send rate out of the sandbox (emails a second): what a stage is paced
# to until its account's own rate is read (sesv2 GetAccount), and the local stack's default.
DEFAULT_SES_SEND_RATE = 14.0
# SQS event sources accept a MaximumConcurrency of 2 to 1,000.
MINIMUM_CONCURRENCY = 2
MAXIMUM_CONCURRENCY = 1000
# What one environment sends in a second when it sends one email after another: a SendEmail
# takes some 50-100 ms, and rendering and the claim (four SQL statements) up to 100 ms more.
# An estimate, on the safe side: more environments than the rate needs only pace each one
# slower, fewer would leave the quota unused. bench/capacity.py uses the same figure.
EMAILS_PER_SECOND_PER_ENVIRONMENT = 5.0


def notifications_concurrency(send_rate: float) -> int:
    """The notifications trigger's MaximumConcurrency for an SES send rate (emails a second)."""
    needed = math.ceil(send_rate / EMAILS_PER_SECOND_PER_ENVIRONMENT)
    return max(MINIMUM_CONCURRENCY, min(MAXIMUM_CONCURRENCY, needed))


def rate_per_environment(send_rate: float, concurrency: int | None = None) -> float:
    """What one environment may send a second, with `concurrency` environments at once (by
    default, what the rate needs: notifications_concurrency)."""
    return send_rate / (concurrency or notifications_concurrency(send_rate))


@dataclass
class Pacer:
    """At most `per_second` calls of wait() a second in each thread, on a steady schedule.

    Per thread: on Lambda a container runs one invocation at a time, and the local stack runs
    each poller of an event source (an execution environment) in a thread of its own.

    The schedule is kept, not restarted at each call: a call that comes late (the work between
    two sends took longer than the interval) leaves the next ones due at once until the thread
    is back on schedule, so a slow email does not lower the rate for good. `burst` bounds that:
    the schedule never lags now by more than burst - 1 intervals, so a thread never sends more
    than `burst` at once (a token bucket of `burst` sends, full at the start). With burst 1
    each call waits a whole interval after the previous one, however late that was.
    """

    per_second: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    burst: int = 1
    _next: threading.local = field(default_factory=threading.local, repr=False)

    def wait(self) -> None:
        interval = 1 / self.per_second
        now = self.clock()
        earliest = now - (self.burst - 1) * interval  # what the thread may bank, at most
        due = max(getattr(self._next, "at", earliest), earliest)
        if now < due:
            self.sleep(due - now)
        self._next.at = due + interval


def burst_per_environment(send_rate: float, concurrency: int | None = None) -> int:
    """How many sends one environment may make at once after falling behind its schedule: its
    whole sends of one second. All environments together then hold at most one second of the
    account's rate (the model's SES bucket, local_stack/aws_limits.py), so catching up stays
    within the quota; below one send a second each, none (1)."""
    return max(1, math.floor(rate_per_environment(send_rate, concurrency)))


def email_pacer(send_rate: float | None, concurrency: int | None = None) -> Pacer | None:
    """The pacer of one notifications environment of `concurrency` (the trigger's
    MaximumConcurrency); None when no rate is set (unpaced)."""
    if not send_rate:
        return None
    per_second = rate_per_environment(send_rate, concurrency)
    return Pacer(per_second, burst=burst_per_environment(send_rate, concurrency))


def paced_batch_seconds(send_rate: float, batch_size: int, concurrency: int | None = None) -> float:
    """How long one environment's paced batch of emails takes at least: it must fit in the
    function's timeout, and the queue's visibility timeout must outlast it, or its last
    messages are delivered again while it still sends them (and sent twice)."""
    return (batch_size - 1) / rate_per_environment(send_rate, concurrency)
