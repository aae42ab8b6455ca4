"""site.yml's AWS play (fleet.yml) against moto: the web-fleet stack's launch template and group.

The stacks it imports from are stood in by small stacks in moto that export the contract's
names with values of resources created here through boto3 (a VPC and its private subnets,
the web security group, the key, the target group, the topic, the tables, the bucket).
"""

import json
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local_stack.moto_server import LocalAws
from tests import ROOT, ssm_agent

PLAYBOOKS = ROOT / "playbooks"
ANSIBLE_PLAYBOOK = ROOT / ".venv-ansible" / "bin" / "ansible-playbook"
REGION = "us-east-1"
STAGE = "test"
IMAGE_PARAMETER = f"/order-pipeline/{STAGE}/web/image-id"


@dataclass(frozen=True)
class Prerequisites:
    endpoint: str
    private_subnets: list[str]
    target_group_arn: str
    web_security_group: str


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[Prerequisites]:
    assert ANSIBLE_PLAYBOOK.exists(), "run `make ansible-venv` first (make test does)"
    with LocalAws() as aws:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=aws.endpoint_url)  # type: ignore[call-overload]

        yield _create_prerequisites(client, aws.endpoint_url)


def _create_prerequisites(client: Any, endpoint: str) -> Prerequisites:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((0, "a"), (1, "b"), (10, "a"), (11, "b"))
    ]
    public, private = subnets[:2], subnets[2:]
    web_group = ec2.create_security_group(GroupName="web", Description="web hosts", VpcId=vpc)[
        "GroupId"
    ]
    target_group = client("elbv2").create_target_group(
        Name="order-web", Protocol="HTTP", Port=8080, VpcId=vpc, HealthCheckPath="/livez"
    )["TargetGroups"][0]["TargetGroupArn"]
    key = client("kms").create_key(Description="order-pipeline")["KeyMetadata"]["Arn"]
    topic = client("sns").create_topic(Name="order-intake")["TopicArn"]
    dynamodb = client("dynamodb")
    tables = {
        name: dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key_name, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key_name, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
        for name, key_name in (("orders", "order_id"), ("inventory", "sku"))
    }
    client("s3").create_bucket(Bucket="order-pipeline-artifacts-test")
    # Debian's public parameter is not in moto: a parameter of ours names one of moto's AMIs.
    [image, *_] = ec2.describe_images(Owners=["amazon"])["Images"]
    client("ssm").put_parameter(
        Name=IMAGE_PARAMETER, Value=image["ImageId"], Type="String", DataType="aws:ec2:image"
    )
    exports = {
        "order-pipeline-network": {"VpcId": vpc, "PrivateSubnetIds": ",".join(private)},
        "order-pipeline-security": {
            "KeyArn": key,
            "WebSecurityGroupId": web_group,
            "AutoScalingServiceRoleArn": "arn:aws:iam::123456789012:role/aws-service-role/"
            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_order-pipeline",
        },
        "order-pipeline-messaging": {"OrderIntakeTopicArn": topic},
        "order-pipeline-data": {
            "OrdersTableName": "orders",
            "OrdersTableArn": tables["orders"],
            "InventoryTableName": "inventory",
            "InventoryTableArn": tables["inventory"],
            "ArtifactsBucketName": "order-pipeline-artifacts-test",
        },
        "order-pipeline-edge": {"TargetGroupArn": target_group},
    }
    cloudformation = client("cloudformation")
    for stack, outputs in exports.items():
        cloudformation.create_stack(
            StackName=stack, TemplateBody=json.dumps(_exporter(stack, outputs))
        )
    assert public  # the public subnets exist so that "only the private ones" means something
    return Prerequisites(endpoint, private, target_group, web_group)


def _exporter(stack: str, outputs: dict[str, str]) -> dict[str, Any]:
    """A stand-in for an upstream stack: its outputs, exported under the contract's names."""
    return {
        # A template needs a resource; a parameter is the cheapest one moto creates.
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/stand-in/{stack}", "Type": "String", "Value": "-"},
            }
        },
        "Outputs": {
            name: {"Value": value, "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{name}"}}}
            for name, value in outputs.items()
        },
    }


# moto's account: what STS GetCallerIdentity answers there.
ACCOUNT_ID = "123456789012"
# What inventories/<env>/group_vars/all.yml gives the plays (the test's inventory is -i localhost,).
ENVIRONMENT_VARIABLES = {
    "order_pipeline_stage": STAGE,
    "order_pipeline_account_id": ACCOUNT_ID,
    "order_pipeline_region": REGION,
    "web_fleet_instance_type": "t3.small",
}


def play(
    aws: Prerequisites, playbook: str, variables: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
    }
    return subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            *("-i", "localhost,", "-e", json.dumps({**ENVIRONMENT_VARIABLES, **variables})),
            str(PLAYBOOKS / playbook),
        ],
        cwd=PLAYBOOKS,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_play(aws: Prerequisites, playbook: str, variables: dict[str, Any]) -> tuple[int, str]:
    result = play(aws, playbook, variables)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert recap, output[-3000:]
    return int(recap.group(1)), output


def run_fleet_play(aws: Prerequisites, version: str = "0.1.0") -> tuple[int, str]:
    variables = {
        "order_web_version": version,
        "web_fleet_image_parameter": IMAGE_PARAMETER,
        "web_fleet_min_size": 1,
        "web_fleet_max_size": 2,
    }
    return run_play(aws, "fleet.yml", variables)


@pytest.mark.parametrize("playbook", ["site.yml", "fleet.yml", "hosts.yml"])
def test_credentials_of_another_account_change_nothing(
    moto_aws: Prerequisites, playbook: str
) -> None:
    """-i inventories/staging with production's credentials: refused before any change."""
    result = play(moto_aws, playbook, {"order_pipeline_account_id": "111122223333"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"These credentials are account {ACCOUNT_ID}" in output, output[-3000:]
    assert "Nothing was changed" in output
    assert re.search(r"localhost\s*:\s*ok=\d+\s+changed=0\b", output), output[-3000:]


@pytest.fixture(scope="module")
def fleet(moto_aws: Prerequisites) -> dict[str, Any]:
    changed, _ = run_fleet_play(moto_aws)
    assert changed == 1
    clients = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    stack = clients.client("cloudformation", endpoint_url=moto_aws.endpoint).describe_stacks(
        StackName="order-pipeline-web-fleet"
    )["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    return {"outputs": outputs, "session": clients}


def _launch_template_versions(aws: Prerequisites, template_id: str) -> list[dict[str, Any]]:
    ec2 = boto3.client(
        "ec2",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    versions: list[dict[str, Any]] = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id
    )["LaunchTemplateVersions"]
    return versions


def test_the_launch_template_requires_imdsv2_and_gives_no_public_address(
    moto_aws: Prerequisites, fleet: dict[str, Any]
) -> None:
    [version] = _launch_template_versions(moto_aws, fleet["outputs"]["LaunchTemplateId"])
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert int(data["MetadataOptions"]["HttpPutResponseHopLimit"]) == 1
    [interface] = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is False
    assert interface["Groups"] == [moto_aws.web_security_group]
    [volume] = data["BlockDeviceMappings"]
    assert volume["Ebs"]["Encrypted"] is True
    assert volume["Ebs"]["VolumeType"] == "gp3"
    assert "IamInstanceProfile" in data


def test_the_group_spans_the_private_subnets_behind_the_target_group(
    moto_aws: Prerequisites, fleet: dict[str, Any]
) -> None:
    autoscaling = fleet["session"].client("autoscaling", endpoint_url=moto_aws.endpoint)
    [group] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[fleet["outputs"]["AutoScalingGroupName"]]
    )["AutoScalingGroups"]
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(moto_aws.private_subnets)
    assert group["TargetGroupARNs"] == [moto_aws.target_group_arn]
    assert group["HealthCheckType"] == "ELB"
    assert group["LaunchTemplate"]["LaunchTemplateId"] == fleet["outputs"]["LaunchTemplateId"]


def test_a_second_run_changes_nothing(moto_aws: Prerequisites, fleet: dict[str, Any]) -> None:
    changed, output = run_fleet_play(moto_aws)
    assert changed == 0, output[-3000:]
    assert len(_launch_template_versions(moto_aws, fleet["outputs"]["LaunchTemplateId"])) == 1


def test_a_new_version_is_a_new_launch_template_version(
    moto_aws: Prerequisites, fleet: dict[str, Any]
) -> None:
    changed, output = run_fleet_play(moto_aws, version="0.1.1")
    assert changed == 1, output[-3000:]
    versions = _launch_template_versions(moto_aws, fleet["outputs"]["LaunchTemplateId"])
    user_data = {version["VersionNumber"]: version["LaunchTemplateData"] for version in versions}
    assert len(user_data) == 2


@pytest.fixture(scope="module")
def agent_pin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No internet here: the release pins a stand-in of AWS's SSM Agent package, built here."""
    package = ssm_agent.build(tmp_path_factory.mktemp("ssm-agent"))
    return {
        "order_pipeline_ssm_agent_url": package.as_uri(),
        "order_pipeline_ssm_agent_sha256": ssm_agent.sha256(package),
    }


def test_the_release_refuses_an_agent_that_is_not_the_pinned_one(
    moto_aws: Prerequisites, agent_pin: dict[str, str]
) -> None:
    for pin in ("", "0" * 64):
        variables = {**agent_pin, "order_pipeline_ssm_agent_sha256": pin}
        result = play(moto_aws, "release.yml", variables)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_aws.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert (
        s3.list_objects_v2(Bucket="order-pipeline-artifacts-test", Prefix="web/")["KeyCount"] == 0
    )


def test_the_release_is_published_once_per_version(
    moto_aws: Prerequisites, agent_pin: dict[str, str]
) -> None:
    changed, output = run_play(moto_aws, "release.yml", agent_pin)
    assert changed == 1, output[-3000:]
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_aws.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listing = s3.list_objects_v2(Bucket="order-pipeline-artifacts-test", Prefix="web/")
    keys = {item["Key"] for item in listing["Contents"]}
    [version] = {key.split("/")[2] for key in keys}
    assert keys == {
        f"web/order-web/{version}/order_web-{version}-py3-none-any.whl",
        f"web/order-web/{version}/host-bundle.tar.gz",
    }
    # The bundle holds what user data runs: the role, local.yml, the wheels, amazon.aws.
    bundle = ROOT / "build" / f"host-bundle-{version}.tar.gz"
    with tarfile.open(bundle) as packed:
        names = set(packed.getnames())
    for name in (
        "local.yml",
        "ansible.cfg",
        "controller-requirements.txt",
        "roles/order_web/tasks/main.yml",
        f"wheelhouse/order_web-{version}-py3-none-any.whl",
        "collections/ansible_collections/amazon/aws/plugins/lookup/ssm_parameter.py",
        "amazon-ssm-agent.deb",
    ):
        assert name in names, name
    assert any(name.startswith("controller-wheels/ansible_core-") for name in names)
    # A version is published once: the same version again changes nothing.
    changed, output = run_play(moto_aws, "release.yml", agent_pin)
    assert changed == 0, output[-3000:]
