"""Write the figures: results.json (everything), results.md (the table) and web-latency.png."""

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_results(results: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.json", out_dir / "results.md"]
    written[0].write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    written[1].write_text(markdown(results))
    if "web" in results:
        written.append(chart(results["web"], out_dir / "web-latency.png"))
    return written


def machine() -> dict[str, Any]:
    import os

    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_1_5_15": [round(value, 2) for value in load],
    }


def _per_sns_request(step: dict[str, Any]) -> str:
    shared = step.get("orders_per_sns_request")
    return f"{shared:.1f}" if shared else "-"


def markdown(results: dict[str, Any]) -> str:
    """A small table per benchmark that ran."""
    host = results["machine"]
    lines = [
        f"# Benchmark results ({results['started_at']})",
        "",
        f"{host['cpus']} CPUs, Python {host['python']}, load average at start "
        f"{host['load_average_1_5_15'][0]} (other work on the machine shows up here).",
        "",
    ]
    for part, section in _SECTIONS.items():
        if part in results:
            lines += section(results[part])
    return "\n".join(lines)


def _web_section(web: dict[str, Any]) -> list[str]:
    web_ratio = web["web_cpu_ratio_trivial_to_order"] or 1.0
    lines = [
        "## Web tier (the order form through gunicorn, hosts' configuration, local AWS)",
        "",
        "| Route | Connections | Requests/s | p50 ms | p99 ms "
        "| CPU ms/request: web, local AWS | Orders per SNS request | Errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for step in [*web["steps"], web["ceiling"]]:
        lines.append(
            f"| {step['route']} | {step['connections']} | {step['per_second']:.0f} | "
            f"{step['p50_ms']:.1f} | {step['p99_ms']:.1f} | "
            f"{step['web_cpu_ms']:.2f}, {step['local_aws_cpu_ms']:.2f} | "
            f"{_per_sns_request(step)} | {step['errors']} |"
        )
    lines += [
        "",
        f"Best: {web['best_orders_per_second']:.0f} orders/s at "
        f"{web['best_at_connections']} connections, {web['ratio_to_ceiling']:.0%} of the "
        f"same server's /healthz ceiling. An order costs the web tier "
        f"{web['web_cpu_ms_per_order']:.2f} ms of CPU there, {1 / web_ratio:.1f}x a /healthz "
        "request: even with an instant AWS, at most "
        f"{web['cpu_bound_orders_per_second']} orders/s on these cores.",
        "",
    ]
    if "session_cookie_bytes" in web:
        cookie = web["session_cookie_bytes"]
        lines += [
            "Every post carries the storefront's session cookie "
            f"({cookie['sent_by_wrk']} bytes) and its CSRF token, with a new idempotency "
            "key: each is a new order. wrk ignores Set-Cookie (after an order the server "
            f"offers a {cookie['after_one_order']}-byte cookie that remembers it).",
            "",
        ]
    return lines


def _pipeline_section(pipe: dict[str, Any]) -> list[str]:
    lines = [
        f"## Pipeline ({pipe['orders']} orders, {pipe['door']})",
        "",
        "| Function | AWS requests per order | Floor | Handler p50 / p95 ms (on moto) |",
        "| --- | --- | --- | --- |",
    ]
    for function in pipe["functions"]:
        calls = ", ".join(f"{op} {n:g}" for op, n in function["requests_per_order"].items())
        lines.append(
            f"| `{function['function']}` | {function['aws_requests_per_order']:g}: {calls} | "
            f"{function['floor_requests_per_order']} | "
            f"{function['handler_ms_p50']:.1f} / {function['handler_ms_p95']:.1f} |"
        )
    lines += [
        "",
        f"Handlers' requests per order: {pipe['handler_requests_per_order']:g} (floor "
        f"{pipe['floor_requests_per_order']}); plus Lambda's SQS polling "
        f"{sum(pipe['lambda_sqs_requests_per_order'].values()):g} and SNS deliveries to "
        f"SQS {pipe['sns_deliveries_to_sqs_per_order']:g}.",
        "",
        f"Cost per million orders, us-east-1 list prices of {pipe['price_date']}: "
        f"**${pipe['cost_per_million_orders_total_usd']:.2f}**, of which SES "
        f"${pipe['cost_per_million_orders_usd'].get('ses_email', 0):.2f}; without SES "
        f"**${pipe['cost_per_million_orders_without_ses_usd']:.2f}**.",
        "",
        "| Price line | Units per order | USD per million orders |",
        "| --- | --- | --- |",
    ]
    for line, usd in pipe["cost_per_million_orders_usd"].items():
        lines.append(f"| {line} | {pipe['billable_units_per_order'][line]:g} | {usd:.2f} |")
    lines.append("")
    return lines


def _cold_section(cold: dict[str, Any]) -> list[str]:
    lines = [
        "## Cold start",
        "",
        f"`import app` (-X importtime, median of {cold['app']['runs']}): "
        f"{cold['app']['import_app_ms_median']:.0f} ms; by package (self ms): "
        + ", ".join(f"{k} {v:g}" for k, v in cold["app"]["self_ms_by_package"].items()),
        "",
        "Cold start is import plus first invocation, of our code as the bundle ships it (with "
        "its compiled bytecode); the floor is a fresh interpreter's `import boto3` plus "
        "building the same clients against the same endpoint. Medians of "
        f"{_rounds(cold)} rounds, each handler's run followed by its floor's; the ratio is on "
        "CPU time (the load of other processes moves wall time more), wall time beside it.",
        "",
        "| Handler | Import ms | First invocation ms | Second ms | Clients built "
        "| Cold start ms CPU (wall) | Floor ms CPU (wall) | Ratio CPU (wall) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, handler in cold["handlers"].items():
        lines.append(
            f"| `{name}` | {handler['import_ms']:.0f} | {handler['first_ms']:.0f} | "
            f"{handler['second_ms']:.0f} | {', '.join(handler['clients_built']) or 'none'} | "
            f"{handler['cold_cpu_ms']:.0f} ({handler['cold_ms']:.0f}) | "
            f"{handler['floor_cpu_ms']:.0f} ({handler['floor_ms']:.0f}) | "
            f"{handler['ratio_to_floor']:.2f}x ({handler['ratio_to_floor_wall']:.2f}x) |"
        )
    if "package" in cold:
        package = cold["package"]
        lines.append(
            f"\nDeployment package: {package['zipped_mb']:.1f} MB zipped, "
            f"{package['unzipped_mb']:.1f} MB unzipped."
        )
    lines.append("")
    return lines


def _rounds(cold: dict[str, Any]) -> int:
    return min((handler.get("rounds", 1) for handler in cold["handlers"].values()), default=0)


def _e2e_section(e2e: dict[str, Any]) -> list[str]:
    return [
        "## End to end (local stack, API PUT to email sent)",
        "",
        f"{e2e['confirmed']} of {e2e['orders']} orders at {e2e.get('rate_per_second', 0):g}/s: "
        f"p50 {e2e.get('p50_ms', 0):.0f} ms, p95 {e2e.get('p95_ms', 0):.0f} ms, "
        f"max {e2e.get('max_ms', 0):.0f} ms. Median per hop: "
        + ", ".join(f"{hop} {ms:.0f} ms" for hop, ms in e2e.get("hop_p50_ms", {}).items())
        + ".",
        "",
    ]


def _capacity_section(capacity: dict[str, Any]) -> list[str]:
    lines = [
        "## Capacity model (AWS's documented limits; bench/capacity.py)",
        "",
        capacity["table"],
        "",
    ]
    for name, scenario in capacity["scenarios"].items():
        lines.append(
            f"- {name} ({scenario['title']}): {scenario['binding']} binds at "
            f"{scenario['binding_orders_per_second']:,.1f} orders/s"
        )
    return [*lines, ""]


def _flash_section(flash: dict[str, Any]) -> list[str]:
    verdict = "met" if flash["target_met"] else "**not met**"
    lines = [
        f"## Flash sale (local stack, AWS limits model, SES {flash['ses_rate']:g}/s)",
        "",
        f"{flash['offered']} orders offered in {flash['offered_seconds']:g} s through both doors "
        f"({', '.join(f'{door} {n}' for door, n in flash['placed_by_door'].items())} accepted, "
        f"{flash['refused_at_door']} refused); outcomes: "
        + ", ".join(f"{status} {n}" for status, n in flash["statuses"].items())
        + f". Target (0 lost, oversold, emailed twice, dead-lettered; drain within 1.2x the "
        f"SES floor): {verdict}.",
        "",
        "| Lost | Oversold | Emailed twice | Not emailed | Dead letters | Drain s | Floor s "
        "| Drain / floor | Emails/s | To CONFIRMED p50 / p95 s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| {flash['lost']} | {flash['oversold']} | {flash['emailed_twice']} | "
        f"{flash['not_emailed']} | {flash['dead_letters']} | {flash['drain_seconds']:.1f} | "
        f"{flash['floor_seconds']:.1f} | {flash['drain_to_floor'] or 0:.2f}x | "
        f"{flash['emails_per_second'] or 0:.2f} | "
        f"{flash['confirmed_p50_s'] or 0:.1f} / {flash['confirmed_p95_s'] or 0:.1f} |",
        "",
        "| SKU | Initial stock | Reserved | Oversold | Final stock |",
        "| --- | --- | --- | --- | --- |",
    ]
    for sku, stock in flash["stock"].items():
        lines.append(
            f"| {sku} | {stock['initial']} | {stock['reserved']} | {stock['oversold']} | "
            f"{stock['final']} |"
        )
    refused = ", ".join(f"{code} {n}" for code, n in flash["model_refused"].items()) or "none"
    return [*lines, "", f"Refused by the limits model: {refused}.", ""]


_SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "web": _web_section,
    "pipeline": _pipeline_section,
    "cold": _cold_section,
    "e2e": _e2e_section,
    "capacity": _capacity_section,
    "flash": _flash_section,
}


def chart(web: dict[str, Any], path: Path) -> Path:
    """Latency (p50, p99) and throughput against offered load, with the /healthz ceiling."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    steps = web["steps"]
    connections = [step["connections"] for step in steps]
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(10, 4))
    latency.plot(connections, [s["p50_ms"] for s in steps], "o-", label="orders p50")
    latency.plot(connections, [s["p99_ms"] for s in steps], "s--", label="orders p99")
    latency.set(xscale="log", xlabel="connections (offered load)", ylabel="latency (ms)")
    latency.set_xticks(connections, [str(c) for c in connections])
    latency.set_title("Order form (POST /orders) latency")
    latency.legend()
    throughput.plot(connections, [s["per_second"] for s in steps], "o-", label="orders/s")
    ceiling = web["ceiling"]
    throughput.axhline(ceiling["per_second"], color="grey", linestyle=":", label="/healthz ceiling")
    throughput.set(xscale="log", xlabel="connections (offered load)", ylabel="requests/s")
    throughput.set_xticks(connections, [str(c) for c in connections])
    throughput.set_title("Throughput")
    throughput.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
