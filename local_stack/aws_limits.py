"""A model of the AWS limits moto does not have, for the local stack, the tests and the bench.

Opt-in (`make run ARGS=--aws-limits`, the `aws_limits` fixture, `local_stack(limits=...)`).
It sits at the botocore layer of the functions' clients: a `before-send` handler on their
boto3 session answers a request AWS would refuse with the response AWS would send (status,
error code, message, `CancellationReasons`), so botocore parses it and applies its own retry
logic exactly as it would with AWS; a request it lets through goes on to moto. What it models,
with the numbers and their sources in ARCHITECTURE.md ("AWS limits, locally"):

- SES v2 SendEmail: the account's maximum send rate (default 14 a second), a token bucket
  holding one second of sends; past it, 429 `TooManyRequestsException`,
  "Maximum sending rate exceeded.".
- DynamoDB writes: at most 1,000 write units a second per item (an item lives in one
  partition, and a partition takes 1,000), a write costing one unit per KB and a
  transactional write two; and a table's own ceiling (on demand, 40,000 a second by default).
  Past either, a single write gets 400 `ProvisionedThroughputExceededException` and a
  transaction is cancelled with `ThrottlingError` for the item.
- DynamoDB transaction conflicts: a transaction holds its items from the moment it is sent
  until its answer is back; a second transaction touching one of them meanwhile is cancelled
  (`TransactionCanceledException`, `TransactionConflict` for that item), and a plain write to
  one of them gets `TransactionConflictException`.

Deterministic under test: the clock is injected, and `hold()` stands for another writer's
transaction in flight on an item. Reads and the other services are not limited.
"""

import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from chalicelib.pacing import DEFAULT_SES_SEND_RATE

# What a refused request is pointed at, so that no other before-send handler acts on it:
# botocore shows before-send to every handler and takes the first answer, and moto in
# process (the functional tests) is one of them; it ignores an address it does not serve.
_NOWHERE = "https://aws-limits.invalid/"
_DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"
_ONE_KB = 1024
# The texts DynamoDB's API reference gives for these cancellation reasons and errors.
TRANSACTION_CONFLICT = "Transaction is ongoing for the item"
TRANSACTION_CONFLICT_EXCEPTION = (
    "Operation was rejected because there is an ongoing transaction for the item."
)
THROUGHPUT_EXCEEDED = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if "
    "you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html."
)
MAXIMUM_SENDING_RATE_EXCEEDED = "Maximum sending rate exceeded."
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")

ItemKey = tuple[str, str]  # table, its key attributes as canonical JSON


@dataclass(frozen=True)
class Limits:
    """The numbers the model enforces (ARCHITECTURE.md, "AWS limits, locally", has sources)."""

    # SES's maximum send rate: 1 in the sandbox, 14 by default in production.
    ses_send_rate: float = DEFAULT_SES_SEND_RATE
    # One partition's write units a second; an item never spans partitions.
    item_write_units: float = 1000.0
    # The table's ceiling: on-demand's default per-table quota, or a provisioned table's WCU.
    table_write_units: float = 40000.0
    # Concurrent batches of a trigger with no MaximumConcurrency (Lambda would scale further;
    # a few are enough to make transactions overlap on a laptop).
    uncapped_concurrency: int = 4
    # Where the tables are, for the ARN a throttling reason names (moto's account by default).
    account: str = "123456789012"
    region: str = "us-east-1"
    # Each table's partition key (Put carries a whole item; the key says which item it is).
    table_keys: Mapping[str, str] = field(
        default_factory=lambda: {"orders": "order_id", "inventory": "sku", "counters": "name"}
    )


class TokenBucket:
    """`rate` tokens a second, holding at most `capacity`; full at the start."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._at = now

    def available(self, now: float) -> float:
        """The tokens there are at `now` (a clock that went back refills nothing)."""
        if now > self._at:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
        return self._tokens

    def take(self, amount: float, now: float) -> bool:
        """Take amount tokens if there are that many now; say whether it did."""
        if amount > self.available(now):
            return False
        self._tokens -= amount
        return True


@dataclass(frozen=True)
class _Write:
    item: ItemKey
    units: int


class AwsLimits:
    """The model: install it on the functions' boto3 session before their clients are built."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._item_buckets: dict[ItemKey, TokenBucket] = {}
        self._table_buckets: dict[str, TokenBucket] = {}
        self._ses = TokenBucket(limits.ses_send_rate, max(1.0, limits.ses_send_rate), clock())
        # item -> the thread whose transaction holds it (or a hold() of a test)
        self._in_flight: dict[ItemKey, object] = {}
        self._mine = threading.local()
        # What the model refused, by error code or cancellation reason (for tests and the bench).
        self.refused: Counter[str] = Counter()
        # How many requests that went through wrote each item (transactions included).
        self.writes: Counter[ItemKey] = Counter()

    # -- installing ------------------------------------------------------------------------

    @contextmanager
    def installed_on(self, session: Any) -> Iterator["AwsLimits"]:
        """Limit the clients built from this boto3 session from now until the exit."""
        self.install(session)
        try:
            yield self
        finally:
            self.uninstall(session)

    def install(self, session: Any) -> None:
        for event, handler, first in self._handlers():
            if first:
                session.events.register_first(event, handler, unique_id=_unique(self, event))
            else:
                session.events.register(event, handler, unique_id=_unique(self, event))

    def uninstall(self, session: Any) -> None:
        for event, _, _ in self._handlers():
            session.events.unregister(event, unique_id=_unique(self, event))

    def _handlers(self) -> list[tuple[str, Callable[..., Any], bool]]:
        return [
            ("before-send.dynamodb", self._before_dynamodb, True),
            ("before-send.sesv2.SendEmail", self._before_send_email, True),
            # After every attempt, answered or not: the attempt's transaction is over.
            ("needs-retry.dynamodb", self._after_dynamodb, False),
        ]

    # -- tests -----------------------------------------------------------------------------

    @contextmanager
    def hold(self, table: str, key: Mapping[str, Any]) -> Iterator[None]:
        """Another writer's transaction in flight on this item until the exit."""
        item = (table, _canonical(key))
        with self._lock:
            self._in_flight[item] = self
        try:
            yield
        finally:
            with self._lock:
                self._in_flight.pop(item, None)

    # -- SES -------------------------------------------------------------------------------

    def _before_send_email(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            if self._ses.take(1, self._clock()):
                return None
            self.refused["TooManyRequestsException"] += 1
        return _refuse(
            request,
            429,
            {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/json"},
            {"message": MAXIMUM_SENDING_RATE_EXCEEDED},
        )

    # -- DynamoDB --------------------------------------------------------------------------

    def _before_dynamodb(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in (*_WRITES, "TransactWriteItems"):
            return None
        body = json.loads(request.body or b"{}")
        with self._lock:
            if operation == "TransactWriteItems":
                refusal = self._transaction(body["TransactItems"])
            else:
                refusal = self._single_write(operation, body)
        if refusal is None:
            return None
        status, error = refusal
        return _refuse(request, status, {"Content-Type": "application/x-amz-json-1.0"}, error)

    def _after_dynamodb(self, **_: Any) -> None:
        held: list[ItemKey] = getattr(self._mine, "held", [])
        if held:
            with self._lock:
                for item in held:
                    if self._in_flight.get(item) is threading.current_thread():
                        del self._in_flight[item]
            self._mine.held = []

    def _transaction(self, actions: list[dict[str, Any]]) -> tuple[int, dict[str, Any]] | None:
        writes = [self._write_of(action) for action in actions]
        me = threading.current_thread()
        reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in actions]
        for position, write in enumerate(writes):
            holder = self._in_flight.get(write.item)
            if holder is not None and holder is not me:
                reasons[position] = {"Code": "TransactionConflict", "Message": TRANSACTION_CONFLICT}
        if all(reason["Code"] == "None" for reason in reasons):
            # Transactional writes cost twice a standard write's units.
            for position in self._over_capacity([(w.item, 2 * w.units) for w in writes]):
                reasons[position] = {"Code": "ThrottlingError", "Message": THROUGHPUT_EXCEEDED}
        codes = [reason["Code"] for reason in reasons]
        if any(code != "None" for code in codes):
            for code in codes:
                if code != "None":
                    self.refused[code] += 1
            return 400, {
                "__type": _DYNAMODB_ERROR + "TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for "
                f"specific reasons [{', '.join(codes)}]",
                "CancellationReasons": reasons,
            }
        for write in writes:
            self._in_flight[write.item] = me
            self.writes[write.item] += 1
        self._mine.held = [write.item for write in writes]
        return None

    def _single_write(
        self, operation: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        write = self._write_of({operation.removesuffix("Item").capitalize(): body})
        if write.item in self._in_flight:
            self.refused["TransactionConflictException"] += 1
            return 400, {
                "__type": _DYNAMODB_ERROR + "TransactionConflictException",
                "message": TRANSACTION_CONFLICT_EXCEPTION,
            }
        short = self._over_capacity([(write.item, write.units)])
        if short:
            self.refused["ProvisionedThroughputExceededException"] += 1
            return 400, {
                "__type": _DYNAMODB_ERROR + "ProvisionedThroughputExceededException",
                "message": THROUGHPUT_EXCEEDED,
                "ThrottlingReasons": [
                    {
                        "reason": short[0],
                        "resource": f"arn:aws:dynamodb:{self.limits.region}:"
                        f"{self.limits.account}:table/{write.item[0]}",
                    }
                ],
            }
        self.writes[write.item] += 1
        return None

    def _over_capacity(self, costs: list[tuple[ItemKey, int]]) -> dict[int, str]:
        """The positions whose item or table lacks the units, with the throttling reason;
        if none does, the units are taken."""
        now = self._clock()
        per_table: Counter[str] = Counter()
        for item, units in costs:
            per_table[item[0]] += units
        short: dict[int, str] = {}
        for position, (item, units) in enumerate(costs):
            if self._item_bucket(item, now).available(now) < units:
                short[position] = "TableWriteKeyRangeThroughputExceeded"
            elif self._table_bucket(item[0], now).available(now) < per_table[item[0]]:
                short[position] = "TableWriteAccountLimitExceeded"
        if not short:
            for item, units in costs:
                self._item_bucket(item, now).take(units, now)
            for table, units in per_table.items():
                self._table_bucket(table, now).take(units, now)
        return short

    def _item_bucket(self, item: ItemKey, now: float) -> TokenBucket:
        if item not in self._item_buckets:
            rate = self.limits.item_write_units
            self._item_buckets[item] = TokenBucket(rate, rate, now)
        return self._item_buckets[item]

    def _table_bucket(self, table: str, now: float) -> TokenBucket:
        if table not in self._table_buckets:
            rate = self.limits.table_write_units
            self._table_buckets[table] = TokenBucket(rate, rate, now)
        return self._table_buckets[table]

    def _write_of(self, action: Mapping[str, Any]) -> _Write:
        ((kind, detail),) = action.items()
        table = detail["TableName"]
        if kind == "Put":
            item = detail["Item"]
            key_name = self.limits.table_keys.get(table, "")
            key = {key_name: item[key_name]} if key_name in item else dict(item)
            # One unit per KB of the item written (its JSON is close to DynamoDB's size).
            return _Write((table, _canonical(key)), _kilobytes(item))
        # An update's or a delete's item is not in the request: small items, one unit.
        return _Write((table, _canonical(detail["Key"])), 1)


def _kilobytes(item: Mapping[str, Any]) -> int:
    return max(1, math.ceil(len(json.dumps(item, separators=(",", ":"))) / _ONE_KB))


def _canonical(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _unique(model: AwsLimits, event: str) -> str:
    return f"aws-limits-{id(model)}-{event}"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


def _refuse(
    request: Any, status: int, headers: dict[str, str], body: dict[str, Any]
) -> AWSResponse:
    url = request.url
    request.url = _NOWHERE  # botocore builds a new request for each attempt
    return AWSResponse(
        url,
        status,
        HTTPHeaders.from_dict({**headers, "x-amzn-RequestId": str(uuid.uuid4())}),
        _Body(json.dumps(body).encode()),
    )


def trigger_concurrency(function: str, limits: Limits) -> int:
    """How many batches of this function's SQS trigger run at once: its MaximumConcurrency on
    AWS (the notifications trigger's follows the SES rate), or `uncapped_concurrency`."""
    from chalicelib.pacing import notifications_concurrency
    from deploy.batch_failures import MAXIMUM_CONCURRENCY, NOTIFICATIONS_FUNCTION

    if function == NOTIFICATIONS_FUNCTION:
        return notifications_concurrency(limits.ses_send_rate)
    return MAXIMUM_CONCURRENCY.get(function, limits.uncapped_concurrency)
