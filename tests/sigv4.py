"""Requests to the local API Gateway signed by botocore, as every AWS SDK signs them."""

import json
from datetime import datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client as WsgiClient

from local_stack.gateway.signature import SignedRequest, SigningKey

REGION = "us-east-1"
HOST = "127.0.0.1:8000"
KEY = SigningKey("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "arn:aws:iam::1:user/a")


def signed(
    method: str,
    path: str,
    body: bytes = b"",
    key: SigningKey = KEY,
    region: str = REGION,
    service: str = "execute-api",
    at: datetime | None = None,
) -> SignedRequest:
    """A request signed with key's secret: now, or as of `at`."""
    request = AWSRequest(
        method=method,
        url=f"http://{HOST}{path}",
        data=body,
        headers={"Content-Type": "application/json", "Host": HOST},
    )
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, region)
    if at is None:
        signer.add_auth(request)
    else:  # botocore signs with the current time; sign as of another one
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        canonical = signer.canonical_request(request)
        signature = signer.signature(signer.string_to_sign(request, canonical), request)
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
            f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
            f"Signature={signature}"
        )
    return SignedRequest(method, request.url, dict(request.headers.items()), body)


def send(
    client: WsgiClient,
    method: str,
    path: str,
    body: bytes = b"",
    caller: SigningKey | None = None,
    at: datetime | None = None,
) -> tuple[int, Any]:
    """Send a request to the gateway's WSGI app, signed as caller (or unsigned); status, JSON."""
    headers: dict[str, str] = {"Content-Type": "application/json", "Host": HOST}
    if caller is not None:
        headers = dict(signed(method, path, body, key=caller, at=at).headers)
    response = client.open(path, method=method, data=body, headers=headers)
    return response.status_code, json.loads(response.data) if response.data else None
