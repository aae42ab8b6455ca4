"""Run the Postman collection with the pinned newman against a running local stack."""

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"
COLLECTION = ROOT / "postman" / "order-api.postman_collection.json"
# One request may wait this long; the whole run (two orders polled to their end) this long.
REQUEST_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 240_000
OUTPUT_TAIL_CHARS = 4000


def environment(urls: dict[str, Any]) -> dict[str, Any]:
    """A Postman environment from the stack's urls-file: where the API is, who signs."""
    callers = urls["api_callers"]
    integrator, reader = callers["order-integrator"], callers["order-reader"]
    values = {
        "baseUrl": urls["api"],
        "region": urls["region"],
        "customerId": "cust-0001",
        "accessKey": integrator["access_key_id"],
        "secretKey": integrator["secret_access_key"],
        "sessionToken": "",
        "readerAccessKey": reader["access_key_id"],
        "readerSecretKey": reader["secret_access_key"],
    }
    return {
        "name": "order-api.local (generated)",
        "values": [{"key": key, "value": value, "enabled": True} for key, value in values.items()],
        "_postman_variable_scope": "environment",
    }


def run_collection(urls: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    """Run the collection against the stack in urls; return the JSON report's run.stats."""
    if not NEWMAN.exists():
        raise RuntimeError(f"{NEWMAN} is missing: `make test` (or `npm ci`) installs it")
    environment_file = work_dir / "newman.postman_environment.json"
    # It holds the local callers' secrets: readable by this user only.
    environment_file.touch(mode=0o600)
    environment_file.write_text(json.dumps(environment(urls)))
    report_file = work_dir / "newman-report.json"
    command = [
        str(NEWMAN),
        "run",
        str(COLLECTION),
        "--environment",
        str(environment_file),
        "--reporters",
        "cli,json",
        "--reporter-json-export",
        str(report_file),
        "--color",
        "off",
        "--timeout-request",
        str(REQUEST_TIMEOUT_MS),
        "--timeout",
        str(RUN_TIMEOUT_MS),
    ]
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        # newman stops itself at RUN_TIMEOUT_MS; this only catches a newman that hangs.
        timeout=RUN_TIMEOUT_MS / 1000 + 60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"newman exited with {result.returncode}:\n"
            f"{result.stdout[-OUTPUT_TAIL_CHARS:]}{result.stderr[-OUTPUT_TAIL_CHARS:]}"
        )
    stats: dict[str, Any] = json.loads(report_file.read_text())["run"]["stats"]
    return stats
