"""The web tier: storefront, order form and order status, run by gunicorn.

It has no JSON API: integrators use the order API (API Gateway, IAM-signed requests), and
shoppers check out as guests through the form, which carries a CSRF token.
"""

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from order_contracts.links import OrderLinks
from order_web import health, logs, security
from order_web.extensions import csrf
from order_web.services import WebServices, build_services
from order_web.settings import WebSettings


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Compose the app; config may carry SETTINGS, SERVICES or BOTO3_SESSION (tests) and
    Flask keys."""
    config = dict(config or {})
    settings: WebSettings = config.pop("SETTINGS", None) or WebSettings.from_env()
    session = config.pop("BOTO3_SESSION", None)
    web_services: WebServices = config.pop("SERVICES", None) or build_services(settings, session)

    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        # Not Flask's TRUSTED_HOSTS: health.trust_only checks the Host, health checks aside.
        TRUSTED_HOSTS=None,
        SESSION_COOKIE_SECURE=settings.environment == "production",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=3600,
    )
    app.config.from_mapping(config)
    # One hop: the ALB. It sets X-Forwarded-For/Proto/Port; anything further is the client's.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_port=1)  # type: ignore[method-assign]
    app.extensions["order_web"] = web_services
    app.extensions["order_web_settings"] = settings
    # The key is never defaulted in production (WebSettings.from_env refuses to start); a
    # WebSettings built in code without one gets a random key, so no link verifies.
    app.extensions["order_links"] = OrderLinks(settings.order_link_key or secrets.token_hex(32))

    logs.init_app(app)  # first, so even a request refused by CSRF has its correlation id
    health.trust_only(app, settings.trusted_hosts)  # before CSRF: a wrong Host is refused first
    csrf.init_app(app)
    security.init_app(app)

    from order_web import shop

    app.register_blueprint(health.bp)
    app.register_blueprint(shop.bp)

    return app
