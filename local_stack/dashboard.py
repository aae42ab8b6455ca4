"""A small page showing what the local pipeline did: orders (cancelled ones too), stock,
queues, ledger (charges and their reversals), emails.

Read-only, on 127.0.0.1, for the person running `make run`; the emails come from the local
AWS's SES outbox, which lives in this process. `/state.json` has the same as JSON.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from flask import Flask, Response, abort, jsonify, render_template

from chalicelib.adapters.order_store import counter_totals
from local_stack.metrics import MetricTotals
from local_stack.resources import Provisioned

REFRESH_SECONDS = 3
ORDERS_SHOWN = 200
# Why an order's email did not go (the status order_emails records), in words.
EMAIL_NOT_SENT = {
    "suppressed": "the address bounced or complained before",
    "rate_limited": "the guest address had its emails for the hour (GUEST_EMAILS_PER_HOUR)",
}


@dataclass(frozen=True)
class QueueDepth:
    name: str
    visible: int
    in_flight: int
    dead_letters: int


@dataclass(frozen=True)
class SentEmail:
    index: int
    to: str
    subject: str


class LocalState:
    """Reads the pipeline's state through boto3 and the ledger, as an operator would."""

    def __init__(
        self,
        provisioned: Provisioned,
        ledger: Any,
        metrics: MetricTotals | None = None,
        find_stuck: Callable[[], list[Any]] = list,
    ) -> None:
        self._provisioned = provisioned
        self._ledger = ledger
        # The business metrics, summed from the handlers' and the web tier's EMF lines.
        self.metrics = metrics or MetricTotals()
        # The watchdog's query (chalicelib.watchdog.find_stuck), as its scheduled run makes it.
        self._find_stuck = find_stuck
        self._dynamodb = boto3.resource("dynamodb")
        self._sqs: Any = boto3.client("sqs")

    def orders(self) -> list[dict[str, Any]]:
        items = _scan(self._dynamodb.Table(self._provisioned.environment["ORDERS_TABLE"]))
        items.sort(key=lambda item: item["history"][0]["at"], reverse=True)
        orders = []
        for item in items[:ORDERS_SHOWN]:
            charge = self._ledger.charge(item["order_id"])
            reversal = self._ledger.reversal(item["order_id"])
            emails = self._ledger.order_emails(item["order_id"])
            orders.append(
                {
                    "order_id": item["order_id"],
                    "status": item["status"],
                    "source": item.get("source", ""),
                    "customer_email": item["order"]["customer"]["email"],
                    "total": f"{item['total']} {item['currency']}",
                    "usd": "" if charge is None else f"{charge.usd_amount} USD",
                    # The charge is never edited: a cancelled order's reversal is its own row.
                    "reversed": "" if reversal is None else f"{reversal.usd_amount} USD",
                    "history": " → ".join(entry["status"] for entry in item["history"]),
                    "history_notes": "; ".join(
                        entry["detail"] for entry in item["history"][1:] if entry.get("detail")
                    ),
                    "email": ", ".join(f"{outcome} {status}" for outcome, status in emails),
                    "email_not_sent": "; ".join(
                        f"{outcome} not sent: {EMAIL_NOT_SENT[status]}"
                        for outcome, status in emails
                        if status in EMAIL_NOT_SENT
                    ),
                    "rejection": ", ".join(
                        f"{r.get('sku', '')} {r['reason']}" for r in item.get("rejection", [])
                    ),
                }
            )
        return orders

    def stock(self) -> list[dict[str, Any]]:
        items = _scan(self._dynamodb.Table(self._provisioned.environment["INVENTORY_TABLE"]))
        return sorted(
            ({"sku": i["sku"], "name": i.get("name", ""), "stock": int(i["stock"])} for i in items),
            key=lambda item: item["sku"],
        )

    def counters(self) -> dict[str, int]:
        items = _scan(self._dynamodb.Table(self._provisioned.environment["COUNTERS_TABLE"]))
        return counter_totals(items)

    def queues(self) -> list[QueueDepth]:
        urls = self._provisioned.queue_urls
        return [
            QueueDepth(
                name=name,
                visible=self._depth(url, "ApproximateNumberOfMessages"),
                in_flight=self._depth(url, "ApproximateNumberOfMessagesNotVisible"),
                dead_letters=self._depth(urls[f"{name}-dlq"], "ApproximateNumberOfMessages"),
            )
            for name, url in urls.items()
            if not name.endswith("-dlq")
        ]

    def stuck_orders(self) -> list[dict[str, Any]]:
        """Orders the watchdog would report now: not final long after placement."""
        now = datetime.now(UTC)
        return [
            {
                "order_id": stuck.order_id,
                "status": stuck.status,
                "minutes": stuck.minutes_since_placement(now),
                "waiting_for": stuck.waiting_for,
            }
            for stuck in self._find_stuck()
        ]

    def emails(self) -> list[Any]:
        from moto.ses.models import ses_backends

        account = boto3.client("sts").get_caller_identity()["Account"]
        region = boto3.session.Session().region_name
        return list(ses_backends[account][region].sent_messages)

    def _depth(self, url: str, attribute: str) -> int:
        response = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])
        return int(response["Attributes"][attribute])


def create_dashboard(state: LocalState) -> Flask:
    app = Flask(__name__)

    def snapshot() -> dict[str, Any]:
        emails = state.emails()
        orders = state.orders()
        return {
            "orders": orders,
            "stock": state.stock(),
            "counters": state.counters(),
            "queues": [asdict(queue) for queue in state.queues()],
            "metrics": [asdict(row) for row in state.metrics.rows()],
            "stuck_orders": state.stuck_orders(),
            "emails": [
                asdict(SentEmail(index, ", ".join(e.destinations["ToAddresses"]), e.subject))
                for index, e in reversed(list(enumerate(emails)))
            ],
            # Emails the pipeline decided not to send: SES's outbox cannot show what never went.
            "emails_not_sent": [
                {"order_id": o["order_id"], "to": o["customer_email"], "why": o["email_not_sent"]}
                for o in orders
                if o["email_not_sent"]
            ],
        }

    @app.get("/")
    def dashboard() -> str:
        return render_template("dashboard.html", refresh=REFRESH_SECONDS, **snapshot())

    @app.get("/state.json")
    def state_json() -> Response:
        return jsonify(snapshot())

    @app.get("/emails/<int:index>")
    def email(index: int) -> Response:
        emails = state.emails()
        if index >= len(emails):
            abort(404)
        # The email's own HTML, as a mail client would show it: no scripts, nothing remote.
        response = Response(emails[index].body, mimetype="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        )
        return response

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


def _scan(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
