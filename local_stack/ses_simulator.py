"""The SES mailbox simulator on the local AWS: feedback for mail sent to its addresses.

On AWS, mail to the simulator's addresses has a defined outcome
(https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator):
`bounce@simulator.amazonses.com` is refused with SMTP 550 5.1.1 and SES reports a permanent
bounce; `complaint@` is delivered and the recipient marks it as spam, and SES reports a
complaint; `success@` is delivered; `suppressionlist@` bounces as if the address were on the
suppression list. A label after `+` (`bounce+order-7@...`) keeps the outcome, and the bounces
of one request are combined into one report. SES publishes each event, in the JSON of
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html, to the
SNS topic of every enabled event destination of the email's configuration set whose
MatchingEventTypes name it.

moto sends nothing of the kind (its SES v1 has a stub for identity notification topics that
publishes a fixed sample naming recipient1@example.com, and nothing for configuration sets), so
this is our emulation of that documented behaviour. It watches moto's outbox (moto keeps every
sent message), reads the sender's default configuration set and its event destination from
the local AWS through the SES APIs, and publishes with SNS as SES would. moto's SES v2 drops
`ConfigurationSetName` and `EmailTags` from `SendEmail`, so the configuration set is the
sending identity's default (on AWS the same one: cloudformation/messaging.yaml), and the
records carry SES's own tags only.
"""

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SIMULATOR_DOMAIN = "simulator.amazonses.com"
log = logging.getLogger(__name__)

# What each simulator mailbox answers: (event type, bounce subtype if it bounces).
SCENARIOS: dict[str, tuple[str, str | None]] = {
    "bounce": ("Bounce", "General"),
    "suppressionlist": ("Bounce", "Suppressed"),
    "complaint": ("Complaint", None),
    "success": ("Delivery", None),
}
# The recipient's part of each bounce, as the documented example records give it.
_BOUNCED = {
    "General": {
        "action": "failed",
        "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
    },
    "Suppressed": {
        "action": "failed",
        "status": "5.1.1",
        "diagnosticCode": "Amazon SES has suppressed sending to this address because it has a "
        "recent history of bouncing as an invalid address.",
    },
}
REPORTING_MTA = "dsn; a8-70.smtp-out.amazonses.com"


@dataclass(frozen=True)
class SentMail:
    """What SES knew of one email when it sent it."""

    message_id: str
    source: str
    destination: tuple[str, ...]
    subject: str
    timestamp: datetime

    @classmethod
    def of_moto(cls, message: Any, sent_at: datetime) -> "SentMail":
        """From a message in moto's SES outbox (a dict of address lists, or a list)."""
        destinations = message.destinations
        if isinstance(destinations, dict):
            addresses = [
                a
                for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
                for a in destinations.get(kind, [])
            ]
        else:
            addresses = list(destinations)
        return cls(
            message_id=message.id,
            source=message.source,
            destination=tuple(addresses),
            subject=getattr(message, "subject", ""),
            timestamp=sent_at,
        )


def scenario(address: str) -> str | None:
    """The simulator mailbox an address reaches (labels ignored), or None if not the simulator."""
    local, _, domain = address.strip().rpartition("@")
    if domain.lower() != SIMULATOR_DOMAIN:
        return None
    mailbox = local.split("+", 1)[0].lower()
    return mailbox if mailbox in SCENARIOS else None


def feedback_records(
    mail: SentMail, *, account: str, region: str, configuration_set: str, now: datetime
) -> list[dict[str, Any]]:
    """The event records SES publishes for one sent email: one per kind of outcome."""
    by_outcome: dict[tuple[str, str | None], list[str]] = {}
    for address in mail.destination:
        mailbox = scenario(address)
        if mailbox is not None:
            by_outcome.setdefault(SCENARIOS[mailbox], []).append(address)
    mail_object = _mail_object(mail, account, region, configuration_set)
    records = []
    for (event_type, subtype), addresses in by_outcome.items():
        record: dict[str, Any] = {"eventType": event_type, "mail": mail_object}
        record[event_type.lower()] = _OUTCOMES[event_type](addresses, subtype, mail, now)
        records.append(record)
    return records


def _bounce(addresses: list[str], subtype: str | None, mail: SentMail, now: datetime) -> Any:
    assert subtype is not None
    return {
        "bounceType": "Permanent",
        "bounceSubType": subtype,
        "bouncedRecipients": [{"emailAddress": a, **_BOUNCED[subtype]} for a in addresses],
        "timestamp": _timestamp(now),
        "feedbackId": _feedback_id(),
        "reportingMTA": REPORTING_MTA,
    }


def _complaint(addresses: list[str], _subtype: str | None, mail: SentMail, now: datetime) -> Any:
    return {
        "complainedRecipients": [{"emailAddress": a} for a in addresses],
        "timestamp": _timestamp(now),
        "feedbackId": _feedback_id(),
        "userAgent": "Amazon SES Mailbox Simulator",
        "complaintFeedbackType": "abuse",
        "arrivalDate": _timestamp(mail.timestamp),
    }


def _delivery(addresses: list[str], _subtype: str | None, mail: SentMail, now: datetime) -> Any:
    return {
        "timestamp": _timestamp(now),
        "processingTimeMillis": int((now - mail.timestamp).total_seconds() * 1000),
        "recipients": addresses,
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
    }


_OUTCOMES: dict[str, Callable[[list[str], str | None, SentMail, datetime], Any]] = {
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Delivery": _delivery,
}


def _mail_object(
    mail: SentMail, account: str, region: str, configuration_set: str
) -> dict[str, Any]:
    to = list(mail.destination)
    return {
        "timestamp": _timestamp(mail.timestamp),
        "source": mail.source,
        "sourceArn": f"arn:aws:ses:{region}:{account}:identity/{mail.source}",
        "sendingAccountId": account,
        "messageId": mail.message_id,
        "destination": to,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": mail.source},
            {"name": "To", "value": ", ".join(to)},
            {"name": "Subject", "value": mail.subject},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": "multipart/alternative"},
        ],
        "commonHeaders": {
            "from": [mail.source],
            "to": to,
            "messageId": mail.message_id,
            "subject": mail.subject,
        },
        "tags": {
            "ses:configuration-set": [configuration_set],
            "ses:source-ip": ["127.0.0.1"],
            "ses:from-domain": [mail.source.rpartition("@")[2]],
            "ses:caller-identity": ["local"],
        },
    }


def _timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as SES writes it: 2017-08-05T00:41:02.669Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _feedback_id() -> str:
    return f"{uuid.uuid4()}-000000"


def topics_for(event_destinations: Sequence[dict[str, Any]], event_type: str) -> list[str]:
    """The SNS topics of the enabled destinations that match an event type (case-insensitive)."""
    return [
        destination["SNSDestination"]["TopicARN"]
        for destination in event_destinations
        if destination
        and destination.get("Enabled")
        and "SNSDestination" in destination
        and event_type.lower() in {t.lower() for t in destination.get("MatchingEventTypes", [])}
    ]


class MailboxSimulator:
    """Publish SES's feedback for every email in the outbox that reached the simulator."""

    def __init__(
        self,
        outbox: Callable[[], Sequence[Any]],
        *,
        ses: Any,
        sesv2: Any,
        sns: Any,
        account: str,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._ses, self._sesv2, self._sns = ses, sesv2, sns
        self._account, self._region = account, region
        self._clock = clock
        self._seen = 0

    def poll_once(self) -> int:
        """Handle what was sent since the last poll; return how many records were published."""
        # moto appends to its outbox; a slice of a list is safe to take from another thread.
        new = list(self._outbox()[self._seen :])
        self._seen += len(new)
        now = self._clock()
        published = 0
        for message in new:
            mail = SentMail.of_moto(message, now)
            if any(scenario(address) for address in mail.destination):
                published += self._publish_feedback(mail)
        return published

    def _publish_feedback(self, mail: SentMail) -> int:
        configuration_set = self._configuration_set(mail.source)
        if configuration_set is None:
            return 0  # SES publishes events only through a configuration set
        destinations = self._ses.describe_configuration_set(
            ConfigurationSetName=configuration_set,
            ConfigurationSetAttributeNames=["eventDestinations"],
        ).get("EventDestinations", [])
        published = 0
        records = feedback_records(
            mail,
            account=self._account,
            region=self._region,
            configuration_set=configuration_set,
            now=self._clock(),
        )
        for record in records:
            for topic in topics_for(destinations, record["eventType"]):
                self._sns.publish(TopicArn=topic, Message=json.dumps(record))
                published += 1
        return published

    def _configuration_set(self, source: str) -> str | None:
        """The default configuration set of the sending identity: the address, else its domain."""
        for identity in (source, source.rpartition("@")[2]):
            try:
                found = self._sesv2.get_email_identity(EmailIdentity=identity)
            except self._sesv2.exceptions.NotFoundException:
                continue
            name = found.get("ConfigurationSetName")
            return str(name) if name else None
        return None

    def run(self, stop: threading.Event, interval: float = 0.1) -> None:
        """Poll until stop is set; a failed poll is logged and the next one tries again."""
        while not stop.wait(interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("the SES mailbox simulator could not publish feedback")


def moto_outbox(account: str, region: str) -> Callable[[], Sequence[Any]]:
    """moto's list of sent messages for an account and region (the local AWS is in process)."""

    def outbox() -> Sequence[Any]:
        from moto.ses.models import ses_backends

        messages: Sequence[Any] = ses_backends[account][region].sent_messages
        return messages

    return outbox


@contextmanager
def simulating(simulator: MailboxSimulator) -> Iterator[MailboxSimulator]:
    """Run the simulator in a thread until the block ends."""
    stop = threading.Event()
    thread = threading.Thread(
        target=simulator.run, args=(stop,), name="ses-mailbox-simulator", daemon=True
    )
    thread.start()
    try:
        yield simulator
    finally:
        stop.set()
        thread.join(timeout=10)
