"""The README's run command with `--aws-limits`: a burst of orders for a scarce SKU, with SES
sending 2 emails a second, finishes with nothing lost, oversold, emailed twice or dead-lettered.

The model (local_stack/aws_limits.py) refuses what AWS would; the pipeline retries, requeues
and paces (chalicelib/contention.py, pacing.py). Behaviour only: how long it takes is the
bench's to measure.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from local_stack.tour import ADA, dashboard_state, order_body
from tests.stack_process import StackProcess, running_stack
from tests.system.test_end_to_end import FINAL, api_status, put_order, wait_for

ORDERS, UNITS = 24, 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    options = ["--aws-limits", "--ses-rate", "2"]
    with running_stack(tmp_path_factory.mktemp("limited"), options=options) as running:
        yield running


def test_a_scarce_sku_sells_out_exactly_and_every_order_gets_one_email(
    stack: StackProcess,
) -> None:
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
    )
    dynamodb: Any = session.client("dynamodb", endpoint_url=stack.aws)
    dynamodb.put_item(
        TableName="inventory",
        Item={
            "sku": {"S": "FLASH-TEA"},
            "name": {"S": "Flash sale tea"},
            "price": {"N": "1.00"},
            "currency": {"S": "EUR"},
            "stock": {"N": str(UNITS)},
        },
    )
    order_ids = [f"flash-{n:02d}" for n in range(ORDERS)]
    body = order_body(ADA, [("FLASH-TEA", 1, "1.00")])
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda order_id: put_order(stack, order_id, body), order_ids))
    assert set(statuses) == {201}

    def finished() -> dict[str, str] | None:
        outcome = {order_id: api_status(stack, order_id) for order_id in order_ids}
        return outcome if all(status in FINAL for status in outcome.values()) else None

    outcome = wait_for("the orders to finish", finished, timeout=300)
    state = wait_for(
        "an email per order",
        lambda: (
            (s := dashboard_state(stack.dashboard))
            and sum(1 for e in s["emails"] if e["subject"].split()[1] in order_ids) >= ORDERS
            and s
        ),
        timeout=300,
    )

    assert Counter(outcome.values()) == {"CONFIRMED": UNITS, "REJECTED": ORDERS - UNITS}
    stock = next(int(i["stock"]) for i in state["stock"] if i["sku"] == "FLASH-TEA")
    assert stock == 0
    emailed = Counter(e["subject"].split()[1] for e in state["emails"])
    assert {o: emailed[o] for o in order_ids} == dict.fromkeys(order_ids, 1)  # one, never two
    assert state["counters"] == {"orders_reserved": UNITS, "orders_rejected": ORDERS - UNITS}
    assert all(queue["dead_letters"] == 0 for queue in state["queues"]), state["queues"]
