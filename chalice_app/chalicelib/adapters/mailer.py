"""Send an email through SES v2 from the configured, verified sender."""

from typing import Any

from chalicelib.emails import Email
from chalicelib.pacing import Pacer


class SesMailer:
    def __init__(
        self,
        client: Any,
        *,
        sender: str,
        configuration_set: str = "",
        pacer: Pacer | None = None,
    ) -> None:
        self._ses = client
        self._sender = sender
        self._configuration_set = configuration_set
        # Keeps this environment's sends within its share of the account's send rate.
        self._pacer = pacer

    def send(self, to: str, email: Email, order_id: str) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
            "EmailTags": [{"Name": "order_id", "Value": order_id}],
        }
        if self._configuration_set:
            # The configuration set sends bounces and complaints to the ses-feedback topic.
            request["ConfigurationSetName"] = self._configuration_set
        if self._pacer is not None:
            self._pacer.wait()
        message_id: str = self._ses.send_email(**request)["MessageId"]
        return message_id
