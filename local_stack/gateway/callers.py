"""The order API's local callers: IAM users with the project's managed policies and keys.

At start the local stack asks the local IAM (moto) for one user per kind of caller, attaches
the managed policies made from chalicelib.access (the same documents the packaged template
creates on AWS), and creates an access key for each. The gateway keeps the secrets IAM
returned (IAM never returns a secret twice) and the policies as IAM holds them.
"""

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.access import Permission, policy_document
from local_stack.gateway.policy import Statement, statements_of
from local_stack.gateway.signature import SigningKey

# Who the local stack creates, and what each may do. Postman, the tour and the tests use them.
LOCAL_CALLERS: Mapping[str, tuple[Permission, ...]] = {
    "order-integrator": (Permission.PLACE_ORDERS, Permission.READ),
    "order-reader": (Permission.READ,),
    "catalog-manager": (Permission.MANAGE_CATALOG, Permission.READ),
}
POLICY_PREFIX = "order-api-"


@dataclass(frozen=True)
class Caller:
    name: str
    key: SigningKey
    permissions: tuple[Permission, ...]
    statements: tuple[Statement, ...]

    def credentials(self) -> dict[str, Any]:
        """What a client needs to sign as this caller (written to the stack's URLs file)."""
        return {
            "access_key_id": self.key.access_key_id,
            "secret_access_key": self.key.secret_access_key,
            "principal_arn": self.key.principal_arn,
            "permissions": [permission.value for permission in self.permissions],
        }


class CallerDirectory:
    """Access key id -> caller, for the gateway's signature check and policy evaluation."""

    def __init__(self, callers: list[Caller]) -> None:
        self._lock = threading.Lock()
        self._by_key = {caller.key.access_key_id: caller for caller in callers}

    def find_key(self, access_key_id: str) -> SigningKey | None:
        caller = self.caller(access_key_id)
        return caller.key if caller else None

    def caller(self, access_key_id: str) -> Caller | None:
        with self._lock:
            return self._by_key.get(access_key_id)

    def by_name(self) -> dict[str, Caller]:
        with self._lock:
            return {caller.name: caller for caller in self._by_key.values()}


def api_arn(account_id: str, region: str, api_id: str = "local", stage: str = "api") -> str:
    """The stage ARN the policies name; locally the API's id is 'local'."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}"


def issue_callers(iam: Any, stage_arn: str) -> CallerDirectory:
    """Create the policies, users and access keys in IAM; read the policies back from it."""
    policy_arns = {}
    for permission in Permission:
        created = iam.create_policy(
            PolicyName=f"{POLICY_PREFIX}{permission.value}",
            PolicyDocument=json.dumps(policy_document(permission, stage_arn)),
            Description=f"Order API: {permission.value}",
        )
        policy_arns[permission] = created["Policy"]["Arn"]
    callers = []
    for name, permissions in LOCAL_CALLERS.items():
        user = iam.create_user(UserName=name)["User"]
        for permission in permissions:
            iam.attach_user_policy(UserName=name, PolicyArn=policy_arns[permission])
        key = iam.create_access_key(UserName=name)["AccessKey"]
        callers.append(
            Caller(
                name=name,
                key=SigningKey(key["AccessKeyId"], key["SecretAccessKey"], user["Arn"]),
                permissions=permissions,
                statements=tuple(_attached_statements(iam, name)),
            )
        )
    return CallerDirectory(callers)


def _attached_statements(iam: Any, user_name: str) -> list[Statement]:
    statements: list[Statement] = []
    attached = iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)[
            "PolicyVersion"
        ]["Document"]
        if isinstance(document, str):  # IAM returns it URL-encoded JSON on the wire
            from urllib.parse import unquote

            document = json.loads(unquote(document))
        statements.extend(statements_of(document))
    return statements
