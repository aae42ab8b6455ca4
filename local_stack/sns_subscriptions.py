"""Run the Chalice app's SNS-subscribed functions on the local AWS, as Lambda's SNS trigger does.

On AWS, a function subscribed to a topic (`@app.on_sns_message`) is invoked asynchronously by
SNS with one message per event, in the shape of
https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html; Lambda queues the event and, if the
function fails, runs it two more times, a minute and then two minutes later
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), then
drops it (no on-failure destination is configured).

moto delivers to a `lambda` subscription only through its own Lambda service (which runs
functions in Docker), but it does deliver to `http` subscriptions: it POSTs SNS's HTTP
notification JSON (https://docs.aws.amazon.com/sns/latest/dg/http-notification-json.html)
while it handles the Publish. So the local stack serves one endpoint per function on
127.0.0.1, subscribes it to the function's topic, turns each notification into the Lambda
event and invokes the handler on a worker thread, with Lambda's retries. The endpoint answers
at once, as Lambda accepts an asynchronous invocation at once: the handler must not run inside
moto's Publish, which holds the local AWS's lock.
"""

import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalice.local import LambdaContext
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

LambdaHandler = Callable[[dict[str, Any], Any], Any]
log = logging.getLogger(__name__)
# Lambda's default for asynchronous invocations: two retries, 1 and 2 minutes apart.
LAMBDA_RETRY_DELAYS = (60.0, 120.0)


def lambda_sns_event(notification: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event for one SNS HTTP notification (its JSON as SNS POSTs it).

    The two differ in spelling (`SigningCertURL` and `UnsubscribeURL` over HTTP,
    `SigningCertUrl` and `UnsubscribeUrl` for Lambda), and Lambda's record always has
    `Subject` (null when the message had none) and `MessageAttributes` (empty when none).
    """
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": notification["Type"],
                    "MessageId": notification["MessageId"],
                    "TopicArn": notification["TopicArn"],
                    "Subject": notification.get("Subject"),
                    "Message": notification["Message"],
                    "Timestamp": notification["Timestamp"],
                    "SignatureVersion": notification.get("SignatureVersion", "1"),
                    "Signature": notification.get("Signature", ""),
                    "SigningCertUrl": notification.get("SigningCertURL", ""),
                    "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                    "MessageAttributes": dict(notification.get("MessageAttributes") or {}),
                },
            }
        ]
    }


@dataclass(frozen=True)
class SnsFunction:
    """A function of the app subscribed to a topic."""

    name: str
    topic_arn: str
    handler: LambdaHandler


@dataclass(order=True)
class _Invocation:
    due: float
    sequence: int  # first come, first run among those due at once
    attempt: int = field(compare=False)
    name: str = field(compare=False)
    event: dict[str, Any] = field(compare=False)


class AsyncInvoker:
    """Lambda's asynchronous invocation: queue the event, run it, retry a failure twice."""

    def __init__(
        self,
        handlers: Mapping[str, LambdaHandler],
        retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._handlers = dict(handlers)
        self._retry_delays = retry_delays
        self._clock = clock
        self._queue: queue.PriorityQueue[_Invocation] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self.dropped: list[tuple[str, dict[str, Any]]] = []

    def submit(self, name: str, event: dict[str, Any]) -> None:
        self._queue.put(_Invocation(self._clock(), next(self._sequence), 0, name, event))

    def run_due(self, wait: float = 0.1) -> bool:
        """Run the next invocation if it is due (waiting up to `wait`); False if none ran."""
        try:
            invocation = self._queue.get(timeout=wait)
        except queue.Empty:
            return False
        delay = invocation.due - self._clock()
        if delay > 0:  # the earliest is a retry still waiting: put it back
            self._queue.put(invocation)
            time.sleep(min(delay, wait))
            return False
        self._invoke(invocation)
        return True

    def _invoke(self, invocation: _Invocation) -> None:
        try:
            self._handlers[invocation.name](invocation.event, LambdaContext(invocation.name, 512))
        except Exception:
            if invocation.attempt < len(self._retry_delays):
                log.exception("%s failed; Lambda retries it", invocation.name)
                due = self._clock() + self._retry_delays[invocation.attempt]
                retry = (next(self._sequence), invocation.attempt + 1, invocation.name)
                self._queue.put(_Invocation(due, *retry, invocation.event))
            else:
                log.exception("%s failed its last attempt; the event is dropped", invocation.name)
                self.dropped.append((invocation.name, invocation.event))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.run_due()


class SnsHttpEndpoint:
    """WSGI: POST /{function} with an SNS notification submits the function's Lambda event."""

    def __init__(self, invoker: AsyncInvoker) -> None:
        self._invoker = invoker
        self.subscription_arns: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        name = request.path.strip("/")
        if request.method != "POST" or name not in self.subscription_arns:
            return Response("no such subscription", status=404)(environ, start_response)
        # SNS posts JSON as text/plain.
        notification = json.loads(request.get_data(as_text=True))
        if notification.get("Type") == "Notification":
            event = lambda_sns_event(notification, self.subscription_arns[name])
            self._invoker.submit(name, event)
        return Response(status=200)(environ, start_response)


@contextmanager
def sns_functions_running(
    sns: Any,
    functions: list[SnsFunction],
    host: str = "127.0.0.1",
    retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS,
) -> Iterator[AsyncInvoker]:
    """Serve the endpoint, subscribe each function to its topic, invoke until the block ends."""
    invoker = AsyncInvoker({f.name: f.handler for f in functions}, retry_delays)
    endpoint = SnsHttpEndpoint(invoker)
    server = make_server(host, 0, endpoint, threaded=True)
    stop = threading.Event()
    threads = [
        threading.Thread(target=server.serve_forever, name="sns-http-endpoint", daemon=True),
        threading.Thread(target=invoker.run, args=(stop,), name="sns-invoker", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        for function in functions:
            url = f"http://{host}:{server.server_port}/{function.name}"
            arn = sns.subscribe(TopicArn=function.topic_arn, Protocol="http", Endpoint=url)
            endpoint.subscription_arns[function.name] = arn["SubscriptionArn"]
        yield invoker
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for thread in threads:
            thread.join(timeout=10)
