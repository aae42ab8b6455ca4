"""Signed links to an order's storefront pages: written into the emails by the function that
sends them, checked by the storefront. One definition, so both sides agree on the format.

The storefront has no login: a browser session stands for the shopper who placed an order.
A link in the customer's email stands for them too, on another device or after the session
ended: it carries the order id signed (itsdangerous, HMAC-SHA1 over the id and the time it was
signed) with a key that only the email function and the web tier can read. A link is for one
purpose (seeing the order's status, or cancelling it) and expires; a link altered in any way,
or for another order, is refused.
"""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Literal
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

LinkPurpose = Literal["status", "cancel"]
# The query parameter that carries the token.
LINK_PARAMETER = "link"
# A status link stays useful as long as the customer may want to look an order up; a cancel
# link expires with the cancellation window (the storefront passes that window as max_age).
STATUS_LINK_MAX_AGE = timedelta(days=90)


class LinkRefused(Exception):
    """The link is not one we signed for this order and purpose."""


class LinkExpired(LinkRefused):
    """The link was ours, but it is older than it may be."""


class OrderLinks:
    """Makes and checks the links to an order's status page and to its cancel page."""

    def __init__(
        self, key: str, base_url: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        if not key:
            raise ValueError("the order link key is empty: links could be forged")
        self._key = key
        self.base_url = base_url.rstrip("/")
        self._signer = _signer_on(clock)

    def status_url(self, order_id: str) -> str:
        return self._url(f"/orders/{order_id}", order_id, "status")

    def cancel_url(self, order_id: str) -> str:
        return self._url(f"/orders/{order_id}/cancel", order_id, "cancel")

    def check(self, order_id: str, token: str, purpose: LinkPurpose, max_age: timedelta) -> None:
        """Accept the token for this order and purpose, or raise LinkRefused (LinkExpired)."""
        try:
            signed = self._serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
        except SignatureExpired as error:
            raise LinkExpired(f"the {purpose} link of order {order_id} has expired") from error
        except BadSignature as error:
            raise LinkRefused(f"not a {purpose} link we signed") from error
        if signed != order_id:
            raise LinkRefused(f"a {purpose} link for another order")

    def token(self, order_id: str, purpose: LinkPurpose) -> str:
        token: str = self._serializer(purpose).dumps(order_id)
        return token

    def _url(self, path: str, order_id: str, purpose: LinkPurpose) -> str:
        query = urlencode({LINK_PARAMETER: self.token(order_id, purpose)})
        return f"{self.base_url}{path}?{query}"

    def _serializer(self, purpose: LinkPurpose) -> URLSafeTimedSerializer:
        # The salt separates purposes: a status link cannot be replayed as a cancel link.
        return URLSafeTimedSerializer(
            self._key, salt=f"order-pipeline.order-link.{purpose}", signer=self._signer
        )


def _signer_on(clock: Callable[[], float]) -> type[TimestampSigner]:
    """itsdangerous's signer, telling the time by clock (when it signs and when it checks)."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return Signer
