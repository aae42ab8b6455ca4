"""A shopper at the storefront, in code: fetch the form, post it, follow the order.

The storefront is the web tier's only order door (guest checkout with a CSRF token bound to
the browser session), so the tour, the end-to-end tests and the benchmark place web orders
the way a browser does: one cookie jar per shopper, the form's own token and key.
"""

import html
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

_HIDDEN = re.compile(r'<input[^>]*\bname="(csrf_token|idempotency_key)"[^>]*\bvalue="([^"]*)"')
_ORDER_LOCATION = re.compile(r"/orders/(web-[a-f0-9]{32})/thanks$")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Shopper:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def form_fields(self) -> dict[str, str]:
        """The hidden fields of a fresh order form: the CSRF token and the idempotency key."""
        _, page = self.get("/")
        return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}

    def place_order(
        self,
        name: str,
        email: str,
        country: str,
        quantities: Mapping[str, int],
        fields: Mapping[str, str] | None = None,
    ) -> tuple[int, str | None]:
        """Post the form; return the status and, on success (303), the order's id."""
        form = {
            **(fields or self.form_fields()),
            "name": name,
            "email": email,
            "country": country,
            **{f"qty_{sku}": str(quantity) for sku, quantity in quantities.items()},
        }
        status, location, _ = self._send(
            "/orders", urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        )
        match = _ORDER_LOCATION.search(location or "")
        return status, match.group(1) if match else None

    def get(self, path: str) -> tuple[int, str]:
        status, _, body = self._send(path, None, None)
        return status, body

    def _send(
        self, path: str, data: bytes | None, content_type: str | None
    ) -> tuple[int, str | None, str]:
        request = urllib.request.Request(  # noqa: S310 - the storefront the caller named
            self.base_url + path,
            data=data,
            headers={"Content-Type": content_type} if content_type else {},
        )
        try:
            with self._opener.open(request, timeout=10) as response:
                return response.status, response.headers.get("Location"), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location"), error.read().decode()
