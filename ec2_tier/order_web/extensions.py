"""Objects the blueprints share, attached to the app by create_app."""

from datetime import UTC, datetime

from flask import current_app
from flask_wtf.csrf import CSRFProtect

from order_web.services import WebServices

csrf = CSRFProtect()


def services() -> WebServices:
    web_services: WebServices = current_app.extensions["order_web"]
    return web_services


def utc_now() -> datetime:
    return datetime.now(UTC)
