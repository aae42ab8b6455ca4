"""Fixtures of the system tier."""

from collections.abc import Iterator

import pytest

from tests import nspawn
from tests.postgres import postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """One real PostgreSQL server for the session (Debian's package); its postgres database."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def progress(request: pytest.FixtureRequest) -> nspawn.Progress:
    """Print through pytest's capture: the first image build takes a minute or more."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n==> {message}", end="", flush=True)

    return say
