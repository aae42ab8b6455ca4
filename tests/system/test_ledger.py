"""tests/functional/test_ledger.py's tests (chalicelib/adapters/sql/ledger.py) on PostgreSQL."""

from collections.abc import Callable

import pytest

from tests.functional.test_ledger import LedgerTests
from tests.postgres import fresh_database


class TestOnPostgresql(LedgerTests):
    @pytest.fixture
    def empty_database(self, postgres: str) -> Callable[[], str]:
        return lambda: fresh_database(postgres)
