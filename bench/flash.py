"""A flash sale on the local stack with the AWS limits model on (issue 15, design section 9).

Orders are offered open loop over a short window through both doors, about half each: the
signed order API (`PUT /orders/{id}` as a registered customer) and the storefront (a guest
posting the order form, a new address each). They spread over three SKUs, one of them scarce
(its stock well below its demand). The limits model refuses what AWS would (SES past its send
rate, DynamoDB transaction conflicts and throttling), and the SES rate is set below what the
local stack itself sustains, so SES, not moto, binds: the sale drains at the SES rate, and the
floor of the drain time is emails / rate.

What it reports, from a snapshot taken once every queue is empty (so no further email can
come): orders lost (accepted at a door, never CONFIRMED or REJECTED), oversold per SKU (units
reserved against the initial stock, and the final stock), emails sent twice per order and
outcome (moto's SES outbox), dead letters (the DLQs' depths), the drain time (first order
offered to the last outcome email) and its ratio to the floor, placement to CONFIRMED p50 and
p95 (the order's own history), and what the model refused, by code. The counting is plain
Python over the snapshot (`flash_report`), unit-tested; the sale itself is `flash_sale`.
"""

import multiprocessing
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

FINAL = ("CONFIRMED", "REJECTED")
# The state an order passes once its stock is taken (a reservation never comes back).
RESERVED_OR_LATER = ("RESERVED", "BILLED", "CONFIRMED")
API, STOREFRONT = "api", "storefront"
# The subjects of chalicelib/emails.py, by the outcome they tell.
_SUBJECT = re.compile(r"^Order (?P<order>\S+) (?P<outcome>confirmed|could not be accepted)$")
_OUTCOME = {"confirmed": "CONFIRMED", "could not be accepted": "REJECTED"}
PRICE = "2.00"


@dataclass(frozen=True)
class FlashPlan:
    """The sale: how many orders over how long, SES's rate, and the scarce SKU's stock."""

    orders: int = 600
    seconds: float = 30.0
    ses_rate: float = 2.0
    scarce_stock: int = 50
    scarce_sku: str = "FLASH-LANTERN"
    ample_skus: tuple[str, ...] = ("FLASH-TEA", "FLASH-MUG")

    @property
    def skus(self) -> tuple[str, ...]:
        return (*self.ample_skus, self.scarce_sku)

    def initial_stock(self) -> dict[str, int]:
        """The ample SKUs hold every order they could get; the scarce one far less."""
        return {**dict.fromkeys(self.ample_skus, self.orders), self.scarce_sku: self.scarce_stock}

    def offer(self, n: int) -> tuple[str, str]:
        """The door and SKU of the nth order: doors alternate, SKUs rotate (all six pairs)."""
        return (API, STOREFRONT)[n % 2], self.skus[n % len(self.skus)]

    def floor_seconds(self, emails: int) -> float:
        """The fastest SES lets `emails` go: one per 1/rate seconds."""
        return emails / self.ses_rate


@dataclass(frozen=True)
class Placed:
    """An order a door accepted."""

    order_id: str
    door: str
    lines: Mapping[str, int]


@dataclass(frozen=True)
class Sent:
    """One email in SES's outbox, and when it appeared (seconds after the first order)."""

    subject: str
    at: float


@dataclass(frozen=True)
class Snapshot:
    """The state after the sale, as the report counts it."""

    initial_stock: Mapping[str, int]
    final_stock: Mapping[str, int]
    placed: Sequence[Placed]
    records: Mapping[str, Mapping[str, Any]]  # order id -> its item in the orders table
    emails: Sequence[Sent]
    dead_letters: Mapping[str, int]  # DLQ name -> messages in it


# -- the report: plain Python over a snapshot ---------------------------------------------------


def lost_orders(snapshot: Snapshot) -> list[str]:
    """Orders a door accepted that never became CONFIRMED or REJECTED."""
    return [
        p.order_id
        for p in snapshot.placed
        if snapshot.records.get(p.order_id, {}).get("status") not in FINAL
    ]


def _statuses(record: Mapping[str, Any]) -> set[str]:
    return {str(entry["status"]) for entry in record.get("history", [])} | {
        str(record.get("status"))
    }


def stock_by_sku(snapshot: Snapshot) -> dict[str, dict[str, int | bool]]:
    """Per SKU: initial stock, units reserved by the orders, what that oversold, final stock,
    and whether the final stock is the initial less the reserved (no unit lost or doubled)."""
    reserved: Counter[str] = Counter()
    for placed in snapshot.placed:
        record = snapshot.records.get(placed.order_id, {})
        if _statuses(record) & set(RESERVED_OR_LATER):
            reserved.update(placed.lines)
    figures: dict[str, dict[str, int | bool]] = {}
    for sku, initial in snapshot.initial_stock.items():
        final = snapshot.final_stock.get(sku, 0)
        figures[sku] = {
            "initial": initial,
            "reserved": reserved[sku],
            "oversold": max(0, reserved[sku] - initial),
            "final": final,
            "conserved": final == initial - reserved[sku],
        }
    return figures


def outcome_emails(snapshot: Snapshot) -> Counter[tuple[str, str]]:
    """How many emails each (order, outcome) got, from the outbox's subjects."""
    counted: Counter[tuple[str, str]] = Counter()
    for email in snapshot.emails:
        match = _SUBJECT.match(email.subject)
        if match:
            counted[(match["order"], _OUTCOME[match["outcome"]])] += 1
    return counted


def duplicate_emails(snapshot: Snapshot) -> dict[str, int]:
    """`order outcome` -> emails beyond the first, for each (order, outcome) sent twice or more."""
    counted = outcome_emails(snapshot)
    return {f"{order} {outcome}": n - 1 for (order, outcome), n in counted.items() if n > 1}


def unemailed(snapshot: Snapshot) -> list[str]:
    """Final orders whose outcome was never emailed."""
    emailed = outcome_emails(snapshot)
    return [
        p.order_id
        for p in snapshot.placed
        if (status := snapshot.records.get(p.order_id, {}).get("status")) in FINAL
        and emailed[(p.order_id, status)] == 0
    ]


def placement_to_confirmed(records: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """Seconds from RECEIVED (the door's acceptance) to CONFIRMED, per confirmed order, sorted."""
    seconds = []
    for record in records.values():
        at = {e["status"]: datetime.fromisoformat(str(e["at"])) for e in record.get("history", [])}
        if {"RECEIVED", "CONFIRMED"} <= at.keys():
            seconds.append((at["CONFIRMED"] - at["RECEIVED"]).total_seconds())
    return sorted(seconds)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted sequence (0 if empty)."""
    if not ordered:
        return 0.0
    return ordered[max(round(len(ordered) * fraction) - 1, 0)]


def flash_report(snapshot: Snapshot, plan: FlashPlan) -> dict[str, Any]:
    """The sale's figures: what was lost, oversold, doubled or dead-lettered, and how fast."""
    stock = stock_by_sku(snapshot)
    lost = lost_orders(snapshot)
    duplicates = duplicate_emails(snapshot)
    outcome_times = [e.at for e in snapshot.emails if _SUBJECT.match(e.subject)]
    drain = max(outcome_times, default=0.0)
    floor = plan.floor_seconds(len(outcome_times))
    latencies = placement_to_confirmed(
        {p.order_id: snapshot.records.get(p.order_id, {}) for p in snapshot.placed}
    )
    statuses = Counter(
        str(snapshot.records.get(p.order_id, {}).get("status", "none")) for p in snapshot.placed
    )
    return {
        "placed": len(snapshot.placed),
        "placed_by_door": dict(Counter(p.door for p in snapshot.placed)),
        "statuses": dict(statuses),
        "rejected_by_reason": dict(_rejection_reasons(snapshot)),
        "lost": len(lost),
        "lost_orders": lost[:20],
        "stock": stock,
        "oversold": sum(int(s["oversold"]) for s in stock.values()),
        "stock_not_conserved": [sku for sku, s in stock.items() if not s["conserved"]],
        "negative_stock": [sku for sku, s in stock.items() if int(s["final"]) < 0],
        "emails": len(snapshot.emails),
        "emailed_twice": sum(duplicates.values()),
        "emailed_twice_orders": dict(list(duplicates.items())[:20]),
        "not_emailed": len(unemailed(snapshot)),
        "dead_letters": sum(snapshot.dead_letters.values()),
        "dead_letters_by_queue": dict(snapshot.dead_letters),
        "drain_seconds": round(drain, 2),
        "floor_seconds": round(floor, 2),
        "drain_to_floor": round(drain / floor, 3) if floor else None,
        "emails_per_second": round(len(outcome_times) / drain, 2) if drain else None,
        # The drain in two parts: the wait for the first email (the pipeline's latency), then
        # the rate from the first email to the last (where SES's pacing should show).
        "first_email_s": round(min(outcome_times, default=0.0), 2),
        "emails_per_second_after_first": _rate_after_first(outcome_times),
        "emails_by_10_s": _per_interval(outcome_times, 10.0),
        "confirmed_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "confirmed_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
    }


def _rate_after_first(times: Sequence[float]) -> float | None:
    span = max(times, default=0.0) - min(times, default=0.0)
    return round((len(times) - 1) / span, 2) if span > 0 else None


def _per_interval(times: Sequence[float], seconds: float) -> list[int]:
    """How many of times fall in each interval of that many seconds from 0."""
    counts = [0] * (int(max(times, default=0.0) // seconds) + 1 if times else 0)
    for at in times:
        counts[int(at // seconds)] += 1
    return counts


def _rejection_reasons(snapshot: Snapshot) -> Counter[str]:
    reasons: Counter[str] = Counter()
    for placed in snapshot.placed:
        record = snapshot.records.get(placed.order_id, {})
        if record.get("status") == "REJECTED":
            reasons.update(str(r.get("reason", "?")) for r in record.get("rejection", []))
    return reasons


def target_met(figures: Mapping[str, Any], ratio: float = 1.2) -> bool:
    """Issue 15's target: nothing lost, oversold, doubled or dead-lettered; drain within ratio."""
    zeros = ("lost", "oversold", "emailed_twice", "not_emailed", "dead_letters")
    return (
        all(figures[name] == 0 for name in zeros)
        and not figures["stock_not_conserved"]
        and not figures["negative_stock"]
        and figures["drain_to_floor"] is not None
        and figures["drain_to_floor"] <= ratio
    )


# -- the sale on the local stack ----------------------------------------------------------------


def flash_sale(plan: FlashPlan, progress: Callable[[str], None]) -> dict[str, Any]:
    """Run the sale on a fresh local stack with the limits model; return its figures."""
    import boto3

    from local_stack.aws_limits import AwsLimits, Limits
    from local_stack.stack import Ports, local_stack

    model = AwsLimits(Limits(ses_send_rate=plan.ses_rate))
    with tempfile.TemporaryDirectory() as directory:
        progress(f"starting the local stack with the limits model (SES {plan.ses_rate:g}/s)")
        ports = Ports(aws=0, api=0, web=0, dashboard=0)
        with local_stack(ports, Path(directory), limits=model) as urls, _shoppers() as shoppers:
            _seed(plan)
            account = boto3.client("sts").get_caller_identity()["Account"]
            doors = Doors.of(urls)
            progress(f"offering {plan.orders} orders over {plan.seconds:g} s through both doors")
            started = time.monotonic()
            with _watching_outbox(account, urls.region, started) as outbox:
                placed, refused = shoppers.submit(place_all, plan, doors, started).result()
                progress(
                    f"  {len(placed)} accepted in {time.monotonic() - started:.1f} s, "
                    f"{refused} refused"
                )
                _wait_until_drained(placed, outbox, plan, progress)
                snapshot = _snapshot(plan, placed, outbox.sent())
    figures = flash_report(snapshot, plan)
    figures.update(
        offered=plan.orders,
        offered_seconds=plan.seconds,
        refused_at_door=refused,
        ses_rate=plan.ses_rate,
        scarce_sku=plan.scarce_sku,
        model_refused=dict(model.refused),
        target_met=target_met(figures) and not refused,
    )
    return figures


def _seed(plan: FlashPlan) -> None:
    import boto3

    from bench.orders import catalog_item

    inventory = boto3.resource("dynamodb").Table("inventory")
    for sku, stock in plan.initial_stock().items():
        inventory.put_item(Item=catalog_item(sku, PRICE, stock))
    # The storefront caches the catalog for 2 s (CATALOG_MAX_AGE_SECONDS): let it see them.
    time.sleep(2.5)


@dataclass(frozen=True)
class Doors:
    """Where the two doors answer, and the API caller's credentials (for the shoppers' process)."""

    api: str
    api_credentials: Mapping[str, Any]
    region: str
    storefront: str

    @classmethod
    def of(cls, urls: Any) -> "Doors":
        caller = urls.api_callers["order-integrator"]
        return cls(urls.api, dict(caller), urls.region, urls.storefront)


@contextmanager
def _shoppers() -> Iterator[ProcessPoolExecutor]:
    """A process of its own for the shoppers: the local stack's handlers, moto and order API
    share one interpreter (one GIL), and the load must not take its CPU from them. Spawned, not
    forked (the stack's threads hold locks), and running before the clock starts."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as process:
        process.submit(int).result()
        yield process


def place_all(plan: FlashPlan, doors: Doors, started: float) -> tuple[list[Placed], int]:
    """Offer every order on schedule from `started` (time.monotonic, one clock for every
    process), open loop, each through its door; return the accepted ones and how many a door
    refused."""
    from local_stack.api_client import ApiCredentials, SignedApiClient

    api = SignedApiClient(doors.api, ApiCredentials.of(doors.api_credentials), doors.region)
    interval = plan.seconds / plan.orders
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="shopper") as pool:
        futures = []
        for n in range(plan.orders):
            time.sleep(max(0.0, started + n * interval - time.monotonic()))
            futures.append(pool.submit(_place_one, plan, n, api, doors.storefront))
        results = [future.result() for future in futures]
    placed = [p for p in results if p is not None]
    return placed, len(results) - len(placed)


def _place_one(plan: FlashPlan, n: int, api: Any, storefront: str) -> Placed | None:
    from bench.orders import order_body
    from local_stack.storefront_client import Shopper

    door, sku = plan.offer(n)
    if door == API:
        order_id = f"flash-{n:04d}"
        body = order_body([(sku, 1, PRICE)]).encode()
        status, _ = api.request("PUT", f"/orders/{order_id}", body, timeout=60)
        return Placed(order_id, door, {sku: 1}) if status == 201 else None
    shopper = Shopper(storefront)
    status, web_id = shopper.place_order(
        f"Flash Shopper {n}", f"flash-shopper-{n}@example.com", "GB", {sku: 1}
    )
    return Placed(web_id, door, {sku: 1}) if status == 303 and web_id else None


class _Outbox:
    """moto's SES outbox, with the moment each message appeared in it (the stack is in process,
    so a thread sees each send within a poll interval)."""

    def __init__(self, messages: Callable[[], Sequence[Any]], started: float) -> None:
        self._messages = messages
        self._seen: list[Sent] = []
        self._started = started

    def poll(self) -> None:
        new = list(self._messages()[len(self._seen) :])
        now = time.monotonic() - self._started
        self._seen.extend(Sent(getattr(m, "subject", ""), now) for m in new)

    def sent(self) -> list[Sent]:
        return list(self._seen)


@contextmanager
def _watching_outbox(account: str, region: str, started: float) -> Iterator[_Outbox]:
    from local_stack.ses_simulator import moto_outbox

    outbox = _Outbox(moto_outbox(account, region), started)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            outbox.poll()

    thread = threading.Thread(target=watch, name="outbox", daemon=True)
    thread.start()
    try:
        yield outbox
    finally:
        stop.set()
        thread.join(timeout=5)
        outbox.poll()


def _queues_busy() -> int:
    """Messages in the pipeline's queues (visible, in flight, delayed), DLQs aside."""
    import boto3

    sqs = boto3.client("sqs")
    total = 0
    for url in sqs.list_queues().get("QueueUrls", []):
        if url.endswith("-dlq"):
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        total += sum(int(value) for value in attributes.values())
    return total


def _wait_until_drained(
    placed: list[Placed], outbox: _Outbox, plan: FlashPlan, progress: Callable[[str], None]
) -> None:
    """Until every accepted order's outcome is emailed and no queue holds a message (nothing
    more can then be sent), or the queues have stayed empty for a while (the rest is lost),
    or a generous timeout."""
    deadline = time.monotonic() + 3 * plan.floor_seconds(plan.orders) + 120
    wanted = {p.order_id for p in placed}
    idle_since: float | None = None
    reported = 0
    while time.monotonic() < deadline:
        emailed = {m["order"] for e in outbox.sent() if (m := _SUBJECT.match(e.subject))}
        busy = _queues_busy()
        if busy == 0 and wanted <= emailed:
            return
        idle_since = (idle_since or time.monotonic()) if busy == 0 else None
        if idle_since is not None and time.monotonic() - idle_since > 30:
            progress("  the queues have been empty for 30 s: what is not emailed is lost")
            return
        if len(emailed & wanted) >= reported + len(wanted) // 4:
            reported = len(emailed & wanted)
            progress(f"  {reported} of {len(wanted)} outcomes emailed, {busy} messages queued")
        time.sleep(1)
    progress("  timed out waiting for the sale to drain")


def _snapshot(plan: FlashPlan, placed: list[Placed], emails: list[Sent]) -> Snapshot:
    import boto3

    dynamodb = boto3.resource("dynamodb")
    orders = dynamodb.Table("orders")
    records = {}
    for p in placed:
        records[p.order_id] = orders.get_item(Key={"order_id": p.order_id}).get("Item", {})
    inventory = dynamodb.Table("inventory")
    final = {
        sku: int(str(inventory.get_item(Key={"sku": sku})["Item"]["stock"])) for sku in plan.skus
    }
    sqs = boto3.client("sqs")
    dead_letters = {
        url.rsplit("/", 1)[1]: int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        for url in sqs.list_queues().get("QueueUrls", [])
        if url.endswith("-dlq")
    }
    return Snapshot(plan.initial_stock(), final, placed, records, emails, dead_letters)
