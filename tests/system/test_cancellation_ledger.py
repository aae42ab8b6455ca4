"""tests/functional/test_cancellation_ledger.py's reversal tests on PostgreSQL."""

from collections.abc import Callable

import pytest

from tests.functional.test_cancellation_ledger import ReversalTests
from tests.postgres import fresh_database


class TestOnPostgresql(ReversalTests):
    @pytest.fixture
    def empty_database(self, postgres: str) -> Callable[[], str]:
        return lambda: fresh_database(postgres)
