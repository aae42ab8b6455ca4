"""An IMDSv2-only instance metadata service for a booted test image: python -m tests.imds.

It answers what the web hosts' boot uses, as EC2 documents it for an instance whose launch
template sets HttpTokens=required
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html):
- PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1 to 21600) gives a token;
  without the header, or with a TTL out of range, 400; a PUT carrying X-Forwarded-For, 403.
- every GET needs a live token in X-aws-ec2-metadata-token, else 401 (IMDSv2 required);
- meta-data/instance-id, placement/region, placement/availability-zone, local-ipv4;
- meta-data/iam/security-credentials/ (the role's name) and .../<role> (temporary
  credentials, Code Success, with an expiry), which boto3's credential chain reads;
- dynamic/instance-identity/document.
moto's own metadata endpoint answers without a token and names one fixed instance, so it
proves neither "IMDSv2 only" nor "this instance"; hence this one. It runs in the test's
network namespace on 169.254.169.254, never in the machine's own.
"""

import argparse
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_TTL_SECONDS = 21600


class Metadata(BaseHTTPRequestHandler):
    server: "MetadataServer"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what it needs from the instance."""

    def _answer(self, status: int, body: str = "", content_type: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        if self.path != "/latest/api/token":
            return self._answer(404)
        if "X-Forwarded-For" in self.headers:
            return self._answer(403)
        try:
            ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
        except ValueError:
            return self._answer(400)
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            return self._answer(400)
        token = secrets.token_urlsafe(32)
        self.server.tokens[token] = time.monotonic() + ttl
        self.send_response(200)
        self.send_header("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))
        self.send_header("Content-Length", str(len(token)))
        self.end_headers()
        self.wfile.write(token.encode())
        return None

    def do_GET(self) -> None:
        token = self.headers.get("X-aws-ec2-metadata-token", "")
        if self.server.tokens.get(token, 0) < time.monotonic():
            return self._answer(401)
        self.server.requests.append(self.path)
        answer = self.server.answers().get(self.path.rstrip("/") or "/")
        if answer is None:
            return self._answer(404)
        return self._answer(200, *answer)


class MetadataServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], instance: dict[str, str]) -> None:
        super().__init__(address, Metadata)
        self.instance = instance
        self.tokens: dict[str, float] = {}
        self.requests: list[str] = []

    def answers(self) -> dict[str, tuple[str, ...]]:
        now = datetime.now(UTC)
        role = self.instance["role"]
        credentials = {
            "Code": "Success",
            "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": "ASIATESTINSTANCEROLE",
            "SecretAccessKey": "testing",
            "Token": "testing-session-token",
            "Expiration": (now + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        document = {
            "instanceId": self.instance["instance_id"],
            "region": self.instance["region"],
            "availabilityZone": f"{self.instance['region']}a",
            "privateIp": self.instance["address"],
            "accountId": "123456789012",
        }
        meta = "/latest/meta-data"
        return {
            f"{meta}/instance-id": (self.instance["instance_id"],),
            f"{meta}/placement/region": (self.instance["region"],),
            f"{meta}/placement/availability-zone": (f"{self.instance['region']}a",),
            f"{meta}/local-ipv4": (self.instance["address"],),
            f"{meta}/iam/security-credentials": (role,),
            f"{meta}/iam/security-credentials/{role}": (
                json.dumps(credentials),
                "application/json",
            ),
            "/latest/dynamic/instance-identity/document": (
                json.dumps(document),
                "application/json",
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--listen", default="169.254.169.254")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--address", required=True, help="the instance's private address")
    arguments = parser.parse_args()
    instance = {
        "instance_id": arguments.instance_id,
        "region": arguments.region,
        "role": arguments.role,
        "address": arguments.address,
    }
    with MetadataServer((arguments.listen, arguments.port), instance) as server:
        print("ready", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
