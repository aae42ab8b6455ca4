"""Publish OrderPlaced (and the storefront's CancelRequested) to order-intake, with group
commit: requests in flight share SNS calls.

Each call carries the X-Ray trace header the load balancer gave the request (ALB request
tracing), so SNS, then SQS (AWSTraceHeader) carry the order's trace to the functions.
"""

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from order_contracts import CancelRequested, OrderPlaced

TRACE_HEADER = "X-Amzn-Trace-Id"
_TRACE_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})(?:;|$)")


def trace_header(forwarded: str | None) -> str | None:
    """The trace header to send on: the request's trace (its Root) from the ALB's header.

    The ALB writes "Root=1-...", or "Self=1-...;Root=1-..." behind another load balancer; no
    sampling decision, so the traced services downstream make theirs. Anything else: None.
    """
    match = _TRACE_ROOT.search(forwarded or "")
    return f"Root={match.group(1)}" if match else None


class IntakeUnavailable(RuntimeError):
    """order-intake did not accept the order: the shopper is told to try again."""


@dataclass(eq=False)
class _Waiting:
    """One request's message, and what SNS answered for it."""

    message: str
    attributes: dict[str, dict[str, str]]
    trace_header: str | None = None
    wakeup: threading.Event = field(default_factory=threading.Event)
    message_id: str | None = None
    error: IntakeUnavailable | None = None
    # Handed over by the request that sent the previous batch: this thread sends it.
    batch_to_send: "list[_Waiting] | None" = None

    @cached_property  # read under the publisher's lock, possibly twice per batch: once
    def size(self) -> int:
        """Bytes SNS counts against a batch's 256 KiB: the body and every attribute."""
        return len(self.message.encode()) + sum(
            len(name) + len(value["DataType"]) + len(value["StringValue"].encode())
            for name, value in self.attributes.items()
        )

    def answer(self, message_id: str | None = None, error: IntakeUnavailable | None = None) -> None:
        self.message_id, self.error = message_id, error
        self.wakeup.set()


class IntakePublisher:
    """Publishes OrderPlaced to order-intake, the one topic the web hosts may publish to.

    Group commit: requests that arrive while SNS calls are in flight share the next one
    (PublishBatch, up to 10 messages and 256 KiB). A request still returns only once SNS has
    accepted its own message, so the confirmation page keeps meaning "in the pipeline" and a
    failure is that request's 503. Nobody waits for a batch to fill: a lone order is sent at
    once by its own thread, as before. There are no background threads: the request that
    finishes a call hands the next batch to the oldest waiting request, whose thread sends it.
    """

    MAX_ENTRIES = 10
    MAX_BATCH_BYTES = 256 * 1024
    # Past the client's own retries (3 attempts of 2 s connect + 5 s read): a safety net.
    ANSWER_TIMEOUT_SECONDS = 25.0

    def __init__(self, client: Any, topic_arn: str, calls_in_flight: int = 2) -> None:
        self._sns = client
        self._topic_arn = topic_arn
        self._calls_in_flight = calls_in_flight
        self._lock = threading.Lock()
        self._waiting: deque[_Waiting] = deque()
        self._sending = 0
        # The trace header of the call this thread is making (one HTTP header per call).
        self._call = threading.local()
        client.meta.events.register("before-call.sns.PublishBatch", self._add_trace_header)

    def publish(self, message: OrderPlaced | CancelRequested, trace: str | None = None) -> str:
        """Publish the message; return SNS's message id once SNS has accepted it.

        trace is the request's X-Ray trace header, as trace_header() makes it.
        """
        mine = _Waiting(
            message.to_json(),
            {
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes().items()
            },
            trace,
        )
        with self._lock:
            self._waiting.append(mine)
            if self._sending < self._calls_in_flight:
                self._sending += 1
                mine.batch_to_send = self._take_batch()
        while True:
            if mine.batch_to_send is not None:
                batch, mine.batch_to_send = mine.batch_to_send, None
                try:
                    self._send(batch)
                finally:
                    self._hand_over()
            if mine.error is not None:
                raise mine.error
            if mine.message_id is not None:
                return mine.message_id
            if not mine.wakeup.wait(self.ANSWER_TIMEOUT_SECONDS):
                self._give_up(mine)
            mine.wakeup.clear()

    @property
    def backlog(self) -> int:
        """Messages waiting for an SNS call."""
        return len(self._waiting)

    def _take_batch(self) -> list[_Waiting]:
        """The oldest waiting messages, up to SNS's limits (call with the lock held)."""
        batch = [self._waiting.popleft()]
        size = batch[0].size
        while (
            self._waiting
            and len(batch) < self.MAX_ENTRIES
            and size + self._waiting[0].size <= self.MAX_BATCH_BYTES
        ):
            size += self._waiting[0].size
            batch.append(self._waiting.popleft())
        return batch

    def _hand_over(self) -> None:
        """Give the next batch to its oldest request's thread, or free this call's slot."""
        with self._lock:
            if not self._waiting:
                self._sending -= 1
                return
            batch = self._take_batch()
            batch[0].batch_to_send = batch
        batch[0].wakeup.set()

    def _give_up(self, mine: _Waiting) -> None:
        """Stop waiting, unless this request's turn to send has come (the batch must go)."""
        with self._lock:
            if mine.batch_to_send is not None:
                return
            if mine in self._waiting:  # never sent: drop it, the shopper is told to retry
                self._waiting.remove(mine)
        if mine.message_id is None and mine.error is None:
            mine.error = IntakeUnavailable("order-intake did not answer in time")

    def _add_trace_header(self, params: dict[str, Any], **_: Any) -> None:
        header = getattr(self._call, "trace_header", None)
        if header is not None:
            params["headers"][TRACE_HEADER] = header

    def _send(self, batch: list[_Waiting]) -> None:
        # SNS takes one trace header per call: a batch carries its first traced order's; the
        # orders sharing the call are traced as part of that one (their logs still follow
        # each by its correlation id).
        self._call.trace_header = next((i.trace_header for i in batch if i.trace_header), None)
        try:
            response = self._sns.publish_batch(
                TopicArn=self._topic_arn,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(index),
                        "Message": item.message,
                        "MessageAttributes": item.attributes,
                    }
                    for index, item in enumerate(batch)
                ],
            )
        except Exception as error:  # noqa: BLE001 - every waiting request must hear of it
            for item in batch:
                unavailable = IntakeUnavailable(f"{type(error).__name__}: {error}")
                unavailable.__cause__ = error
                item.answer(error=unavailable)
            return
        for accepted in response.get("Successful", []):
            batch[int(accepted["Id"])].answer(message_id=accepted["MessageId"])
        for refused in response.get("Failed", []):
            reason = f"{refused.get('Code')}: {refused.get('Message', '')}"
            batch[int(refused["Id"])].answer(error=IntakeUnavailable(reason))
        for item in batch:  # SNS answers for every entry; never leave a request hanging
            if item.message_id is None and item.error is None:
                item.answer(error=IntakeUnavailable("SNS did not answer for it"))
