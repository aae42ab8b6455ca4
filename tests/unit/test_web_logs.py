"""order_web/logs.py: the web tier's log lines are the Lambda functions' (Powertools) lines.

The app's own lines, with each request's ids, are in tests/functional/test_web_app.py.
"""

import json
import logging
import re
import sys
from typing import Any

import pytest

from order_web.logs import JsonFormatter
from order_web.publisher import IntakeUnavailable
from tests.web import powertools_line


def log_record(exc_info: Any = None, **extra: Any) -> logging.LogRecord:
    return logging.getLogger("order_web").makeRecord(
        "order_web",
        logging.ERROR if exc_info else logging.INFO,
        "shop.py",
        108,
        "order %s: %s",
        ("web-1", "publish failed"),
        exc_info,
        func="place_order",
        extra=extra,
    )


def test_web_log_lines_are_the_lambda_functions_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)  # only Lambda sets it
    try:
        raise IntakeUnavailable("order-intake did not answer in time")
    except IntakeUnavailable:
        failure = log_record(sys.exc_info(), correlation_id="corr-1", order_id="web-1")
    plain = log_record(correlation_id="corr-2", count=3)

    for record in (failure, plain):
        line = json.loads(JsonFormatter().format(record))
        assert line == powertools_line(record)
        assert list(line)[:5] == ["level", "location", "message", "timestamp", "service"]
        assert line["service"] == "order-web"
        assert line["location"] == "place_order:108"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line["timestamp"])
    assert json.loads(JsonFormatter().format(plain))["count"] == 3  # extras at top level
