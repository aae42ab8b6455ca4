"""Health checks: plain HTTP, never redirected, answered whatever the Host header says.

/livez is liveness, what the load balancer's target group asks: this process serves requests.
It touches nothing else, so a DynamoDB or credentials blip cannot make every target unhealthy
and have the Auto Scaling group (ELB health checks) replace the whole fleet.
/healthz is readiness, what a host's boot waits for (the role's check, then the signal to
CloudFormation): the app can take orders, its catalog is reachable with its credentials.
"""

import time
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted

from order_web.extensions import services

LIVENESS_PATH = "/livez"
READINESS_PATH = "/healthz"
# The load balancer and the role address an instance by its IP, which no shop name matches.
HOST_CHECK_EXEMPT = frozenset({LIVENESS_PATH, READINESS_PATH})

bp = Blueprint("health", __name__)
# The readiness check is asked every few seconds; the catalog check is cached this long.
_CHECK_TTL_SECONDS = 15.0
_last_ok = 0.0


@bp.get(LIVENESS_PATH)
def livez() -> tuple[Response, int]:
    return jsonify(status="ok"), 200


@bp.get(READINESS_PATH)
def healthz() -> tuple[Response, int]:
    global _last_ok  # a per-process cache of the last successful check
    if time.monotonic() - _last_ok > _CHECK_TTL_SECONDS:
        try:
            services().catalog.reachable()
        except (BotoCoreError, ClientError) as error:
            return jsonify(status="unavailable", reason=type(error).__name__), 503
        _last_ok = time.monotonic()
    return jsonify(status="ok"), 200


def trust_only(app: Flask, hosts: Sequence[str]) -> None:
    """Answer 400 to a Host header not in hosts (none: any), except on the health checks.

    Flask's TRUSTED_HOSTS has no exemption: it refuses before routing, health checks included.
    """
    if not hosts:
        return
    trusted = list(hosts)

    @app.before_request
    def refuse_untrusted_hosts() -> None:
        if request.path not in HOST_CHECK_EXEMPT and not host_is_trusted(request.host, trusted):
            raise SecurityError(f"Host {request.host!r} is not trusted")
