"""The whole pipeline on one machine: local AWS, order API, web tier, event sources, dashboard.

Everything listens on 127.0.0.1. The order API and the handlers run in this process, as
`chalice local` would run them; the web tier runs under gunicorn with the configuration the
hosts use; the event sources poll every queue the Chalice app subscribes to, with the batch
size the app declares, and delete only what the handler did not report as failed.
"""

import logging
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from werkzeug.serving import make_server

from local_stack import demo_data
from local_stack.event_source import SqsEventSource
from local_stack.gateway.app import LocalApiGateway
from local_stack.gateway.callers import api_arn, issue_callers
from local_stack.metrics import MetricTotals
from local_stack.moto_server import LocalAws
from local_stack.resources import RESOURCES, Provisioned, provision
from local_stack.ses_simulator import MailboxSimulator, moto_outbox, simulating
from local_stack.sns_subscriptions import LAMBDA_RETRY_DELAYS, SnsFunction, sns_functions_running

if TYPE_CHECKING:
    from chalicelib.settings import Settings
    from local_stack.aws_limits import AwsLimits

CHALICE_DIR = Path(__file__).resolve().parent.parent / "chalice_app"
LOCAL = "127.0.0.1"
# In the state directory: every JSON line of the handlers, and the web tier's output
# (`make trace` reads both).
FUNCTIONS_LOG = "functions.log"
WEB_LOG = "web.log"
# The watchdog's schedule and threshold locally: AWS runs it every 5 minutes for orders not
# final after 30; here an order held back shows within a couple of minutes.
WATCHDOG_INTERVAL_SECONDS = 60
LOCAL_STUCK_AFTER_MINUTES = 2
log = logging.getLogger(__name__)


class StackError(RuntimeError):
    """The local stack could not start: the message says what to do."""


@dataclass(frozen=True)
class Ports:
    """Where each part listens; 0 picks a free port."""

    aws: int = 4566
    api: int = 8000
    web: int = 8080
    dashboard: int = 8001


@dataclass(frozen=True)
class Urls:
    """Where each part answers, and the order API's local callers with their credentials."""

    aws: str
    api: str
    storefront: str
    dashboard: str
    region: str = "us-east-1"
    # caller name -> access_key_id, secret_access_key, principal_arn, permissions
    api_callers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def local_stack(
    ports: Ports,
    state_dir: Path,
    verbose: bool = False,
    retry_delay: int | None = None,
    limits: "AwsLimits | None" = None,
) -> Iterator[Urls]:
    """Start every part; on exit stop them in reverse order, whatever happened.

    retry_delay, if given, replaces the queues' visibility timeout: how long a failed message
    waits before it is delivered again (AWS: six times the function timeout).
    limits, if given, is the AWS limits model (local_stack/aws_limits.py) on the functions'
    clients, their pacing set to its SES rate, and each event source as concurrent as its
    trigger on AWS.
    """
    with ExitStack() as running:
        step(f"Starting the local AWS (moto) on {LOCAL}")
        aws = running.enter_context(_listening(LocalAws(host=LOCAL, port=ports.aws), "AWS"))
        os.environ.update(
            AWS_ENDPOINT_URL=aws.endpoint_url,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",  # noqa: S106 - moto accepts any credentials
            AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        step("Creating topics, queues with DLQs, subscriptions, tables, the bucket and SES")
        # A new local AWS starts empty, so the billing store starts empty too.
        (state_dir / "billing.db").unlink(missing_ok=True)
        billing_database = f"sqlite:///{state_dir / 'billing.db'}"
        resources = RESOURCES
        if retry_delay is not None:
            queues = tuple(
                replace(q, visibility_timeout=_visibility(q.name, retry_delay, limits))
                for q in RESOURCES.queues
            )
            resources = replace(RESOURCES, queues=queues)
        provisioned = provision(boto3.session.Session(), billing_database, resources)
        # The handlers' settings go to them typed, not through this process's environment
        # (which keeps only the endpoint and credentials boto3 reads).
        from chalicelib.services import build_services, set_services

        # Bound now, so the emails can link to the storefront's address (port 0: a free one).
        web_listener = running.enter_context(_web_listener(ports.web))
        storefront_url = f"http://{LOCAL}:{web_listener.getsockname()[1]}"
        local_settings = {
            "STOREFRONT_URL": storefront_url,
            "STUCK_AFTER_MINUTES": str(LOCAL_STUCK_AFTER_MINUTES),
        }
        services = build_services(*_functions_settings(provisioned, limits, local_settings))
        set_services(services)
        business_metrics = _business_metrics(running, state_dir)

        step("Loading the demo catalog (EUR, GBP, JPY, USD), customers and exchange rates")
        demo_data.load(boto3.resource("dynamodb").Table("inventory"), services.contacts)
        # The handlers' clients are built on first use (a Lambda cold start pays only for its
        # own); this process lives long, so build them now, not in the first burst of orders.
        services.warm_up()

        app, module = _load_chalice_app()
        running.enter_context(_functions_log(state_dir / FUNCTIONS_LOG, verbose))
        step("Issuing the order API's callers in the local IAM (users, policies, access keys)")
        region = os.environ["AWS_DEFAULT_REGION"]
        account = boto3.client("sts").get_caller_identity()["Account"]
        stage_arn = api_arn(account, region)
        callers = issue_callers(boto3.client("iam"), stage_arn)
        gateway = LocalApiGateway(app, callers, stage_arn, region)
        api = running.enter_context(_serve(gateway, ports.api, "the order API"))
        sources = _event_sources(app, module, provisioned, limits)
        running.enter_context(_polling(sources))
        step(f"Event sources poll {', '.join(s.queue_url.rsplit('/', 1)[1] for s in sources)}")
        running.enter_context(_sns_triggers(app, module, provisioned, retry_delay))
        running.enter_context(simulating(_mailbox_simulator(account, region)))

        running.enter_context(
            _every(
                WATCHDOG_INTERVAL_SECONDS, _scheduled(module, "watch_stuck_orders", account, region)
            )
        )

        step("Starting the web tier under gunicorn")
        storefront = running.enter_context(_gunicorn(web_listener, provisioned, state_dir, verbose))

        from chalicelib.observability import utc_now
        from chalicelib.watchdog import find_stuck
        from local_stack.dashboard import LocalState, create_dashboard

        def stuck_orders() -> list[Any]:
            stuck, _ = find_stuck(
                services.in_flight, services.store, utc_now(), services.settings.stuck_after
            )
            return stuck

        state = LocalState(provisioned, services.ledger, business_metrics, stuck_orders)
        dashboard = running.enter_context(
            _serve(create_dashboard(state), ports.dashboard, "the dashboard")
        )
        credentials = {name: caller.credentials() for name, caller in callers.by_name().items()}
        yield Urls(aws.endpoint_url, api, storefront, dashboard, region, credentials)
        step("Stopping")


def _business_metrics(running: ExitStack, state_dir: Path) -> MetricTotals:
    """The handlers' metric lines (in process) and the web tier's (its log), summed."""
    from chalicelib import metrics

    totals = MetricTotals(followed=[state_dir / "web.log"])
    metrics.set_writer(totals.feed)
    running.callback(metrics.set_writer, None)
    return totals


@contextmanager
def _listening(aws: LocalAws, name: str) -> Iterator[LocalAws]:
    try:
        aws.start()
    except OSError as error:
        raise StackError(
            f"cannot listen for the local {name}: {error}. Is another `make run` running? "
            "Stop it, or choose other ports (make run ARGS='--help')."
        ) from error
    try:
        yield aws
    finally:
        aws.stop()


def _load_chalice_app() -> tuple[Any, Any]:
    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(CHALICE_DIR), environ=os.environ)
    app = factory.load_chalice_app()
    import app as module  # the module whose handlers Lambda would call

    return app, module


@contextmanager
def _functions_log(path: Path, verbose: bool) -> Iterator[None]:
    """Every line the handlers log goes to path too, as CloudWatch Logs would keep it.

    The terminal shows warnings and errors only, unless verbose.
    """
    from chalicelib.observability import logger

    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)  # Powertools' Logger wraps this one
    terminal = logger.registered_handler
    levels = (logger.log_level, terminal.level)
    logger.setLevel(logging.INFO)
    if not verbose:
        terminal.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
        handler.close()
        logger.setLevel(levels[0])
        terminal.setLevel(levels[1])


def scheduled_event(account: str, region: str, rule: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target, every field of it (Chalice's
    CloudWatchEvent reads them all): https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-scheduled.html"""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }


def _scheduled(module: Any, name: str, account: str, region: str) -> Callable[[], None]:
    """Invoke a scheduled function of app.py as EventBridge would, with a Lambda context."""
    from chalice.local import LambdaContext

    def invoke() -> None:
        event = scheduled_event(account, region, f"order-pipeline-{name}", datetime.now(UTC))
        getattr(module, name)(event, LambdaContext(name, 512))

    return invoke


@contextmanager
def _every(seconds: float, run: Callable[[], None]) -> Iterator[None]:
    """Call run every so many seconds on a thread of its own, until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                run()
            except Exception:  # as a failed scheduled invocation: logged, tried again later
                log.exception("a scheduled function failed")

    thread = threading.Thread(target=loop, name="schedule", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


# The notifications consumer's batch size (app.py's @app.on_sqs_message).
NOTIFICATIONS_BATCH_SIZE = 10


def _visibility(queue: str, retry_delay: int, limits: "AwsLimits | None") -> int:
    """retry_delay, but with email paced, never shorter than a paced batch takes: a message
    visible again while its email is still being sent would be sent twice."""
    if limits is None or queue != "order-notifications":
        return retry_delay
    from chalicelib.pacing import paced_batch_seconds

    batch = paced_batch_seconds(limits.limits.ses_send_rate, NOTIFICATIONS_BATCH_SIZE)
    return max(retry_delay, math.ceil(2 * batch) + 5)


def _functions_settings(
    provisioned: Provisioned, limits: "AwsLimits | None", local: dict[str, str]
) -> tuple["Settings", boto3.session.Session]:
    """The functions' settings (the provisioned ones and the local stack's own) and the session
    their clients come from (limited, if asked)."""
    from chalicelib.settings import Settings
    from local_stack.aws_limits import trigger_concurrency

    session = boto3.session.Session()
    environment = {**provisioned.environment, **local}
    if limits is not None:
        limits.install(session)  # before any client is built: clients copy its handlers
        environment["SES_MAX_SEND_RATE"] = str(limits.limits.ses_send_rate)
        # As on AWS: the functions pace by their trigger's concurrency, the pollers' number.
        environment["NOTIFICATIONS_MAXIMUM_CONCURRENCY"] = str(
            trigger_concurrency("customer_communications", limits.limits)
        )
    return Settings.from_env(environment), session


def _event_sources(
    app: Any, module: Any, provisioned: Provisioned, limits: "AwsLimits | None" = None
) -> list[SqsEventSource]:
    """One event source per SQS subscription the app declares, as its event source mapping."""
    from chalice.app import SQSEventConfig

    from local_stack.aws_limits import trigger_concurrency

    sqs = boto3.client("sqs")
    return [
        SqsEventSource(
            sqs,
            queue_url=provisioned.queue_urls[config.queue],
            queue_arn=provisioned.queue_arns[config.queue],
            handler=getattr(module, config.name),
            function_name=config.name,
            batch_size=config.batch_size,
            concurrency=1 if limits is None else trigger_concurrency(config.name, limits.limits),
        )
        for config in app.event_sources
        if isinstance(config, SQSEventConfig) and config.queue is not None
    ]


@contextmanager
def _sns_triggers(
    app: Any, module: Any, provisioned: Provisioned, retry_delay: int | None
) -> Iterator[None]:
    """Each @app.on_sns_message function, invoked by its topic as Lambda's SNS trigger does."""
    from chalice.app import SNSEventConfig

    functions = [
        SnsFunction(config.name, provisioned.topic_arns[config.topic], getattr(module, config.name))
        for config in app.event_sources
        if isinstance(config, SNSEventConfig)
    ]
    # --retry-delay shortens Lambda's retries of a failed asynchronous invocation too.
    delays = LAMBDA_RETRY_DELAYS if retry_delay is None else (retry_delay, retry_delay)
    with sns_functions_running(boto3.client("sns"), functions, LOCAL, delays):
        names = ", ".join(f"{f.name} ({f.topic_arn.rsplit(':', 1)[1]})" for f in functions)
        step(f"SNS topics invoke {names}")
        yield


def _mailbox_simulator(account: str, region: str) -> MailboxSimulator:
    """SES's mailbox simulator, which moto lacks: feedback for mail to *@simulator.amazonses.com."""
    step("The SES mailbox simulator answers mail to bounce@ and complaint@simulator.amazonses.com")
    return MailboxSimulator(
        moto_outbox(account, region),
        ses=boto3.client("ses"),
        sesv2=boto3.client("sesv2"),
        sns=boto3.client("sns"),
        account=account,
        region=region,
    )


@contextmanager
def _polling(sources: list[SqsEventSource]) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=source.run, args=(stop,), name=f"{source.queue_url}#{n}", daemon=True
        )
        for source in sources
        for n in range(source.concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


@contextmanager
def _web_listener(port: int) -> Iterator[socket.socket]:
    """The web tier's listening socket, bound by us, so port 0 works and cannot race."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((LOCAL, port))
    except OSError as error:
        listener.close()
        raise StackError(f"cannot serve the web tier on port {port}: {error}") from error
    listener.listen(128)
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def _gunicorn(
    port: int | socket.socket, provisioned: Provisioned, state_dir: Path, verbose: bool
) -> Iterator[str]:
    """The web tier as the hosts run it, on a port or on a socket bound already."""
    with ExitStack() as bound:
        listener = (
            port if isinstance(port, socket.socket) else bound.enter_context(_web_listener(port))
        )
        with _gunicorn_on(listener, provisioned, state_dir, verbose) as url:
            yield url


@contextmanager
def _gunicorn_on(
    listener: socket.socket, provisioned: Provisioned, state_dir: Path, verbose: bool
) -> Iterator[str]:
    url = f"http://{LOCAL}:{listener.getsockname()[1]}"
    environment = {
        **os.environ,
        "ORDER_WEB_ENV": "development",  # plain HTTP on loopback: cookies cannot be Secure
        # One key for every worker, new each run: forms and sessions work across workers.
        "SECRET_KEY": secrets.token_hex(32),
        "ORDER_INTAKE_TOPIC_ARN": provisioned.topic_arns["order-intake"],
        "INVENTORY_TABLE": provisioned.environment["INVENTORY_TABLE"],
        "ORDERS_TABLE": provisioned.environment["ORDERS_TABLE"],
        # As the host role does: the SecureString the email function signs the links with.
        "ORDER_LINK_KEY": boto3.client("ssm").get_parameter(
            Name=provisioned.environment["ORDER_LINK_KEY_PARAMETER"], WithDecryption=True
        )["Parameter"]["Value"],
        "ORDER_WEB_BIND": f"fd://{listener.fileno()}",
        "GUNICORN_CONTROL_SOCKET": str(state_dir / "gunicorn.ctl"),
    }
    log_file = (state_dir / WEB_LOG).open("w")
    command = [sys.executable, "-m", "gunicorn", "-c", "python:order_web.gunicorn_conf"]
    web = subprocess.Popen(
        [*command, "order_web.wsgi:app"],
        cwd=state_dir,
        env=environment,
        pass_fds=(listener.fileno(),),
        stdout=subprocess.PIPE if verbose else log_file,
        stderr=subprocess.STDOUT,
        # gunicorn must not outlive this process, however it ends: a SIGKILL, a crash, or a
        # closed terminal's SIGHUP, which gunicorn's master takes as "reload" and survives.
        # gunicorn's master does not watch its parent (its workers watch the master).
        preexec_fn=parent_death_signal(signal.SIGTERM),
    )
    listener.close()  # gunicorn holds it now
    if web.stdout is not None:  # verbose: to the terminal as well as to the log
        threading.Thread(target=_tee, args=(web.stdout, log_file), daemon=True).start()
    try:
        _wait_until_healthy(f"{url}/healthz", web, state_dir / WEB_LOG)
        yield url
    finally:
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
        log_file.close()


def _tee(source: Any, log_file: Any) -> None:
    """Copy gunicorn's output to the terminal and to its log, until it exits."""
    for raw in iter(source.readline, b""):
        line = raw.decode(errors="replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        try:
            log_file.write(line)
            log_file.flush()
        except ValueError:  # the log was closed: gunicorn has stopped
            return


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if process.returncode < 0:  # a stop signal sent to the whole process group
                ended = f"was stopped by {signal.Signals(-process.returncode).name}"
            else:
                ended = f"exited with {process.returncode}"
            raise StackError(f"gunicorn {ended}: see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise StackError(f"the web tier did not answer {url} within 60 s: see {log_path}")


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def parent_death_signal(signal_number: int) -> Callable[[], None] | None:
    """Return a function that has Linux send its caller signal_number when the parent exits.

    Whatever way the parent ends (SIGKILL too). None off Linux (macOS has no such call).
    libc is resolved here, before any fork: the function then makes one foreign call, so it is
    safe as a preexec_fn in a threaded process. The "parent" is the thread that started the
    process: start children that use it from a thread that outlives them (the main thread).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signal_number)


@contextmanager
def _serve(app: Any, port: int, what: str) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 in a thread (werkzeug: threaded, listen backlog 128)."""
    try:
        server = make_server(LOCAL, port, app, threaded=True)
    except OSError as error:
        raise StackError(f"cannot serve {what} on port {port}: {error}") from error
    thread = threading.Thread(target=server.serve_forever, name=what, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def step(text: str) -> None:
    print(f"==> {text}", flush=True)
