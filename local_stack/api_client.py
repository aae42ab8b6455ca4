"""A client of the order API that signs every request with SigV4, as AWS callers must.

botocore signs (the signer every boto3 call uses), urllib sends: the tour, the tests and the
benchmarks call the local API exactly as an integrator calls the API on AWS.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class ApiCredentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> "ApiCredentials":
        """From a caller's entry in the stack's URLs file."""
        return cls(values["access_key_id"], values["secret_access_key"])


class SignedApiClient:
    def __init__(
        self,
        base_url: str,
        credentials: ApiCredentials | None,
        region: str = "us-east-1",
        clock_skew: float = 0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._region = region
        # Seconds added to the signing time: tests sign as a client with a wrong clock would.
        self._clock_skew = clock_skew

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, Any]:
        """Send a signed request; return the status and the JSON body (None if empty)."""
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
        raw = data.encode() if isinstance(data, str) else data
        prepared = AWSRequest(
            method=method,
            url=self.base_url + path,
            data=raw,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        if self._credentials is not None:
            credentials = Credentials(
                self._credentials.access_key_id, self._credentials.secret_access_key
            )
            _SkewedSigV4Auth(credentials, "execute-api", self._region, self._clock_skew).add_auth(
                prepared
            )
        call = urllib.request.Request(  # noqa: S310 - a URL the caller chose (the local stack)
            str(prepared.url), data=raw, method=method, headers=dict(prepared.headers.items())
        )
        try:
            with urllib.request.urlopen(call, timeout=timeout) as response:  # noqa: S310
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())


class _SkewedSigV4Auth(SigV4Auth):
    """botocore's signer, signing as of now plus a skew (0 for every real caller)."""

    def __init__(self, credentials: Credentials, service: str, region: str, skew: float) -> None:
        super().__init__(credentials, service, region)
        self._skew = timedelta(seconds=skew)

    def add_auth(self, request: AWSRequest) -> None:
        if not self._skew:
            super().add_auth(request)
            return
        # botocore's add_auth, with the timestamp taken from the skewed clock.
        timestamp = (datetime.now(UTC) + self._skew).strftime(SIGV4_TIMESTAMP)
        request.context["timestamp"] = timestamp
        request.headers["X-Amz-Date"] = timestamp
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        signed_headers = self.signed_headers(self.headers_to_sign(request))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )


def _json(payload: bytes) -> Any:
    return json.loads(payload) if payload else None
