"""chalicelib/catalog_api.py, the catalog door (with adapters/catalog.py on moto): list,
create, change (never the stock), restock atomically; errors.
"""

import io
import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from chalice.local import LambdaContext
from chalice.test import Client
from moto.core.models import botocore_stubber

from chalicelib import catalog_api
from chalicelib.adapters.catalog import DynamoCatalog
from chalicelib.services import Services, build_services, set_services
from chalicelib.settings import Settings
from local_stack.resources import Provisioned
from tests.conftest import BOTO3_SESSION, Inventory, order_item
from tests.factories import order, placed, sqs_event, sqs_record

JSON = {"Content-Type": "application/json"}
MANAGER = "arn:aws:iam::123456789012:user/catalog-manager"


def put_product(client: Client, sku: str, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.put(f"/catalog/{sku}", headers=JSON, body=raw)


def restock(client: Client, sku: str, body: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.http.post(f"/catalog/{sku}/restock", headers=JSON, body=raw)


def inventory_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        BOTO3_SESSION.resource("dynamodb").Table("inventory").scan()["Items"]
    )
    return sorted(items, key=lambda item: item["sku"])


def stored(sku: str) -> dict[str, Any] | None:
    table = BOTO3_SESSION.resource("dynamodb").Table("inventory")
    item: dict[str, Any] | None = table.get_item(Key={"sku": sku}, ConsistentRead=True).get("Item")
    return item


def test_the_catalog_lists_every_product_by_sku_with_exact_prices(
    client: Client, inventory: Inventory
) -> None:
    inventory.stock("TEA-MATCHA", 5, price="1200", currency="JPY")
    inventory.stock("POT-IRON", 0, price="39.00", currency="GBP")

    response = client.http.get("/catalog")

    assert response.status_code == 200
    items = response.json_body["items"]
    assert [item["sku"] for item in items] == [
        "DATES-1KG",
        "MUG-BLUE",
        "POT-IRON",
        "TEA-EARLGREY",
        "TEA-MATCHA",
    ]
    # DynamoDB hands 4.50 and 39.00 back as 4.5 and 39: shown in the currency's minor units.
    assert items[1] == {
        "sku": "MUG-BLUE",
        "name": "Mug-Blue",
        "price": "4.50",
        "currency": "EUR",
        "available": 100,
    }
    assert (items[2]["price"], items[2]["available"]) == ("39.00", 0)
    assert (items[4]["price"], items[4]["currency"]) == ("1200", "JPY")


def test_the_listing_reads_every_page_of_the_scan() -> None:
    dynamodb = BOTO3_SESSION.client("dynamodb", region_name="us-east-1")

    def item(sku: str, **extra: Any) -> dict[str, Any]:
        return {"sku": {"S": sku}, "name": {"S": sku.title()}, "stock": {"N": "3"}, **extra}

    priced = {"price": {"N": "4.5"}, "currency": {"S": "EUR"}}
    request = {"TableName": "inventory", "ConsistentRead": True}
    with Stubber(dynamodb) as stubber:
        stubber.add_response(
            "scan",
            {"Items": [item("TEA-B", **priced)], "LastEvaluatedKey": {"sku": {"S": "TEA-B"}}},
            request,
        )
        stubber.add_response(
            "scan",
            # An item without a price is not for sale (the reservation refuses it too).
            {"Items": [item("MUG-A", **priced), item("UNPRICED")]},
            {**request, "ExclusiveStartKey": {"sku": {"S": "TEA-B"}}},
        )
        products = DynamoCatalog(dynamodb, "inventory").products()
        stubber.assert_no_pending_responses()
    assert [(p.sku, p.available) for p in products] == [("MUG-A", 3), ("TEA-B", 3)]


def test_a_new_product_is_created_with_no_stock(client: Client, inventory: Inventory) -> None:
    response = put_product(
        client, "TEA-SENCHA", {"name": "Sencha, 50 g", "price": "6.5", "currency": "EUR"}
    )

    assert response.status_code == 201
    assert response.headers["Location"] == "/catalog/TEA-SENCHA"
    product = {
        "sku": "TEA-SENCHA",
        "name": "Sencha, 50 g",
        "price": "6.50",
        "currency": "EUR",
        "available": 0,
    }
    assert response.json_body == product
    assert product in client.http.get("/catalog").json_body["items"]
    item = stored("TEA-SENCHA")
    assert item is not None
    assert (item["stock"], item["updated_by"]) == (0, "unknown")  # chalice.test has no IAM ARN
    assert item["updated_at"].endswith("+00:00")


def test_changing_the_price_keeps_the_stock(client: Client, inventory: Inventory) -> None:
    inventory.stock("MUG-BLUE", 7, price="12.00")

    response = put_product(
        client, "MUG-BLUE", {"name": "Blue enamel mug", "price": 13.5, "currency": "EUR"}
    )

    assert response.status_code == 200
    assert response.json_body == {
        "sku": "MUG-BLUE",
        "name": "Blue enamel mug",
        "price": "13.50",
        "currency": "EUR",
        "available": 7,
    }
    assert inventory.level("MUG-BLUE") == 7


def test_a_change_is_logged_with_the_caller_and_the_old_and_new_values(
    inventory: Inventory, services: Services, log_output: io.StringIO
) -> None:
    body = json.dumps({"name": "Mug-Blue", "price": "5.00", "currency": "EUR"})

    response = catalog_api.put_product("MUG-BLUE", body, MANAGER, "corr-cat", services)

    assert response.status_code == 200
    [line] = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert line["message"] == "catalog product changed"
    assert (line["caller"], line["sku"], line["correlation_id"]) == (
        MANAGER,
        "MUG-BLUE",
        "corr-cat",
    )
    assert line["changes"] == {"price": {"old": "4.50", "new": "5.00"}}
    assert stored("MUG-BLUE")["updated_by"] == MANAGER  # type: ignore[index]


def test_a_restock_adds_units(
    client: Client, inventory: Inventory, services: Services, log_output: io.StringIO
) -> None:
    response = restock(client, "MUG-BLUE", {"quantity": 25})

    assert response.status_code == 200
    assert response.json_body == {"sku": "MUG-BLUE", "available": 125}
    assert inventory.level("MUG-BLUE") == 125

    catalog_api.restock("MUG-BLUE", '{"quantity": 5}', MANAGER, "corr-restock", services)
    line = json.loads(log_output.getvalue().splitlines()[-1])
    assert (line["message"], line["caller"], line["added"]) == (
        "catalog product restocked",
        MANAGER,
        5,
    )
    assert line["changes"] == {"available": {"old": 125, "new": 130}}


@pytest.mark.parametrize("sku", ["TEA-NOPE", "tea-nope"])
def test_restocking_an_unknown_sku_is_404_and_creates_nothing(
    client: Client, inventory: Inventory, sku: str
) -> None:
    before = inventory_items()

    response = restock(client, sku, {"quantity": 5})

    assert response.status_code == 404
    assert response.json_body["error"] == "not_found"
    assert inventory_items() == before


PUT_INVALID = [
    ("MUG-BLUE", {"name": "Mug", "price": "0", "currency": "EUR"}, "price"),
    ("MUG-BLUE", {"name": "Mug", "price": "-1.00", "currency": "EUR"}, "price"),
    ("MUG-BLUE", {"name": "Mug", "price": "4.505", "currency": "EUR"}, "price"),
    ("MUG-BLUE", {"name": "Mug", "price": "1200.5", "currency": "JPY"}, "price"),
    ("MUG-BLUE", {"name": "Mug", "price": "NaN", "currency": "EUR"}, "price"),
    ("MUG-BLUE", {"name": "Mug", "price": "4.50", "currency": "XXX"}, "currency"),
    ("MUG-BLUE", {"name": "Mug", "price": "4.50", "currency": "eur"}, "currency"),
    ("MUG-BLUE", {"name": " ", "price": "4.50", "currency": "EUR"}, "name"),
    ("MUG-BLUE", {"price": "4.50", "currency": "EUR"}, "name"),
    ("MUG-BLUE", {"name": "Mug", "price": "4.50", "currency": "EUR", "stock": 0}, "stock"),
    ("MUG-BLUE", '{"name": "Mug", "price": ', "body"),
    ("mug-blue", {"name": "Mug", "price": "4.50", "currency": "EUR"}, "sku"),
    ("MUG_BLUE", {"name": "Mug", "price": "4.50", "currency": "EUR"}, "sku"),
]


@pytest.mark.parametrize(("sku", "body", "field"), PUT_INVALID)
def test_an_invalid_product_is_400_and_changes_nothing(
    client: Client, inventory: Inventory, sku: str, body: Any, field: str
) -> None:
    before = inventory_items()

    response = put_product(client, sku, body)

    assert response.status_code == 400
    assert response.json_body["error"] == "invalid_request"
    assert field in [problem["field"] for problem in response.json_body["problems"]]
    assert field in response.json_body["message"]
    assert inventory_items() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 100_001}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({}, "quantity"),
        ({"quantity": 5, "stock": 500}, "stock"),
        ("[]", "body"),
    ],
)
def test_an_invalid_restock_is_400_and_changes_nothing(
    client: Client, inventory: Inventory, body: Any, field: str
) -> None:
    response = restock(client, "MUG-BLUE", body)

    assert response.status_code == 400
    assert response.json_body["error"] == "invalid_request"
    assert field in [problem["field"] for problem in response.json_body["problems"]]
    assert inventory.level("MUG-BLUE") == 100


def test_a_body_over_the_limit_is_413_and_changes_nothing(
    client: Client, inventory: Inventory
) -> None:
    before = inventory_items()
    huge = {"name": "x" * (64 * 1024), "price": "4.50", "currency": "EUR"}

    assert put_product(client, "MUG-BLUE", huge).status_code == 413
    response = restock(client, "MUG-BLUE", {"quantity": 5, "padding": " " * (64 * 1024)})
    assert response.status_code == 413
    assert response.json_body["error"] == "body_too_large"
    assert inventory_items() == before


@pytest.fixture
def services(aws: Provisioned) -> Services:
    """The functions' services, with every AWS request reaching moto one at a time.

    moto's backends are not thread-safe (see local_stack/moto_server.py): two writes at once
    can interleave inside moto, which real DynamoDB never does to one item. Serialising whole
    requests keeps what the race test is about: a restock that read the stock and wrote it
    back in a second request would still lose the units reserved in between.
    """
    lock = threading.Lock()

    def one_at_a_time(**kwargs: Any) -> Any:
        with lock:
            return botocore_stubber(**kwargs)

    session = boto3.session.Session()
    # botocore calls every before-send handler: moto's own would run each request again.
    session.events.unregister("before-send", botocore_stubber)  # type: ignore[arg-type]
    session.events.register_first("before-send", one_at_a_time)
    services = build_services(Settings.from_env(aws.environment), session)
    set_services(services)
    return services


def test_restocks_racing_orders_lose_no_unit(inventory: Inventory, services: Services) -> None:
    from app import process_order

    # GIVEN five mugs, orders for one each (at the catalog's price), restocks of three and
    # renames (a PUT at the same price: it must not write the stock either)
    inventory.stock("MUG-BLUE", 5)
    initial, orders, restocks, units, renames = 5, 30, 12, 3, 4
    start = threading.Barrier(orders + restocks + renames)
    failures: list[object] = []
    answers: list[int] = []

    def place(n: int) -> None:
        event = sqs_event(
            sqs_record(placed(order(f"race-{n}", [("MUG-BLUE", 1, "4.50")])).to_json())
        )
        start.wait()
        response = process_order(event, LambdaContext("process_order", 512))
        failures.extend(response["batchItemFailures"])

    # The managers' threads call what the routes call: chalice keeps app.current_request in
    # one attribute for every thread, so its test client cannot serve requests in parallel.
    def add(n: int) -> None:
        body = json.dumps({"quantity": units})
        start.wait()
        answers.append(
            catalog_api.restock("MUG-BLUE", body, MANAGER, f"corr-{n}", services).status_code
        )

    def rename(n: int) -> None:
        body = json.dumps({"name": f"Blue mug {n}", "price": "4.50", "currency": "EUR"})
        start.wait()
        answers.append(
            catalog_api.put_product("MUG-BLUE", body, MANAGER, f"corr-r{n}", services).status_code
        )

    # WHEN they all run at once
    threads = [threading.Thread(target=place, args=(n,)) for n in range(orders)]
    threads += [threading.Thread(target=add, args=(n,)) for n in range(restocks)]
    threads += [threading.Thread(target=rename, args=(n,)) for n in range(renames)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # THEN every unit is accounted for: none lost to a restock, none counted twice
    assert failures == []
    assert answers == [200] * (restocks + renames)
    statuses = Counter(order_item(f"race-{n}")["status"] for n in range(orders))  # type: ignore[index]
    assert statuses["RESERVED"] + statuses["REJECTED"] == orders
    assert inventory.level("MUG-BLUE") == initial + restocks * units - statuses["RESERVED"]
