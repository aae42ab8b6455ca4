"""tests/functional/test_contacts.py's tests (chalicelib/adapters/sql/contacts.py) on PostgreSQL."""

from collections.abc import Callable

import pytest

from tests.functional.test_contacts import ContactBookTests
from tests.postgres import fresh_database


class TestOnPostgresql(ContactBookTests):
    @pytest.fixture
    def empty_database(self, postgres: str) -> Callable[[], str]:
        return lambda: fresh_database(postgres)
