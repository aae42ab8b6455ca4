"""chalicelib/settings.py: the guest email limit is a setting, checked at start."""

import pytest

from chalicelib.settings import Settings, SettingsError

REQUIRED = {
    "ORDERS_BUCKET": "b",
    "ORDERS_TABLE": "orders",
    "INVENTORY_TABLE": "inventory",
    "COUNTERS_TABLE": "counters",
    "ORDER_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:order-events",
    "BILLING_DATABASE_URL": "sqlite:///x.db",
    "SES_SENDER": "orders@shop.example.com",
}


@pytest.mark.parametrize(("value", "expected"), [(None, 5), ("12", 12), ("0", 0)])
def test_the_limit_is_a_setting(value: str | None, expected: int) -> None:
    environ = REQUIRED if value is None else {**REQUIRED, "GUEST_EMAILS_PER_HOUR": value}
    assert Settings.from_env(environ).guest_emails_per_hour == expected


@pytest.mark.parametrize("value", ["five", "-1", "2.5"])
def test_a_bad_limit_fails_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="GUEST_EMAILS_PER_HOUR"):
        Settings.from_env({**REQUIRED, "GUEST_EMAILS_PER_HOUR": value})


def test_links_in_emails_need_the_signing_key_parameter() -> None:
    assert Settings.from_env(REQUIRED).storefront_url == ""  # no storefront: no links
    with pytest.raises(SettingsError, match="ORDER_LINK_KEY_PARAMETER"):
        Settings.from_env({**REQUIRED, "STOREFRONT_URL": "https://shop.example.com"})
    settings = Settings.from_env(
        {
            **REQUIRED,
            "STOREFRONT_URL": "https://shop.example.com/",
            "ORDER_LINK_KEY_PARAMETER": "/order-pipeline/production/order-links/key",
        }
    )
    assert settings.storefront_url == "https://shop.example.com"


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("14", 14.0), ("0.5", 0.5)])
def test_the_ses_send_rate_is_a_setting_unset_meaning_unpaced(
    value: str | None, expected: float | None
) -> None:
    environ = REQUIRED if value is None else {**REQUIRED, "SES_MAX_SEND_RATE": value}
    assert Settings.from_env(environ).ses_max_send_rate == expected


@pytest.mark.parametrize("value", ["fast", "0", "-3", "inf", "nan"])
def test_a_bad_ses_send_rate_fails_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="SES_MAX_SEND_RATE"):
        Settings.from_env({**REQUIRED, "SES_MAX_SEND_RATE": value})


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("3", 3), ("40", 40)])
def test_the_notifications_concurrency_is_a_setting_unset_meaning_what_the_rate_needs(
    value: str | None, expected: int | None
) -> None:
    environ = {**REQUIRED, "NOTIFICATIONS_MAXIMUM_CONCURRENCY": value or ""}
    assert Settings.from_env(environ).notifications_maximum_concurrency == expected


@pytest.mark.parametrize("value", ["1", "three", "2.5"])
def test_a_bad_notifications_concurrency_fails_at_start(value: str) -> None:
    # SQS event sources take a MaximumConcurrency of 2 at least.
    with pytest.raises(SettingsError, match="NOTIFICATIONS_MAXIMUM_CONCURRENCY"):
        Settings.from_env({**REQUIRED, "NOTIFICATIONS_MAXIMUM_CONCURRENCY": value})


def test_both_tiers_default_to_the_contracts_cancellation_window() -> None:
    from order_contracts.cancellation import DEFAULT_CANCELLATION_WINDOW_HOURS
    from order_web.settings import WebSettings

    assert Settings.from_env(REQUIRED).cancellation_window_hours == (
        DEFAULT_CANCELLATION_WINDOW_HOURS
    )
    assert WebSettings.cancellation_window_hours == DEFAULT_CANCELLATION_WINDOW_HOURS
