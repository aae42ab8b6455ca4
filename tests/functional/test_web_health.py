"""order_web/health.py through the app: liveness for the load balancer, readiness for the boot.

The ALB's health check and the role's own check send the instance's IP as the Host; with the
shop's names trusted, both must still be answered, and everything else still refused.
"""

import pytest

from local_stack.resources import Provisioned
from order_web import create_app, health
from tests import ROOT
from tests.conftest import BOTO3_SESSION
from tests.web import web_settings

PLAYBOOKS = ROOT / "playbooks"
SHOP = "shop.example.com"
# The ALB's health check (the target's private address) and the role's (loopback).
ADDRESSES = ("http://10.40.10.12:8080", "http://127.0.0.1:8080")


@pytest.mark.parametrize("base_url", ADDRESSES)
@pytest.mark.parametrize("path", ["/livez", "/healthz"])
def test_health_checks_answer_an_address_as_host_when_hosts_are_trusted(
    aws: Provisioned, base_url: str, path: str
) -> None:
    app = create_app(
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": web_settings(aws, trusted_hosts=(SHOP,)),
            "TESTING": True,
        }
    )
    response = app.test_client().get(path, base_url=base_url)
    assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize("base_url", ADDRESSES)
def test_everything_else_still_refuses_an_untrusted_host(aws: Provisioned, base_url: str) -> None:
    app = create_app(
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": web_settings(aws, trusted_hosts=(SHOP,)),
            "TESTING": True,
        }
    )
    client = app.test_client()
    assert client.get("/", base_url=base_url).status_code == 400
    assert client.get("/no-such-page", base_url=base_url).status_code == 400
    assert client.post("/orders", data={}, base_url=base_url).status_code == 400
    assert client.get("/", base_url=f"http://{SHOP}").status_code == 200


def test_liveness_does_not_depend_on_dynamodb_readiness_does(aws: Provisioned) -> None:
    """A DynamoDB blip must not make every target unhealthy (the ASG would replace them all)."""
    app = create_app(
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": web_settings(aws, inventory_table="no-such-table"),
            "TESTING": True,
        }
    )
    health._last_ok = 0.0  # no cached success from another test
    client = app.test_client()
    assert client.get("/livez").status_code == 200
    assert client.get("/healthz").status_code == 503


def test_healthz_answers_over_plain_http_without_redirecting(aws: Provisioned) -> None:
    app = create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )
    response = app.test_client().get("/healthz", base_url="http://10.0.1.23")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_says_unavailable_when_the_catalog_cannot_be_read(aws: Provisioned) -> None:
    settings = web_settings(aws, inventory_table="no-such-table")
    app = create_app({"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": settings, "TESTING": True})
    health._last_ok = 0.0  # no cached success from another test
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "reason": "ResourceNotFoundException"}
