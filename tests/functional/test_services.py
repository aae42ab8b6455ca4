"""chalicelib/services.py: each Lambda function builds only the clients it calls."""

from chalice.test import Client

from chalicelib.services import Services, build_services, get_services
from chalicelib.settings import Settings
from local_stack.resources import Provisioned
from tests.conftest import put_order
from tests.vectors import VALID, raw_body


def built(services: Services) -> list[str]:
    return sorted(client.service for client in services.clients if client.built)


def test_building_the_services_builds_no_client(aws: Provisioned) -> None:
    services = build_services(Settings.from_env(aws.environment))

    assert sorted(client.service for client in services.clients) == [
        "dynamodb",
        "s3",
        "sesv2",
        "sns",
        "sqs",
        "ssm",  # the emails' link key (ORDER_LINK_KEY_PARAMETER), read on first use
    ]
    assert not any(client.built for client in services.clients)


def test_the_order_api_builds_only_the_s3_client(client: Client, aws: Provisioned) -> None:
    response = put_order(client, "ord-lazy", raw_body(VALID[0]))

    assert response.status_code == 201
    assert built(get_services()) == ["s3"]


def test_warm_up_builds_every_client(aws: Provisioned) -> None:
    services = build_services(Settings.from_env(aws.environment))

    services.warm_up()

    assert all(client.built for client in services.clients)
    [dynamodb] = [c for c in services.clients if c.service == "dynamodb"]
    assert "orders" in dynamodb.list_tables()["TableNames"]
