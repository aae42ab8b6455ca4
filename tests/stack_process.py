"""Start the README's run command (`python -m local_stack`) as a user would, and stop it."""

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.api_client import ApiCredentials, SignedApiClient

ROOT = Path(__file__).resolve().parent.parent
FREE_PORTS = ["--aws-port", "0", "--api-port", "0", "--web-port", "0", "--dashboard-port", "0"]
# Failed messages come back after 2 s instead of 180 s, so five attempts take seconds.
RETRY_DELAY_SECONDS = 2


@dataclass(frozen=True)
class StackProcess:
    aws: str
    api: str
    storefront: str
    dashboard: str
    state_dir: Path
    region: str
    # caller name -> access_key_id, secret_access_key, principal_arn, permissions
    api_callers: dict[str, dict[str, Any]]

    def api_client(self, caller: str | None = "order-integrator") -> SignedApiClient:
        """A client of the order API signing as one of the local callers (None: unsigned)."""
        credentials = ApiCredentials.of(self.api_callers[caller]) if caller else None
        return SignedApiClient(self.api, credentials, self.region)


@contextmanager
def running_stack(
    work_dir: Path, startup_timeout: float = 120, options: Sequence[str] = ()
) -> Iterator[StackProcess]:
    """The whole local stack, on free ports, until the block ends; stopped by its pid.

    options: more of the run command's options (`--aws-limits`, ...)."""
    urls_file = work_dir / "urls.json"
    state_dir = work_dir / "state"
    log_path = work_dir / "stack.log"
    command = [
        sys.executable,
        "-m",
        "local_stack",
        "--no-tour",
        "--retry-delay",
        str(RETRY_DELAY_SECONDS),
        "--state-dir",
        str(state_dir),
        "--urls-file",
        str(urls_file),
        *FREE_PORTS,
        *options,
    ]
    with log_path.open("w") as log:
        stack = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_timeout
            while not urls_file.exists():
                if stack.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the local stack did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            urls = json.loads(urls_file.read_text())
            yield StackProcess(state_dir=state_dir, **urls)
        finally:
            stack.send_signal(signal.SIGTERM)
            try:
                stack.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stack.kill()
                stack.wait()
