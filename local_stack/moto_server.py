"""moto as a local AWS on 127.0.0.1, safe for concurrent clients and flat in memory."""

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.core import common_models
from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def stop_tracking_moto_models() -> None:
    """Stop moto keeping every model instance ever made (it grows a table copy per transaction).

    moto tracks instances only for its /moto-api data dump, which the local stack does not use.
    """
    common_models.BaseModel.__new__ = staticmethod(  # type: ignore[method-assign]
        lambda cls, *args, **kwargs: object.__new__(cls)
    )


class _Serialised:
    """Serve one request at a time: moto's backends are not thread-safe, real AWS is atomic.

    Without this, concurrent conditional transactions race inside moto (HTTP 500s, and a
    failed transaction's rollback can undo a neighbour's write), so tests would test moto.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            return self._long_poll(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))

    def _long_poll(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        """Wait for messages outside the lock: moto would sleep inside it and stall everyone."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        deadline = time.monotonic() + min(int(request.pop("WaitTimeSeconds", 0)), 20)
        body = json.dumps({**request, "WaitTimeSeconds": 0}).encode()
        response: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            response.update(status=status, headers=headers)

        while True:
            attempt = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
            with self._lock:
                chunks = list(self._app(attempt, keep))
            received = response["status"].startswith("200") and json.loads(
                b"".join(chunks) or b"{}"
            ).get("Messages")
            if received or not response["status"].startswith("200") or time.monotonic() >= deadline:
                start_response(response["status"], response["headers"])
                return chunks
            time.sleep(0.05)


class LocalAws:
    """A moto server in a background thread; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "LocalAws":
        stop_tracking_moto_models()
        # moto's backends are global to the process: a new local AWS starts empty, whatever
        # an earlier one in this process (a test, say) left behind.
        BackendDict.reset()
        app = _Serialised(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        BackendDict.reset()

    def __enter__(self) -> "LocalAws":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
