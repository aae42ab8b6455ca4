"""order_contracts/metrics.py and chalicelib/metrics.py: the registry, and lines that are EMF.

Each line is validated against the embedded metric format's schema and rules (tests/emf.py).
"""

import json
import typing
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib import metrics
from chalicelib.failures import is_throttling
from order_contracts import (
    Billing,
    CurrencyMismatch,
    OrderBilled,
    OrderCancelled,
    OrderConfirmed,
    OrderRejected,
    OrderReserved,
    PriceChanged,
    StockShortage,
    UnsupportedCurrency,
)
from order_contracts.metrics import (
    NAMESPACE,
    REJECTION_REASONS,
    SERVICE,
    Metric,
    dimensions,
    emf_line,
)
from order_web.metrics import count_order_placed
from tests import emf
from tests.factories import order

AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
SERVICE_ONLY = (("service", SERVICE),)


@pytest.fixture
def lines() -> typing.Iterator[list[str]]:
    written: list[str] = []
    metrics.set_writer(written.append)
    yield written
    metrics.set_writer(None)


def envelope() -> dict[str, typing.Any]:
    return {"order_id": "ord-1", "occurred_at": AT, "correlation_id": "c", "order": order("ord-1")}


def test_every_metric_has_a_unique_name_and_an_emf_unit() -> None:
    names = [metric.metric_name for metric in Metric]

    assert len(set(names)) == len(names)
    for metric in Metric:
        line = emf_line({metric: 1}, dimensions(metric, (metric.spec.values or (None,))[0]), AT)
        assert emf.problems(line) == []


def test_the_rejection_reasons_are_the_contracts() -> None:
    reason_types = (StockShortage, UnsupportedCurrency, PriceChanged, CurrencyMismatch)
    contract = {
        value
        for kind in reason_types
        for value in typing.get_args(kind.model_fields["reason"].annotation)
    }

    assert set(REJECTION_REASONS) == contract


def test_a_dimension_outside_its_values_is_refused() -> None:
    with pytest.raises(ValueError, match="door"):
        dimensions(Metric.ORDERS_PLACED, "fax")
    with pytest.raises(ValueError, match="no dimension"):
        dimensions(Metric.ORDERS_RESERVED, "api")


def test_a_count_is_one_emf_line_in_the_namespace_with_the_service_dimension(
    lines: list[str],
) -> None:
    metrics.count(Metric.ORDERS_PLACED, "api")

    [line] = lines
    assert emf.problems(line) == []
    [point] = emf.points(line)
    assert (point.namespace, point.name, point.unit, point.value) == (
        NAMESPACE,
        "OrdersPlaced",
        "Count",
        1,
    )
    assert point.dimensions == (("service", SERVICE), ("door", "api"))


def test_billed_count_and_usd_share_one_line(lines: list[str]) -> None:
    billing = Billing(usd_total=Decimal("23.32"), usd_rate=Decimal("1"), rate_date=AT.date())

    metrics.count_event(OrderBilled(**envelope(), billing=billing))

    assert len(lines) == 1
    assert emf.totals(lines) == {
        ("OrdersBilled", SERVICE_ONLY): 1,
        ("BilledUSD", SERVICE_ONLY): 23.32,
    }


def test_a_rejection_counts_the_order_once_and_each_distinct_reason(lines: list[str]) -> None:
    reasons = [
        StockShortage(reason="out_of_stock", sku="MUG-BLUE", requested=2, available=0),
        StockShortage(reason="out_of_stock", sku="TEA-MATCHA", requested=1, available=0),
        PriceChanged(sku="TEA-EARLGREY", offered_price="4.50", catalog_price="5.00"),
    ]

    metrics.count_event(OrderRejected(**envelope(), reasons=reasons))

    assert emf.totals(lines) == {
        ("OrdersRejected", SERVICE_ONLY): 1,
        ("OrderRejectionReasons", (*SERVICE_ONLY, ("reason", "out_of_stock"))): 1,
        ("OrderRejectionReasons", (*SERVICE_ONLY, ("reason", "price_changed"))): 1,
    }


def test_reserved_and_cancelled_count_and_confirmed_counts_nothing(lines: list[str]) -> None:
    metrics.count_event(OrderReserved(**envelope()))
    metrics.count_event(OrderCancelled(**envelope(), cancelled_from="RESERVED"))
    metrics.count_event(OrderConfirmed(**envelope(), email="sent"))

    assert emf.totals(lines) == {
        ("OrdersReserved", SERVICE_ONLY): 1,
        ("OrdersCancelled", SERVICE_ONLY): 1,
    }


def test_the_web_doors_line_is_emf_and_the_same_metric_as_the_apis() -> None:
    written: list[str] = []

    count_order_placed(AT, written.append)

    [line] = written
    assert emf.problems(line) == []
    assert emf.totals(written) == {("OrdersPlaced", (*SERVICE_ONLY, ("door", "web"))): 1}
    assert json.loads(line)["_aws"]["Timestamp"] == int(AT.timestamp() * 1000)


@pytest.mark.parametrize(
    "document",
    [
        {"_aws": {"CloudWatchMetrics": []}},  # no Timestamp
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Metrics": []}]}},
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {"Namespace": "N", "Dimensions": [["d"]], "Metrics": [{"Name": "M"}]}
                ],
            },
            "d": "x",
            "M": 1,
        },  # no Unit
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "N",
                        "Dimensions": [["d"]],
                        "Metrics": [{"Name": "M", "Unit": "Count"}],
                    }
                ],
            },
            "M": 1,
        },  # the dimension is not a member
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {"Namespace": "N", "Dimensions": [[]], "Metrics": [{"Name": "M", "Unit": "Ct"}]}
                ],
            },
            "M": 1,
        },  # not a unit
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "N",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "M", "Unit": "None"}],
                    }
                ],
            },
            "M": "1",
        },  # a value that is not a number
    ],
)
def test_the_emf_check_refuses_what_the_specification_does(document: dict[str, object]) -> None:
    assert emf.problems(json.dumps(document)) != []


def throttled(code: str) -> Exception:
    """A botocore ClientError's shape: the error code in .response."""
    error = Exception(code)
    error.response = {"Error": {"Code": code}}  # type: ignore[attr-defined]
    return error


def test_throttling_is_recognised_by_its_code_and_through_its_causes() -> None:
    assert is_throttling(throttled("ProvisionedThroughputExceededException"))
    assert is_throttling(throttled("TooManyRequestsException"))
    assert not is_throttling(throttled("ConditionalCheckFailedException"))
    assert not is_throttling(ValueError("no response at all"))
    wrapped = RuntimeError("publishing failed")
    wrapped.__cause__ = throttled("ThrottlingException")
    assert is_throttling(wrapped)
