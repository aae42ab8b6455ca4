"""/healthz for the ALB: plain HTTP, never redirected, says whether the app can take orders."""

import time

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Response, jsonify

from order_web.extensions import services

bp = Blueprint("health", __name__)
# The ALB asks every few seconds per target; the catalog check is cached this long.
_CHECK_TTL_SECONDS = 15.0
_last_ok = 0.0


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    global _last_ok  # a per-process cache of the last successful check
    if time.monotonic() - _last_ok > _CHECK_TTL_SECONDS:
        try:
            services().catalog.reachable()
        except (BotoCoreError, ClientError) as error:
            return jsonify(status="unavailable", reason=type(error).__name__), 503
        _last_ok = time.monotonic()
    return jsonify(status="ok"), 200
