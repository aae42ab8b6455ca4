"""A real PostgreSQL server from Debian's packages, started and stopped by the tests."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def _server_binaries() -> str:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs it (Debian package postgresql)"
        )
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a throwaway server on 127.0.0.1; yield the URL of its postgres database."""
    binaries = _server_binaries()
    data = tempfile.mkdtemp(prefix="ledger-pg-")
    # PostgreSQL refuses to run as root: run it as the postgres user the package created.
    as_server_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = os.path.join(data, "server.log")

    def run(*command: str) -> None:
        subprocess.run([*as_server_user, *command], check=True, capture_output=True, timeout=60)

    run(f"{binaries}/initdb", "-D", f"{data}/db", "-A", "trust", "-U", "postgres", "--no-sync")
    run(
        f"{binaries}/pg_ctl",
        "-D",
        f"{data}/db",
        "-l",
        log,
        "-w",
        "start",
        "-o",
        f"-h 127.0.0.1 -p {port} -k {data} -F",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(f"{binaries}/pg_ctl", "-D", f"{data}/db", "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    import psycopg

    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # name is ours, not input
    return server_url.rsplit("/", 1)[0] + f"/{name}"
