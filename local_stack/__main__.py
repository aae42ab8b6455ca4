"""Run the whole order pipeline locally: `python -m local_stack` (what `make run` does).

Starts a local AWS (moto) on 127.0.0.1 with every resource, the order API, the web tier under
gunicorn, the queues' event sources and a dashboard; loads a demo catalog and customers;
plays a short tour; then serves until Ctrl-C, SIGTERM or SIGHUP, and stops everything.
"""

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.pacing import DEFAULT_SES_SEND_RATE
from local_stack.stack import Ports, StackError, Urls, local_stack, parent_death_signal, step

if TYPE_CHECKING:
    from local_stack.aws_limits import AwsLimits

# Ctrl-C in a terminal, SIGTERM from a supervisor (make forwards it), SIGHUP from a closed
# terminal: each stops everything, whether the stack is starting, touring or serving.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(BaseException):
    """A stop signal arrived (a BaseException, as KeyboardInterrupt: never swallowed)."""


def _stop(signal_number: int, _frame: object) -> None:
    # Only the first signal unwinds: a second one (timeout signals the whole process group,
    # and make forwards SIGTERM too) must not interrupt the teardown the first one started.
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    raise Stop(signal_number)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    defaults = Ports()
    parser = argparse.ArgumentParser(
        prog="make run ARGS=...",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Every port can also be set from the environment (AWS_PORT, API_PORT, "
        "WEB_PORT, DASHBOARD_PORT); 0 picks a free one.",
    )

    def port(name: str, variable: str, default: int, what: str) -> None:
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=int(os.environ.get(variable, default)),
            help=f"port of {what} (default {default})",
        )

    port("aws", "AWS_PORT", defaults.aws, "the local AWS endpoint (moto)")
    port("api", "API_PORT", defaults.api, "the order API (API Gateway routes)")
    port("web", "WEB_PORT", defaults.web, "the web tier's storefront (gunicorn)")
    port("dashboard", "DASHBOARD_PORT", defaults.dashboard, "the dashboard")
    parser.add_argument("--no-tour", action="store_true", help="skip the scripted tour")
    parser.add_argument("--once", action="store_true", help="exit after the tour")
    parser.add_argument(
        "--urls-file",
        type=Path,
        help="write the URLs and the order API callers' credentials as JSON to this file once "
        "everything answers (for scripts and Postman; mode 0600)",
    )
    parser.add_argument(
        "--retry-delay",
        type=int,
        metavar="SECONDS",
        help="seconds before a failed message is delivered again, instead of the queues' "
        "visibility timeout (180 s, as on AWS): a poison message reaches its DLQ after five "
        "attempts, so a small value shows retries and dead letters quickly",
    )
    parser.add_argument(
        "--aws-limits",
        action="store_true",
        help="model AWS's limits moto lacks: SES's send rate, DynamoDB's per-item and per-table "
        "write throughput and transaction conflicts, each trigger's concurrency "
        "(ARCHITECTURE.md, 'AWS limits, locally')",
    )
    parser.add_argument(
        "--ses-rate",
        type=float,
        default=DEFAULT_SES_SEND_RATE,
        metavar="EMAILS_PER_SECOND",
        help=f"with --aws-limits: the account's SES maximum send rate (default "
        f"{DEFAULT_SES_SEND_RATE:g}, the production default; the sandbox's is 1)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="keep the billing database and the web tier's log here (default: a temporary "
        "directory, removed on exit)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print the handlers' logs and access lines"
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits, even if it was killed "
        "(make run passes it: a killed make leaves nothing running; Linux only)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()
    arguments = parse_arguments(argv)
    if not arguments.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        for number in STOP_SIGNALS:
            signal.signal(number, _stop)
        if arguments.exit_with_parent:
            _exit_with(parent)
        return _run(arguments)
    except Stop:
        pass
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("Stopped.", flush=True)
    return 0


def _run(arguments: argparse.Namespace) -> int:
    """Start the stack, play the tour, serve until a stop signal raises Stop; then stop it."""
    ports = Ports(
        arguments.aws_port, arguments.api_port, arguments.web_port, arguments.dashboard_port
    )
    with (
        _state_dir(arguments.state_dir) as state_dir,
        local_stack(
            ports, state_dir, arguments.verbose, arguments.retry_delay, _limits(arguments)
        ) as urls,
    ):
        try:
            if not arguments.no_tour:
                from local_stack.tour import tour

                tour(urls)
            if arguments.once:
                return 0
            print_urls(urls)
            if arguments.urls_file is not None:
                _write_urls(urls, arguments.urls_file)
            print("Serving until Ctrl-C.", flush=True)
            threading.Event().wait()  # until a stop signal raises Stop
        finally:
            # Whatever ends the run, the teardown runs to its end: later signals are ignored.
            for number in STOP_SIGNALS:
                signal.signal(number, signal.SIG_IGN)
    return 0


def _limits(arguments: argparse.Namespace) -> "AwsLimits | None":
    if not arguments.aws_limits:
        return None
    from local_stack.aws_limits import AwsLimits, Limits

    if not arguments.ses_rate > 0:
        raise StackError(f"--ses-rate {arguments.ses_rate}: must be a positive number")
    step(f"AWS limits modelled: SES sends at most {arguments.ses_rate:g} emails a second")
    return AwsLimits(Limits(ses_send_rate=arguments.ses_rate))


def _write_urls(urls: Urls, path: Path) -> None:
    # Written whole, then renamed: a script waiting for it never reads half a file.
    # It holds the local callers' secrets: readable by this user only.
    partial = path.with_suffix(".partial")
    partial.touch(mode=0o600)
    partial.write_text(json.dumps(urls.as_dict()))
    partial.replace(path)


def _exit_with(parent: int) -> None:
    """Have a SIGTERM sent to this process when its parent exits; if it already has, stop."""
    signal_when_parent_exits = parent_death_signal(signal.SIGTERM)
    if signal_when_parent_exits is not None:
        signal_when_parent_exits()
    if os.getppid() != parent:  # it exited before the kernel was told
        raise SystemExit("the process that started this one has exited")


@contextmanager
def _state_dir(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="order-pipeline-") as temporary:
        yield Path(temporary)


def print_urls(urls: Urls) -> None:
    step("Ready")
    print(f"  Storefront (web tier):  {urls.storefront}/")
    print(f"  Order API:              {urls.api}/orders/{{order_id}}")
    print(f"  Dashboard:              {urls.dashboard}/")
    print(f"  Local AWS (moto):       {urls.aws}")
    step("Order API callers (IAM users of the local AWS, new keys every run; SigV4 required)")
    for name, caller in urls.api_callers.items():
        print(f"  {name:<17} {', '.join(caller['permissions']):<27} {caller['access_key_id']}")
        print(f"  {'':<17} secret: {caller['secret_access_key']}")
    integrator = urls.api_callers.get("order-integrator")
    if integrator:
        print(
            f"  Try: curl -s --aws-sigv4 aws:amz:{urls.region}:execute-api "
            f"--user {integrator['access_key_id']}:{integrator['secret_access_key']} "
            f"{urls.api}/orders/demo-api-1"
        )
    print("  Postman: postman/order-api.local.postman_environment.json, keys from --urls-file")
    port = urls.aws.rsplit(":", 1)[1]
    print(f"  Redrive a DLQ:          make redrive QUEUE=order-fulfillment AWS_PORT={port}")


if __name__ == "__main__":
    sys.exit(main())
