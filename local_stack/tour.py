"""A short scripted tour of the running stack: orders through both doors, their outcome, and
a cancel.

`make run` plays it once the stack is up (skip it with --no-tour). It speaks to the stack
only as a client would: HTTP to the order API and the web tier, and the dashboard's JSON.
"""

import json
import time
import urllib.request
from decimal import Decimal
from typing import Any

from local_stack.api_client import ApiCredentials, SignedApiClient
from local_stack.demo_data import CATALOG, CONTACTS
from local_stack.stack import Urls, step
from local_stack.storefront_client import Shopper

FINAL = {"CONFIRMED", "REJECTED"}
ADA = {
    "customer_id": CONTACTS[0].customer_id,
    "name": CONTACTS[0].name,
    "email": CONTACTS[0].email,
    "country": "GB",
}


def tour(urls: Urls) -> None:
    integrator = urls.api_callers["order-integrator"]
    api = SignedApiClient(urls.api, ApiCredentials.of(integrator), urls.region)
    mugs = order_body(ADA, [("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 2, "4.50")], "EUR")
    step("API door, unsigned: PUT /orders/demo-api-0 without credentials is refused")
    show(SignedApiClient(urls.api, None).request("PUT", "/orders/demo-api-0", mugs))
    step("API door, signed as order-integrator: PUT /orders/demo-api-1")
    show(api.request("PUT", "/orders/demo-api-1", mugs))
    step("The same PUT again (idempotent: nothing changes)")
    show(api.request("PUT", "/orders/demo-api-1", mugs))
    step("A different body for the same id")
    show(api.request("PUT", "/orders/demo-api-1", order_body(ADA, [("MUG-BLUE", 1, "12.00")])))
    step("An invalid order (quantity 0)")
    show(api.request("PUT", "/orders/demo-bad", order_body(ADA, [("MUG-BLUE", 0, "12.00")])))
    step(
        "A tampered price (the teapot is 39.00 GBP): accepted at the door, rejected at reservation"
    )
    cheap = order_body(ADA, [("POT-IRON", 1, "0.01")], "GBP")
    show(api.request("PUT", "/orders/demo-api-3", cheap))
    step("Web door: the storefront's form, as a guest (2 Matcha)")
    status, web_order = Shopper(urls.storefront).place_order(
        "Grace Hopper", "grace@example.com", "US", {"TEA-MATCHA": 2}
    )
    print(f"  {status} {web_order}")
    step("PUT /orders/demo-api-2 for 2 mugs when 1 is left: rejected, stock untouched")
    show(api.request("PUT", "/orders/demo-api-2", order_body(ADA, [("MUG-BLUE", 2, "12.00")])))
    step("PUT /orders/demo-api-4: a tea, to be cancelled once confirmed")
    show(api.request("PUT", "/orders/demo-api-4", order_body(ADA, [("TEA-EARLGREY", 1, "4.50")])))

    orders = ["demo-api-1", "demo-api-2", "demo-api-3", "demo-api-4"]
    orders += [web_order] if web_order else []
    wait_for_final(api, orders)
    wait_for_emails(urls.dashboard, len(orders))
    step("POST /orders/demo-api-4/cancel: CANCELLED, its tea back, its charge reversed")
    show(api.request("POST", "/orders/demo-api-4/cancel"))
    step("The same cancel again (a repeat is the same answer)")
    show(api.request("POST", "/orders/demo-api-4/cancel"))
    step("Cancelling the rejected demo-api-2: refused")
    show(api.request("POST", "/orders/demo-api-2/cancel"))
    state = wait_for_emails(urls.dashboard, len(orders) + 1, reversed_order="demo-api-4")
    step("Orders")
    for order in sorted(state["orders"], key=lambda o: o["order_id"]):
        detail = f" ({order['rejection']})" if order["rejection"] else ""
        print(f"  {order['order_id']:<15} {order['status']:<10} {order['history']}{detail}")
    step("Ledger (billing in USD)")
    for order in sorted(state["orders"], key=lambda o: o["order_id"]):
        if order["usd"]:
            print(f"  {order['order_id']:<15} {order['total']} -> {order['usd']}")
        if order["reversed"]:
            print(f"  {order['order_id']:<15} reversed: {order['reversed']}")
    step("Emails (SES)")
    for email in state["emails"]:
        print(f"  to {email['to']}: {email['subject']}")
    step("Stock")
    initial = {product.sku: product.stock for product in CATALOG}
    for item in state["stock"]:
        print(f"  {item['sku']:<13} {initial[item['sku']]:>3} -> {item['stock']}")


def order_body(
    customer: dict[str, str], lines: list[tuple[str, int, str]], currency: str = "EUR"
) -> dict[str, Any]:
    total = sum((Decimal(price) * quantity for _, quantity, price in lines), Decimal(0))
    return {
        "customer": customer,
        "currency": currency,
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
        "total": str(total),
    }


def dashboard_state(dashboard: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{dashboard}/state.json", timeout=10) as response:  # noqa: S310
        state: dict[str, Any] = json.loads(response.read())
    return state


def wait_for_final(
    api: SignedApiClient, order_ids: list[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, Any] = {}
    while time.monotonic() < deadline:
        statuses = {
            order_id: api.request("GET", f"/orders/{order_id}")[1] for order_id in order_ids
        }
        if all(status.get("status") in FINAL for status in statuses.values()):
            return statuses
        time.sleep(0.2)
    raise SystemExit(f"orders did not reach a final state in {timeout}s: {statuses}")


def wait_for_emails(
    dashboard: str, count: int, timeout: float = 30, reversed_order: str | None = None
) -> dict[str, Any]:
    """The dashboard's state once `count` emails went (and reversed_order's charge was
    reversed), or when the timeout is up."""
    deadline = time.monotonic() + timeout
    while True:
        state = dashboard_state(dashboard)
        reversed_ = reversed_order is None or any(
            order["order_id"] == reversed_order and order["reversed"] for order in state["orders"]
        )
        if (len(state["emails"]) >= count and reversed_) or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def show(result: tuple[int, Any]) -> None:
    status, body = result
    print(f"  {status} {json.dumps(body)}")
