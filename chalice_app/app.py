"""Wiring of the order pipeline's Lambda functions: routes and event handlers, a few lines each."""

from typing import TYPE_CHECKING, Any

from chalice.app import (
    Chalice,
    CloudWatchEvent,
    Cron,
    IAMAuthorizer,
    Rate,
    Response,
    SNSEvent,
    SQSEvent,
)

if TYPE_CHECKING:
    from chalicelib.services import Services

# Chalice deploys this one module for every function, so anything imported here is paid by
# every cold start. Each handler therefore imports its own chalicelib module (and, through it,
# pydantic, Powertools' batch utilities, the adapters) inside the function: a function's cold
# start imports only what that function uses. Chalice resolves handlers by name, so they stay here.

app = Chalice(app_name="order-pipeline")

FULFILLMENT_QUEUE = "order-fulfillment"
BILLING_QUEUE = "order-billing"
NOTIFICATIONS_QUEUE = "order-notifications"
SES_FEEDBACK_TOPIC = "ses-feedback"
# Every route: API Gateway checks the caller's SigV4 signature and IAM policy before any
# function runs (chalicelib/access.py says which permission each route needs).
SIGNED = IAMAuthorizer()


def _services() -> "Services":
    from chalicelib.services import get_services

    return get_services()


def _correlation_id() -> str:
    from chalicelib import orders_api

    request = app.current_request
    assert request is not None
    return orders_api.correlation_id_from(request.headers, request.context.get("requestId"))


def _caller() -> str:
    """The authenticated caller's IAM ARN, as API Gateway puts it in the request context."""
    request = app.current_request
    assert request is not None
    return str((request.context.get("identity") or {}).get("userArn") or "unknown")


@app.route(
    "/orders/{order_id}",
    methods=["PUT"],
    content_types=["application/json"],
    authorizer=SIGNED,
)
def put_order(order_id: str) -> Response:
    from chalicelib import orders_api

    request = app.current_request
    assert request is not None
    return orders_api.put_order(order_id, request.raw_body, _correlation_id(), _services())


@app.route("/orders/{order_id}", methods=["GET"], authorizer=SIGNED)
def get_order(order_id: str) -> Response:
    from chalicelib import orders_api

    return orders_api.get_order(order_id, _correlation_id(), _services())


@app.route("/orders/{order_id}/cancel", methods=["POST"], authorizer=SIGNED)
def cancel_order(order_id: str) -> Response:
    from chalicelib import orders_api

    return orders_api.cancel_order(order_id, _correlation_id(), _services())


@app.route("/catalog", methods=["GET"], authorizer=SIGNED)
def list_catalog() -> Response:
    from chalicelib import catalog_api

    return catalog_api.list_catalog(_correlation_id(), _services())


@app.route("/catalog/{sku}", methods=["PUT"], content_types=["application/json"], authorizer=SIGNED)
def put_product(sku: str) -> Response:
    from chalicelib import catalog_api

    request = app.current_request
    assert request is not None
    return catalog_api.put_product(sku, request.raw_body, _caller(), _correlation_id(), _services())


@app.route(
    "/catalog/{sku}/restock",
    methods=["POST"],
    content_types=["application/json"],
    authorizer=SIGNED,
)
def restock(sku: str) -> Response:
    from chalicelib import catalog_api

    request = app.current_request
    assert request is not None
    return catalog_api.restock(sku, request.raw_body, _caller(), _correlation_id(), _services())


@app.on_sqs_message(queue=FULFILLMENT_QUEUE, batch_size=10)
def process_order(event: SQSEvent) -> Any:
    from chalicelib import consumers

    return consumers.process_order(event.to_dict(), event.context, _services())


@app.on_sqs_message(queue=BILLING_QUEUE, batch_size=10)
def initiate_billing(event: SQSEvent) -> Any:
    from chalicelib import consumers

    return consumers.initiate_billing(event.to_dict(), event.context, _services())


@app.on_sqs_message(queue=NOTIFICATIONS_QUEUE, batch_size=10)
def customer_communications(event: SQSEvent) -> Any:
    from chalicelib import consumers

    return consumers.customer_communications(event.to_dict(), event.context, _services())


@app.on_sns_message(topic=SES_FEEDBACK_TOPIC)
def record_ses_feedback(event: SNSEvent) -> None:
    from chalicelib import consumers

    consumers.record_ses_feedback(event.message, _services())


# The ECB publishes around 16:00 CET on working days; 16:30 UTC is after that all year.
@app.schedule(Cron(30, 16, "?", "*", "MON-FRI", "*"))
def refresh_exchange_rates(event: CloudWatchEvent) -> None:
    from chalicelib import consumers

    consumers.refresh_exchange_rates(_services())


# Orders not final STUCK_AFTER_MINUTES after placement: logged with what each waits for, and
# counted (the StuckOrders metric). Every five minutes: a stuck order is known within that.
@app.schedule(Rate(5, unit=Rate.MINUTES))
def watch_stuck_orders(event: CloudWatchEvent) -> None:
    from chalicelib import watchdog

    watchdog.watch(_services())
