"""Benchmarks: web tier throughput, AWS requests and cost per order, cold start, end to end,
the capacity model (AWS's documented limits in orders per second), and a flash sale on the
local stack with the AWS limits model on.

Prints the figures as it goes and writes results.json, results.md and web-latency.png to
--out. Nothing here is asserted by a test: the figures move with the machine's load.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PARTS = ("web", "pipeline", "cold", "e2e", "capacity", "flash")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make bench ARGS=...",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run only this part (repeat for several); default: all",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run (about 30 s): fewer load steps, orders and runs",
    )
    parser.add_argument("--out", type=Path, default=Path("build/bench"), help="where to write")
    parser.add_argument(
        "--connections",
        default="1,2,4,8,16,32",
        help="web tier: offered loads, as wrk connection counts",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="web tier: duration of each load step"
    )
    parser.add_argument("--orders", type=int, default=200, help="pipeline: orders to process")
    parser.add_argument("--e2e-orders", type=int, default=200, help="end to end: orders to place")
    parser.add_argument(
        "--e2e-rate",
        type=float,
        default=5.0,
        help="end to end: orders placed per second (keep it under the local stack's capacity)",
    )
    parser.add_argument(
        "--flash-orders", type=int, default=600, help="flash sale: orders offered (both doors)"
    )
    parser.add_argument(
        "--flash-seconds", type=float, default=30.0, help="flash sale: the window they come in"
    )
    parser.add_argument(
        "--flash-ses-rate",
        type=float,
        default=2.0,
        help="flash sale: the modelled SES send rate (emails/s); keep it under the local "
        "stack's own throughput (about 3 orders/s through a 600-order sale on 2 busy cores) "
        "so that SES binds",
    )
    parser.add_argument(
        "--flash-scarce-stock",
        type=int,
        help="flash sale: stock of the scarce SKU (default: a quarter of its demand)",
    )
    parser.add_argument(
        "--import-runs", type=int, default=5, help="cold start: fresh interpreters for import"
    )
    parser.add_argument(
        "--cold-rounds",
        type=int,
        default=5,
        help="cold start: rounds, each a fresh interpreter per handler and one per its floor",
    )
    parser.add_argument(
        "--no-package",
        action="store_true",
        help="cold start: skip `chalice package` (it downloads wheels on its first run)",
    )
    # Internal: run one part in this interpreter and write its figures here (see main).
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.connections = "1,4,16"
        arguments.seconds = min(arguments.seconds, 2.0)
        arguments.orders = min(arguments.orders, 30)
        arguments.e2e_orders = min(arguments.e2e_orders, 30)
        arguments.e2e_rate = max(arguments.e2e_rate, 10.0)
        arguments.import_runs = min(arguments.import_runs, 2)
        arguments.cold_rounds = min(arguments.cold_rounds, 2)
        arguments.flash_orders = min(arguments.flash_orders, 60)
        arguments.flash_seconds = min(arguments.flash_seconds, 6.0)
    if arguments.flash_scarce_stock is None:
        # A third of the orders want the scarce SKU; it has a quarter of that.
        arguments.flash_scarce_stock = max(1, arguments.flash_orders // 12)
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if arguments.result_file is not None:
        _run_part(arguments)
        return
    from bench.report import machine, write_results

    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {k: str(v) for k, v in vars(arguments).items() if k != "result_file"},
    }
    with tempfile.TemporaryDirectory() as directory:
        for part in arguments.only or list(PARTS):
            started = time.monotonic()
            _step(f"{part}: {_TITLES[part]}")
            # Each part in a fresh interpreter: moto's backends are process-wide, and the
            # CPU a part measures must be its own.
            result_file = Path(directory) / f"{part}.json"
            given = argv if argv is not None else sys.argv[1:]
            command = [sys.executable, "-m", "bench", *_without_only(given)]
            subprocess.run(
                [*command, "--only", part, "--result-file", str(result_file)], check=True
            )
            results[part] = json.loads(result_file.read_text())
            _step(f"{part}: done in {time.monotonic() - started:.0f} s")
    for path in write_results(results, arguments.out):
        print(f"wrote {path}")
    print()
    print((arguments.out / "results.md").read_text())


def _run_part(arguments: argparse.Namespace) -> None:
    (part,) = arguments.only
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access line per request
    figures = _RUNNERS[part](arguments, _progress)
    arguments.result_file.write_text(json.dumps(figures))


def _without_only(argv: list[str]) -> list[str]:
    """The command line minus --only choices (the parent picks one part per child)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--only":
            skip = True
        elif not argument.startswith("--only="):
            kept.append(argument)
    return kept


def _web(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.web import web_tier

    connections = [int(count) for count in arguments.connections.split(",")]
    return web_tier(connections, arguments.seconds, progress)


def _pipeline(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.pipeline import pipeline

    return pipeline(arguments.orders, progress)


def _cold(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.cold_start import app_import, handlers_first_invocation, package_size

    results = {
        "app": app_import(arguments.import_runs, progress),
        "handlers": handlers_first_invocation(progress, arguments.cold_rounds),
    }
    if not arguments.no_package:
        results["package"] = package_size(progress)
    return results


def _e2e(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.end_to_end import end_to_end

    timeout = arguments.e2e_orders / arguments.e2e_rate + 60
    return end_to_end(arguments.e2e_orders, arguments.e2e_rate, timeout, progress)


def _capacity(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.capacity import capacity

    return capacity(progress)


def _flash(arguments: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench.flash import FlashPlan, flash_sale

    plan = FlashPlan(
        orders=arguments.flash_orders,
        seconds=arguments.flash_seconds,
        ses_rate=arguments.flash_ses_rate,
        scarce_stock=arguments.flash_scarce_stock,
    )
    return flash_sale(plan, progress)


_TITLES = {
    "web": "order form posts/s and latency through gunicorn against offered load, and /healthz",
    "pipeline": "AWS requests, handler time and cost per order through every handler",
    "cold": "import of app.py, each handler's cold start beside its boto3 floor, package size",
    "e2e": "order placed to email sent on the local stack",
    "capacity": "each hop's documented AWS limit in orders/s, and which one binds",
    "flash": "a flash sale through both doors with the AWS limits model: lost, oversold, "
    "emailed twice, dead-lettered, drain time against the SES floor",
}
_RUNNERS: dict[str, Callable[[argparse.Namespace, Callable[[str], None]], dict[str, Any]]] = {
    "web": _web,
    "pipeline": _pipeline,
    "cold": _cold,
    "e2e": _e2e,
    "capacity": _capacity,
    "flash": _flash,
}


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _progress(text: str) -> None:
    print(f"  {text}", flush=True)


if __name__ == "__main__":
    main()
