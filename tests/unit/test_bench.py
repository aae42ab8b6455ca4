"""bench (__main__.py, cost.py, wrk.py, cold_start.py, web.py, report.py): the benchmark's logic.

Cost arithmetic, wrk and importtime parsing, the Markdown report, the CLI. The figures
themselves are never asserted: they move with the machine's load. Runs of wrk and of the
benchmark itself are in tests/system/test_bench.py.
"""

import json

import pytest

from bench.__main__ import _without_only, parse_arguments
from bench.cold_start import by_distribution, import_total_ms, parse_importtime, summarise
from bench.cost import (
    PRICES_FILE,
    DynamoItem,
    PriceSheet,
    cost_per_million_orders,
    dynamodb_units,
    item_size,
    lambda_gb_seconds,
    totals,
    units_from_requests,
)
from bench.report import markdown
from bench.web import Storefront, post_form_script
from bench.wrk import WrkError, parse_wrk_output, post_json_script

PATHS = (".", "chalice_app", "ec2_tier")  # what the Makefile puts on PYTHONPATH


def test_every_price_is_dated_and_sourced() -> None:
    raw = json.loads(PRICES_FILE.read_text())
    sheet = PriceSheet.load()
    assert sheet.region == "us-east-1"
    assert raw["price_date"] == sheet.price_date
    assert all(p.source.startswith("https://aws.amazon.com/") for p in sheet.prices.values())
    assert all(p.usd > 0 and p.per > 0 for p in sheet.prices.values())


def test_cost_per_million_orders_is_units_times_unit_price() -> None:
    sheet = PriceSheet.load()
    cost = cost_per_million_orders(
        {"sqs_request": 9, "ses_email": 1, "dynamodb_write_request_unit": 13}, sheet
    )
    assert cost["sqs_request"] == pytest.approx(9 * 0.40)
    assert cost["ses_email"] == pytest.approx(100.0)
    assert cost["dynamodb_write_request_unit"] == pytest.approx(13 * 0.625)
    total, without_ses = totals(cost)
    assert total == pytest.approx(3.6 + 100 + 8.125)
    assert without_ses == pytest.approx(3.6 + 8.125)


def test_a_line_without_a_price_is_refused() -> None:
    with pytest.raises(KeyError, match="lambda_edge"):
        cost_per_million_orders({"lambda_edge": 1}, PriceSheet.load())


def test_requests_map_to_price_lines() -> None:
    units = units_from_requests(
        {
            "sqs:ReceiveMessage (Lambda)": 3,
            "sqs:SendMessage (SNS delivery)": 3,
            "sns:Publish": 3,
            "s3:PutObject": 1,
            "s3:GetObject": 1,
            "s3:HeadObject": 0.5,
            "rds-data:ExecuteStatement": 8,
            "sesv2:SendEmail": 1,
            "dynamodb:GetItem": 2,  # billed by request units, not here
        }
    )
    assert units == {
        "sqs_request": 6,
        "sns_publish": 3,
        "s3_put_request": 1,
        "s3_get_request": 1.5,
        "aurora_data_api_request": 8,
        "ses_email": 1,
    }


def test_dynamodb_units_double_for_transactions_and_grow_with_item_size() -> None:
    items = [
        DynamoItem("orders", "read"),
        DynamoItem("orders", "write"),
        DynamoItem("orders", "transact_write"),
        DynamoItem("inventory", "transact_write"),
    ]
    # A 1.5 KB order is two write units, one read unit; inventory items are tiny.
    assert dynamodb_units(items, {"orders": 1536, "inventory": 30}) == (1, 2 + 4 + 2)


def test_item_size_follows_dynamodb_rules() -> None:
    assert item_size({"sku": {"S": "MUG"}}) == 6
    assert item_size({"n": {"N": "12300"}}) == 1 + 3  # three significant digits: 2 + 1
    assert item_size({"ok": {"BOOL": True}}) == 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)


def test_lambda_bills_each_invocation_by_the_millisecond() -> None:
    assert lambda_gb_seconds(0.0101, 512) == pytest.approx(0.011 * 0.5)
    assert lambda_gb_seconds(1.0, 1024) == pytest.approx(1.0)


WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:4321/orders
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    27.01ms   10.64ms 112.28ms   80.14%
  1475 requests in 5.00s, 456.23KB read
Requests/sec:    294.80
Transfer/sec:     91.19KB
BENCH_RESULT {"requests": 1475, "duration_us": 5003411, "connect_errors": 0, "read_errors": 1, \
"write_errors": 0, "status_errors": 2, "timeouts": 3, "p50_us": 25110, "p90_us": 38000, \
"p99_us": 71234, "max_us": 112280}
"""


def test_wrk_result_line_is_parsed() -> None:
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 1475
    assert result.per_second == pytest.approx(1475 / 5.003411)
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (25.11, 71.234, 112.28)
    assert result.errors == 6


def test_wrk_output_without_result_is_an_error() -> None:
    with pytest.raises(WrkError, match="no result line"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_post_script_carries_the_body_as_a_lua_string() -> None:
    script = post_json_script('{"total": "4.50"}')
    assert 'wrk.body = "{\\"total\\": \\"4.50\\"}"' in script
    assert "done = function(summary, latency, requests)" in script


STOREFRONT = Storefront(
    cookie="session=eyJjc3JmX3Rva2VuIjoiYWJjIn0.Zx-1.sig", csrf_token="IjFh.Zx-1.t_k"
)
RUN = "0123456789abcdef"


def test_form_script_posts_the_form_with_the_storefronts_session() -> None:
    script = post_form_script(STOREFRONT, RUN)
    assert 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"' in script
    assert f'wrk.headers["Cookie"] = "{STOREFRONT.cookie}"' in script
    assert "csrf_token=IjFh.Zx-1.t_k&" in script
    assert f"&idempotency_key={RUN}" in script
    assert "done = function(summary, latency, requests)" in script
    with pytest.raises(ValueError, match="16 hex"):
        post_form_script(STOREFRONT, "not-hex")


Received = list[tuple[str, dict[str, list[str]]]]  # (Cookie header, form fields) per POST


IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2000 |       5000 |     botocore.client
import time:      1000 |       6000 |   boto3
import time:       500 |       6500 | chalicelib.services
import time:      1833 |     324721 | app
"""


def test_importtime_output_is_parsed() -> None:
    records = parse_importtime(IMPORTTIME)
    assert [r.module for r in records] == [
        "_io",
        "botocore.client",
        "boto3",
        "chalicelib.services",
        "app",
    ]
    assert [r.depth for r in records] == [1, 2, 1, 0, 0]
    assert import_total_ms(records, "app") == pytest.approx(324.721)
    assert by_distribution(records, top=2) == {"botocore": 2.0, "app": 1.8}
    with pytest.raises(ValueError, match="boto3"):
        import_total_ms(records, "boto3")  # imported, but not at the top level


def test_cold_start_table_sets_each_handler_beside_its_floor() -> None:
    handler = {
        "import_ms": 20.0,
        "first_ms": 280.0,
        "second_ms": 8.0,
        "clients_built": ["s3"],
        "cold_ms": 300.0,
        "cold_cpu_ms": 240.0,
        "floor_ms": 250.0,
        "floor_cpu_ms": 200.0,
        "ratio_to_floor": 1.2,
        "ratio_to_floor_wall": 1.2,
        "rounds": 5,
    }
    results = {
        "started_at": "2026-11-30T10:00:00Z",
        "machine": {"cpus": 2, "python": "3.11", "load_average_1_5_15": [0.5, 0.5, 0.5]},
        "cold": {
            "app": {"runs": 5, "import_app_ms_median": 40.0, "self_ms_by_package": {"chalice": 5}},
            "handlers": {"put_order": handler},
        },
    }

    table = markdown(results)

    assert "## Cold start" in table
    assert "Medians of 5 rounds" in table
    assert "| `put_order` | 20 | 280 | 8 | s3 | 240 (300) | 200 (250) | 1.20x (1.20x) |" in table
    assert "## Pipeline" not in table
    assert "## Web tier" not in table


def test_cold_start_ratio_is_of_medians_over_the_rounds() -> None:
    def run(import_ms: float, first_ms: float, floor_ms: float) -> dict[str, object]:
        return {
            "import_ms": import_ms,
            "import_cpu_ms": import_ms / 2,
            "first_ms": first_ms,
            "first_cpu_ms": first_ms / 2,
            "second_ms": 5.0,
            "floor_ms": floor_ms,
            "floor_cpu_ms": floor_ms / 2,
            "clients_built": ["s3"],
            "modules_imported_by_first": 100,
        }

    # The middle round is the median of each figure; the outlier round moves none of them.
    figures = summarise([run(20, 280, 250), run(30, 900, 900), run(10, 270, 240)])

    assert figures["cold_ms"] == 300
    assert figures["cold_cpu_ms"] == 150
    assert figures["floor_ms"] == 250
    assert figures["ratio_to_floor"] == 1.2
    assert figures["ratio_to_floor_wall"] == 1.2
    assert figures["rounds"] == 3
    assert figures["clients_built"] == ["s3"]


def test_quick_shortens_every_part() -> None:
    quick = parse_arguments(["--quick"])
    assert quick.connections == "1,4,16"
    assert quick.seconds <= 2
    assert quick.orders <= 30
    assert quick.e2e_orders <= 30


def test_parts_run_one_per_child() -> None:
    argv = ["--quick", "--only", "web", "--only=cold", "--orders", "5"]
    assert _without_only(argv) == ["--quick", "--orders", "5"]
