"""Place an order through the real storefront in Debian's chromium, driven by Playwright.

Runs inside a network namespace of its own (the test starts it with `unshare -n`): the
local AWS, the consumers and gunicorn all listen on this namespace's loopback, and
chromium can reach nothing else. Usage: storefront_flow.py OUTPUT_DIR
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Flags for a headless chromium on a closed network, run as root in a container.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(output: Path) -> None:
    from local_stack.event_source import SqsEventSource
    from local_stack.moto_server import LocalAws
    from local_stack.resources import provision

    output.mkdir(parents=True, exist_ok=True)
    with LocalAws() as aws, tempfile.TemporaryDirectory() as scratch:
        os.environ.update(
            AWS_ENDPOINT_URL=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
        )
        provisioned = provision(boto3.session.Session(), f"sqlite:///{scratch}/billing.db")
        os.environ.update(provisioned.environment)
        table = boto3.resource("dynamodb").Table("inventory")
        for sku, name, price, stock in (
            ("TEA-EARLGREY", "Earl Grey tea, 100 g", "4.50", 10),
            ("MUG-BLUE", "Blue enamel mug", "12.00", 3),
            ("TEA-OOLONG", "Oolong, 50 g", "7.80", 0),
        ):
            table.put_item(
                Item={
                    "sku": sku,
                    "name": name,
                    "price": Decimal(price),
                    "currency": "EUR",
                    "stock": stock,
                }
            )

        import app

        stop = threading.Event()
        for queue, handler in (
            ("order-fulfillment", app.process_order),
            ("order-billing", app.initiate_billing),
        ):
            source = SqsEventSource(
                boto3.client("sqs"),
                queue_url=provisioned.queue_urls[queue],
                queue_arn=provisioned.queue_arns[queue],
                handler=handler,
                function_name=queue,
            )
            threading.Thread(target=source.run, args=(stop,), daemon=True).start()

        port = free_port()
        log = (output / "gunicorn.log").open("w")
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:order_web.gunicorn_conf",
                "order_web.wsgi:app",
            ],
            cwd=scratch,
            env={
                **os.environ,
                "ORDER_WEB_ENV": "development",  # plain HTTP here: no Secure cookies
                "SECRET_KEY": "browser-test-only",
                "ORDER_INTAKE_TOPIC_ARN": provisioned.topic_arns["order-intake"],
                "INVENTORY_TABLE": "inventory",
                "ORDERS_TABLE": "orders",
                "ORDER_WEB_BIND": f"127.0.0.1:{port}",
                "GUNICORN_CONTROL_SOCKET": f"{scratch}/gunicorn.ctl",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            shop = f"http://127.0.0.1:{port}"
            _wait_for(f"{shop}/healthz")
            summary = _shop(shop, output)
        finally:
            web.terminate()
            web.wait(timeout=30)
            stop.set()
    print(json.dumps(summary))


def _shop(shop: str, output: Path) -> dict[str, str]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 760})
        page.goto(shop)
        expect(page.get_by_role("heading", name="Our catalog")).to_be_visible()
        expect(page.get_by_text("Out of stock")).to_be_visible()
        page.get_by_label("Blue enamel mug").fill("2")
        page.get_by_label("Earl Grey tea, 100 g").fill("1")
        page.get_by_label("Name", exact=True).fill("Ada Lovelace")
        page.get_by_label("Email", exact=True).fill("ada@example.com")
        page.get_by_label("Country (ISO code, e.g. GB)").fill("GB")
        page.screenshot(path=output / "1-storefront.png", full_page=True)
        page.get_by_role("button", name="Place order").click()

        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
        order_id = page.locator(".order-id").inner_text()
        page.screenshot(path=output / "2-confirmation.png", full_page=True)
        page.get_by_role("link", name="Follow your order").click()

        # The page refreshes itself (no JavaScript) while the pipeline works.
        expect(page.locator(".status")).to_have_text("BILLED", timeout=30_000)
        expect(page.locator(".history")).to_contain_text("RESERVED")
        page.screenshot(path=output / "3-status.png", full_page=True)
        browser.close()
    return {"order_id": order_id, "status": "BILLED"}


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
