"""Customer contacts, suppressed addresses and sent emails, in the billing database."""

from datetime import datetime

from chalicelib.adapters.sql.runner import SqlRunner
from chalicelib.communications import Contact, EmailStatus, Outcome

SELECT_CONTACT = (
    "SELECT customer_id, name, email FROM customer_contacts WHERE customer_id = :customer_id"
)
UPSERT_CONTACT = """
    INSERT INTO customer_contacts (customer_id, name, email) VALUES (:customer_id, :name, :email)
    ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name, email = excluded.email
"""
SELECT_SUPPRESSION = "SELECT reason FROM email_suppressions WHERE email = :email"
INSERT_SUPPRESSION = """
    INSERT INTO email_suppressions (email, reason, suppressed_at) VALUES (:email, :reason, :at)
    ON CONFLICT (email) DO NOTHING
"""
# Returns the status only when it made the claim: a first claim costs one round trip.
CLAIM_EMAIL = """
    INSERT INTO order_emails (order_id, outcome, status, updated_at)
    VALUES (:order_id, :outcome, 'sending', :at)
    ON CONFLICT (order_id, outcome) DO NOTHING
    RETURNING status
"""
SELECT_EMAIL = "SELECT status FROM order_emails WHERE order_id = :order_id AND outcome = :outcome"
MARK_EMAIL = """
    UPDATE order_emails SET status = :status, message_id = :message_id, updated_at = :at
    WHERE order_id = :order_id AND outcome = :outcome
"""


def normalise(email: str) -> str:
    # Suppressions match whatever case SES or the customer wrote the address in.
    return email.strip().lower()


class SqlContactBook:
    def __init__(self, runner: SqlRunner) -> None:
        self._sql = runner

    def contact(self, customer_id: str) -> Contact | None:
        rows = self._sql.execute(SELECT_CONTACT, {"customer_id": customer_id})
        return Contact(*rows[0]) if rows else None

    def save_contact(self, contact: Contact) -> None:
        self._sql.execute(
            UPSERT_CONTACT,
            {"customer_id": contact.customer_id, "name": contact.name, "email": contact.email},
        )

    def suppression(self, email: str) -> str | None:
        rows = self._sql.execute(SELECT_SUPPRESSION, {"email": normalise(email)})
        return str(rows[0][0]) if rows else None

    def suppress(self, email: str, reason: str, at: datetime) -> None:
        self._sql.execute(
            INSERT_SUPPRESSION, {"email": normalise(email), "reason": reason, "at": at.isoformat()}
        )

    def claim_email(self, order_id: str, outcome: Outcome, at: datetime) -> EmailStatus:
        key = {"order_id": order_id, "outcome": outcome}
        # A repeat finds the earlier claim and reads how far it got.
        rows = self._sql.execute(CLAIM_EMAIL, {**key, "at": at.isoformat()}) or self._sql.execute(
            SELECT_EMAIL, key
        )
        status: EmailStatus = rows[0][0]
        return status

    def mark_email(
        self,
        order_id: str,
        outcome: Outcome,
        status: EmailStatus,
        message_id: str | None,
        at: datetime,
    ) -> None:
        self._sql.execute(
            MARK_EMAIL,
            {
                "order_id": order_id,
                "outcome": outcome,
                "status": status,
                "message_id": message_id,
                "at": at.isoformat(),
            },
        )
