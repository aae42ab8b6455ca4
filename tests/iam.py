"""What the handlers call on AWS, and whether an IAM policy allows it.

`CallRecorder` is a botocore `before-parameter-build` handler on a boto3 session: every client
built from that session afterwards reports each operation with the parameters it was given.
`required_permissions` turns each call into the IAM actions and resource ARNs AWS authorizes
it against (one call can need several: a DynamoDB transaction needs its items' own actions,
a SecureString read needs kms:Decrypt), and `allows` evaluates a policy document for one of
them: Allow statements with Action and Resource wildcards and the few condition operators our
policies use. No Deny, NotAction or NotResource: a policy using them fails the evaluation.

The mapping from operation to action follows the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html):
mostly service prefix and operation name alike, with the exceptions written out below.
"""

import fnmatch
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
# Our KMS key (security.yaml's Key): a placeholder, the policy's own key ARN replaces it.
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/order-pipeline-key"

# Operations whose IAM action is not the service's prefix and the operation's name.
_ACTION_OF = {
    ("sesv2", "SendEmail"): "ses:SendEmail",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
}
# The IAM prefix of a botocore service name, where they differ.
_PREFIX_OF = {"sesv2": "ses"}
# A DynamoDB transaction is authorized item by item, by the action of each item's operation.
_TRANSACT_ACTION = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


@dataclass(frozen=True)
class Call:
    service: str  # botocore's name: sesv2, rds-data, dynamodb
    operation: str  # the API's: SendEmail, TransactWriteItems
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Permission:
    """One authorization AWS makes for a call: an action on a resource, in a context."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    call: str = ""  # the call it is for, for the failure message

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} (for {self.call})"


class CallRecorder:
    """Every operation clients of a session make, in order (clients built after install)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def install(self, session: boto3.session.Session) -> None:
        session.events.register("before-parameter-build", self._record)

    def _record(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        call = Call(model.service_model.service_name, model.name, dict(params))
        with self._lock:
            self.calls.append(call)

    @property
    def operations(self) -> set[tuple[str, str]]:
        return {(call.service, call.operation) for call in self.calls}


def action_of(service: str, operation: str) -> str:
    return _ACTION_OF.get((service, operation), f"{_PREFIX_OF.get(service, service)}:{operation}")


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _queue_arn(url: str) -> str:
    return _arn("sqs", urlparse(url).path.rstrip("/").rsplit("/", 1)[-1])


def _dynamodb(call: Call, action: str) -> list[tuple[str, str]]:
    params = call.params
    if call.operation in ("TransactWriteItems", "TransactGetItems"):
        pairs = []
        for item in params["TransactItems"]:
            ((kind, request),) = item.items()
            table = _arn("dynamodb", f"table/{request['TableName']}")
            pairs.append((_TRANSACT_ACTION[kind], table))
        return pairs
    if call.operation in ("BatchGetItem", "BatchWriteItem"):
        return [(action, _arn("dynamodb", f"table/{table}")) for table in params["RequestItems"]]
    resource = _arn("dynamodb", f"table/{params['TableName']}")
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return [(action, resource)]


def _s3(call: Call, action: str) -> list[tuple[str, str]]:
    key = f"/{call.params['Key']}" if "Key" in call.params else ""
    return [(action, f"arn:aws:s3:::{call.params['Bucket']}{key}")]


def _sqs(call: Call, action: str) -> list[tuple[str, str]]:
    if call.operation == "GetQueueUrl":
        return [(action, _arn("sqs", call.params["QueueName"]))]
    return [(action, _queue_arn(call.params["QueueUrl"]))]


def _ssm(call: Call, action: str) -> list[tuple[str, str]]:
    pairs = [(action, _arn("ssm", f"parameter{call.params['Name']}"))]
    if call.params.get("WithDecryption"):
        pairs.append(("kms:Decrypt", KEY))  # a SecureString, on our key
    return pairs


def _sesv2(call: Call, action: str) -> list[tuple[str, str]]:
    pairs = [(action, _arn("ses", f"identity/{call.params['FromEmailAddress']}"))]
    if call.params.get("ConfigurationSetName"):
        configuration_set = call.params["ConfigurationSetName"]
        pairs.append((action, _arn("ses", f"configuration-set/{configuration_set}")))
    return pairs


_RESOURCES = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "sqs": _sqs,
    "ssm": _ssm,
    "sesv2": _sesv2,
    "sns": lambda call, action: [(action, call.params["TopicArn"])],
    "rds-data": lambda call, action: [(action, call.params["resourceArn"])],
    "secretsmanager": lambda call, action: [(action, call.params["SecretId"])],
}


def _resources(call: Call) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs one call is authorized against."""
    resources = _RESOURCES.get(call.service)
    if resources is None:
        raise AssertionError(f"no resource mapping for {call.service} {call.operation}: add one")
    return resources(call, action_of(call.service, call.operation))


def _context(call: Call) -> dict[str, Any]:
    """The condition keys our policies test, as AWS would set them for this call."""
    if call.service == "sesv2":
        return {"ses:FromAddress": call.params["FromEmailAddress"]}
    if call.service == "ssm":
        return {
            "kms:ViaService": f"ssm.{REGION}.amazonaws.com",
            "kms:ResourceAliases": ["alias/order-pipeline"],
        }
    return {}


def required_permissions(calls: Iterable[Call], key_arn: str = KEY) -> list[Permission]:
    """Each authorization the calls need, once (key_arn: the ARN of the key the SecureStrings
    are on, the stacks' KeyArn: KEY stands for it until then)."""
    seen: dict[tuple[str, str], Permission] = {}
    for call in calls:
        for action, resource in _resources(call):
            resource = key_arn if resource == KEY else resource
            label = f"{call.service} {call.operation}"
            seen.setdefault((action, resource), Permission(action, resource, _context(call), label))
    return list(seen.values())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    if key not in context:
        return False
    actual = _as_list(context[key])
    patterns = [str(value) for value in _as_list(expected)]
    set_operator, _, base = operator.rpartition(":")
    if base == "StringEquals":
        matches = [value in patterns for value in actual]
    elif base == "StringLike":
        matches = [any(fnmatch.fnmatchcase(value, p) for p in patterns) for value in actual]
    else:
        raise AssertionError(f"condition operator {operator} is not modelled: add it")
    return all(matches) if set_operator == "ForAllValues" else any(matches)


def _statement_allows(statement: Mapping[str, Any], permission: Permission) -> bool:
    unsupported = {"NotAction", "NotResource", "NotPrincipal"} & statement.keys()
    if statement["Effect"] != "Allow" or unsupported:
        raise AssertionError(f"statement {statement.get('Sid')} is not modelled: {statement}")
    actions = [a.lower() for a in _as_list(statement["Action"])]
    if not any(fnmatch.fnmatchcase(permission.action.lower(), a) for a in actions):
        return False
    resources = _as_list(statement["Resource"])
    if not any(fnmatch.fnmatchcase(permission.resource, r) for r in resources):
        return False
    conditions = statement.get("Condition", {})
    return all(
        _condition_holds(operator, key, expected, permission.context)
        for operator, tests in conditions.items()
        for key, expected in tests.items()
    )


def allows(policy: Mapping[str, Any], permission: Permission) -> bool:
    return any(_statement_allows(s, permission) for s in _as_list(policy["Statement"]))
