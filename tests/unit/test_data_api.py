"""chalicelib/adapters/sql/data_api.py: typed parameters and fields, and the rds-data URL.

The requests it sends and the responses it parses, on botocore's Stubber, are in
tests/functional/test_data_api.py.
"""

from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest

from chalicelib.adapters.sql.data_api import DataApiRunner, from_field, to_parameter
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.settings import SettingsError

CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:orders-billing"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:billing-app-AbCdEf"


@pytest.mark.parametrize(
    ("value", "parameter"),
    [
        (None, {"name": "p", "value": {"isNull": True}}),
        (True, {"name": "p", "value": {"booleanValue": True}}),
        (7, {"name": "p", "value": {"longValue": 7}}),
        (Decimal("1.50"), {"name": "p", "value": {"stringValue": "1.50"}, "typeHint": "DECIMAL"}),
        (
            date(2026, 11, 20),
            {"name": "p", "value": {"stringValue": "2026-11-20"}, "typeHint": "DATE"},
        ),
        ("x", {"name": "p", "value": {"stringValue": "x"}}),
    ],
)
def test_parameters_are_typed(value: Any, parameter: dict[str, Any]) -> None:
    assert to_parameter("p", value) == parameter


def test_unsupported_parameters_and_fields_are_refused() -> None:
    with pytest.raises(TypeError):
        to_parameter("p", 1.5)
    with pytest.raises(ValueError, match="unsupported"):
        from_field({"arrayValue": {"longValues": [1]}})
    assert from_field({"isNull": True}) is None
    assert from_field({"doubleValue": 1.5}) == 1.5


def test_the_url_names_cluster_secret_and_database() -> None:
    url = f"rds-data:///orders?cluster={CLUSTER}&secret={SECRET}"
    assert isinstance(
        database_from_url(url, boto3.session.Session(region_name="us-east-1")), DataApiRunner
    )
    with pytest.raises(SettingsError, match="needs"):
        database_from_url(f"rds-data:///orders?cluster={CLUSTER}")
    with pytest.raises(SettingsError, match="use sqlite"):
        database_from_url("mysql://somewhere/db")
