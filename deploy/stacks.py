"""The stacks of one environment, in the order they are deployed.

Names are fixed (one account and region per environment) and every output is exported as
`<stack name>-<output name>`, so stacks import each other by these names.
"""

from dataclasses import dataclass
from pathlib import Path

from deploy.templates import TEMPLATE_DIR

PREFIX = "order-pipeline"


@dataclass(frozen=True)
class Stack:
    key: str
    # Why it is its own stack and why it comes where it does.
    purpose: str
    # Deployed by ansible-playbook (web-fleet), not by hand.
    deployed_by_ansible: bool = False

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.key}"

    @property
    def template(self) -> Path:
        return TEMPLATE_DIR / f"{self.key}.yaml"


# Messaging comes before data: S3 checks the order-intake topic (and its policy) when the
# orders bucket's notification is configured.
STACKS = (
    Stack("network", "VPC, subnets, NAT, gateway endpoints"),
    Stack("security", "KMS key, security groups, flow log, API Gateway logging role"),
    Stack("messaging", "topics, queues and DLQs, subscriptions, alarms, SES configuration set"),
    Stack("data", "tables, buckets, Aurora Serverless v2 billing database (retained)"),
    Stack("edge", "load balancer, certificate, listeners, target group, WAF"),
    Stack("observability", "the pipeline's CloudWatch dashboard and alarms (business metrics)"),
    Stack("web-fleet", "launch template, Auto Scaling group", deployed_by_ansible=True),
)


def stack(key: str) -> Stack:
    """The stack called `key` (network, security, ...)."""
    for candidate in STACKS:
        if candidate.key == key:
            return candidate
    raise KeyError(key)
