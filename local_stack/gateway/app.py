"""The local API Gateway as a WSGI app: route, authenticate, authorize, then invoke.

Routing follows API Gateway, not a web framework: the path is split on '/' only (a ';' is
part of a path parameter, which API Gateway passes URL-decoded), a trailing '/' is dropped,
and a path or method with no route answers 403 "Missing Authentication Token", as API
Gateway does. The Chalice app is then called with the Lambda proxy event API Gateway would
build, its identity block filled from the verified caller.
"""

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from chalice.local import LambdaContext

from chalicelib.access import INVOKE_ACTION, ROUTES, Route
from chalicelib.gateway_errors import gateway_error
from local_stack.gateway.callers import CallerDirectory
from local_stack.gateway.policy import is_allowed
from local_stack.gateway.signature import Rejected, SignedRequest, verify

# API Gateway's payload limit for REST APIs (10 MB); the function applies its own, smaller one.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    parameters: dict[str, str]


def match_route(method: str, raw_path: str) -> RouteMatch | None:
    """The route API Gateway would choose for this method and raw (undecoded) path."""
    if raw_path != "/" and raw_path.endswith("/"):
        raw_path = raw_path[:-1]
    parts = raw_path.split("/")
    # Literal segments before parameters, as API Gateway prefers /a/b over /a/{x}.
    for route in sorted(ROUTES, key=lambda r: r.path):
        template = route.path.split("/")
        if route.method != method or len(template) != len(parts):
            continue
        parameters = {}
        for part, expected in zip(parts, template, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                if not part:
                    break
                parameters[expected[1:-1]] = unquote(part)
            elif part != expected:
                break
        else:
            return RouteMatch(route, parameters)
    return None


class LocalApiGateway:
    def __init__(
        self,
        chalice_app: Any,
        callers: CallerDirectory,
        stage_arn: str,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._app = chalice_app
        self._callers = callers
        self._stage_arn = stage_arn
        self._region = region
        self._clock = clock
        # Chalice keeps the current request on the app object: one invocation at a time, as
        # one Lambda execution environment runs one.
        self._invoking = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        start_response(status, list(headers.items()))
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
        method = environ["REQUEST_METHOD"]
        raw_uri = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        raw_path, _, query = raw_uri.partition("?")
        request_id = str(uuid.uuid4())
        match = match_route(method, raw_path)
        if match is None:
            return self._error("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_PAYLOAD_BYTES:
            return self._error("REQUEST_TOO_LARGE")
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _headers(environ)
        host = headers.get("host", environ.get("SERVER_NAME", "localhost"))
        signed = SignedRequest(method, f"http://{host}{raw_uri}", headers, body)
        verified = verify(signed, self._callers.find_key, self._region, now=self._clock())
        if isinstance(verified, Rejected):
            return self._error(verified.kind, verified.message)
        caller = self._callers.caller(verified.access_key_id)
        # IAM judges the request's own path, as API Gateway does: a policy may name one
        # resource (orders/abc-*) or a whole route (orders/*).
        resource = f"{self._stage_arn}/{method}{raw_path.rstrip('/') or '/'}"
        if caller is None or not is_allowed(caller.statements, INVOKE_ACTION, resource):
            return self._error(
                "ACCESS_DENIED",
                f"User: {verified.principal_arn} is not authorized to perform: "
                f"{INVOKE_ACTION} on resource: {resource}",
            )
        event = {
            "resource": match.route.path,
            "path": raw_path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in parse_qs(query).items()} or None,
            "multiValueQueryStringParameters": parse_qs(query) or None,
            "pathParameters": match.parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": match.route.path,
                "httpMethod": method,
                "path": f"/api{raw_path}",
                "stage": "api",
                "requestId": request_id,
                "identity": {
                    "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                    "accessKey": verified.access_key_id,
                    "userArn": verified.principal_arn,
                    "caller": verified.principal_arn.rsplit("/", 1)[-1],
                    "user": verified.principal_arn.rsplit("/", 1)[-1],
                },
            },
            "body": body.decode() if body else None,
            "isBase64Encoded": False,
        }
        context = LambdaContext(function_name="api_handler", memory_size=512, max_runtime_ms=30000)
        try:
            with self._invoking:
                response = self._app(event, context)
        except Exception:  # noqa: BLE001 - API Gateway answers 502 when the function fails
            return self._error("DEFAULT_5XX", status=502)
        response_headers = {
            **{k: str(v) for k, v in (response.get("headers") or {}).items()},
            "x-amzn-RequestId": request_id,
        }
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        return _status(response["statusCode"]), response_headers, payload

    def _error(
        self, kind: str, message: str | None = None, status: int | None = None
    ) -> tuple[str, dict[str, str], bytes]:
        """API Gateway's own answer (a gateway response), in the project's error shape."""
        answered, body = gateway_error(kind, status, message)
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": kind}
        return _status(answered), headers, json.dumps(body).encode()


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _status(code: int) -> str:
    from http import HTTPStatus

    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"
