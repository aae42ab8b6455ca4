"""A short scripted tour of the running stack: orders through both doors, and their outcome.

`make run` plays it once the stack is up (skip it with --no-tour). It speaks to the stack
only as a client would: HTTP to the order API and the web tier, and the dashboard's JSON.
"""

import json
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from local_stack.demo_data import CATALOG, CONTACTS
from local_stack.stack import Urls, step

FINAL = {"CONFIRMED", "REJECTED"}
ADA = {
    "customer_id": CONTACTS[0].customer_id,
    "name": CONTACTS[0].name,
    "email": CONTACTS[0].email,
    "country": "GB",
}
# A storefront guest: the web tier gives her a guest- id, and her order is her contact.
GRACE = {
    "customer_id": "guest-demo-grace",
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "country": "US",
}


def tour(urls: Urls) -> None:
    api, web = urls.api, urls.storefront
    mugs = order_body(ADA, [("MUG-BLUE", 2, "12.00"), ("TEA-EARLGREY", 2, "4.50")], "EUR")
    step("API door: PUT /orders/demo-api-1")
    show(request(api, "PUT", "/orders/demo-api-1", mugs))
    step("The same PUT again (idempotent: nothing changes)")
    show(request(api, "PUT", "/orders/demo-api-1", mugs))
    step("A different body for the same id")
    show(request(api, "PUT", "/orders/demo-api-1", order_body(ADA, [("MUG-BLUE", 1, "12.00")])))
    step("An invalid order (quantity 0)")
    show(request(api, "PUT", "/orders/demo-bad", order_body(ADA, [("MUG-BLUE", 0, "12.00")])))
    step("Web door: POST /api/orders on the web tier (Idempotency-Key demo-web-1)")
    matcha = order_body(GRACE, [("TEA-MATCHA", 2, "1200")], "JPY")
    show(request(web, "POST", "/api/orders", matcha, {"Idempotency-Key": "demo-web-1"}))
    step("PUT /orders/demo-api-2 for 2 mugs when 1 is left: rejected, stock untouched")
    show(request(api, "PUT", "/orders/demo-api-2", order_body(ADA, [("MUG-BLUE", 2, "12.00")])))

    orders = ["demo-api-1", "web-demo-web-1", "demo-api-2"]
    wait_for_final(api, orders)
    state = wait_for_emails(urls.dashboard, len(orders))
    step("Orders")
    for order in sorted(state["orders"], key=lambda o: o["order_id"]):
        detail = f" ({order['rejection']})" if order["rejection"] else ""
        print(f"  {order['order_id']:<15} {order['status']:<10} {order['history']}{detail}")
    step("Ledger (billing in USD)")
    for order in sorted(state["orders"], key=lambda o: o["order_id"]):
        if order["usd"]:
            print(f"  {order['order_id']:<15} {order['total']} -> {order['usd']}")
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


def request(
    base: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(  # noqa: S310 - the local stack on 127.0.0.1
        base + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for_final(api: str, order_ids: list[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, Any] = {}
    while time.monotonic() < deadline:
        statuses = {
            order_id: request(api, "GET", f"/orders/{order_id}")[1] for order_id in order_ids
        }
        if all(status.get("status") in FINAL for status in statuses.values()):
            return statuses
        time.sleep(0.2)
    raise SystemExit(f"orders did not reach a final state in {timeout}s: {statuses}")


def wait_for_emails(dashboard: str, count: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = request(dashboard, "GET", "/state.json")[1]
        if len(state["emails"]) >= count or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def show(result: tuple[int, Any]) -> None:
    status, body = result
    print(f"  {status} {json.dumps(body)}")
