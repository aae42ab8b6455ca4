"""local_stack/metrics.py: the local dashboard's business metrics, summed from EMF lines."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib import metrics
from local_stack.metrics import MetricRow, MetricTotals
from order_contracts.metrics import Metric
from order_web.metrics import count_order_placed

AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def row(rows: list[MetricRow], name: str, dimension: str = "") -> float:
    [found] = [r for r in rows if r.name == name and r.dimension == dimension]
    return found.total


def test_the_handlers_lines_are_summed_per_metric_and_dimension() -> None:
    totals = MetricTotals()
    metrics.set_writer(totals.feed)
    try:
        metrics.count(Metric.ORDERS_PLACED, "api")
        metrics.count(Metric.ORDERS_PLACED, "api")
        metrics.count(Metric.REJECTION_REASONS, "out_of_stock")
        metrics.emit({Metric.ORDERS_BILLED: 1, Metric.BILLED_USD: 25.26})
        metrics.emit({Metric.ORDERS_BILLED: 1, Metric.BILLED_USD: 10.5})
    finally:
        metrics.set_writer(None)

    rows = totals.rows()
    assert row(rows, "OrdersPlaced", "door=api") == 2
    assert row(rows, "OrderRejectionReasons", "reason=out_of_stock") == 1
    assert row(rows, "OrdersBilled") == 2
    assert row(rows, "BilledUSD") == pytest.approx(35.76)
    assert row(rows, "OrdersReserved") == 0  # every metric of the registry has its row
    assert [r.name for r in rows if r.dimension == ""][:2] == ["OrdersReserved", "OrdersRejected"]


def test_the_web_tiers_lines_are_read_from_its_log_as_it_grows(tmp_path: Path) -> None:
    log = tmp_path / "web.log"
    totals = MetricTotals(followed=[log])
    assert row(totals.rows(), "OrdersPlaced") == 0  # no log yet

    with log.open("a") as out:
        out.write('{"level":"INFO","message":"GET / 200","service":"order-web"}\n')
        count_order_placed(AT, lambda line: out.write(line + "\n"))
        out.write("[2026-11-30 11:00:00 +0000] [1] [INFO] Booting worker\n")
    assert row(totals.rows(), "OrdersPlaced", "door=web") == 1
    assert row(totals.rows(), "OrdersPlaced", "door=web") == 1  # read once

    with log.open("a") as out:
        count_order_placed(AT, lambda line: out.write(line + "\n"))
        out.write('{"_aws": {"Timestamp": 1, "CloudWatchMe')  # half a line: not yet
    assert row(totals.rows(), "OrdersPlaced", "door=web") == 2


def test_lines_of_other_namespaces_or_not_emf_add_nothing() -> None:
    totals = MetricTotals()
    totals.feed("not json")
    totals.feed('{"message": "hello"}')
    totals.feed(
        '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Other","Dimensions":[[]],'
        '"Metrics":[{"Name":"OrdersReserved","Unit":"Count"}]}]},"OrdersReserved":1}'
    )

    assert all(r.total == 0 for r in totals.rows())
