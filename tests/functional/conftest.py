"""Fixtures of the functional tier: moto in process with every resource, the Chalice client."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from local_stack.resources import Provisioned, provision
from tests import ROOT
from tests.conftest import BOTO3_SESSION, EventTap, Inventory, services_of


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Provisioned]:
    """moto in process with every resource of the local resource description."""
    with mock_aws():
        provisioned = provision(BOTO3_SESSION, f"sqlite:///{tmp_path / 'billing.db'}")
        with services_of(provisioned):
            yield provisioned


@pytest.fixture
def inventory(aws: Provisioned) -> Inventory:
    inventory = Inventory()
    for sku in ("TEA-EARLGREY", "MUG-BLUE", "TEA-MATCHA", "DATES-1KG"):
        inventory.stock(sku, 100)
    return inventory


@pytest.fixture
def client(aws: Provisioned) -> Iterator[Client]:
    with Client(app, project_dir=str(ROOT / "chalice_app")) as client:
        yield client


@pytest.fixture
def published(aws: Provisioned) -> EventTap:
    return EventTap(aws)
