"""order_web/shop.py: the storefront, the order form and the status page, through Flask's
test client on moto (with order_web/adapters.py).
"""

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from local_stack.resources import Provisioned
from order_contracts import CurrencyMismatch, PriceChanged, StockShortage, UnsupportedCurrency
from order_contracts.events import RejectionReason
from order_web import create_app
from order_web.adapters import Catalog
from order_web.security import HEADERS
from tests.conftest import BOTO3_SESSION, Inventory, invoke
from tests.factories import sqs_record
from tests.web import intake_messages, order_form, unreachable_intake, web_settings


@pytest.fixture
def shop_app(aws: Provisioned, inventory: Inventory) -> Flask:
    inventory.stock("MUG-BLUE", 5, price="12.00", currency="EUR")
    inventory.stock("TEA-EARLGREY", 0, price="4.50", currency="EUR")
    inventory.stock("TEA-MATCHA", 3, price="1200", currency="JPY")
    return create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )


@pytest.fixture
def shop(shop_app: Flask) -> Iterator[FlaskClient]:
    with shop_app.test_client() as client:
        yield client


def place(client: FlaskClient, **fields: str) -> str:
    """Place an order through the form; its id."""
    form = order_form(client, **fields)
    assert client.post("/orders", data=form).status_code == 303
    return f"web-{form['idempotency_key']}"


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
    client = unreachable_intake(aws).test_client()

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

    BOTO3_SESSION.resource("dynamodb").Table("orders").update_item(
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


def test_only_the_session_that_placed_an_order_sees_its_pages(
    shop_app: Flask, shop: FlaskClient, aws: Provisioned, client: Any
) -> None:
    order_id = place(shop)
    invoke(client, "process_order", *(sqs_record(m["Body"]) for m in intake_messages(aws)))
    assert shop.get(f"/orders/{order_id}").status_code == 200

    # Another browser knows the id (a shared link, a guess): the order exists, it sees nothing.
    with shop_app.test_client() as stranger:
        assert stranger.get(f"/orders/{order_id}").status_code == 404
        assert stranger.get(f"/orders/{order_id}/thanks").status_code == 404
        # Nor does an order the API door placed (ids without the web prefix).
        assert stranger.get("/orders/e2e-api-1").status_code == 404


def test_the_session_remembers_its_last_twenty_orders_in_a_small_cookie(
    shop: FlaskClient,
) -> None:
    orders = [place(shop) for _ in range(21)]

    assert shop.get(f"/orders/{orders[0]}").status_code == 404  # the oldest was forgotten
    for order_id in orders[1:]:
        assert shop.get(f"/orders/{order_id}").status_code == 200
    cookie = shop.get_cookie("session")
    assert cookie is not None
    assert len(cookie.value) < 3500  # browsers keep cookies up to 4096 bytes


def test_a_rejected_order_says_why_in_words(
    shop: FlaskClient, aws: Provisioned, client: Any
) -> None:
    order_id = place(shop, **{"qty_MUG-BLUE": "6"})  # 5 in stock
    invoke(client, "process_order", *(sqs_record(m["Body"]) for m in intake_messages(aws)))

    page = shop.get(f"/orders/{order_id}").get_data(as_text=True)

    assert "REJECTED" in page
    assert "Mug-Blue: you asked for 6, only 5 left." in page  # the catalog's name
    assert 'http-equiv="refresh"' not in page


@pytest.mark.parametrize(
    "reason",
    [
        StockShortage(sku="MUG-GREEN", reason="unknown_sku", requested=1, available=0),
        UnsupportedCurrency(currency="ARS"),
        PriceChanged(sku="MUG-BLUE", offered_price=Decimal("12.00"), catalog_price=Decimal("13.5")),
        CurrencyMismatch(sku="MUG-BLUE", order_currency="EUR", catalog_currency="GBP"),
    ],
    ids=lambda reason: reason.reason,
)
def test_every_rejection_reason_is_shown_as_stored_with_readable_times(
    shop: FlaskClient, reason: RejectionReason
) -> None:
    order_id = place(shop)
    # As fulfillment or billing records a rejection (chalicelib's order store).
    BOTO3_SESSION.resource("dynamodb").Table("orders").put_item(
        Item={
            "order_id": order_id,
            "status": "REJECTED",
            "history": [
                {
                    "status": "RECEIVED",
                    "at": "2026-11-21T14:03:07.123456+00:00",
                    "detail": "via web",
                },
                {"status": "REJECTED", "at": "2026-11-21T15:03:08+01:00", "detail": ""},
            ],
            "rejection": [reason.model_dump()],
        }
    )

    page = shop.get(f"/orders/{order_id}").get_data(as_text=True)

    named = "Mug-Blue" if getattr(reason, "sku", "") == "MUG-BLUE" else None  # in the catalog
    assert f"<li>{reason.describe(named)}</li>" in page
    assert "You have not been charged." in page
    assert (
        '<time datetime="2026-11-21T14:03:07.123456+00:00">21 Nov 2026, 14:03:07 UTC</time>'
    ) in page
    assert '<time datetime="2026-11-21T15:03:08+01:00">21 Nov 2026, 14:03:08 UTC</time>' in page
    assert 'http-equiv="refresh"' not in page


def test_the_correlation_id_is_echoed_and_published_with_the_order(
    shop: FlaskClient, aws: Provisioned
) -> None:
    form = order_form(shop)
    response = shop.post("/orders", data=form, headers={"X-Correlation-Id": "corr-web"})

    assert response.headers["X-Correlation-Id"] == "corr-web"
    [message] = intake_messages(aws)
    assert json.loads(message["Body"])["correlation_id"] == "corr-web"
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == "corr-web"


def test_a_malformed_correlation_id_is_replaced_by_the_request_id(shop: FlaskClient) -> None:
    response = shop.get("/", headers={"X-Correlation-Id": "no spaces <allowed>"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Correlation-Id"])
    assert shop.get("/").headers["X-Correlation-Id"] != response.headers["X-Correlation-Id"]


def test_an_oversized_form_is_413_and_publishes_nothing(
    shop: FlaskClient, aws: Provisioned
) -> None:
    response = shop.post("/orders", data=order_form(shop, padding="x" * 70_000))
    assert response.status_code == 413
    assert intake_messages(aws) == []


def test_pages_carry_the_security_headers(shop: FlaskClient) -> None:
    response = shop.get("/")
    for name, value in HEADERS.items():
        assert response.headers[name] == value
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_production_session_cookies_are_secure_httponly_and_samesite(
    aws: Provisioned, inventory: Inventory
) -> None:
    app = create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws, environment="production")}
    )
    # Rendering the form puts its CSRF token in the session, which sets the cookie.
    cookie = app.test_client().get("/", base_url="https://shop.example.com").headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_alb_forwarded_scheme_and_client_are_honoured(
    aws: Provisioned, inventory: Inventory
) -> None:
    app = create_app(
        {"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": web_settings(aws), "TESTING": True}
    )

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


def test_the_catalog_is_scanned_at_most_once_per_max_age(
    aws: Provisioned, inventory: Inventory
) -> None:
    dynamodb = BOTO3_SESSION.client("dynamodb")
    scans: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb.Scan", lambda **_: scans.append("scan"))
    now = [100.0]
    catalog = Catalog(dynamodb, "inventory", max_age=2.0, clock=lambda: now[0])
    first = {item.sku: item.price for item in catalog.items()}
    inventory.stock("MUG-BLUE", 5, price="9.99")
    now[0] += 1.9
    assert {item.sku: item.price for item in catalog.items()} == first
    assert scans == ["scan"]
    now[0] += 0.1  # max_age reached: the new price shows
    assert {item.sku: item.price for item in catalog.items()}["MUG-BLUE"] == Decimal("9.99")
    assert scans == ["scan", "scan"]
