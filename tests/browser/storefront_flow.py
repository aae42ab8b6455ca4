"""Place an order through the real storefront in Debian's chromium, driven by Playwright,
follow it to CONFIRMED, then cancel it from its status page and see its stock come back.

Runs inside a network namespace of its own (the test starts it with `unshare -n`): the
README's run command starts the whole local stack on this namespace's loopback, and
chromium can reach nothing else. Usage: storefront_flow.py OUTPUT_DIR
"""

import json
import sys
import tempfile
from pathlib import Path

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


def main(output: Path) -> None:
    from tests.stack_process import running_stack

    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, running_stack(Path(scratch)) as stack:
        summary = _shop(stack.storefront, stack.dashboard, output)
    print(json.dumps(summary))


def _shop(shop: str, dashboard: str, output: Path) -> dict[str, str]:
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
        expect(page.locator(".status")).to_have_text("CONFIRMED", timeout=60_000)
        expect(page.locator(".history")).to_contain_text("BILLED")
        # What was ordered, by name, and what it cost in USD.
        expect(page.locator(".lines")).to_contain_text("Blue enamel mug")
        expect(page.locator(".lines .total")).to_have_text("28.50 EUR")
        expect(page.locator(".lines .usd")).to_contain_text("USD")
        expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
        page.screenshot(path=output / "3-status.png", full_page=True)
        status_page = page.url

        # The operator's view: the order, its email, the stock it took.
        page.goto(dashboard)
        row = page.locator("#orders tr", has_text=order_id)
        expect(row).to_contain_text("CONFIRMED")
        expect(row).to_contain_text("ada@example.com")
        expect(page.locator("#emails")).to_contain_text(f"Order {order_id} confirmed")
        mugs_in_stock = page.locator("#stock tr", has_text="MUG-BLUE").locator("td").nth(2)
        expect(mugs_in_stock).to_have_text("1")
        stock_after_order = mugs_in_stock.inner_text()
        page.screenshot(path=output / "4-dashboard.png", full_page=True)
        page.get_by_role("link", name=f"Order {order_id} confirmed").click()
        expect(page.get_by_text("2 x Blue enamel mug at 12.00 EUR")).to_be_visible()
        expect(page.get_by_role("link", name="See your order")).to_be_visible()
        page.screenshot(path=output / "5-email.png", full_page=True)

        # Changed their mind: cancel from the status page (a form post with its CSRF token).
        page.goto(status_page)
        page.get_by_role("button", name="Cancel order").click()
        expect(page.get_by_text("We are cancelling your order")).to_be_visible()
        expect(page.locator(".status")).to_have_text("CANCELLED", timeout=60_000)
        expect(page.get_by_text("This order is cancelled")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
        page.screenshot(path=output / "6-cancelled.png", full_page=True)

        # The stock is back, and the customer was told.
        page.goto(dashboard)
        expect(page.locator("#orders tr", has_text=order_id)).to_contain_text("CANCELLED")
        expect(mugs_in_stock).to_have_text("3")
        # The dashboard refreshes itself; the cancellation email follows the cancel.
        expect(page.locator("#emails")).to_contain_text(
            f"Order {order_id} cancelled", timeout=30_000
        )
        stock_after_cancel = mugs_in_stock.inner_text()
        page.screenshot(path=output / "7-dashboard-cancelled.png", full_page=True)
        browser.close()
    return {
        "order_id": order_id,
        "status": "CONFIRMED",
        "then": "CANCELLED",
        "mugs_after_order": stock_after_order,
        "mugs_after_cancel": stock_after_cancel,
    }


if __name__ == "__main__":
    main(Path(sys.argv[1]))
