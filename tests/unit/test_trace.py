"""ops/trace.py without AWS: which lines belong to an order, which hop wrote each, the query.

The local timeline on the running stack is in tests/system/test_trace.py; the Logs Insights
round trip on moto in tests/functional/test_trace.py.
"""

import pytest

from ops.trace import hop_of, insights_query, log_groups, related, timeline


@pytest.mark.parametrize(
    ("entry", "log_group", "hop"),
    [
        ({"service": "order-web"}, "/order-pipeline/production/web", "web"),
        ({"function_name": "process_order"}, "", "fulfilment"),
        ({"function_name": "order-pipeline-prod-initiate_billing"}, "", "billing"),
        ({}, "/aws/lambda/order-pipeline-prod-customer_communications", "email"),
        ({}, "/aws/lambda/order-pipeline-prod-watch_stuck_orders", "watchdog"),
        ({}, "/aws/lambda/order-pipeline-prod", "api"),  # the order API's one function
        ({"service": "order-pipeline"}, "", "api"),  # locally: every handler in one log
    ],
)
def test_each_line_is_named_after_the_step_that_wrote_it(
    entry: dict[str, str], log_group: str, hop: str
) -> None:
    assert hop_of(entry, log_group) == hop


def test_an_orders_lines_are_its_own_its_requests_and_its_pages() -> None:
    lines = [
        {"message": "POST /orders 303", "path": "/orders", "correlation_id": "c-1"},
        {"message": "order placed", "order_id": "web-1", "correlation_id": "c-1"},
        {"message": "order fulfilled", "order_id": "web-1", "correlation_id": "c-1"},
        {"message": "GET status", "path": "/orders/web-1", "correlation_id": "c-9"},
        {"message": "GET thanks", "path": "/orders/web-1/thanks", "correlation_id": "c-8"},
        {"message": "another order", "order_id": "web-2", "correlation_id": "c-2"},
        {"message": "its page", "path": "/orders/web-10", "correlation_id": "c-3"},
        {"message": "no ids at all"},
    ]

    kept = [line["message"] for line in related(lines, "web-1")]

    assert kept == [
        "POST /orders 303",
        "order placed",
        "order fulfilled",
        "GET status",
        "GET thanks",
    ]


def test_the_timeline_is_in_time_order() -> None:
    entries = [
        {"timestamp": "2026-11-30 11:17:10,681+0000", "message": "b", "function_name": "x"},
        {"timestamp": "2026-11-30 11:17:10,425+0000", "message": "a", "service": "order-web"},
    ]

    lines = timeline(entries)

    assert [(line.hop, line.entry["message"]) for line in lines] == [("web", "a"), ("api", "b")]
    assert lines[0].render().startswith("2026-11-30 11:17:10,425+0000  web ")


def test_the_insights_query_selects_the_order_its_correlation_ids_and_its_pages() -> None:
    assert insights_query("web-1", ["c-2", "c-1", "c-1"]) == (
        "fields @timestamp, @log, @message"
        ' | filter order_id = "web-1" or correlation_id in ["c-1", "c-2"]'
        ' or path like "/orders/web-1"'
        " | sort @timestamp asc | limit 10000"
    )


def test_a_quote_in_a_correlation_id_cannot_end_the_querys_string() -> None:
    # Correlation ids come from callers (X-Correlation-Id): they are data, never query text.
    assert 'correlation_id in ["a\\" or 1=1 or \\"b"]' in insights_query("o-1", ['a" or 1=1 or "b'])


def test_the_log_groups_are_the_functions_and_the_web_tiers() -> None:
    assert log_groups("prod", "/order-pipeline/production/web", ["process_order"]) == [
        "/aws/lambda/order-pipeline-prod",
        "/aws/lambda/order-pipeline-prod-process_order",
        "/order-pipeline/production/web",
    ]
