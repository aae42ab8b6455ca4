"""Forward one systemd unit's journal to a CloudWatch Logs group, resuming where it stopped.

Run by order-web-log-shipper.service on the web hosts, on the web tier's own Python (which
has boto3), with the instance role's credentials. The journal stays the local store; this
only copies it, so a CloudWatch outage delays logs but loses none the journal still holds.
"""

import argparse
import contextlib
import json
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# PutLogEvents limits: 10,000 events and 1 MiB per call (26 bytes of overhead per event).
MAX_EVENTS = 10_000
MAX_BYTES = 1_000_000
FLUSH_SECONDS = 5.0


def journal(unit: str, cursor_file: Path) -> subprocess.Popen[str]:
    """journalctl following the unit as JSON, after the last shipped entry (or all it keeps).

    No --boot: an instance ships from its first boot on, and the cursor carries over reboots.
    """
    where: list[str] = []
    if cursor_file.exists() and cursor_file.read_text().strip():
        where = [f"--after-cursor={cursor_file.read_text().strip()}"]
    command = ["journalctl", f"--unit={unit}", "--output=json", "--follow", "--no-tail", *where]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def to_event(line: str) -> tuple[dict[str, Any], str] | None:
    entry = json.loads(line)
    message = entry.get("MESSAGE")
    if not isinstance(message, str):  # binary messages come as byte arrays: skip them
        return None
    timestamp_ms = int(entry["__REALTIME_TIMESTAMP"]) // 1000
    return {"timestamp": timestamp_ms, "message": message}, entry["__CURSOR"]


def ship(logs: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """Put one batch, retrying (with backoff) until CloudWatch takes it."""
    delay = 1.0
    while True:
        try:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
            return
        except (BotoCoreError, ClientError) as error:
            print(f"put_log_events failed, retrying in {delay:.0f}s: {error}", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 60.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unit", required=True)
    parser.add_argument("--log-group", required=True)
    parser.add_argument("--cursor-file", type=Path, required=True)
    args = parser.parse_args()

    logs = boto3.client("logs")
    stream = socket.gethostname()
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=args.log_group, logStreamName=stream)
    follower = journal(args.unit, args.cursor_file)
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads, so the main loop can flush on time even when the journal is quiet.
    threading.Thread(
        target=lambda: [lines.put(line) for line in follower.stdout or ()], daemon=True
    ).start()
    events: list[dict[str, Any]] = []
    size, cursor, last_flush = 0, "", time.monotonic()
    while True:
        line = ""
        with contextlib.suppress(queue.Empty):
            line = lines.get(timeout=FLUSH_SECONDS)
        if follower.poll() is not None and lines.empty():
            raise SystemExit(f"journalctl exited ({follower.returncode})")
        if line:
            parsed = to_event(line)
            if parsed is not None:
                event, cursor = parsed
                events.append(event)
                size += len(event["message"].encode()) + 26
        full = len(events) >= MAX_EVENTS or size >= MAX_BYTES - 300_000
        if events and (full or time.monotonic() - last_flush >= FLUSH_SECONDS):
            ship(logs, args.log_group, stream, events)
            args.cursor_file.write_text(cursor)
            events, size, last_flush = [], 0, time.monotonic()


if __name__ == "__main__":
    main()
