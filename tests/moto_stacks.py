"""The stacks' templates cut to what moto's CloudFormation creates, and stand-ins for the rest.

moto skips resource types it does not implement and then fails on any Ref, GetAtt or output
naming one; tests/functional/test_stage_config.py measures the cut.
"""

import json
import warnings
from collections.abc import Collection, Mapping
from typing import Any

import boto3
from moto.cloudformation.parsing import get_model_map

from deploy.stacks import STACKS
from deploy.templates import Template, load_template


def _mentions(node: Any, names: set[str]) -> bool:
    text = json.dumps(node)
    return any(
        f'"Ref": "{n}"' in text or f'["{n}", ' in text or f"${{{n}}}" in text or f"${{{n}." in text
        for n in names
    )


def moto_subset(template: Template) -> tuple[Template, set[str], set[str]]:
    """The template without what moto cannot create; also the cut types and outputs."""
    supported = set(get_model_map())
    resources = dict(template["Resources"])
    cut = {name for name, r in resources.items() if r["Type"] not in supported}
    cut_types = {resources[name]["Type"] for name in cut}
    while True:
        dependent = {
            name
            for name, resource in resources.items()
            if name not in cut and _mentions(resource.get("Properties", {}), cut)
        }
        if not dependent:
            break
        cut |= dependent
    kept = {name: dict(r) for name, r in resources.items() if name not in cut}
    for resource in kept.values():
        if "DependsOn" in resource:
            resource["DependsOn"] = [d for d in _as_list(resource["DependsOn"]) if d not in cut]
    outputs = template.get("Outputs", {})
    cut_outputs = {name for name, output in outputs.items() if _mentions(output, cut)}
    subset = {
        **template,
        "Resources": kept,
        "Outputs": {n: o for n, o in outputs.items() if n not in cut_outputs},
    }
    return subset, cut_types, cut_outputs


def _as_list(node: Any) -> list[Any]:
    return node if isinstance(node, list) else [node]


def stand_ins(session: boto3.session.Session) -> dict[str, dict[str, str]]:
    """What CloudFormation would have output, from the same resources made through their APIs."""
    sesv2 = session.client("sesv2")
    sesv2.create_configuration_set(ConfigurationSetName="order-pipeline")
    sesv2.create_email_identity(EmailIdentity="shop.example.com")
    secret = session.client("secretsmanager").create_secret(
        Name="order-pipeline-billing-master", SecretString='{"username": "billing_admin"}'
    )
    cluster = session.client("rds").create_db_cluster(
        DBClusterIdentifier="order-pipeline-billing",
        Engine="aurora-postgresql",
        DatabaseName="billing",
        MasterUsername="billing_admin",
        ManageMasterUserPassword=True,
    )
    return {
        "messaging": {
            "SesConfigurationSetName": "order-pipeline",
            "SesIdentityName": "shop.example.com",
        },
        "data": {
            "BillingClusterArn": cluster["DBCluster"]["DBClusterArn"],
            "BillingSecretArn": secret["ARN"],
        },
    }


def create_stacks(
    session: boto3.session.Session,
    parameters: Mapping[str, Mapping[str, str]],
    keys: Collection[str] | None = None,
) -> dict[str, tuple[set[str], set[str]]]:
    """Create every stack CloudFormation deploys (not Ansible's), or those of these keys, cut
    to moto, in deploy order, with the stand-ins' outputs; return each stack's cut resource
    types and outputs."""
    cloudformation = session.client("cloudformation")
    outputs_made = stand_ins(session)
    cuts: dict[str, tuple[set[str], set[str]]] = {}
    for stack in STACKS:
        if stack.deployed_by_ansible or (keys is not None and stack.key not in keys):
            continue
        subset, cut_types, cut_outputs = moto_subset(load_template(stack.template))
        cuts[stack.key] = (cut_types, cut_outputs)
        for name, literal in outputs_made.get(stack.key, {}).items():
            export = {"Name": f"{stack.name}-{name}"}
            subset["Outputs"][name] = {"Value": literal, "Export": export}
        stack_parameters = [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in parameters.get(stack.key, {}).items()
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # moto's "not supported" for cut conditionals
            cloudformation.create_stack(
                StackName=stack.name,
                TemplateBody=json.dumps(subset),
                Parameters=stack_parameters,
                Capabilities=["CAPABILITY_IAM"],
            )
        (described,) = cloudformation.describe_stacks(StackName=stack.name)["Stacks"]
        if described["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"moto did not create {stack.name}: {described['StackStatus']}")
    return cuts
