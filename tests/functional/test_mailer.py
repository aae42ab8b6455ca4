"""chalicelib/adapters/mailer.py on moto: SES throttling is retried with backoff."""

from decimal import Decimal
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.ses.models import ses_backends

from chalicelib.adapters import CLIENT_CONFIG
from chalicelib.adapters.mailer import SesMailer
from chalicelib.emails import confirmation
from local_stack.resources import Provisioned
from order_contracts import Billing
from tests.conftest import BOTO3_SESSION
from tests.factories import order


def sent_emails() -> list[Any]:
    return list(ses_backends["123456789012"]["us-east-1"].sent_messages)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def test_ses_throttling_is_retried_with_backoff(aws: Provisioned) -> None:
    """The first SendEmail is answered 429 at the HTTP layer; botocore retries it."""
    client = BOTO3_SESSION.client("sesv2", config=CLIENT_CONFIG)
    attempts: list[str] = []

    def throttle_first_attempt(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(request.url)
        if len(attempts) > 1:
            return None  # on to moto
        headers = {
            "x-amzn-ErrorType": "TooManyRequestsException",
            "Content-Type": "application/json",
        }
        return AWSResponse(
            request.url, 429, headers, _Body(b'{"message": "Maximum sending rate exceeded."}')
        )

    client.meta.events.register_first("before-send.sesv2.SendEmail", throttle_first_attempt)
    email = confirmation(
        order("ord-1", [("MUG-BLUE", 1, "12.00")]),
        Billing(usd_total=Decimal("12.63"), usd_rate=Decimal("1.0523"), rate_date="2026-11-20"),
        "Ada",
    )
    message_id = SesMailer(client, sender="orders@shop.example.com").send(
        "ada@example.com", email, "ord-1"
    )

    # Retried once, then accepted. (botocore shows before-send to every handler, so moto also
    # saw the throttled attempt: its outbox is not the measure here.)
    assert len(attempts) == 2
    assert message_id == sent_emails()[-1].id
