"""Cold start: what a new Lambda container pays before and during its first invocation.

Chalice packages one module, app.py, for every function, so every function's init imports
the same code. What differs is the first invocation: each handler builds its adapters then.
Each handler is measured in a fresh interpreter against a local AWS (moto on 127.0.0.1):
the import of app.py, the first invocation and a second one; first minus second is what the
first invocation adds (building clients, loading service models, lazy imports).

Each handler's cold start (import plus first invocation) is set beside its floor: a fresh
interpreter that imports boto3 and builds the clients that handler built, against the same
endpoint. The ratio is what the code costs above that floor.

The handlers run from a copy of what the bundle holds of our code (app.py, chalicelib,
order_contracts) with its compiled bytecode, as `make package` ships it (deploy/bytecode.py):
on Lambda nothing is compiled at a cold start, and the installed libraries here have theirs.

The machine is shared, so each figure is a median over several rounds, and a handler's run and
its floor's run alternate (one of each per round): load that comes and goes falls on both. Each
child reports CPU time (time.process_time) as well as wall time; the ratio is taken on CPU
time, which other processes' load changes far less than wall time (the wall-time ratio is
reported beside it). The local AWS (moto) answers from this process, so the children's CPU
time is their own work, as a Lambda function's would be.
"""

import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
CHALICE_DIR = ROOT / "chalice_app"
HANDLERS = ("put_order", "process_order", "initiate_billing", "customer_communications")


@dataclass(frozen=True)
class ImportRecord:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> list[ImportRecord]:
    """The lines `python -X importtime` writes: self and cumulative microseconds per module."""
    records = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        records.append(ImportRecord(name.strip(), int(self_us), int(cumulative_us), depth))
    return records


def import_total_ms(records: list[ImportRecord], module: str) -> float:
    """Cumulative import time of a top-level module, in ms."""
    for record in records:
        if record.module == module and record.depth == 0:
            return record.cumulative_us / 1000
    raise ValueError(f"{module} is not among the imports")


def by_distribution(records: list[ImportRecord], top: int = 8) -> dict[str, float]:
    """Self time summed by top-level package (boto3, pydantic, ...), largest first, in ms."""
    totals: dict[str, int] = defaultdict(int)
    for record in records:
        totals[record.module.split(".", 1)[0]] += record.self_us
    largest = sorted(totals.items(), key=lambda item: item[1], reverse=True)[:top]
    return {name: round(us / 1000, 1) for name, us in largest}


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), str(CHALICE_DIR)])
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def app_import(runs: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Import time of app.py in fresh interpreters: -X importtime's total and breakdown."""
    progress(f"python -X importtime -c 'import app', {runs} fresh interpreters")
    totals, breakdowns = [], []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import app"],
            cwd=CHALICE_DIR,
            env=_environment(),
            capture_output=True,
            text=True,
            check=True,
        )
        records = parse_importtime(done.stderr)
        totals.append(import_total_ms(records, "app"))
        breakdowns.append(records)
    median_run = breakdowns[totals.index(sorted(totals)[len(totals) // 2])]
    return {
        "import_app_ms_median": round(statistics.median(totals), 1),
        "import_app_ms_min": round(min(totals), 1),
        "self_ms_by_package": by_distribution(median_run),
        "runs": runs,
    }


# Runs in a fresh interpreter: time `import app`, then two invocations of one handler.
_CHILD = """
import json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import app
imported, cpu_imported = time.perf_counter(), time.process_time()
from chalice.local import LambdaContext
import botocore.session
built = []
create_client = botocore.session.Session.create_client
def counted(self, service_name, *args, **kwargs):
    built.append(service_name)
    return create_client(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = counted
handler = sys.argv[1]
events = json.load(open(sys.argv[2]))
function = app.app if handler == "put_order" else getattr(app, handler)
modules_before = len(sys.modules)
timings, cpu_timings = [], []
for event in events:
    begin, cpu_begin = time.perf_counter(), time.process_time()
    function(event, LambdaContext(handler, 512))
    timings.append(time.perf_counter() - begin)
    cpu_timings.append(time.process_time() - cpu_begin)
    if len(timings) == 1:
        modules_after_first = len(sys.modules)
        clients_first = list(built)
print(json.dumps({
    "import_ms": (imported - started) * 1000,
    "import_cpu_ms": (cpu_imported - cpu_started) * 1000,
    "first_ms": timings[0] * 1000,
    "first_cpu_ms": cpu_timings[0] * 1000,
    "second_ms": timings[1] * 1000,
    "clients_built": clients_first,
    "modules_imported_by_first": modules_after_first - modules_before,
}))
"""


# Runs in a fresh interpreter: the floor, a bare boto3 building the clients a handler uses.
_FLOOR_CHILD = """
import sys, time, json
started, cpu_started = time.perf_counter(), time.process_time()
import boto3
from botocore.config import Config
session = boto3.session.Session()
config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3)
for service in sys.argv[1:]:
    session.client(service, config=config)
print(json.dumps({
    "floor_ms": (time.perf_counter() - started) * 1000,
    "floor_cpu_ms": (time.process_time() - cpu_started) * 1000,
}))
"""

# Figures a child reports once per round; the results hold each one's median over the rounds.
_PER_ROUND = (
    "import_ms",
    "import_cpu_ms",
    "first_ms",
    "first_cpu_ms",
    "second_ms",
    "floor_ms",
    "floor_cpu_ms",
)
_QUEUES = {
    "process_order": "order-fulfillment",
    "initiate_billing": "order-billing",
    "customer_communications": "order-notifications",
}


def _run_child(
    arguments: list[str], environment: dict[str, str], cwd: Path = CHALICE_DIR
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{arguments[1:]} failed in a fresh interpreter:\n{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One handler's rounds as medians, its cold start (import plus first invocation) and its
    ratios to the floor: on CPU time (the target) and on wall time."""
    medians = {key: statistics.median(r[key] for r in rounds) for key in _PER_ROUND}
    cold_ms = statistics.median(r["import_ms"] + r["first_ms"] for r in rounds)
    cold_cpu_ms = statistics.median(r["import_cpu_ms"] + r["first_cpu_ms"] for r in rounds)
    figures = {
        **medians,
        "first_adds_ms": medians["first_ms"] - medians["second_ms"],
        "cold_ms": cold_ms,
        "cold_cpu_ms": cold_cpu_ms,
        "ratio_to_floor": cold_cpu_ms / medians["floor_cpu_ms"],
        "ratio_to_floor_wall": cold_ms / medians["floor_ms"],
    }
    rounded = {k: round(v, 2 if k.startswith("ratio") else 1) for k, v in figures.items()}
    last = rounds[-1]
    return {
        **rounded,
        "clients_built": last["clients_built"],
        "modules_imported_by_first": last["modules_imported_by_first"],
        "rounds": len(rounds),
    }


def handlers_first_invocation(progress: Callable[[str], None], rounds: int = 5) -> dict[str, Any]:
    """Each handler's import and first two invocations, in fresh interpreters, round after
    round, each run followed by its floor's."""
    from local_stack.moto_server import LocalAws

    progress(f"starting a local AWS for the handlers' first invocations ({rounds} rounds)")
    measured: dict[str, list[dict[str, Any]]] = {handler: [] for handler in HANDLERS}
    with LocalAws(host="127.0.0.1", port=0) as aws, tempfile.TemporaryDirectory() as directory:
        local, environment, sqs, provisioned = _provision(aws.endpoint_url, directory)
        task = bundled_code(Path(directory) / "task")
        handler_environment = {**environment, "PYTHONPATH": str(task)}
        for round_number in range(1, rounds + 1):
            for handler in HANDLERS:
                events = _handler_events(handler, round_number, sqs, provisioned, local)
                events_file = Path(directory) / f"{handler}.json"
                events_file.write_text(json.dumps(events))
                figures = _run_child(
                    [_CHILD, handler, str(events_file)], handler_environment, cwd=task
                )
                figures |= _run_child([_FLOOR_CHILD, *figures["clients_built"]], environment)
                measured[handler].append(figures)
            progress(f"round {round_number} of {rounds} done")
    results = {handler: summarise(runs) for handler, runs in measured.items()}
    for handler, figures in results.items():
        progress(
            f"{handler:<24} import {figures['import_ms']:.0f} ms, first invocation "
            f"{figures['first_ms']:.0f} ms (second {figures['second_ms']:.0f} ms), "
            f"clients built: {', '.join(figures['clients_built']) or 'none'}; cold "
            f"{figures['cold_cpu_ms']:.0f} ms CPU ({figures['cold_ms']:.0f} wall), floor "
            f"{figures['floor_cpu_ms']:.0f} ms CPU ({figures['floor_ms']:.0f} wall), "
            f"{figures['ratio_to_floor']:.2f}x CPU ({figures['ratio_to_floor_wall']:.2f}x wall)"
        )
    return results


def bundled_code(task: Path) -> Path:
    """Our code as the bundle holds it, at task: app.py, chalicelib and order_contracts, each
    module beside its compiled bytecode (unchecked, as deploy/bytecode.py compiles it)."""
    task.mkdir(parents=True)
    shutil.copy2(CHALICE_DIR / "app.py", task / "app.py")
    shutil.copytree(CHALICE_DIR / "chalicelib", task / "chalicelib")
    shutil.copytree(ROOT / "order_contracts", task / "order_contracts")
    compiled = compileall.compile_dir(
        task,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not compiled:
        raise RuntimeError(f"could not compile the code copied to {task}")
    return task


def _provision(
    endpoint_url: str, directory: str
) -> tuple[dict[str, str], dict[str, str], Any, Any]:
    """The queues, tables and contact the handlers need, on the local AWS at endpoint_url."""
    from bench.orders import catalog_item
    from bench.pipeline import LINES
    from chalicelib.adapters.sql.contacts import SqlContactBook
    from chalicelib.adapters.sql.database import database_from_url
    from chalicelib.communications import Contact
    from local_stack.resources import provision

    local = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    os.environ.update(local)
    database_url = f"sqlite:///{directory}/billing.db"
    provisioned = provision(boto3.session.Session(), database_url)
    os.environ.update(provisioned.environment)
    # Migrated by provision; contacts share the database.
    SqlContactBook(database_from_url(database_url)).save_contact(
        Contact("cust-0001", "Ada", "ada@example.com")
    )
    inventory = boto3.resource("dynamodb").Table("inventory")
    for sku, _, price in LINES:
        inventory.put_item(Item=catalog_item(sku, price, 1000))
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=provisioned.queue_urls["order-fulfillment"])  # S3's test event
    environment = _environment({**local, **provisioned.environment})
    return local, environment, sqs, provisioned


def _handler_events(
    handler: str, round_number: int, sqs: Any, provisioned: Any, local: dict[str, str]
) -> list[dict[str, Any]]:
    """Two events for handler: new orders for put_order, else what the step before it sent."""
    from bench.orders import order_body
    from bench.pipeline import LINES
    from local_stack.event_source import lambda_sqs_record

    if handler not in _QUEUES:
        body = order_body(LINES)
        return [_api_event(f"cold-{round_number}-{n}", body) for n in (1, 2)]
    queue = _QUEUES[handler]
    url, arn = provisioned.queue_urls[queue], provisioned.queue_arns[queue]
    messages = _receive(sqs, url, 2)
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ],
    )
    region = local["AWS_DEFAULT_REGION"]
    return [{"Records": [lambda_sqs_record(m, arn, region)]} for m in messages]


def _receive(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    """Wait (briefly) for the messages the previous handler caused."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while len(messages) < count and time.monotonic() < deadline:
        messages += sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=count - len(messages),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    if len(messages) < count:
        raise RuntimeError(f"{url}: {len(messages)} of {count} messages arrived")
    return messages


def _api_event(order_id: str, body: str) -> dict[str, Any]:
    """An API Gateway (REST, proxy) event for PUT /orders/{order_id}."""
    return {
        "resource": "/orders/{order_id}",
        "path": f"/orders/{order_id}",
        "httpMethod": "PUT",
        "headers": {"Content-Type": "application/json", "Host": "bench.local"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["bench.local"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"order_id": order_id},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/orders/{order_id}",
            "httpMethod": "PUT",
            "path": f"/api/orders/{order_id}",
            "stage": "api",
            "requestId": f"bench-{order_id}",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def package_size(progress: Callable[[str], None]) -> dict[str, Any]:
    """The deployment bundle `chalice package` builds (boto3 comes from the Lambda runtime)."""
    import zipfile

    from deploy.package import package

    progress("chalice package (the deployment bundle)")
    with tempfile.TemporaryDirectory() as directory:
        bundle = package(Path(directory) / "out").with_name("deployment.zip")
        with zipfile.ZipFile(bundle) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        return {
            "zipped_mb": round(bundle.stat().st_size / 1e6, 2),
            "unzipped_mb": round(unzipped / 1e6, 2),
        }
