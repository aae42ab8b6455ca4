"""X-Ray tracing of the queue consumers, through Powertools' Tracer: nothing at all elsewhere.

What carries an order's trace is not this module. With active tracing (Chalice's "xray":
true), Lambda records each invocation and sets _X_AMZN_TRACE_ID, and botocore itself sends
that header with every AWS call a function makes in Lambda, so S3, SNS and SQS pass the
trace on, and Lambda links a consumer's trace to the messages' (ARCHITECTURE.md, "Tracing").
The order API's function therefore never loads the X-Ray SDK: its cold start pays nothing.

The queue consumers add, per record, a subsegment annotated with the order's ids (X-Ray
indexes annotations: `annotation.order_id = "..."` finds every function's trace of an order),
and subsegments for their AWS calls (botocore patched). The Tracer is built on first use, in
Lambda only: anywhere else (the local stack, the tests, the benchmarks), and whenever
POWERTOOLS_TRACE_DISABLED is true, nothing is imported and every call here is a no-op.
Importing aws_xray_sdk outside Lambda alone costs about 140 ms (it builds a sampling client).
"""

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

SERVICE = "order-pipeline"
# Keys of an order's log context that are also trace annotations (searchable in X-Ray).
ANNOTATED_KEYS = ("order_id", "correlation_id")
_FALSE = {"", "0", "false", "no", "off"}

_tracer: Any = None
_lock = threading.Lock()


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Trace only in Lambda, as Powertools decides it, and unless switched off."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in _FALSE:
        return False
    in_lambda = bool(environ.get("LAMBDA_TASK_ROOT"))
    emulated = bool(environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE"))
    return in_lambda and not emulated


def _started_tracer() -> Any:
    """The Tracer, built once: the X-Ray SDK with botocore patched (only botocore)."""
    global _tracer  # one per Lambda execution environment, as the SDK's recorder is
    if _tracer is None:
        with _lock:
            if _tracer is None:
                from aws_lambda_powertools import Tracer

                _tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
    return _tracer


@contextmanager
def record_subsegment(name: str) -> Iterator[None]:
    """A subsegment around one record's work; a no-op when tracing is off."""
    if not enabled():
        yield
        return
    with _started_tracer().provider.in_subsegment(f"## {name}"):
        yield


def annotate(keys: Mapping[str, str]) -> None:
    """Annotate the current subsegment with the order's ids, if a consumer started tracing.

    Never starts the tracer: the order API's function logs the same keys and must not pay
    for the SDK.
    """
    if _tracer is None:
        return
    for key in ANNOTATED_KEYS:
        if keys.get(key):
            try:
                _tracer.put_annotation(key, str(keys[key]))
            except Exception:  # noqa: BLE001 - e.g. outside a subsegment: a trace never fails a step
                return
