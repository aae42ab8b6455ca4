"""Print one order's timeline from every log line that carries its order id or correlation id.

Usage: python -m ops.trace [--local [--state-dir DIR]] [--stage STAGE] [--hours N] ORDER_ID
       (or: make trace ORDER=... [LOCAL=1] [STATE_DIR=...])

Every line a handler writes while it works on an order carries `order_id` and
`correlation_id` (chalicelib.observability), and so does the web tier's (order_web.logs); the
web tier's access line carries the correlation id alone. So the lines of one order are those
with its order id, plus those with a correlation id one of them carries.

Locally it reads the stack's logs in its state directory (functions.log, web.log; by default
the newest `make run` directory in the temporary directory). On AWS it asks CloudWatch Logs
Insights, across the functions' log groups and the web tier's, with the caller's AWS
environment (AWS_PROFILE, AWS_REGION, keys), as the AWS CLI does: one query for the order id,
a second for the correlation ids it found.
"""

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from order_contracts.order import is_order_id

# The handlers' log files in the local stack's state directory (local_stack.stack).
LOCAL_LOGS = ("functions.log", "web.log")
STATE_DIR_PREFIX = "order-pipeline-"
APP_NAME = "order-pipeline"
# The queue consumers' lines carry their function's name (chalicelib.sqs_batch); a step of
# the pipeline is named after what it does. The order API's function writes no such key.
HOPS = {
    "process_order": "fulfilment",
    "initiate_billing": "billing",
    "customer_communications": "email",
    "record_ses_feedback": "ses-feedback",
    "watch_stuck_orders": "watchdog",
}
WEB_SERVICE = "order-web"
# What a line says beyond its message, when it has it.
DETAILS = (
    "status",
    "event_type",
    "email",
    "waiting_for",
    "reason",
    "attempt",
    "error",
    "method",
    "path",
    "message_id",
    "trace_id",
)
# Logs Insights returns at most 10,000 rows a query.
MAX_ROWS = 10_000
FIELDS = ("@timestamp", "@log", "@message")

Entry = dict[str, Any]


class TraceError(RuntimeError):
    """The timeline cannot be read: the message says why and what to do."""


@dataclass(frozen=True)
class Line:
    timestamp: str
    hop: str
    entry: Entry

    def render(self) -> str:
        details = " ".join(
            f"{key}={self.entry[key]}" for key in DETAILS if self.entry.get(key) not in (None, "")
        )
        level = self.entry.get("level", "")
        return f"{self.timestamp}  {self.hop:<11} {level:<7} {self.entry.get('message', '')}" + (
            f"  ({details})" if details else ""
        )


def hop_of(entry: Entry, log_group: str = "") -> str:
    """Which part of the pipeline wrote the line: web, api, fulfilment, billing, email..."""
    if entry.get("service") == WEB_SERVICE:
        return "web"
    function = str(entry.get("function_name") or "") or log_group.rsplit("/", 1)[-1]
    # On AWS a function is named order-pipeline-<stage>-<handler>; the API's has no handler.
    handler = function.rsplit("-", 1)[-1] if function.count("-") >= 3 else function
    return HOPS.get(handler, "api")


def related(entries: Iterable[Entry], order_id: str) -> list[Entry]:
    """The entries about the order: its id, a correlation id of its, or a page of it."""
    entries = list(entries)
    correlation_ids = {
        e["correlation_id"]
        for e in entries
        if e.get("order_id") == order_id and e.get("correlation_id")
    }
    page = re.compile(rf"^/orders/{re.escape(order_id)}(/|$)")
    return [
        e
        for e in entries
        if e.get("order_id") == order_id
        or e.get("correlation_id") in correlation_ids
        or page.match(str(e.get("path", "")))
    ]


def timeline(entries: Iterable[Entry], hop: Callable[[Entry], str] = hop_of) -> list[Line]:
    """The lines in time order (Powertools' timestamp: UTC, one format, so it sorts as text)."""
    lines = [Line(str(e.get("timestamp", "")), hop(e), e) for e in entries]
    return sorted(lines, key=lambda line: line.timestamp)


# Locally ------------------------------------------------------------------------------------


def latest_state_dir(temporary: Path | None = None) -> Path:
    """The newest local stack's state directory (make run's default: a temporary directory)."""
    temporary = temporary or Path(tempfile.gettempdir())
    candidates = [path.parent for path in temporary.glob(f"{STATE_DIR_PREFIX}*/{LOCAL_LOGS[0]}")]
    if not candidates:
        raise TraceError(
            f"no local stack's logs in {temporary}: start `make run`, or give its "
            "--state-dir (make trace ORDER=... STATE_DIR=...)"
        )
    return max(candidates, key=lambda path: (path / LOCAL_LOGS[0]).stat().st_mtime)


def local_entries(state_dir: Path) -> Iterator[Entry]:
    """Every JSON line of the local stack's logs (gunicorn's own start-up text is skipped)."""
    for name in LOCAL_LOGS:
        path = state_dir / name
        if not path.exists():
            continue
        with path.open(encoding="utf-8", errors="replace") as log:
            for text in log:
                if text.startswith("{"):
                    try:
                        entry = json.loads(text)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(entry, dict):
                        yield entry


def local_timeline(state_dir: Path, order_id: str) -> list[Line]:
    return timeline(related(local_entries(state_dir), order_id))


# On AWS -------------------------------------------------------------------------------------


def log_groups(stage: str, web_log_group: str, functions: Sequence[str]) -> list[str]:
    """The order API's function, each event function's, and the web tier's log group."""
    return [
        f"/aws/lambda/{APP_NAME}-{stage}",
        *(f"/aws/lambda/{APP_NAME}-{stage}-{function}" for function in functions),
        web_log_group,
    ]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def insights_query(order_id: str, correlation_ids: Iterable[str] = ()) -> str:
    """The Logs Insights query for the order's lines (JSON fields are discovered by Insights)."""
    conditions = [f"order_id = {_quoted(order_id)}"]
    ids = sorted(set(correlation_ids))
    if ids:
        conditions.append(f"correlation_id in [{', '.join(_quoted(i) for i in ids)}]")
    conditions.append(f"path like {_quoted('/orders/' + order_id)}")
    return (
        f"fields {', '.join(FIELDS)}"
        f" | filter {' or '.join(conditions)}"
        f" | sort @timestamp asc | limit {MAX_ROWS}"
    )


def run_query(
    logs: Any,
    groups: Sequence[str],
    query: str,
    start: datetime,
    end: datetime,
    sleep: Callable[[float], None] = time.sleep,
    timeout_seconds: float = 120,
) -> list[tuple[str, Entry]]:
    """Run a Logs Insights query; return each row's log group and its JSON message."""
    query_id = logs.start_query(
        logGroupNames=list(groups),
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),
        queryString=query,
        limit=MAX_ROWS,
    )["queryId"]
    waited = 0.0
    while True:
        response = logs.get_query_results(queryId=query_id)
        if response["status"] == "Complete":
            return [row for row in map(_row, response["results"]) if row is not None]
        if response["status"] in ("Failed", "Cancelled", "Timeout", "Unknown"):
            raise TraceError(f"the Logs Insights query ended {response['status']}: {query}")
        if waited > timeout_seconds:
            raise TraceError(f"the Logs Insights query did not finish in {timeout_seconds} s")
        sleep(1)
        waited += 1


def _row(fields: list[dict[str, str]]) -> tuple[str, Entry] | None:
    values = {field["field"]: field.get("value", "") for field in fields}
    try:
        entry = json.loads(values.get("@message", ""))
    except json.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        return None
    entry.setdefault("timestamp", values.get("@timestamp", ""))
    return values.get("@log", "").split(":", 1)[-1], entry


def aws_timeline(
    logs: Any,
    groups: Sequence[str],
    order_id: str,
    hours: float,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> list[Line]:
    end = now()
    start = end - timedelta(hours=hours)
    first = run_query(logs, groups, insights_query(order_id), start, end, sleep)
    correlation_ids = {e["correlation_id"] for _, e in first if e.get("correlation_id")}
    rows = first
    if correlation_ids:
        query = insights_query(order_id, correlation_ids)
        rows = run_query(logs, groups, query, start, end, sleep)
    group_of = {id(entry): group for group, entry in rows}
    # The same selection as locally: the query narrows the rows, this decides.
    kept = related((entry for _, entry in rows), order_id)
    return timeline(kept, lambda e: hop_of(e, group_of.get(id(e), "")))


# The command --------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ops.trace", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("order_id", help="the order's id (as the doors answer it)")
    parser.add_argument(
        "--local", action="store_true", help="read the local stack's logs (make run)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="the local stack's --state-dir (default: the newest make run's)",
    )
    parser.add_argument("--stage", default="prod", help="Chalice stage on AWS (default: prod)")
    parser.add_argument(
        "--web-log-group",
        default="/order-pipeline/production/web",
        help="the web tier's log group on AWS (default: /order-pipeline/production/web)",
    )
    parser.add_argument(
        "--hours", type=float, default=24, help="how far back to look on AWS (default: 24)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if not is_order_id(arguments.order_id):
        print(f"{arguments.order_id!r} is not an order id.", file=sys.stderr)
        return 2
    try:
        lines = _lines(arguments)
    except TraceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not lines:
        print(f"No log line mentions order {arguments.order_id}.", file=sys.stderr)
        return 1
    hops = list(dict.fromkeys(line.hop for line in lines))
    print(f"==> Order {arguments.order_id}: {len(lines)} lines, through {' -> '.join(hops)}")
    for line in lines:
        print(line.render())
    return 0


def _lines(arguments: argparse.Namespace) -> list[Line]:
    if arguments.local or arguments.state_dir is not None:
        state_dir = arguments.state_dir or latest_state_dir()
        print(f"==> Logs of the local stack in {state_dir}", file=sys.stderr)
        return local_timeline(state_dir, arguments.order_id)
    import boto3
    from botocore.exceptions import NoCredentialsError, NoRegionError

    from deploy.stage_config import EVENT_FUNCTIONS

    groups = log_groups(arguments.stage, arguments.web_log_group, EVENT_FUNCTIONS)
    try:
        logs = boto3.client("logs")
        print(f"==> CloudWatch Logs Insights at {logs.meta.endpoint_url}", file=sys.stderr)
        return aws_timeline(logs, groups, arguments.order_id, arguments.hours)
    except NoRegionError as error:
        raise TraceError("no AWS region: set AWS_REGION (or use --local)") from error
    except NoCredentialsError as error:
        raise TraceError("no AWS credentials: set AWS_PROFILE or keys (or use --local)") from error


if __name__ == "__main__":
    sys.exit(main())
