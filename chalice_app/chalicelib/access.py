"""Who may call which route of the order API: three permissions, one table.

On AWS, API Gateway enforces it: every route uses IAM authorization (SigV4), and the packaged
template creates one managed policy per permission from this table for operators to attach
to their callers' roles. Locally, the gateway in local_stack verifies each signature against
the credentials the local IAM issued and evaluates the same policies. No boto3 here.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

INVOKE_ACTION = "execute-api:Invoke"


class Permission(StrEnum):
    """What a caller may do; a caller may hold several."""

    PLACE_ORDERS = "place-orders"  # place and cancel orders
    READ = "read"  # read orders and the catalog
    MANAGE_CATALOG = "manage-catalog"  # create and update products, change prices, restock


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as Chalice declares it: /orders/{order_id}
    permission: Permission

    def invoke_resource(self, api_arn: str) -> str:
        """The execute-api ARN IAM checks for this route, a path parameter becoming '*'.

        api_arn is arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE.
        """
        return f"{api_arn}/{self.method}{re.sub(r'{[^}]+}', '*', self.path)}"


ROUTES = (
    Route("PUT", "/orders/{order_id}", Permission.PLACE_ORDERS),
    Route("POST", "/orders/{order_id}/cancel", Permission.PLACE_ORDERS),
    Route("GET", "/orders/{order_id}", Permission.READ),
    Route("GET", "/catalog", Permission.READ),
    Route("PUT", "/catalog/{sku}", Permission.MANAGE_CATALOG),
    Route("POST", "/catalog/{sku}/restock", Permission.MANAGE_CATALOG),
)


def policy_document(permission: Permission, api_arn: str) -> dict[str, Any]:
    """The IAM policy that grants one permission on the API at api_arn (a stage's ARN)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "".join(part.title() for part in permission.value.split("-")),
                "Effect": "Allow",
                "Action": INVOKE_ACTION,
                "Resource": [
                    route.invoke_resource(api_arn)
                    for route in ROUTES
                    if route.permission is permission
                ],
            }
        ],
    }
