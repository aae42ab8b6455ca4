"""Objects the blueprints share, attached to the app by create_app."""

from datetime import UTC, datetime

from flask import current_app
from flask_wtf.csrf import CSRFProtect

from order_contracts.links import OrderLinks
from order_web.services import WebServices
from order_web.settings import WebSettings

csrf = CSRFProtect()


def services() -> WebServices:
    web_services: WebServices = current_app.extensions["order_web"]
    return web_services


def web_settings() -> WebSettings:
    settings: WebSettings = current_app.extensions["order_web_settings"]
    return settings


def order_links() -> OrderLinks:
    links: OrderLinks = current_app.extensions["order_links"]
    return links


def utc_now() -> datetime:
    return datetime.now(UTC)
