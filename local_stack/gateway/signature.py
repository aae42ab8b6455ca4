"""Verify an AWS Signature Version 4 on an incoming request, as API Gateway does for IAM.

The canonical request, string to sign and signature are botocore's own (the code that signs
every boto3 request), so a request signed by botocore, the AWS CLI, curl --aws-sigv4 or
Postman's "AWS Signature" verifies here exactly when it would verify on AWS for a path of
unreserved characters. What API Gateway answers, and this module reproduces:
- no Authorization header: "Missing Authentication Token";
- an access key the account does not know: "The security token included in the request is
  invalid";
- a signature that does not match, or a scope for another region or service: "The request
  signature we calculated does not match the signature you provided";
- a timestamp more than five minutes from now: "Signature expired" (AWS: "a request must
  reach AWS within five minutes of the time stamp in the request",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html).
"""

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM}\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True)
class SigningKey:
    """What the local IAM holds for one access key."""

    access_key_id: str
    secret_access_key: str
    principal_arn: str


@dataclass(frozen=True)
class Rejected:
    """Why a request is refused: the gateway response type and API Gateway's message."""

    # API Gateway's response type: MISSING_AUTHENTICATION_TOKEN, INVALID_SIGNATURE (also for
    # an unknown key or an incomplete header) or EXPIRED_TOKEN.
    kind: str
    message: str


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str  # scheme://host[:port]/raw/path[?raw query], as the client sent it
    headers: Mapping[str, str]  # names in any case
    body: bytes


def verify(
    request: SignedRequest,
    find_key: Callable[[str], SigningKey | None],
    region: str,
    service: str = "execute-api",
    now: datetime | None = None,
) -> SigningKey | Rejected:
    """The caller's key when the signature holds, else why not."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    authorization = headers.get("authorization")
    if not authorization:
        return Rejected("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    parsed = _AUTHORIZATION.match(authorization)
    if parsed is None:
        return Rejected(
            "INVALID_SIGNATURE",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters ({ALGORITHM}).",
        )
    key_id, _, scope = parsed["credential"].partition("/")
    key = find_key(key_id)
    if key is None:
        return Rejected(
            "INVALID_SIGNATURE", "The security token included in the request is invalid."
        )
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return Rejected("INVALID_SIGNATURE", "Authorization requires an X-Amz-Date header.")
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > MAX_SKEW:
        return Rejected(
            "EXPIRED_TOKEN",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(SIGV4_TIMESTAMP)} "
            f"({now.strftime(SIGV4_TIMESTAMP)} - 5 min.)",
        )
    mismatch = Rejected(
        "INVALID_SIGNATURE",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
    )
    if scope != f"{amz_date[:8]}/{region}/{service}/aws4_request":
        return mismatch
    signed_names = parsed["signed"].split(";")
    if "host" not in signed_names or any(name not in headers for name in signed_names):
        return mismatch
    # botocore would trust a payload hash header; the body must match it, or be the hash.
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        return mismatch
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, region)
    canonical = AWSRequest(
        method=request.method,
        url=request.url,
        headers={name: headers[name] for name in signed_names},
        data=request.body,
    )
    canonical.context["timestamp"] = amz_date
    string_to_sign = signer.string_to_sign(canonical, signer.canonical_request(canonical))
    expected = signer.signature(string_to_sign, canonical)
    if not hmac.compare_digest(expected, parsed["signature"]):
        return mismatch
    return key
