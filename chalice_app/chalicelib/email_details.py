"""What the emails say beyond the order: product names from the catalog, and the signed links
to the order's storefront pages. Plain Python on two ports.

The names are the catalog's, read for the order's SKUs and kept for a few minutes per
container: names change rarely, and an email a minute later with the old name is harmless.
The links are made with the key the storefront checks them with (order_contracts.links);
without the storefront's address (a stage with no web tier) the emails carry no links.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from chalicelib.emails import Details
from order_contracts import OrderBilled, OrderCancelled, OrderRejected

if TYPE_CHECKING:  # imported on first use: only the email function signs links
    from order_contracts.links import OrderLinks

NAMES_MAX_AGE_SECONDS = 300.0


class ProductNames(Protocol):
    def names(self, skus: Iterable[str]) -> dict[str, str]:
        """The catalog's name of each SKU it knows."""
        ...


@dataclass
class EmailDetails:
    catalog: ProductNames
    cancellation_window: timedelta
    storefront_url: str = ""
    # The link key, read on first use (on AWS from an SSM SecureString, a request).
    link_key: Callable[[], str] | None = None
    clock: Callable[[], float] = time.monotonic
    _names: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)
    _links: "OrderLinks | None" = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def for_event(self, event: OrderBilled | OrderRejected | OrderCancelled) -> Details:
        """The names and links of the email this event sends.

        Only the confirmation carries the cancel link: it goes out seconds after the order
        was placed, well within the window; the link itself expires with the window.
        """
        links = self._order_links()
        order_id = event.order_id
        return Details(
            names=self._names_of(line.sku for line in event.order.lines),
            status_url=links.status_url(order_id) if links else None,
            cancel_url=links.cancel_url(order_id)
            if links and isinstance(event, OrderBilled)
            else None,
            cancellation_window_hours=int(self.cancellation_window / timedelta(hours=1)),
        )

    def _names_of(self, skus: Iterable[str]) -> dict[str, str]:
        wanted = set(skus)
        now = self.clock()
        with self._lock:
            fresh = {
                sku: name
                for sku, (read_at, name) in self._names.items()
                if sku in wanted and now - read_at < NAMES_MAX_AGE_SECONDS
            }
        missing = wanted - fresh.keys()
        if missing:
            found = self.catalog.names(sorted(missing))
            with self._lock:
                self._names.update({sku: (now, name) for sku, name in found.items()})
            fresh.update(found)
        return fresh

    def _order_links(self) -> "OrderLinks | None":
        if not self.storefront_url or self.link_key is None:
            return None
        if self._links is None:
            from order_contracts.links import OrderLinks

            self._links = OrderLinks(self.link_key(), self.storefront_url)
        return self._links
