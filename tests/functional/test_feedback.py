"""record_ses_feedback through the Chalice client on moto (chalicelib/feedback.py):
permanent bounces and complaints suppress an address, nothing else does.
"""

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.services import get_services
from local_stack.resources import Provisioned


@pytest.mark.parametrize(
    ("notification_body", "suppressed"),
    [
        (
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "bouncedRecipients": [{"emailAddress": "a@x.example"}],
                },
            },
            "permanent_bounce",
        ),
        (
            {
                "eventType": "Complaint",
                "complaint": {"complainedRecipients": [{"emailAddress": "a@x.example"}]},
            },
            "complaint",
        ),
        (
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Transient",
                    "bouncedRecipients": [{"emailAddress": "a@x.example"}],
                },
            },
            None,
        ),
        ({"notificationType": "Delivery", "delivery": {"recipients": ["a@x.example"]}}, None),
    ],
)
def test_feedback_suppresses_permanent_bounces_and_complaints_only(
    client: Client, aws: Provisioned, notification_body: dict[str, Any], suppressed: str | None
) -> None:
    client.lambda_.invoke(
        "record_ses_feedback",
        client.events.generate_sns_event(message=json.dumps(notification_body)),
    )
    assert get_services().contacts.suppression("a@x.example") == suppressed
