"""bench/flash.py: the flash sale's report, counted from a snapshot of the state after it.

A crafted snapshot with one of each fault (an order never final, an email sent twice, a unit
reserved past the stock, a dead letter, a slow drain) and a clean one. The sale itself runs in
tests/system/test_bench_flash.py.
"""

from decimal import Decimal
from typing import Any

import pytest

from bench.__main__ import parse_arguments
from bench.flash import (
    API,
    STOREFRONT,
    FlashPlan,
    Placed,
    Sent,
    Snapshot,
    flash_report,
    percentile,
    target_met,
)
from bench.report import markdown
from chalicelib.emails import confirmation, rejection
from order_contracts import Billing, StockShortage
from tests.factories import order

PLAN = FlashPlan(orders=4, seconds=1, ses_rate=2, scarce_stock=1, ample_skus=("TEA",))
BILLING = Billing(usd_total=Decimal("2.10"), usd_rate=Decimal("1.05"), rate_date="2026-11-30")


def confirmed_subject(order_id: str) -> str:
    """The subject the pipeline's confirmation has (so the report reads the real emails)."""
    return confirmation(order(order_id, [("TEA", 1, "2.00")]), BILLING, "Ada").subject


def rejected_subject(order_id: str) -> str:
    shortage = StockShortage(sku="LAMP", reason="out_of_stock", requested=1, available=0)
    return rejection(order(order_id, [("LAMP", 1, "2.00")]), [shortage], "Ada").subject


def record(status: str, *history: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """An order item as the orders table holds it: status, history (status, at), extras."""
    return {"status": status, "history": [{"status": s, "at": at} for s, at in history], **extra}


AT = "2026-11-30T12:00:0{}+00:00"


def clean_snapshot() -> Snapshot:
    """Two orders for the scarce LAMP (stock 1): one reserved and confirmed, one rejected; and
    two TEA orders confirmed. Every outcome emailed once, the last 2.2 s in (floor 2 s)."""
    placed = [
        Placed("a", API, {"LAMP": 1}),
        Placed("b", STOREFRONT, {"LAMP": 1}),
        Placed("c", API, {"TEA": 1}),
        Placed("d", STOREFRONT, {"TEA": 1}),
    ]
    reserved = (("RECEIVED", AT.format(0)), ("RESERVED", AT.format(1)))
    records = {
        "a": record("CONFIRMED", *reserved, ("BILLED", AT.format(1)), ("CONFIRMED", AT.format(2))),
        "b": record(
            "REJECTED",
            ("RECEIVED", AT.format(0)),
            ("REJECTED", AT.format(1)),
            rejection=[{"reason": "out_of_stock", "sku": "LAMP"}],
        ),
        "c": record("CONFIRMED", *reserved, ("CONFIRMED", AT.format(4))),
        "d": record("CONFIRMED", *reserved, ("CONFIRMED", AT.format(6))),
    }
    emails = [
        Sent(confirmed_subject("a"), 0.5),
        Sent(rejected_subject("b"), 1.0),
        Sent(confirmed_subject("c"), 1.5),
        Sent(confirmed_subject("d"), 2.2),
    ]
    return Snapshot(
        {"TEA": 4, "LAMP": 1}, {"TEA": 2, "LAMP": 0}, placed, records, emails, {"x-dlq": 0}
    )


def test_a_clean_sale_counts_zero_faults_and_meets_the_target() -> None:
    figures = flash_report(clean_snapshot(), PLAN)

    assert (figures["lost"], figures["oversold"], figures["emailed_twice"]) == (0, 0, 0)
    assert (figures["not_emailed"], figures["dead_letters"]) == (0, 0)
    assert figures["stock"]["LAMP"] == {
        "initial": 1,
        "reserved": 1,
        "oversold": 0,
        "final": 0,
        "conserved": True,
    }
    assert figures["stock"]["TEA"]["reserved"] == 2
    assert figures["statuses"] == {"CONFIRMED": 3, "REJECTED": 1}
    assert figures["rejected_by_reason"] == {"out_of_stock": 1}
    assert figures["placed_by_door"] == {API: 2, STOREFRONT: 2}
    # Four emails at 2 a second: a floor of 2 s; the last went 2.2 s after the first order.
    assert (figures["drain_seconds"], figures["floor_seconds"]) == (2.2, 2.0)
    assert figures["drain_to_floor"] == pytest.approx(1.1)
    assert figures["first_email_s"] == 0.5
    assert figures["emails_per_second_after_first"] == pytest.approx(3 / 1.7, abs=0.01)
    assert figures["emails_by_10_s"] == [4]
    # RECEIVED to CONFIRMED: 2, 4 and 6 s.
    assert (figures["confirmed_p50_s"], figures["confirmed_p95_s"]) == (4.0, 6.0)
    assert target_met(figures)


def test_each_fault_is_counted() -> None:
    clean = clean_snapshot()
    records = dict(clean.records)
    # b reserved the scarce SKU's unit too (an oversell), and the stock went below zero;
    # d never got past RESERVED (lost); c was confirmed twice by email; one dead letter.
    records["b"] = record("CONFIRMED", ("RECEIVED", AT.format(0)), ("RESERVED", AT.format(1)))
    records["d"] = record("RESERVED", ("RECEIVED", AT.format(0)), ("RESERVED", AT.format(1)))
    emails = [*clean.emails[:3], Sent(confirmed_subject("c"), 9.0)]
    snapshot = Snapshot(
        clean.initial_stock,
        {"TEA": 2, "LAMP": -1},
        clean.placed,
        records,
        emails,
        {"order-billing-dlq": 1, "order-notifications-dlq": 0},
    )

    figures = flash_report(snapshot, PLAN)

    assert figures["lost"] == 1
    assert figures["lost_orders"] == ["d"]
    assert figures["stock"]["LAMP"]["reserved"] == 2
    assert figures["oversold"] == 1
    assert figures["negative_stock"] == ["LAMP"]
    assert figures["emailed_twice"] == 1
    assert figures["emailed_twice_orders"] == {"c CONFIRMED": 1}
    # b's outcome is CONFIRMED now, but only its rejection was emailed.
    assert figures["not_emailed"] == 1
    assert figures["dead_letters"] == 1
    assert figures["drain_to_floor"] == pytest.approx(9.0 / 2.0)
    assert not target_met(figures)


def test_stock_that_does_not_add_up_is_flagged() -> None:
    clean = clean_snapshot()
    # TEA: 4 at first, 2 reserved, but 3 left: a unit taken by nobody's order came back.
    snapshot = Snapshot(
        clean.initial_stock,
        {"TEA": 3, "LAMP": 0},
        clean.placed,
        clean.records,
        clean.emails,
        clean.dead_letters,
    )

    figures = flash_report(snapshot, PLAN)

    assert figures["stock_not_conserved"] == ["TEA"]
    assert not target_met(figures)


def test_a_slow_drain_misses_the_target() -> None:
    figures = flash_report(clean_snapshot(), PLAN)
    assert not target_met({**figures, "drain_to_floor": 1.25})
    assert target_met({**figures, "drain_to_floor": 1.25}, ratio=1.3)


def test_the_plan_offers_every_door_and_sku_pair_and_the_scarce_sku_is_scarce() -> None:
    plan = FlashPlan(orders=600, scarce_stock=50)
    offers = [plan.offer(n) for n in range(600)]

    assert len(set(offers)) == 6
    demand = sum(1 for _, sku in offers if sku == plan.scarce_sku)
    assert plan.initial_stock()[plan.scarce_sku] == 50 < demand
    assert all(plan.initial_stock()[sku] >= 600 for sku in plan.ample_skus)
    assert plan.floor_seconds(600) == 300  # 2 emails a second


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.95) == 0.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_flash_options_and_quick() -> None:
    default = parse_arguments(["--only", "flash"])
    assert (default.flash_orders, default.flash_seconds, default.flash_ses_rate) == (600, 30, 2)
    assert default.flash_scarce_stock == 50  # a quarter of the 200 orders that want it
    quick = parse_arguments(["--only", "flash", "--quick"])
    assert (quick.flash_orders, quick.flash_seconds, quick.flash_scarce_stock) == (60, 6, 5)


def test_markdown_shows_the_flash_sale() -> None:
    figures = {
        **flash_report(clean_snapshot(), PLAN),
        "offered": 4,
        "offered_seconds": 1,
        "refused_at_door": 0,
        "ses_rate": 2,
        "scarce_sku": "LAMP",
        "model_refused": {"TransactionConflict": 3},
        "target_met": True,
    }
    results = {
        "started_at": "2026-11-30T12:00:00+00:00",
        "machine": {"cpus": 2, "python": "3.11", "load_average_1_5_15": [1.0, 1.0, 1.0]},
        "flash": figures,
    }

    text = markdown(results)

    assert "## Flash sale (local stack, AWS limits model, SES 2/s)" in text
    assert "| 0 | 0 | 0 | 0 | 0 | 2.2 | 2.0 | 1.10x |" in text
    assert "| LAMP | 1 | 1 | 0 | 0 |" in text
    assert "TransactionConflict 3" in text
