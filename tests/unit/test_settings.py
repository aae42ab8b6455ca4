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
