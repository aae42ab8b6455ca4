"""The bounce and complaint paths end to end on the running local stack (`python -m local_stack`).

An order's email to the SES mailbox simulator comes back as SES's feedback on `ses-feedback`,
the local stack invokes `record_ses_feedback` as Lambda's SNS trigger would, the address is
suppressed in the SQL contact book, and the next order's email to it is not sent.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.db_api import DbApiRunner
from chalicelib.communications import Contact
from local_stack.storefront_client import Shopper
from local_stack.tour import dashboard_state, order_body
from tests.stack_process import StackProcess, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def contact_book(stack: StackProcess) -> SqlContactBook:
    return SqlContactBook(DbApiRunner.sqlite(str(stack.state_dir / "billing.db")))


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return result


def order_of(stack: StackProcess, order_id: str) -> dict[str, Any]:
    """The dashboard's row for an order once it is CONFIRMED (its email decided)."""
    return dict(
        wait_for(
            f"{order_id} to be confirmed",
            lambda: next(
                (
                    o
                    for o in dashboard_state(stack.dashboard)["orders"]
                    if o["order_id"] == order_id and o["status"] == "CONFIRMED"
                ),
                None,
            ),
        )
    )


def emails_to(stack: StackProcess, address: str) -> int:
    return sum(1 for e in dashboard_state(stack.dashboard)["emails"] if e["to"] == address)


def test_a_bounce_suppresses_a_registered_customers_address_and_the_next_email_is_not_sent(
    stack: StackProcess,
) -> None:
    # GIVEN a registered customer whose address is the simulator's bounce mailbox (labelled,
    # so this run's address is new)
    address = f"bounce+{uuid.uuid4().hex[:8]}@simulator.amazonses.com"
    customer = Contact(f"cust-bounce-{uuid.uuid4().hex[:6]}", "Bounce Simulator", address)
    book = contact_book(stack)
    book.save_contact(customer)
    body = order_body(
        {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "email": address,
            "country": "GB",
        },
        [("TEA-EARLGREY", 1, "4.50")],
    )
    api = stack.api_client()

    # WHEN an order through the signed order API is confirmed by email
    first, second = (f"sim-bounce-{uuid.uuid4().hex[:8]}" for _ in range(2))
    assert api.request("PUT", f"/orders/{first}", body)[0] == 201
    assert order_of(stack, first)["email"] == "confirmation sent"

    # THEN SES's bounce reaches record_ses_feedback and the address is suppressed
    assert wait_for("the bounce", lambda: book.suppression(address)) == "permanent_bounce"
    # AND a later order completes without an email to it
    assert api.request("PUT", f"/orders/{second}", body)[0] == 201
    later = order_of(stack, second)
    assert later["email"] == "confirmation suppressed"
    assert emails_to(stack, address) == 1


def test_a_complaint_suppresses_a_storefront_guests_address_and_the_next_email_is_not_sent(
    stack: StackProcess,
) -> None:
    address = f"complaint+{uuid.uuid4().hex[:8]}@simulator.amazonses.com"
    shopper = Shopper(stack.storefront)

    status, first = shopper.place_order("Complaint Simulator", address, "GB", {"TEA-EARLGREY": 1})
    assert status == 303
    assert first
    assert order_of(stack, first)["email"] == "confirmation sent"

    book = contact_book(stack)
    assert wait_for("the complaint", lambda: book.suppression(address)) == "complaint"
    status, second = shopper.place_order("Complaint Simulator", address, "GB", {"TEA-EARLGREY": 1})
    assert status == 303
    assert second
    assert order_of(stack, second)["email"] == "confirmation suppressed"
    assert emails_to(stack, address) == 1


def test_an_ordinary_address_and_the_success_mailbox_are_not_suppressed(
    stack: StackProcess,
) -> None:
    shopper = Shopper(stack.storefront)
    delivered = [
        f"success+{uuid.uuid4().hex[:8]}@simulator.amazonses.com",
        f"grace-{uuid.uuid4().hex[:8]}@example.com",
    ]
    bounced = f"bounce+{uuid.uuid4().hex[:8]}@simulator.amazonses.com"
    for address in [*delivered, bounced]:
        order_id = shopper.place_order("Grace", address, "US", {"TEA-EARLGREY": 1})[1]
        assert order_id
        assert order_of(stack, order_id)["email"] == "confirmation sent"
    book = contact_book(stack)
    # The simulator reads the outbox in order: once the last email's bounce is recorded, the
    # earlier two were seen, and they changed nothing.
    wait_for("the bounce", lambda: book.suppression(bounced))
    assert [book.suppression(address) for address in delivered] == [None, None]
