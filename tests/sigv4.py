"""Requests to the local API Gateway signed by botocore, as every AWS SDK signs them."""

from datetime import datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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
