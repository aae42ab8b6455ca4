"""Create, update, wait for and delete one CloudFormation stack, idempotently, with progress.

Takes a CloudFormation client. A stack carries a fingerprint of the template and parameters
it was deployed with (tag order-pipeline:deployed, as fleet.yml does for the web fleet), so
an unchanged run makes no call that changes anything: this does not rest on CloudFormation
answering "No updates are to be performed", which moto never does for these templates.
We wait ourselves instead of with boto3's waiters: theirs give up after 60 minutes (120
polls of 30 s), and the edge stack waits for ACM, which may take longer.
"""

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

FINGERPRINT_TAG = "order-pipeline:deployed"
Say = Callable[[str], None]


class StackFailed(RuntimeError):
    """The stack ended in a failed or rolled-back state; the message gives the reasons."""


@dataclass(frozen=True)
class Desired:
    name: str
    body: str
    parameters: Mapping[str, str]
    capabilities: Sequence[str] = ()

    @property
    def fingerprint(self) -> str:
        text = self.body + json.dumps(dict(self.parameters), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def describe(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when there is none (a deleted stack is none)."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    if stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    return dict(stack)


def _tags(stack: Mapping[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in stack.get("Tags", [])}


def apply(cloudformation: Any, desired: Desired) -> str:
    """Create or update the stack when its fingerprint differs: 'created', 'updated', 'unchanged'.

    Returns once the change is started; `settle` waits for it.
    """
    current = describe(cloudformation, desired.name)
    if current and current["StackStatus"].endswith("_IN_PROGRESS"):
        return "in progress"
    if current and current["StackStatus"] == "ROLLBACK_COMPLETE":
        raise StackFailed(
            f"{desired.name} failed to create and rolled back; delete it "
            f"(aws cloudformation delete-stack --stack-name {desired.name}) and run again"
        )
    if current and _tags(current).get(FINGERPRINT_TAG) == desired.fingerprint:
        return "unchanged"
    arguments = {
        "StackName": desired.name,
        "TemplateBody": desired.body,
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in sorted(desired.parameters.items())
        ],
        "Capabilities": list(desired.capabilities),
        "Tags": [{"Key": FINGERPRINT_TAG, "Value": desired.fingerprint}],
    }
    if current is None:
        cloudformation.create_stack(**arguments)
        return "created"
    try:
        cloudformation.update_stack(**arguments)
    except ClientError as error:
        # The fingerprint tag differs, so this is rare: the tag change alone is an update.
        if "No updates are to be performed" not in str(error):
            raise
        return "unchanged"
    return "updated"


def _failure_reasons(cloudformation: Any, name: str) -> str:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [
        f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
        for event in events
        if event["ResourceStatus"].endswith("_FAILED")
    ]
    return "; ".join(reasons[:5]) or "no reason given"


def settle(
    cloudformation: Any,
    name: str,
    say: Say,
    *,
    poll_seconds: float = 15,
    stop_waiting: Callable[[], str | None] = lambda: None,
    timeout_seconds: float = 3 * 3600,
) -> str:
    """Wait until the stack is no longer in progress; return its status.

    `stop_waiting` is asked at every poll; a message from it ends the wait early (the stack
    keeps going on AWS's side): the caller has something to tell the operator.
    """
    deadline = time.monotonic() + timeout_seconds
    last = ""
    while True:
        stack = describe(cloudformation, name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            break
        if status != last:
            say(f"    {name}: {status}")
            last = status
        if message := stop_waiting():
            raise WaitElsewhere(message)
        if time.monotonic() > deadline:
            raise StackFailed(f"{name} still {status} after {timeout_seconds / 60:.0f} minutes")
        time.sleep(poll_seconds)
    if status.endswith("_FAILED") or "ROLLBACK" in status:
        raise StackFailed(f"{name}: {status}: {_failure_reasons(cloudformation, name)}")
    return status


class WaitElsewhere(RuntimeError):
    """The stack waits on the operator (a DNS record): the message says what to do."""


def delete(cloudformation: Any, name: str, say: Say, *, poll_seconds: float = 15) -> bool:
    """Delete the stack and wait; False when there was none."""
    if describe(cloudformation, name) is None:
        return False
    cloudformation.delete_stack(StackName=name)
    settle(cloudformation, name, say, poll_seconds=poll_seconds)
    return True
