"""ops/trace.py against CloudWatch Logs on moto: the Logs Insights round trip.

moto runs start_query and get_query_results but ignores the query's filter (it returns every
event of the groups), so the command's own selection is what these tests see at work; the
query's text is pinned in tests/unit/test_trace.py.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from moto import mock_aws

from ops.trace import aws_timeline, log_groups
from tests.conftest import BOTO3_SESSION

WEB = "/order-pipeline/production/web"


def write(logs: object, group: str, *entries: dict[str, str]) -> None:
    client: Any = logs
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName="stream")
    if not entries:
        return
    now = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=group,
        logStreamName="stream",
        logEvents=[
            {"timestamp": now + i, "message": json.dumps(entry)} for i, entry in enumerate(entries)
        ],
    )


def test_the_order_is_followed_across_the_functions_and_the_web_tiers_log_groups() -> None:
    with mock_aws():
        logs = BOTO3_SESSION.client("logs")
        groups = log_groups("prod", WEB, ["process_order", "initiate_billing"])
        write(
            logs,
            WEB,
            {
                "timestamp": "2026-11-30 11:17:10,433+0000",
                "service": "order-web",
                "message": "POST /orders 303",
                "path": "/orders",
                "correlation_id": "c-1",
            },
            {
                "timestamp": "2026-11-30 11:17:10,425+0000",
                "service": "order-web",
                "message": "order placed",
                "order_id": "web-1",
                "correlation_id": "c-1",
            },
        )
        write(logs, groups[0])  # the order API's: nothing about this order
        write(
            logs,
            groups[1],
            {
                "timestamp": "2026-11-30 11:17:10,561+0000",
                "message": "order fulfilled",
                "order_id": "web-1",
                "correlation_id": "c-1",
            },
            {
                "timestamp": "2026-11-30 11:17:10,600+0000",
                "message": "order fulfilled",
                "order_id": "web-2",
                "correlation_id": "c-2",
            },
        )
        write(
            logs,
            groups[2],
            {
                "timestamp": "2026-11-30 11:17:10,681+0000",
                "message": "order billed",
                "order_id": "web-1",
                "correlation_id": "c-1",
            },
        )

        lines = aws_timeline(
            logs, groups, "web-1", hours=1, now=lambda: datetime.now(UTC) + timedelta(minutes=1)
        )

    assert [(line.hop, line.entry["message"]) for line in lines] == [
        ("web", "order placed"),
        ("web", "POST /orders 303"),
        ("fulfilment", "order fulfilled"),
        ("billing", "order billed"),
    ]
