"""After `chalice deploy`: partial batch responses and concurrency caps on the SQS triggers.

Usage: PYTHONPATH=chalice_app python -m deploy.batch_failures --stage prod [--region REGION]

chalice deploy creates each SQS event source mapping without FunctionResponseTypes, and then
Lambda ignores the handlers' batchItemFailures: a batch whose handler returns is deleted
whole, failed records included. It also sets no ScalingConfig, so the consumers that reach
the Aurora cluster (capped at a few ACUs) and SES (1 email/s in the sandbox) would scale to
the account's limit. Run this after every chalice deploy (it changes nothing when the
settings are already there). The packaged template sets both itself (merge-template.json).
"""

import argparse
from collections.abc import Sequence
from typing import Any

import boto3

from chalicelib.pacing import DEFAULT_SES_SEND_RATE, notifications_concurrency
from deploy.stage_config import (
    APP_NAME,
    EVENT_FUNCTIONS,
    NOTIFICATIONS_CONCURRENCY_VARIABLE,
    ses_send_rate,
)

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
NOTIFICATIONS_FUNCTION = "customer_communications"
# The consumers of the billing database and of SES, with the cap merge-template.json gives
# their triggers: at most this many concurrent invocations per queue (2 is SQS's minimum).
# The notifications consumer's follows the SES send rate (chalicelib/pacing.py).
MAXIMUM_CONCURRENCY = {
    "initiate_billing": 5,
    NOTIFICATIONS_FUNCTION: notifications_concurrency(DEFAULT_SES_SEND_RATE),
}


def _paced_for(lambda_client: Any, function_name: str) -> int | None:
    """The concurrency the notifications function paces its email by (its environment, from
    deploy/stage_config.py): its trigger must be that, or the sends exceed the SES rate."""
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    value = variables.get(NOTIFICATIONS_CONCURRENCY_VARIABLE)
    return int(value) if value else None


class NoQueueTriggers(RuntimeError):
    """The stage has no SQS triggers: it is not deployed yet, or in another region."""


def maximum_concurrency(send_rate: float | None) -> dict[str, int]:
    """The capped triggers' MaximumConcurrency, the notifications one for this SES rate."""
    if send_rate is None:
        return dict(MAXIMUM_CONCURRENCY)
    return {**MAXIMUM_CONCURRENCY, NOTIFICATIONS_FUNCTION: notifications_concurrency(send_rate)}


def report_batch_item_failures(
    lambda_client: Any, stage: str, send_rate: float | None = None
) -> list[str]:
    """Set ReportBatchItemFailures (and the database and SES consumers' concurrency caps, the
    latter for the account's SES send rate) on every SQS mapping of the stage; return the
    queue ARNs."""
    caps = maximum_concurrency(send_rate)
    queues: list[str] = []
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for function in EVENT_FUNCTIONS:
        name = f"{APP_NAME}-{stage}-{function}"
        try:
            mappings = [
                mapping
                for page in paginator.paginate(FunctionName=name)
                for mapping in page["EventSourceMappings"]
            ]
        except lambda_client.exceptions.ResourceNotFoundException:
            continue  # a function this stage does not have; the check below tells if none
        for mapping in mappings:
            if ":sqs:" not in mapping.get("EventSourceArn", ""):
                continue
            changes: dict[str, Any] = {}
            if REPORT_BATCH_ITEM_FAILURES not in mapping.get("FunctionResponseTypes", []):
                changes["FunctionResponseTypes"] = [REPORT_BATCH_ITEM_FAILURES]
            cap = caps.get(function)
            if function == NOTIFICATIONS_FUNCTION:
                cap = _paced_for(lambda_client, name) or cap
            if cap and (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency") != cap:
                changes["ScalingConfig"] = {"MaximumConcurrency": cap}
            if changes:
                lambda_client.update_event_source_mapping(UUID=mapping["UUID"], **changes)
            queues.append(mapping["EventSourceArn"])
    if not queues:
        raise NoQueueTriggers(f"stage {stage!r} has no SQS triggers: run chalice deploy first")
    return queues


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, help="the Chalice stage deployed, such as prod")
    parser.add_argument("--region", help="region of the stage (default: the AWS configuration's)")
    arguments = parser.parse_args(argv)
    session = boto3.session.Session(region_name=arguments.region)
    send_rate = ses_send_rate(session.client("sesv2"))
    try:
        queues = report_batch_item_failures(session.client("lambda"), arguments.stage, send_rate)
    except NoQueueTriggers as error:
        parser.exit(2, f"error: {error}\n")
    for queue in queues:
        print(f"==> {queue}: {REPORT_BATCH_ITEM_FAILURES}")
    for function, cap in maximum_concurrency(send_rate).items():
        print(f"==> {APP_NAME}-{arguments.stage}-{function}: at most {cap} concurrent batches")


if __name__ == "__main__":
    main()
