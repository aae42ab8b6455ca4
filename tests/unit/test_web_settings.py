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
