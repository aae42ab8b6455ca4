"""bench/capacity.py, the capacity model: ARCHITECTURE.md shows its table, and its arithmetic.

The figures are AWS's documented limits and the project's settings, not measurements, so they
are asserted: the document cannot drift from the module, nor the module from the settings.
"""

import dataclasses
import json
import math
from pathlib import Path

import pytest

from bench.capacity import HOPS, Hop, binding, markdown_table, scenarios
from deploy.batch_failures import MAXIMUM_CONCURRENCY

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = {scenario.name: scenario for scenario in scenarios()}


def hop(name: str) -> Hop:
    (found,) = [h for h in HOPS if h.name.startswith(name)]
    return found


def test_architecture_shows_the_models_table() -> None:
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    section = architecture.split("## Capacity model", 1)[1]
    assert markdown_table() in section


def test_every_limit_names_its_aws_source() -> None:
    for each in HOPS:
        assert each.source.startswith(("https://docs.aws.amazon.com/", "https://repost.aws/"))
        assert each.per_order > 0


def test_a_cap_is_the_limit_divided_by_the_use_per_order() -> None:
    default = SCENARIOS["default"]
    assert hop("SNS publish").orders_per_second(default) == 30_000 / 4
    # The order counts: 64 shards of 1,000 write units, 2 units a reservation.
    assert hop("DynamoDB, the order counts").orders_per_second(default) == 64 * 1_000 / 2
    assert math.isinf(hop("SQS standard queues").orders_per_second(default))
    # Little's law: concurrent executions / execution seconds per order
    communications = hop("Lambda SQS trigger, customer_communications")
    assert communications.orders_per_second(default) == pytest.approx(
        MAXIMUM_CONCURRENCY["customer_communications"] / communications.per_order
    )


def test_the_projects_settings_are_read_from_where_they_are_defined() -> None:
    template = json.loads((ROOT / "chalice_app" / "merge-template.json").read_text())
    throttle = template["Parameters"]["PlaceOrderThrottleRateLimit"]["Default"]
    assert hop("API Gateway, PUT").orders_per_second(SCENARIOS["default"]) == throttle


@pytest.mark.parametrize(
    ("scenario", "binding_hop", "orders_per_second"),
    [
        ("new", "SES sending rate", 1),
        ("default", "SES sending rate", 14),
        ("raised", "SES sending rate", 1_000),
    ],
)
def test_the_binding_limit_of_each_configuration(
    scenario: str, binding_hop: str, orders_per_second: float
) -> None:
    bound = binding(SCENARIOS[scenario])
    assert bound.name.startswith(binding_hop)
    assert bound.orders_per_second(SCENARIOS[scenario]) == orders_per_second


def test_only_caps_on_all_orders_can_bind() -> None:
    # A throttle on the API door alone, below everything else, does not cap the storefront's.
    throttled = dataclasses.replace(SCENARIOS["raised"], place_order_requests_per_second=1)
    assert hop("API Gateway, PUT").orders_per_second(throttled) == 1
    assert binding(throttled).scope == "all orders"
    assert binding(throttled).orders_per_second(throttled) == 1_000


def test_make_bench_reports_each_configurations_binding_limit() -> None:
    from bench.capacity import capacity
    from bench.report import markdown

    said: list[str] = []
    figures = capacity(said.append)
    assert [s["binding_orders_per_second"] for s in figures["scenarios"].values()] == [1, 14, 1_000]
    assert len(said) == 3
    results = {
        "started_at": "2026-11-30T12:00:00+00:00",
        "machine": {"cpus": 2, "python": "3.11", "load_average_1_5_15": [0.1, 0.1, 0.1]},
        "capacity": figures,
    }
    assert markdown_table() in markdown(results)
