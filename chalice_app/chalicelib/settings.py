"""Settings of the Lambda functions, read from the environment once and typed."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.pacing import MINIMUM_CONCURRENCY
from order_contracts.cancellation import (
    CANCELLATION_WINDOW_VARIABLE,
    DEFAULT_CANCELLATION_WINDOW_HOURS,
)

_REQUIRED = (
    "ORDERS_BUCKET",
    "ORDERS_TABLE",
    "INVENTORY_TABLE",
    "COUNTERS_TABLE",
    "ORDER_EVENTS_TOPIC_ARN",
    "BILLING_DATABASE_URL",
    "SES_SENDER",
)


class SettingsError(RuntimeError):
    """A required setting is missing: the message says which and where to set it."""


@dataclass(frozen=True)
class Settings:
    orders_bucket: str
    orders_table: str
    inventory_table: str
    counters_table: str
    order_events_topic_arn: str
    billing_database_url: str
    # A verified SES identity; the configuration set routes bounces to ses-feedback.
    ses_sender: str
    ses_configuration_set: str = ""
    # Must equal maxReceiveCount of every queue's redrive policy: on that receive the
    # handler forwards a failing message to the queue's DLQ itself, with its reason.
    max_receive_count: int = 5
    # API Gateway accepts 10 MB; an order is a few KB, so anything past this is abuse.
    max_body_bytes: int = 64 * 1024
    # Guests check out with any address they type: without a cap per address, the storefront
    # would mail whoever a caller names, as often as it orders. Registered customers are not
    # capped (their address is in the contact book, not typed at checkout).
    guest_emails_per_hour: int = 5
    # An order can be cancelled for this long after it was placed (a repeat of a cancel is
    # answered whenever it comes); past it, the cancel is refused with not_cancellable.
    # One default for both tiers (order_contracts.cancellation); deployments set it once.
    cancellation_window_hours: int = DEFAULT_CANCELLATION_WINDOW_HOURS
    # The storefront's public address (https://shop.example.com): the emails link to the
    # order's pages there. Empty: the emails carry no links.
    storefront_url: str = ""
    # The SSM SecureString holding the key the emails' links are signed with; the web tier
    # checks them with the same key (its ORDER_LINK_KEY). Required with storefront_url.
    order_link_key_parameter: str = ""
    # An order not final this long after it was placed is stuck: the watchdog logs it and
    # counts it (StuckOrders). Past the queues' five attempts 180 s apart (15 min), with room.
    stuck_after_minutes: int = 30
    # The account's SES maximum send rate (emails a second; SendQuota.MaxSendRate of sesv2
    # GetAccount, which deploy/stage_config.py writes per stage). The notifications consumer
    # paces its sends to it (chalicelib/pacing.py). None: unpaced (the local stack without
    # its limits model, the tests).
    ses_max_send_rate: float | None = None
    # The notifications trigger's MaximumConcurrency (written from the same number that sets
    # it: deploy/stage_config.py, merge-template.json's NotificationsMaximumConcurrency): each
    # environment sends at most ses_max_send_rate / this. None: what the rate needs
    # (chalicelib/pacing.py, notifications_concurrency).
    notifications_maximum_concurrency: int | None = None

    @property
    def cancellation_window(self) -> timedelta:
        return timedelta(hours=self.cancellation_window_hours)

    @property
    def stuck_after(self) -> timedelta:
        return timedelta(minutes=self.stuck_after_minutes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        missing = [name for name in _REQUIRED if not environ.get(name)]
        if missing:
            raise SettingsError(
                f"missing environment variables {', '.join(missing)}: set them in the stage's "
                "environment_variables in chalice_app/.chalice/config.json (or run the local stack)"
            )
        return cls(
            orders_bucket=environ["ORDERS_BUCKET"],
            orders_table=environ["ORDERS_TABLE"],
            inventory_table=environ["INVENTORY_TABLE"],
            counters_table=environ["COUNTERS_TABLE"],
            order_events_topic_arn=environ["ORDER_EVENTS_TOPIC_ARN"],
            billing_database_url=environ["BILLING_DATABASE_URL"],
            ses_sender=environ["SES_SENDER"],
            ses_configuration_set=environ.get("SES_CONFIGURATION_SET", ""),
            max_receive_count=_count(environ, "MAX_RECEIVE_COUNT", cls.max_receive_count, 1),
            max_body_bytes=_count(environ, "MAX_BODY_BYTES", cls.max_body_bytes, 1),
            guest_emails_per_hour=_count(
                environ, "GUEST_EMAILS_PER_HOUR", cls.guest_emails_per_hour, 0
            ),
            cancellation_window_hours=_count(
                environ, CANCELLATION_WINDOW_VARIABLE, cls.cancellation_window_hours, 1
            ),
            storefront_url=environ.get("STOREFRONT_URL", "").rstrip("/"),
            order_link_key_parameter=_link_key_parameter(environ),
            stuck_after_minutes=_count(environ, "STUCK_AFTER_MINUTES", cls.stuck_after_minutes, 1),
            ses_max_send_rate=_rate(environ, "SES_MAX_SEND_RATE"),
            notifications_maximum_concurrency=_optional_count(
                environ, "NOTIFICATIONS_MAXIMUM_CONCURRENCY", MINIMUM_CONCURRENCY
            ),
        )


def _link_key_parameter(environ: Mapping[str, str]) -> str:
    parameter = environ.get("ORDER_LINK_KEY_PARAMETER", "")
    if environ.get("STOREFRONT_URL") and not parameter:
        raise SettingsError(
            "STOREFRONT_URL is set but ORDER_LINK_KEY_PARAMETER is not: the emails' links "
            "must be signed (the SSM SecureString the web tier's ORDER_LINK_KEY comes from)"
        )
    return parameter


def _count(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """A whole number setting: a typo fails when the settings are read, naming the variable."""
    raw = environ.get(name)
    if not raw:
        return default
    problem = SettingsError(f"{name}={raw!r}: must be a whole number, at least {minimum}")
    try:
        value = int(raw)
    except ValueError:
        raise problem from None
    if value < minimum:
        raise problem
    return value


def _optional_count(environ: Mapping[str, str], name: str, minimum: int) -> int | None:
    """A whole number setting, or None when unset."""
    return _count(environ, name, 0, minimum) or None


def _rate(environ: Mapping[str, str], name: str) -> float | None:
    """A positive rate (a number a second), or None when unset."""
    raw = environ.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name}={raw!r}: must be a positive number (a rate per second)")
    return value
