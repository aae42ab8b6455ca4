"""Read SES bounce and complaint notifications: which addresses must never be mailed again."""

import json
from typing import Any

from chalicelib.failures import InvalidMessage


def addresses_to_suppress(message: str) -> list[tuple[str, str]]:
    """(address, reason) for each permanent bounce or complaint; transient bounces are none.

    Identity notifications say notificationType, configuration-set events say eventType.
    """
    try:
        notification: dict[str, Any] = json.loads(message)
        kind = notification.get("notificationType") or notification.get("eventType")
        if kind == "Bounce":
            bounce = notification["bounce"]
            if bounce.get("bounceType") != "Permanent":
                return []
            return [(r["emailAddress"], "permanent_bounce") for r in bounce["bouncedRecipients"]]
        if kind == "Complaint":
            recipients = notification["complaint"]["complainedRecipients"]
            return [(r["emailAddress"], "complaint") for r in recipients]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidMessage(f"not an SES notification: {error}") from error
    return []
