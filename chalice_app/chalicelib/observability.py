"""Structured JSON logs: every line of a request or a record carries its ids."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import tracing

logger = Logger(service="order-pipeline")


@contextmanager
def log_context(**keys: str) -> Iterator[None]:
    """Add keys to every log line in this block, restoring outer values on the way out.

    Thread-local keys, because the local event sources and the tests run handlers on threads.
    """
    previous = logger.thread_safe_get_current_keys()
    logger.thread_safe_append_keys(**keys)
    # The same ids on the record's trace, where a consumer traces it (chalicelib.tracing).
    tracing.annotate(keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(keys)
        outer = {key: previous[key] for key in keys if key in previous}
        if outer:
            logger.thread_safe_append_keys(**outer)


def utc_now() -> datetime:
    return datetime.now(UTC)
