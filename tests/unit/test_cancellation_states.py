"""The order lifecycle with cancels, as a stateful property test on the in-memory fakes.

Hypothesis places orders, cancels them (or tries to), lets time pass, and delivers each
consumer's pending messages one at a time in any order, some of them again later (SQS
delivers at least once, in no promised order). After every step the invariants hold:
- stock is conserved: what was stocked = what is available + the units held by orders that
  are RESERVED, BILLED or CONFIRMED;
- the ledger nets, per order, to its charge or to zero, and only a cancelled order has a
  reversal;
- at most one email per order and outcome;
- an order's state only moves forward, its history only grows, and REJECTED and CANCELLED
  never move again.
When every message has been delivered, each order is settled: a cancelled order nets to
zero and has its one cancellation email; a confirmed one its confirmation; a rejected one
its notice.
"""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chalicelib.cancellation import NotCancellable
from order_contracts import OrderPlaced
from tests.factories import order
from tests.fake_pipeline import PLACED_AT, WINDOW, FakePipeline, Moment

STOCK = {"MUG-BLUE": ("12.00", 4), "TEA-EARLGREY": ("4.50", 4)}
ORDER_IDS = ("ord-0", "ord-1", "ord-2", "ord-3")
HELD = {"RESERVED", "BILLED", "CONFIRMED"}
FINAL = {"REJECTED", "CANCELLED"}
RANK = {"RECEIVED": 0, "RESERVED": 1, "BILLED": 2, "CONFIRMED": 3, "REJECTED": 4, "CANCELLED": 4}
# (queue, message): order-fulfillment carries OrderPlaced; the others what order-events sends.
Message = tuple[str, object]
# Where a cancel lands in the middle of each consumer's step.
MOMENTS: dict[str, Moment] = {
    "order-fulfillment": "reserve",
    "order-billing": "charge",
    "order-notifications": "send",
}

lines = st.lists(
    st.tuples(st.sampled_from(sorted(STOCK)), st.integers(min_value=1, max_value=3)),
    min_size=1,
    max_size=2,
    unique_by=lambda line: line[0],
)


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shop = FakePipeline()
        for sku, (price, units) in STOCK.items():
            self.shop.inventory.stock(sku, units, price=price)
        self.placed: dict[str, OrderPlaced] = {}
        self.pending: list[Message] = []
        self.seen_events = 0
        self.last: dict[str, tuple[str, int]] = {}  # status and history length, per order

    # Rules -----------------------------------------------------------------------------------

    @rule(order_id=st.sampled_from(ORDER_IDS), lines=lines)
    def place(self, order_id: str, lines: list[tuple[str, int]]) -> None:
        if order_id in self.placed:
            return  # the id is taken: a second PUT of it changes nothing
        body = [(sku, quantity, STOCK[sku][0]) for sku, quantity in lines]
        placed = self.shop.place(order(order_id, body))
        self.placed[order_id] = placed
        self.pending.append(("order-fulfillment", placed))

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), again=st.booleans(), cancel_meanwhile=st.booleans())
    def deliver(self, data: st.DataObject, again: bool, cancel_meanwhile: bool) -> None:
        """Deliver any pending message; `again` leaves it pending, to come back later.

        With cancel_meanwhile, the order is cancelled in the middle of the step, at the
        write that decides the race: before the reservation's put, before billing's charge
        (and its OrderCancelled reaches billing at once, before the charge exists), before
        the email is sent.
        """
        index = data.draw(st.integers(min_value=0, max_value=len(self.pending) - 1))
        queue, message = self.pending[index] if again else self.pending.pop(index)
        order_id = message.order_id  # type: ignore[attr-defined]
        if cancel_meanwhile:
            moment = MOMENTS[queue]
            to_billing_now = queue == "order-billing"
            self.shop.meanwhile.arm(moment, lambda: self._cancel(order_id, to_billing_now))
        try:
            self._deliver(queue, message)
        finally:
            self.shop.meanwhile.disarm()
        self._collect()

    @rule(
        order_id=st.sampled_from(ORDER_IDS),
        meanwhile=st.sampled_from([None, "reservation", "another cancel"]),
    )
    def cancel(self, order_id: str, meanwhile: str | None) -> None:
        """Cancel; `meanwhile` lands the order's reservation (its intake message, if still
        pending) or a second cancel between this cancel's read and its write."""
        if meanwhile == "reservation":
            self.shop.meanwhile.arm("cancel", lambda: self._reserve_now(order_id))
        elif meanwhile == "another cancel":
            self.shop.meanwhile.arm("cancel", lambda: self._cancel(order_id))
        try:
            self._cancel(order_id)
        finally:
            self.shop.meanwhile.disarm()
        self._collect()

    def _reserve_now(self, order_id: str) -> None:
        """Deliver the order's intake message now, if it is still pending."""
        intake = ("order-fulfillment", self.placed.get(order_id))
        if intake in self.pending:
            self.pending.remove(intake)
            self._deliver(*intake)

    def _deliver(self, queue: str, message: object) -> None:
        if queue == "order-fulfillment":
            assert isinstance(message, OrderPlaced)
            self.shop.fulfil(message)
        else:
            self.shop.deliver(queue, message)  # type: ignore[arg-type]

    def _cancel(self, order_id: str, to_billing_now: bool = False) -> None:
        """Cancel as the API does, and check the answer against the order's state."""
        before = self.shop.status(order_id)
        placed = self.placed.get(order_id)
        late = placed is not None and self.shop.at > placed.occurred_at + WINDOW
        published = len(self.shop.publisher.published)
        try:
            record = self.shop.cancel(order_id)
        except NotCancellable:
            after = self.shop.status(order_id)  # a reservation may have landed meanwhile
            assert after == "REJECTED" or (late and after != "CANCELLED"), after
            return
        if placed is None:
            assert record is None
            return
        assert record is not None
        assert record.status == self.shop.status(order_id) == "CANCELLED"
        assert before == "CANCELLED" or not late
        if to_billing_now:
            # OrderCancelled reaches billing now, once: these deliveries are used up.
            early = [d for d in self.shop.published_since(published) if d[0] == "order-billing"]
            for queue, event in early:
                self.shop.deliver(queue, event)
            later = self.shop.published_since(self.seen_events)
            self.pending.extend(d for d in later if d not in early)
            self.seen_events = len(self.shop.publisher.published)

    @rule(hours=st.integers(min_value=1, max_value=12))
    def time_passes(self, hours: int) -> None:
        self.shop.at += timedelta(hours=hours)

    def _collect(self) -> None:
        """What the step published joins the queues its subscriptions filter it into."""
        self.pending.extend(self.shop.published_since(self.seen_events))
        self.seen_events = len(self.shop.publisher.published)

    # Invariants ------------------------------------------------------------------------------

    @invariant()
    def stock_is_conserved(self) -> None:
        held: Counter[str] = Counter()
        for order_id, placed in self.placed.items():
            if self.shop.status(order_id) in HELD:
                held.update(placed.order.quantities_by_sku())
        for sku, (_, units) in STOCK.items():
            assert self.shop.inventory.level(sku) + held[sku] == units, sku

    @invariant()
    def the_ledger_nets_to_the_charge_or_zero(self) -> None:
        for order_id in self.placed:
            charge = self.shop.ledger.charge(order_id)
            reversal = self.shop.ledger.reversal(order_id)
            if reversal is not None:
                assert charge is not None
                assert self.shop.status(order_id) == "CANCELLED"
            expected = {Decimal(0)} | ({charge.usd_amount} if charge else set())
            assert self.shop.net_usd(order_id) in expected

    @invariant()
    def at_most_one_email_per_order_and_outcome(self) -> None:
        subjects = Counter((sent.order_id, sent.email.subject) for sent in self.shop.mailer.sent)
        assert all(count == 1 for count in subjects.values()), subjects

    @invariant()
    def states_only_move_forward(self) -> None:
        for order_id in self.placed:
            record = self.shop.store.get(order_id)
            status = "RECEIVED" if record is None else record.status
            length = 0 if record is None else len(record.history)
            previous, previous_length = self.last.get(order_id, ("RECEIVED", 0))
            assert RANK[status] >= RANK[previous], (previous, status)
            if previous in FINAL:
                assert status == previous
            assert length >= previous_length
            self.last[order_id] = (status, length)

    def teardown(self) -> None:
        """Deliver everything still pending, in order; then every order is settled."""
        while self.pending:
            self._deliver(*self.pending.pop(0))
            self._collect()
        self.stock_is_conserved()
        self.the_ledger_nets_to_the_charge_or_zero()
        for order_id in self.placed:
            status = self.shop.status(order_id)
            subjects = self.shop.emails(order_id)
            if status == "CANCELLED":
                assert self.shop.net_usd(order_id) == 0
                assert f"Order {order_id} cancelled" in subjects
            elif status == "CONFIRMED":
                assert subjects == [f"Order {order_id} confirmed"]
            else:
                assert status == "REJECTED", status
                assert subjects == [f"Order {order_id} could not be accepted"]


OrderLifecycle.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_order_lifecycle_with_cancels = OrderLifecycle.TestCase


def test_the_clock_starts_at_placement() -> None:
    assert FakePipeline().at - PLACED_AT < WINDOW
