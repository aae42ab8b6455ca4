"""The storefront, the order form and the status page, through Flask's test client on moto."""

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_web import create_app
from order_web.adapters import IntakePublisher
from order_web.security import HEADERS
from order_web.services import CLIENT_CONFIG, WebServices, build_services
from tests.conftest import Inventory, invoke
from tests.factories import sqs_record
from tests.test_web_api import intake_messages, web_settings


@pytest.fixture
def shop_app(aws: Provisioned, inventory: Inventory) -> Flask:
    inventory.stock("MUG-BLUE", 5, price="12.00", currency="EUR")
    inventory.stock("TEA-EARLGREY", 0, price="4.50", currency="EUR")
    inventory.stock("TEA-MATCHA", 3, price="1200", currency="JPY")
    return create_app({"SETTINGS": web_settings(aws), "TESTING": True})


@pytest.fixture
def shop(shop_app: Flask) -> Iterator[FlaskClient]:
    with shop_app.test_client() as client:
        yield client


def form_fields(client: FlaskClient) -> dict[str, str]:
    """The hidden fields of a freshly rendered order form (CSRF token, idempotency key)."""
    page = client.get("/").get_data(as_text=True)
    return dict(
        re.findall(r'name="(csrf_token|idempotency_key)" type="hidden" value="([^"]+)"', page)
    )


def order_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    return {
        **form_fields(client),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "country": "gb",
        "qty_MUG-BLUE": "2",
        **fields,
    }


def test_the_storefront_lists_the_catalog_with_stock(shop: FlaskClient) -> None:
    page = shop.get("/").get_data(as_text=True)
    assert "Mug-Blue" in page
    assert "12.00 EUR" in page
    assert "1200 JPY" in page
    row = page[page.index("Tea-Earlgrey") :]
    assert row.index("Out of stock") < row.index("</tr>")


def test_an_order_is_priced_from_the_catalog_published_and_confirmed(
    shop: FlaskClient, aws: Provisioned
) -> None:
    form = order_form(shop)
    response = shop.post("/orders", data=form)

    assert response.status_code == 303
    order_id = f"web-{form['idempotency_key']}"
    assert response.headers["Location"] == f"/orders/{order_id}/thanks"
    [message] = intake_messages(aws)
    placed = json.loads(message["Body"])
    assert placed["order_id"] == order_id
    assert placed["source"] == "web"
    assert placed["order"]["customer"]["country"] == "GB"
    assert placed["order"]["lines"] == [{"sku": "MUG-BLUE", "quantity": 2, "unit_price": "12.00"}]
    assert Decimal(placed["order"]["total"]) == Decimal("24.00")
    thanks = shop.get(response.headers["Location"]).get_data(as_text=True)
    assert order_id in thanks
    assert f'href="/orders/{order_id}"' in thanks


def test_a_post_without_its_csrf_token_is_400_and_publishes_nothing(
    shop: FlaskClient, aws: Provisioned
) -> None:
    form = order_form(shop)
    del form["csrf_token"]
    assert shop.post("/orders", data=form).status_code == 400
    assert intake_messages(aws) == []


def test_a_double_submit_is_one_order(shop: FlaskClient, aws: Provisioned) -> None:
    form = order_form(shop)
    first = shop.post("/orders", data=form)
    second = shop.post("/orders", data=form)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(intake_messages(aws)) == 1


def test_the_same_form_sent_again_with_other_items_is_refused(
    shop: FlaskClient, aws: Provisioned
) -> None:
    form = order_form(shop)
    shop.post("/orders", data=form)
    response = shop.post("/orders", data={**form, "qty_MUG-BLUE": "3"})
    assert response.status_code == 409
    assert "already sent" in response.get_data(as_text=True)
    assert len(intake_messages(aws)) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"qty_MUG-BLUE": "0"}, "Choose at least one item."),
        ({"qty_TEA-MATCHA": "1"}, "One order takes items priced in one currency"),
        ({"email": "ada-at-example"}, "customer.email"),
        ({"country": "Britain"}, "customer.country"),
        ({"qty_MUG-BLUE": "-1"}, "Number must be between 0 and 1000"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_invalid_forms_are_400_say_why_and_publish_nothing(
    shop: FlaskClient, aws: Provisioned, fields: dict[str, str], message: str
) -> None:
    response = shop.post("/orders", data=order_form(shop, **fields))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert intake_messages(aws) == []


def test_sns_unreachable_says_try_again_and_publishes_nothing(
    aws: Provisioned, inventory: Inventory
) -> None:
    settings = web_settings(aws)
    reachable = build_services(settings)
    unreachable = boto3.client("sns", endpoint_url="http://127.0.0.1:9", config=CLIENT_CONFIG)
    services = WebServices(
        IntakePublisher(unreachable, "arn:x"), reachable.catalog, reachable.statuses
    )
    client = create_app({"SETTINGS": settings, "SERVICES": services, "TESTING": True}).test_client()

    response = client.post("/orders", data=order_form(client))

    assert response.status_code == 503
    assert "please try again" in response.get_data(as_text=True)
    assert intake_messages(aws) == []


def test_the_status_page_follows_the_order_until_it_is_final(
    shop: FlaskClient, aws: Provisioned, client: Any
) -> None:
    form = order_form(shop)
    shop.post("/orders", data=form)
    order_id = f"web-{form['idempotency_key']}"

    waiting = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "RECEIVED" in waiting
    assert '<meta http-equiv="refresh" content="3">' in waiting

    invoke(client, "process_order", *(sqs_record(m["Body"]) for m in intake_messages(aws)))
    reserved = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "RESERVED" in reserved
    assert 'http-equiv="refresh"' in reserved

    boto3.resource("dynamodb").Table("orders").update_item(
        Key={"order_id": order_id},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "CONFIRMED"},
    )
    final = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "CONFIRMED" in final
    assert 'http-equiv="refresh"' not in final


def test_someone_elses_unknown_order_is_404(shop: FlaskClient) -> None:
    assert shop.get("/orders/web-00000000000000000000000000000000").status_code == 404
    assert shop.get("/orders/bad.id").status_code == 404


def test_pages_carry_the_security_headers(shop: FlaskClient) -> None:
    response = shop.get("/")
    for name, value in HEADERS.items():
        assert response.headers[name] == value
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_production_session_cookies_are_secure_httponly_and_samesite(
    aws: Provisioned, inventory: Inventory
) -> None:
    app = create_app({"SETTINGS": web_settings(aws, environment="production")})
    # Rendering the form puts its CSRF token in the session, which sets the cookie.
    cookie = app.test_client().get("/", base_url="https://shop.example.com").headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_alb_forwarded_scheme_and_client_are_honoured(
    aws: Provisioned, inventory: Inventory
) -> None:
    app = create_app({"SETTINGS": web_settings(aws), "TESTING": True})

    @app.get("/_whoami")
    def whoami() -> dict[str, Any]:
        from flask import request

        return {"scheme": request.scheme, "remote": request.remote_addr}

    answer = (
        app.test_client()
        .get(
            "/_whoami",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "10.0.0.5"},
        )
        .json
    )
    assert answer == {"scheme": "https", "remote": "203.0.113.7"}
