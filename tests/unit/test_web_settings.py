"""order_web/settings.py: production refuses to start without a secret key."""

import pytest

from order_web.settings import SettingsError, WebSettings


def test_production_refuses_to_start_without_a_secret_key() -> None:
    environment = {
        "ORDER_INTAKE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:order-intake",
        "INVENTORY_TABLE": "inventory",
        "ORDERS_TABLE": "orders",
    }
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        WebSettings.from_env(environment)
    assert WebSettings.from_env({**environment, "ORDER_WEB_ENV": "development"}).secret_key


ENVIRONMENT = {
    "ORDER_INTAKE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:order-intake",
    "INVENTORY_TABLE": "inventory",
    "ORDERS_TABLE": "orders",
    "SECRET_KEY": "s",
}


def test_production_refuses_to_start_without_the_order_link_key() -> None:
    with pytest.raises(SettingsError, match="ORDER_LINK_KEY"):
        WebSettings.from_env(ENVIRONMENT)
    settings = WebSettings.from_env({**ENVIRONMENT, "ORDER_LINK_KEY": "k"})
    assert settings.order_link_key == "k"
    assert settings.cancellation_window_hours == 24


@pytest.mark.parametrize("value", ["0", "-1", "a day", "1.5"])
def test_a_bad_cancellation_window_fails_at_start(value: str) -> None:
    with pytest.raises(SettingsError, match="CANCELLATION_WINDOW_HOURS"):
        WebSettings.from_env(
            {**ENVIRONMENT, "ORDER_LINK_KEY": "k", "CANCELLATION_WINDOW_HOURS": value}
        )
