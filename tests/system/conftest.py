"""Fixtures of the system tier."""

from collections.abc import Iterator

import pytest

from tests.postgres import postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """One real PostgreSQL server for the session (Debian's package); its postgres database."""
    with postgres_server() as url:
        yield url
