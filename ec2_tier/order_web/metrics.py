"""The web door's business metric, OrdersPlaced{door=web}, as an embedded-metric-format line.

The web tier has no Powertools and no CloudWatch client on the request path: it writes the
line to stdout, on its own (not inside a log line, whose `service` is order-web, while the
metric's `service` dimension is the pipeline's). systemd gives stdout to the journal,
journal_to_cloudwatch ships it to the web tier's log group with PutLogEvents, and CloudWatch
extracts the metric there, as it does from a function's stdout. Counting at the door, not at
the fulfilment consumer, keeps "placed" and "reserved" apart: an order lost between the door
and fulfilment shows as the difference.
"""

import sys
from collections.abc import Callable
from datetime import datetime

from order_contracts.metrics import Metric, dimensions, emf_line


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def count_order_placed(at: datetime, write: Callable[[str], None] = _stdout) -> None:
    """One order accepted at the storefront (its OrderPlaced is published)."""
    placed = Metric.ORDERS_PLACED
    write(emf_line({placed: 1}, dimensions(placed, "web"), at))
