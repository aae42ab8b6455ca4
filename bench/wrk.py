"""Drive wrk (Debian's package) and read its result.

wrk's text summary rounds and changes units; a Lua done() hook prints one JSON line with
the raw counts and latency percentiles in microseconds, which is what we parse.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RESULT_MARK = "BENCH_RESULT "
# Appended to every script: the numbers we report, unrounded.
_DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    "RESULT_MARK", summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
""".replace("RESULT_MARK", RESULT_MARK)


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # connect, read, write and timeouts, plus non-2xx/3xx answers
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk_output(output: str) -> WrkResult:
    """The result line our done() hook printed, as numbers."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line[len(RESULT_MARK) :])
            errors = sum(
                raw[key]
                for key in ("connect_errors", "read_errors", "write_errors", "status_errors")
            )
            return WrkResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                errors=errors + raw["timeouts"],
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
            )
    raise WrkError(f"wrk printed no result line:\n{output[-2000:]}")


def post_json_script(body: str) -> str:
    """A wrk script that POSTs this JSON body on every request (no Idempotency-Key, so the
    server assigns each order its own id)."""
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + _DONE_HOOK
    )


def get_script() -> str:
    return _DONE_HOOK


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    return found


def run_wrk(url: str, script: str, connections: int, seconds: float) -> WrkResult:
    """Offer this many connections' worth of closed-loop load for this long."""
    threads = min(connections, 2)  # two cores: more wrk threads only steal from the server
    with tempfile.TemporaryDirectory() as directory:
        script_path = Path(directory) / "bench.lua"
        script_path.write_text(script)
        command = [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script_path),
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr or done.stdout}")
    return parse_wrk_output(done.stdout)
