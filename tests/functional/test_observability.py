"""chalicelib/observability.py, through the Chalice client on moto: every log line about an
order carries the order id and the correlation id.
"""

import io
import json
from typing import Any

from chalice.test import Client

from tests.conftest import Inventory
from tests.factories import order, placed, sqs_event, sqs_record
from tests.vectors import INVALID, VALID, raw_body


def json_lines(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_handler_logs_carry_order_and_correlation_ids(
    client: Client, inventory: Inventory, log_output: io.StringIO
) -> None:
    records = [
        sqs_record(placed(order(f"ord-{n}"), correlation_id=f"corr-{n}").to_json())
        for n in range(3)
    ]
    client.lambda_.invoke("process_order", sqs_event(*records))

    lines = json_lines(log_output)
    assert len(lines) >= 3
    for line in lines:
        assert line["correlation_id"] == line["order_id"].replace("ord-", "corr-"), line
    assert {line["order_id"] for line in lines} == {"ord-0", "ord-1", "ord-2"}


def test_api_logs_carry_order_and_correlation_ids(client: Client, log_output: io.StringIO) -> None:
    headers = {"Content-Type": "application/json", "X-Correlation-Id": "corr-api"}
    client.http.put("/orders/ord-1", headers=headers, body=raw_body(VALID[0]))
    client.http.put("/orders/ord-2", headers=headers, body=raw_body(INVALID[0]))

    lines = json_lines(log_output)
    assert [line["order_id"] for line in lines] == ["ord-1", "ord-2"]
    assert all(line["correlation_id"] == "corr-api" for line in lines)
    assert lines[1]["problems"][0]["field"] == "customer"


def test_a_failing_record_logs_the_publishers_correlation_id(
    client: Client, log_output: io.StringIO
) -> None:
    record = sqs_record("not an order", attributes={"correlation_id": "corr-from-sns"})
    client.lambda_.invoke("process_order", sqs_event(record))

    lines = json_lines(log_output)
    assert lines
    assert all(line["correlation_id"] == "corr-from-sns" for line in lines)
    assert all(line["message_id"] == record["messageId"] for line in lines)
