"""What a booting web host reaches besides moto, served on the test's end of the link.

- SignalResource: moto's CloudFormation does not implement it (moto 5.2: no such action).
  This answers CloudFormation's query protocol for that one action, as the API reference
  documents it (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_SignalResource.html):
  StackName, LogicalResourceId, UniqueId and Status (SUCCESS or FAILURE); a stack or
  resource moto does not know is a ValidationError. Each signal is recorded for the test.
  The instance's SDK is pointed here by AWS_ENDPOINT_URL_CLOUDFORMATION, everything else
  goes to moto (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
- Debian's mirror: apt on the instance reaches it through NAT; in the test, through this
  forwarding proxy, for the mirror's host only.
"""

import shutil
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@dataclass(frozen=True)
class Signal:
    stack: str
    logical_id: str
    unique_id: str
    status: str


class _SignalHandler(BaseHTTPRequestHandler):
    server: "SignalServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        request_id = str(uuid.uuid4())
        if form.get("Action") != "SignalResource":
            return self._error(
                400, "InvalidAction", f"{form.get('Action')} is not emulated", request_id
            )
        signal = Signal(
            form.get("StackName", ""),
            form.get("LogicalResourceId", ""),
            form.get("UniqueId", ""),
            form.get("Status", ""),
        )
        if signal.status not in {"SUCCESS", "FAILURE"} or not signal.unique_id:
            return self._error(
                400, "ValidationError", "Status and UniqueId are required", request_id
            )
        if not self.server.resource_exists(signal.stack, signal.logical_id):
            message = f"Resource {signal.logical_id} does not exist for stack {signal.stack}"
            return self._error(400, "ValidationError", message, request_id)
        self.server.signals.append(signal)
        return self._answer(
            200,
            f'<SignalResourceResponse xmlns="{NAMESPACE}"><ResponseMetadata>'
            f"<RequestId>{request_id}</RequestId></ResponseMetadata></SignalResourceResponse>",
        )

    def _error(self, status: int, code: str, message: str, request_id: str) -> None:
        self._answer(
            status,
            f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        )


class SignalServer(ThreadingHTTPServer):
    def __init__(
        self, address: tuple[str, int], resource_exists: Callable[[str, str], bool]
    ) -> None:
        super().__init__(address, _SignalHandler)
        self.resource_exists = resource_exists
        self.signals: list[Signal] = []


class _MirrorProxyHandler(BaseHTTPRequestHandler):
    server: "MirrorProxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname != self.server.mirror_host:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            upstream = urllib.request.urlopen(self.path, timeout=60)  # noqa: S310 - the mirror only
        except urllib.error.HTTPError as error:
            upstream = error
        with upstream:
            self.send_response(upstream.status)
            for name in ("Content-Type", "Content-Length", "Last-Modified", "ETag"):
                if value := upstream.headers.get(name):
                    self.send_header(name, value)
            if "Content-Length" not in upstream.headers:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            shutil.copyfileobj(upstream, self.wfile)


class MirrorProxy(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], mirror_host: str) -> None:
        super().__init__(address, _MirrorProxyHandler)
        self.mirror_host = mirror_host


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a thread; yield http://address:port; shut down on exit."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
