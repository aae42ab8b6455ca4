"""CPU time of this process (the local AWS) and of its child servers (gunicorn), from /proc.

On a shared two-core machine throughput moves with the neighbours' load; CPU time per
request says which process the time went to, and moves much less.
"""

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuDelta:
    """CPU seconds spent while the block ran, filled in when it ends."""

    web: float = 0.0  # every descendant server process alive at the end (gunicorn tree)
    local_aws: float = 0.0  # this process: moto's threads serve the web tier's AWS calls


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid (Linux: /proc/PID/task/TID/children)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids = [int(child) for child in children.read_text().split()]
        except OSError:  # the task ended while we looked
            continue
        for child in pids:
            found += [child, *descendants(child)]
    return found


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces: the fields after it start behind the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_seconds(exclude: str) -> float:
    """CPU of live descendants, leaving out short-lived tools (wrk) by command name."""
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name != exclude:
            total += process_cpu_seconds(pid)
    return total


@contextmanager
def measure_cpu(exclude: str = "wrk") -> Iterator[CpuDelta]:
    delta = CpuDelta()
    web, local_aws = _children_cpu_seconds(exclude), _self_cpu_seconds()
    yield delta
    delta.web = _children_cpu_seconds(exclude) - web
    delta.local_aws = _self_cpu_seconds() - local_aws
