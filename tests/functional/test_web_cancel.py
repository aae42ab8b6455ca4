"""Cancelling at the storefront (order_web/shop.py): the status page's cancel button for the
session that placed the order or opened a signed link from its email, the CancelRequested it
publishes on order-intake, and process_order applying the cancellation rules to it (moto).
"""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto.ses.models import ses_backends

from chalicelib.services import build_services, set_services
from chalicelib.settings import Settings
from local_stack.resources import Provisioned
from order_contracts import CancelRequested
from order_contracts.links import OrderLinks
from order_web import create_app
from tests.conftest import BOTO3_SESSION, Inventory, invoke
from tests.factories import sqs_record
from tests.web import intake_messages, order_form, web_settings

LINK_KEY = "test-order-link-key"


@pytest.fixture
def shop_app(aws: Provisioned, inventory: Inventory) -> Flask:
    inventory.stock("MUG-BLUE", 5, price="12.00", currency="EUR")
    settings = web_settings(aws, order_link_key=LINK_KEY, cancellation_window_hours=24)
    return create_app({"BOTO3_SESSION": BOTO3_SESSION, "SETTINGS": settings, "TESTING": True})


@pytest.fixture
def shop(shop_app: Flask) -> FlaskClient:
    # Not `with client:`: a context it kept pushed would be shared by the other browsers'
    # requests (Flask reuses a pushed app context, and Flask-WTF caches the token in g).
    return shop_app.test_client()


def place(shop: FlaskClient, **fields: str) -> str:
    form = order_form(shop, **fields)
    assert shop.post("/orders", data=form).status_code == 303
    return f"web-{form['idempotency_key']}"


def deliver_intake(client: Any, aws: Provisioned) -> list[dict[str, Any]]:
    """Run process_order on what reached order-intake, as the fulfillment queue would."""
    bodies = [json.loads(message["Body"]) for message in intake_messages(aws)]
    invoke(client, "process_order", *(sqs_record(json.dumps(body)) for body in bodies))
    return bodies


def placed_and_recorded(shop: FlaskClient, client: Any, aws: Provisioned) -> str:
    order_id = place(shop)
    deliver_intake(client, aws)
    return order_id


def csrf_token(shop: FlaskClient, page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', shop.get(page).get_data(as_text=True))
    assert match, f"no cancel form on {page}"
    return match.group(1)


def cancel(shop: FlaskClient, order_id: str, token: str | None = None) -> Any:
    token = token or csrf_token(shop, f"/orders/{order_id}")
    return shop.post(f"/orders/{order_id}/cancel", data={"csrf_token": token})


def stock(sku: str) -> int:
    item = BOTO3_SESSION.resource("dynamodb").Table("inventory").get_item(Key={"sku": sku})
    return int(item["Item"]["stock"])


def status_of(order_id: str) -> str:
    table = BOTO3_SESSION.resource("dynamodb").Table("orders")
    return str(table.get_item(Key={"order_id": order_id})["Item"]["status"])


def test_the_status_page_shows_the_lines_by_name_the_total_and_a_cancel_button(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)

    page = shop.get(f"/orders/{order_id}").get_data(as_text=True)

    assert "RESERVED" in page
    assert "<td>Mug-Blue</td>" in page  # the catalog's name, not the SKU
    assert '<td class="number">2</td>' in page
    assert "12.00 EUR" in page
    assert "24.00 EUR" in page
    assert ">Cancel order</button>" in page
    assert re.search(r"You can cancel this order until <time[^>]*>\d+ \w+ \d{4}, ", page)
    assert 'http-equiv="refresh"' in page  # not final yet


def test_the_session_that_placed_an_order_cancels_it_and_its_stock_comes_back(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)
    assert stock("MUG-BLUE") == 3

    response = cancel(shop, order_id)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/orders/{order_id}"
    cancelling = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "We are cancelling your order" in cancelling
    assert ">Cancel order</button>" not in cancelling
    assert 'http-equiv="refresh"' in cancelling  # until it is CANCELLED
    [request] = deliver_intake(client, aws)
    assert request["event_type"] == "CancelRequested"
    assert request["order_id"] == order_id
    assert status_of(order_id) == "CANCELLED"
    assert stock("MUG-BLUE") == 5
    done = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "This order is cancelled" in done
    assert 'http-equiv="refresh"' not in done
    assert ">Cancel order</button>" not in done


def test_a_cancel_the_pipeline_settles_by_rejecting_the_order_first_stops_the_refresh(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    """The storefront asked while the order was RESERVED; billing then rejected it (say, its
    currency) before fulfillment handled the cancel: nothing is left to wait for."""
    order_id = placed_and_recorded(shop, client, aws)
    assert cancel(shop, order_id).status_code == 303
    assert "We are cancelling this order" in shop.get(f"/orders/{order_id}").get_data(as_text=True)
    BOTO3_SESSION.resource("dynamodb").Table("orders").update_item(
        Key={"order_id": order_id},
        UpdateExpression="SET #status = :rejected",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":rejected": "REJECTED"},
    )

    page = shop.get(f"/orders/{order_id}").get_data(as_text=True)

    assert "REJECTED" in page
    assert "We are cancelling this order" not in page
    assert 'http-equiv="refresh"' not in page


def test_a_repeated_cancel_publishes_nothing_more_and_changes_nothing(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)
    token = csrf_token(shop, f"/orders/{order_id}")
    assert cancel(shop, order_id, token).status_code == 303

    assert cancel(shop, order_id, token).status_code == 303  # before the pipeline has done it
    assert len(deliver_intake(client, aws)) == 1
    assert cancel(shop, order_id, token).status_code == 303  # after
    assert intake_messages(aws) == []
    assert stock("MUG-BLUE") == 5


def test_a_cancel_without_its_csrf_token_is_400_and_publishes_nothing(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)

    assert shop.post(f"/orders/{order_id}/cancel").status_code == 400
    assert shop.post(f"/orders/{order_id}/cancel", data={"csrf_token": "forged"}).status_code == 400
    assert intake_messages(aws) == []
    assert status_of(order_id) == "RESERVED"


def test_another_session_cannot_cancel_or_see_the_order(
    shop_app: Flask, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)

    stranger = shop_app.test_client()
    token = re.search(  # a valid token of the stranger's own session
        r'name="csrf_token" type="hidden" value="([^"]+)"', stranger.get("/").get_data(True)
    )
    assert token
    assert cancel(stranger, order_id, token.group(1)).status_code == 404
    assert stranger.get(f"/orders/{order_id}").status_code == 404
    assert intake_messages(aws) == []
    assert status_of(order_id) == "RESERVED"


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        ("rejected", "This order was rejected, so there is nothing to cancel"),
        ("past the window", "Orders can be cancelled within 24 hours of being placed"),
        ("not recorded yet", "We are still receiving this order"),
    ],
)
def test_a_refused_cancel_says_why_and_changes_nothing(
    arrange: str, message: str, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    if arrange == "rejected":
        order_id = place(shop, **{"qty_MUG-BLUE": "6"})  # 5 in stock
        deliver_intake(client, aws)
    elif arrange == "past the window":
        order_id = placed_and_recorded(shop, client, aws)
        _placed_days_ago(order_id, 2)
    else:
        order_id = place(shop)
        intake_messages(aws)  # fulfillment has not run: drain what it would have read
    before = stock("MUG-BLUE")
    page = shop.get(f"/orders/{order_id}").get_data(as_text=True)
    assert ">Cancel order</button>" not in page
    form_token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', shop.get("/").get_data(True)
    )
    assert form_token

    response = cancel(shop, order_id, form_token.group(1))

    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert intake_messages(aws) == []
    assert stock("MUG-BLUE") == before


def _placed_days_ago(order_id: str, days: int) -> None:
    """As if the order had been placed days ago (its first history entry)."""
    placed_at = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    BOTO3_SESSION.resource("dynamodb").Table("orders").update_item(
        Key={"order_id": order_id},
        UpdateExpression="SET history[0].#at = :at",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":at": placed_at},
    )


def test_a_cancel_link_from_the_email_lets_another_browser_cancel(
    shop_app: Flask, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)
    url = OrderLinks(LINK_KEY, "https://shop.example.com").cancel_url(order_id)
    path = url.removeprefix("https://shop.example.com")

    phone = shop_app.test_client()
    opened = phone.get(path)
    assert opened.status_code == 303  # a GET cancels nothing: mail scanners open links
    assert opened.headers["Location"] == f"/orders/{order_id}"
    assert intake_messages(aws) == []
    page = phone.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "To cancel this order, press Cancel order below." in page
    assert cancel(phone, order_id).status_code == 303
    deliver_intake(client, aws)
    assert status_of(order_id) == "CANCELLED"
    assert stock("MUG-BLUE") == 5


def test_a_status_link_shows_the_order_but_does_not_cancel_it(
    shop_app: Flask, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)
    path = OrderLinks(LINK_KEY).status_url(order_id)

    phone = shop_app.test_client()
    assert phone.get(path).status_code == 303
    page = phone.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "RESERVED" in page
    assert ">Cancel order</button>" not in page
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', phone.get("/").get_data(True)
    )
    assert token
    assert cancel(phone, order_id, token.group(1)).status_code == 404
    assert intake_messages(aws) == []


def _tampered(path: str) -> str:
    """One character of the signature changed: its first, whose six bits all count (the last
    base64 character of a signature carries padding bits, and changing those changes nothing)."""
    signed, signature = path.rsplit(".", 1)
    flipped = "A" if signature[0] != "A" else "B"
    return f"{signed}.{flipped}{signature[1:]}"


@pytest.mark.parametrize(
    "link",
    [
        lambda order_id: _tampered(OrderLinks(LINK_KEY).cancel_url(order_id)),
        lambda order_id: OrderLinks("another key").cancel_url(order_id),
        # A link for another order, and a status link used as a cancel link.
        lambda order_id: (
            OrderLinks(LINK_KEY)
            .cancel_url("web-" + "0" * 32)
            .replace("web-" + "0" * 32, order_id, 1)
        ),
        lambda order_id: (
            OrderLinks(LINK_KEY)
            .status_url(order_id)
            .replace(f"/orders/{order_id}", f"/orders/{order_id}/cancel", 1)
        ),
    ],
    ids=["tampered", "other key", "other order", "status link as cancel link"],
)
def test_a_link_we_did_not_sign_for_this_order_is_404(
    link: Any, shop_app: Flask, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)

    phone = shop_app.test_client()
    assert phone.get(link(order_id)).status_code == 404
    assert phone.get(f"/orders/{order_id}").status_code == 404


def test_an_expired_cancel_link_says_so_and_grants_nothing(
    shop_app: Flask, shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    order_id = placed_and_recorded(shop, client, aws)
    two_days_ago = OrderLinks(LINK_KEY, clock=lambda: time.time() - 2 * 86400)

    phone = shop_app.test_client()
    response = phone.get(two_days_ago.cancel_url(order_id))
    assert response.status_code == 410
    assert "orders can be cancelled within 24 hours" in response.get_data(as_text=True)
    assert phone.get(f"/orders/{order_id}").status_code == 404
    # A status link of the same age still works: it is for looking the order up.
    phone = shop_app.test_client()
    assert phone.get(two_days_ago.status_url(order_id)).status_code == 303
    assert phone.get(f"/orders/{order_id}").status_code == 200


def run_queue(client: Any, aws: Provisioned, queue: str, function: str) -> None:
    """Deliver what a pipeline queue holds to its function, once, and empty the queue."""
    sqs = BOTO3_SESSION.client("sqs")
    while messages := sqs.receive_message(
        QueueUrl=aws.queue_urls[queue], MaxNumberOfMessages=10
    ).get("Messages", []):
        records = [sqs_record(m["Body"], queue_arn=aws.queue_arns[queue]) for m in messages]
        assert invoke(client, function, *records) == []
        for message in messages:
            sqs.delete_message(
                QueueUrl=aws.queue_urls[queue], ReceiptHandle=message["ReceiptHandle"]
            )


def test_the_confirmation_emails_links_name_the_order_and_cancel_it_at_the_storefront(
    aws: Provisioned, inventory: Inventory, client: Any
) -> None:
    """GIVEN the email function with the storefront's address and the link key from SSM, and
    the web tier with ORDER_LINK_KEY copied from the same parameter (as the host role does);
    WHEN a guest's order is confirmed; THEN its email names the product and links to the
    order, and its cancel link, opened in another browser, cancels the order."""
    inventory.stock("MUG-BLUE", 5, price="12.00", currency="EUR")
    settings = Settings.from_env({**aws.environment, "STOREFRONT_URL": "https://shop.example.com"})
    set_services(build_services(settings, BOTO3_SESSION))
    key = BOTO3_SESSION.client("ssm").get_parameter(
        Name=aws.environment["ORDER_LINK_KEY_PARAMETER"], WithDecryption=True
    )["Parameter"]["Value"]
    web = create_app(
        {
            "BOTO3_SESSION": BOTO3_SESSION,
            "SETTINGS": web_settings(aws, order_link_key=key),
            "TESTING": True,
        }
    )
    order_id = place(web.test_client())
    deliver_intake(client, aws)
    run_queue(client, aws, "order-billing", "initiate_billing")
    run_queue(client, aws, "order-notifications", "customer_communications")

    [email] = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert "2 x Mug-Blue at 12.00 EUR = 24.00 EUR" in email.body
    # moto keeps the HTML part of the email
    status_url = re.search(r'<a href="([^"]+)">See your order</a>', email.body)
    cancel_url = re.search(r'<a href="([^"]+)">Changed your mind\?', email.body)
    assert status_url
    assert cancel_url
    assert status_url.group(1).startswith(f"https://shop.example.com/orders/{order_id}?link=")

    phone = web.test_client()
    opened = phone.get(cancel_url.group(1).removeprefix("https://shop.example.com"))
    assert opened.headers["Location"] == f"/orders/{order_id}"
    assert "CONFIRMED" in phone.get(f"/orders/{order_id}").get_data(as_text=True)
    assert cancel(phone, order_id).status_code == 303
    deliver_intake(client, aws)
    assert status_of(order_id) == "CANCELLED"
    assert stock("MUG-BLUE") == 5


def test_a_cancel_request_the_rules_refuse_is_acknowledged_and_changes_nothing(
    shop: FlaskClient, client: Any, aws: Provisioned
) -> None:
    """The storefront refuses these itself; fulfillment must too if one arrives anyway."""
    rejected = place(shop, **{"qty_MUG-BLUE": "6"})
    deliver_intake(client, aws)
    late = placed_and_recorded(shop, client, aws)
    _placed_days_ago(late, 2)
    requests = [
        CancelRequested(order_id=order_id, requested_at=datetime.now(UTC), correlation_id="c")
        for order_id in (rejected, late, "web-" + "0" * 32)
    ]

    assert invoke(client, "process_order", *(sqs_record(r.to_json()) for r in requests)) == []

    assert status_of(rejected) == "REJECTED"
    assert status_of(late) == "RESERVED"
    assert stock("MUG-BLUE") == 3
