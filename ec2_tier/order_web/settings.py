"""Settings of the web tier, read from the environment once and typed."""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from order_contracts.cancellation import (
    CANCELLATION_WINDOW_VARIABLE,
    DEFAULT_CANCELLATION_WINDOW_HOURS,
)

Environment = Literal["production", "development", "testing"]


class SettingsError(RuntimeError):
    """The web tier cannot start: the message says which setting and how to set it."""


@dataclass(frozen=True)
class WebSettings:
    environment: Environment
    secret_key: str
    order_intake_topic_arn: str
    inventory_table: str
    orders_table: str
    # Host headers the app answers to (the ALB's DNS name, the shop's domain); empty = any.
    trusted_hosts: tuple[str, ...] = ()
    # An order form is a few KB; anything larger is refused with 413.
    max_content_length: int = 64 * 1024
    # How stale the storefront's catalog may be (the reservation checks prices anyway).
    catalog_max_age_seconds: float = 2.0
    # Checks the links in the customers' emails (order_contracts.links); the email function
    # signs them with the same key. Empty only in development and tests (links then fail).
    order_link_key: str = ""
    # As the functions' CANCELLATION_WINDOW_HOURS (one default, order_contracts.cancellation;
    # one deployed value, the order_web role's order_web_cancellation_window_hours): the
    # storefront offers the cancel button for this long after placement; the functions judge
    # the cancel themselves.
    cancellation_window_hours: int = DEFAULT_CANCELLATION_WINDOW_HOURS

    @property
    def cancellation_window(self) -> timedelta:
        return timedelta(hours=self.cancellation_window_hours)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "WebSettings":
        environment = environ.get("ORDER_WEB_ENV", "production")
        if environment not in ("production", "development", "testing"):
            raise SettingsError(f"ORDER_WEB_ENV={environment!r}: use production or development")
        secret_key = environ.get("SECRET_KEY", "")
        if not secret_key:
            if environment == "production":
                raise SettingsError(
                    "SECRET_KEY is not set: production refuses to start without it "
                    "(the Ansible role puts it in the service's environment from SSM)"
                )
            secret_key = secrets.token_hex(32)  # development only: sessions end at restart
        order_link_key = environ.get("ORDER_LINK_KEY", "")
        if not order_link_key and environment == "production":
            raise SettingsError(
                "ORDER_LINK_KEY is not set: production refuses to start without it "
                "(the Ansible role puts it in the service's environment from SSM)"
            )
        missing = [
            name
            for name in ("ORDER_INTAKE_TOPIC_ARN", "INVENTORY_TABLE", "ORDERS_TABLE")
            if not environ.get(name)
        ]
        if missing:
            raise SettingsError(f"missing environment variables {', '.join(missing)}")
        hosts = tuple(h.strip() for h in environ.get("TRUSTED_HOSTS", "").split(",") if h.strip())
        return cls(
            environment=environment,  # type: ignore[arg-type]
            secret_key=secret_key,
            order_intake_topic_arn=environ["ORDER_INTAKE_TOPIC_ARN"],
            inventory_table=environ["INVENTORY_TABLE"],
            orders_table=environ["ORDERS_TABLE"],
            trusted_hosts=hosts,
            max_content_length=int(environ.get("MAX_CONTENT_LENGTH", cls.max_content_length)),
            catalog_max_age_seconds=float(
                environ.get("CATALOG_MAX_AGE_SECONDS", cls.catalog_max_age_seconds)
            ),
            order_link_key=order_link_key or secrets.token_hex(32),
            cancellation_window_hours=_hours(environ, cls.cancellation_window_hours),
        )


def _hours(environ: Mapping[str, str], default: int) -> int:
    raw = environ.get(CANCELLATION_WINDOW_VARIABLE, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(
            f"{CANCELLATION_WINDOW_VARIABLE}={raw!r}: must be a whole number, at least 1"
        )
    return int(raw)
