"""Logs in the Lambda functions' dialect, with the request's correlation id on every line.

One JSON object per line, keyed as Powertools' Logger keys them (`level`, `location`,
`message`, `timestamp`, `service`, then the extras at top level, then `exception`,
`exception_name` and `stack_trace` when there is one), so one Logs Insights query reads both
tiers. gunicorn's error and access logs use these formatters (order_web.gunicorn_conf).
"""

import json
import logging
import time
import traceback
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar

from flask import Flask, Response, g, has_request_context, request

from order_contracts import correlation_id_or

SERVICE = "order-web"
CORRELATION_HEADER = "X-Correlation-Id"
# What every line of a request carries when it is known (set on flask.g by the views).
REQUEST_KEYS = ("correlation_id", "order_id")

# Attributes every LogRecord has; anything else was passed as extra= and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class JsonFormatter(logging.Formatter):
    """Powertools' JSON line: the same keys, the same timestamp format (in UTC), no spaces."""

    def __init__(self, service: str = SERVICE) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.formatTime(record),
            "service": self.service,
            **self.extras(record),
        }
        if isinstance(record.exc_info, tuple) and record.exc_info[0] is not None:
            entry.update(self._exception(record.exc_info))
        # As Powertools does: a key whose value is None is left out.
        return json.dumps(
            {key: value for key, value in entry.items() if value is not None},
            default=str,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Powertools' default format, "2026-11-30 09:19:20,182+0000", always in UTC."""
        return time.strftime(
            f"%Y-%m-%d %H:%M:%S,{int(record.msecs):03d}+0000", time.gmtime(record.created)
        )

    def extras(self, record: logging.LogRecord) -> dict[str, Any]:
        """The keys the record carries beyond logging's own (extra=, the request's ids)."""
        return {key: value for key, value in vars(record).items() if key not in _STANDARD}

    def _exception(self, exc_info: _ExcInfo) -> dict[str, Any]:
        kind, error, trace = exc_info
        return {
            "exception": self.formatException(exc_info),
            "exception_name": kind.__name__,
            "exception_notes": getattr(error, "__notes__", None),
            "stack_trace": {
                "type": kind.__name__,
                "value": str(error),
                "module": type(error).__module__,
                "frames": [
                    {
                        "file": frame.filename,
                        "line": frame.lineno,
                        "function": frame.name,
                        "statement": frame.line,
                    }
                    for frame in traceback.extract_tb(trace)
                ],
            },
        }


class AccessJsonFormatter(JsonFormatter):
    """gunicorn's access line in the same dialect: the request's fields at top level.

    gunicorn logs the access line as its format (the message) with its atoms as the record's
    arguments; the fields are read from the atoms, so no value can break the JSON.
    """

    FIELDS: ClassVar[dict[str, str]] = {
        "remote": "h",
        "method": "m",
        "path": "U",
        "status": "s",
        "bytes": "B",
        "duration_us": "D",
        "correlation_id": "{x-correlation-id}o",
        "user_agent": "a",
        # The ALB's X-Ray trace header (request tracing): the request's line in its trace.
        "trace_id": "{x-amzn-trace-id}i",
    }

    def extras(self, record: logging.LogRecord) -> dict[str, Any]:
        atoms = record.args
        if not isinstance(atoms, Mapping):
            return super().extras(record)
        fields = {name: _unescaped(atoms[atom]) for name, atom in self.FIELDS.items()}
        status = str(fields["status"])
        fields["status"] = int(status) if status.isdigit() else status
        if fields["trace_id"] == "-":  # gunicorn's "absent": no ALB in front (locally)
            fields["trace_id"] = None
        return fields


class RequestContext(logging.Filter):
    """Puts the request's correlation id, and its order id once known, on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            for key in REQUEST_KEYS:
                value = g.get(key)
                if value is not None and not hasattr(record, key):  # an explicit extra wins
                    setattr(record, key, value)
        return True


# One filter for every app: create_app runs more than once per process in tests, and every
# app logs through the same logger (named after the package).
_request_context = RequestContext()


def init_app(app: Flask) -> None:
    """Give each request its correlation id, echo it back, and write it on every log line."""
    app.logger.addFilter(_request_context)  # a no-op when this filter is already there
    app.before_request(_assign_correlation_id)
    app.after_request(_echo_correlation_id)


def _assign_correlation_id() -> None:
    g.correlation_id = correlation_id_or(request.headers.get(CORRELATION_HEADER), uuid.uuid4().hex)


def _echo_correlation_id(response: Response) -> Response:
    response.headers[CORRELATION_HEADER] = g.get("correlation_id", "")
    return response


def _unescaped(value: Any) -> Any:
    """An atom as the request had it: gunicorn escapes double quotes for its text format."""
    return value.replace('\\"', '"') if isinstance(value, str) else value
