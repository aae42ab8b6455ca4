"""Fixtures of the functional tier: moto in process with every resource, the Chalice client."""

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.adapters.mailer import SesMailer
from chalicelib.contention import Backoff
from chalicelib.pacing import Pacer, rate_per_environment
from chalicelib.services import Services, build_services, set_services
from chalicelib.settings import Settings
from local_stack.aws_limits import AwsLimits, Limits
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


class FakeClock:
    """Time that moves only when told, or when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        # Called on each sleep: what the rest of the world does meanwhile (a test's choice).
        self.meanwhile: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for happening in self.meanwhile:
            happening()


@dataclass
class LimitedAws:
    """The AWS limits model on the handlers' clients, its clock, and their own session."""

    model: AwsLimits
    clock: FakeClock
    session: boto3.session.Session
    services: Services

    def client(self, service: str) -> Any:
        """A client limited as the handlers' are (botocore does not retry: see aws_limits)."""
        return self.session.client(service, config=NO_RETRIES)


# botocore's own retries sleep in real time, which a fake clock cannot move; with them off,
# the code under test meets each refusal and retries (or not) on the fake clock.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def aws_limits(aws: Provisioned) -> Iterator[Callable[..., LimitedAws]]:
    """Install the AWS limits model (`aws_limits(ses_send_rate=1)`: Limits' fields) on the
    handlers' services, built again on a session of their own; the tests' own helpers
    (BOTO3_SESSION) stay unlimited.

    The contention backoff and the email pacing sleep on the fake clock with no jitter (each
    wait is its ceiling), so a test's sequence of refusals is fixed.
    """
    installed: list[tuple[AwsLimits, boto3.session.Session]] = []

    def install(**limits: Any) -> LimitedAws:
        clock = FakeClock()
        model = AwsLimits(Limits(**limits), clock=clock)
        session = boto3.session.Session()
        model.install(session)
        installed.append((model, session))
        environment = {**aws.environment, "SES_MAX_SEND_RATE": str(model.limits.ses_send_rate)}
        built = build_services(Settings.from_env(environment), session, NO_RETRIES)
        assert built.contention is not None
        sesv2 = next(client for client in built.clients if client.service == "sesv2")
        pacer = Pacer(rate_per_environment(model.limits.ses_send_rate), clock, clock.sleep)
        services = dataclasses.replace(
            built,
            contention=dataclasses.replace(
                built.contention,
                backoff=Backoff(sleep=clock.sleep, jitter=lambda: 1.0),
                # A copy put back waits 1 s (SQS's delay is real time, even in moto).
                requeue_base_seconds=0.5,
            ),
            mailer=SesMailer(
                sesv2,
                sender=built.settings.ses_sender,
                configuration_set=built.settings.ses_configuration_set,
                pacer=pacer,
            ),
        )
        set_services(services)
        return LimitedAws(model, clock, session, services)

    yield install
    for model, session in installed:
        model.uninstall(session)
