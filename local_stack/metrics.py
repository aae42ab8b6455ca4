"""The business metrics of the local stack, summed from the embedded-metric-format lines the
handlers and the web tier write: what the CloudWatch dashboard graphs on AWS, as totals.

The handlers run in this process, so chalicelib.metrics hands each line here (set_writer)
instead of printing it; the web tier runs under gunicorn, whose stdout is the stack's
web.log, so its lines are read from that file as it grows. Both are parsed as CloudWatch
would: every metric of every directive, once per dimension set.
"""

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from order_contracts.metrics import NAMESPACE, SERVICE_DIMENSION, Metric

Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class MetricRow:
    name: str
    dimension: str  # "door=web", "" when only the service dimension
    total: float
    meaning: str


class MetricTotals:
    """Thread-safe sums of EMF lines, per metric and dimension values."""

    def __init__(self, followed: Iterable[Path] = ()) -> None:
        self._lock = threading.Lock()
        self._totals: dict[Key, float] = {}
        self._offsets = {path: 0 for path in followed}

    def feed(self, line: str) -> None:
        """Add one log line's points; a line that is not EMF in our namespace adds nothing."""
        try:
            document = json.loads(line)
        except ValueError:
            return
        if not isinstance(document, dict) or not isinstance(document.get("_aws"), dict):
            return
        with self._lock:
            for key, value in _points(document):
                self._totals[key] = self._totals.get(key, 0) + value

    def rows(self) -> list[MetricRow]:
        """Every metric of the registry, in its order: a row per dimension value seen, or one
        zero row for a metric not seen yet."""
        self._read_followed()
        with self._lock:
            totals = dict(self._totals)
        rows = []
        for metric in Metric:
            seen = sorted((k, v) for k, v in totals.items() if k[0] == metric.metric_name)
            for (name, dimensions), total in seen:
                own = [f"{k}={v}" for k, v in dimensions if k != SERVICE_DIMENSION]
                rows.append(MetricRow(name, ", ".join(own), total, metric.spec.meaning))
            if not seen:
                rows.append(MetricRow(metric.metric_name, "", 0, metric.spec.meaning))
        return rows

    def _read_followed(self) -> None:
        for path, offset in list(self._offsets.items()):
            if not path.exists():
                continue
            with path.open("rb") as log:
                log.seek(offset)
                chunk = log.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
            self._offsets[path] = offset + len(complete)
            for line in complete.decode("utf-8", errors="replace").splitlines():
                if '"_aws"' in line:
                    self.feed(line)


def _points(document: dict[str, Any]) -> Iterable[tuple[Key, float]]:
    directives = document["_aws"].get("CloudWatchMetrics") or []
    for directive in directives:
        if directive.get("Namespace") != NAMESPACE:
            continue
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = tuple((key, str(document.get(key, ""))) for key in dimension_set)
            for definition in directive.get("Metrics") or []:
                name = definition.get("Name")
                raw = document.get(name)
                for value in raw if isinstance(raw, list) else [raw]:
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        yield (name, dimensions), float(value)
