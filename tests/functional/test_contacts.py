"""chalicelib/adapters/sql/contacts.py on SQLite: contacts, suppressions, email claims.

The tests are ContactBookTests; tests/system/test_contacts.py runs the same ones on a real
PostgreSQL.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.adapters.sql.contacts import SqlContactBook
from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from chalicelib.communications import Contact


class ContactBookTests:
    """The contact book's tests, on the engine whose empty databases `empty_database` makes."""

    @pytest.fixture
    def empty_database(self) -> Callable[[], str]:
        raise NotImplementedError("a subclass gives the engine")

    @pytest.fixture
    def contacts(self, empty_database: Callable[[], str]) -> SqlContactBook:
        runner = database_from_url(empty_database())
        SqlLedger(runner).migrate()  # the billing database's one schema
        return SqlContactBook(runner)

    def test_contacts_are_looked_up_by_customer_id(self, contacts: SqlContactBook) -> None:
        assert contacts.contact("cust-1") is None
        contacts.save_contact(Contact("cust-1", "Ada", "ada@example.com"))
        contacts.save_contact(Contact("cust-1", "Ada L.", "ada@new.example"))
        assert contacts.contact("cust-1") == Contact("cust-1", "Ada L.", "ada@new.example")
        # Parameterised: a hostile id is just an id that matches nobody.
        assert contacts.contact("x' OR '1'='1") is None

    def test_suppressions_ignore_case_and_keep_the_first_reason(
        self, contacts: SqlContactBook
    ) -> None:
        at = datetime(2026, 11, 21, tzinfo=UTC)
        contacts.suppress("Ada@Example.com", "permanent_bounce", at)
        contacts.suppress("ada@example.com", "complaint", at)
        assert contacts.suppression("ADA@example.COM") == "permanent_bounce"
        assert contacts.suppression("bob@example.com") is None

    def test_an_email_is_claimed_once_then_marked(self, contacts: SqlContactBook) -> None:
        at = datetime(2026, 11, 21, tzinfo=UTC)
        assert contacts.claim_email("ord-1", "confirmation", at) == "sending"
        assert contacts.claim_email("ord-1", "confirmation", at) == "sending"  # a crash mid-send
        contacts.mark_email("ord-1", "confirmation", "sent", "msg-1", at)
        assert contacts.claim_email("ord-1", "confirmation", at) == "sent"
        assert contacts.claim_email("ord-1", "rejection", at) == "sending"


class TestOnSqlite(ContactBookTests):
    @pytest.fixture
    def empty_database(self, tmp_path: Path) -> Callable[[], str]:
        return lambda: f"sqlite:///{tmp_path / 'contacts.db'}"
