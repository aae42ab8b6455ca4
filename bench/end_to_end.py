"""End to end on the local stack: order placed (API PUT) to email sent, p50 and p95.

Orders are placed at a steady rate, so the figure is the pipeline's latency, not the time
a burst waits in its queues. Both ends are the order record's own history timestamps:
RECEIVED is when the API door accepted the order, CONFIRMED is written right after SES
accepted the email, so the polling that waits for them adds nothing to the figure. The rate
must stay under what one machine running moto, the handlers and the pollers can sustain
(about 10 orders/s on two cores), or the figure becomes the age of a growing backlog.
"""

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from bench.orders import catalog_item, order_body
from local_stack.api_client import ApiCredentials, SignedApiClient

BENCH_SKU = "BENCH-TEA"
BENCH_PRICE = "4.50"


def end_to_end(
    orders: int, rate_per_second: float, timeout_seconds: float, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Place orders at rate_per_second, wait for every one to be final; return the latencies."""
    from local_stack.stack import Ports, local_stack

    with tempfile.TemporaryDirectory() as directory:
        progress("starting the local stack (moto, order API, web tier, event sources)")
        with local_stack(Ports(aws=0, api=0, web=0, dashboard=0), Path(directory)) as urls:
            boto3.resource("dynamodb").Table("inventory").put_item(
                Item=catalog_item(BENCH_SKU, BENCH_PRICE, 10 * orders)
            )
            progress(f"placing {orders} orders at {rate_per_second:g}/s through PUT /orders/{{id}}")
            integrator = urls.api_callers["order-integrator"]
            api = SignedApiClient(urls.api, ApiCredentials.of(integrator), urls.region)
            placed = _place(api, orders, rate_per_second, progress)
            final = _wait_until_final(placed, timeout_seconds, progress)
    latencies = sorted(hops["total"] for hops in final.values())
    if not latencies:
        return {"orders": orders, "confirmed": 0}
    hop_p50_ms = {
        f"{start} to {end}": round(
            statistics.median(h[f"{start} to {end}"] for h in final.values()) * 1000, 1
        )
        for start, end in HOPS
    }
    return {
        "orders": orders,
        "rate_per_second": rate_per_second,
        "confirmed": len(latencies),
        "not_confirmed_in_time": orders - len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[max(int(len(latencies) * 0.95) - 1, 0)] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "hop_p50_ms": hop_p50_ms,
    }


def _place(
    api: SignedApiClient, orders: int, rate_per_second: float, progress: Callable[[str], None]
) -> list[str]:
    body = order_body([(BENCH_SKU, 1, BENCH_PRICE)]).encode()
    ids = [f"e2e-{n}" for n in range(orders)]
    interval = 1 / rate_per_second
    started = time.monotonic()
    threads = []
    for index, order_id in enumerate(ids):
        # Open loop: the next order leaves on schedule even if the last is still in flight.
        time.sleep(max(0.0, started + index * interval - time.monotonic()))
        thread = threading.Thread(target=_put, args=(api, order_id, body))
        thread.start()
        threads.append(thread)
        if (index + 1) % max(orders // 4, 1) == 0:
            progress(f"  placed {index + 1} of {orders}")
    for thread in threads:
        thread.join(timeout=30)
    return ids


def _put(api: SignedApiClient, order_id: str, body: bytes) -> None:
    status, answer = api.request("PUT", f"/orders/{order_id}", body, timeout=30)
    if status != 201:
        raise RuntimeError(f"PUT {order_id}: {status} {answer}")


HOPS = (("RECEIVED", "RESERVED"), ("RESERVED", "BILLED"), ("BILLED", "CONFIRMED"))


def _wait_until_final(
    ids: list[str], timeout_seconds: float, progress: Callable[[str], None]
) -> dict[str, dict[str, float]]:
    """Seconds per hop and in all from RECEIVED to CONFIRMED, per order, from its history."""
    table = boto3.resource("dynamodb").Table("orders")
    waiting, timings = set(ids), {}
    deadline = time.monotonic() + timeout_seconds
    while waiting and time.monotonic() < deadline:
        for order_id in sorted(waiting):
            item = table.get_item(Key={"order_id": order_id}).get("Item")
            hops = _hops(item)
            if hops is not None:
                timings[order_id] = hops
                waiting.discard(order_id)
        if waiting:
            time.sleep(0.5)
    progress(f"  {len(timings)} of {len(ids)} confirmed (email sent)")
    return timings


def _hops(item: dict[str, Any] | None) -> dict[str, float] | None:
    """Each hop's seconds and the total, from the record's history; None until CONFIRMED."""
    if item is None:
        return None
    at = {
        entry["status"]: datetime.fromisoformat(str(entry["at"]))
        for entry in item.get("history", [])
    }
    if not {"RECEIVED", "CONFIRMED"} <= at.keys():
        return None
    hops = {
        f"{start} to {end}": (at[end] - at[start]).total_seconds()
        for start, end in HOPS
        if start in at and end in at
    }
    return {**hops, "total": (at["CONFIRMED"] - at["RECEIVED"]).total_seconds()}
