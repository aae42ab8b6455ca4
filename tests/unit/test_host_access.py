"""How an operator and hosts.yml reach a web host: Session Manager, and nothing else.

Debian's AMI has no SSM Agent and the role stops sshd, so without the agent installed at
boot no one can reach a host (issue 14, defect 2). What the boot does with it is proven on a
booted Debian image in tests/system/test_boot_path.py; here, what the files say.
"""

from typing import Any

import pytest
import yaml

from deploy.templates import Template
from tests import ROOT
from tests.cfn import templates

PLAYBOOKS = ROOT / "playbooks"
# What Session Manager needs of an instance's role, as AWS's "custom IAM role for Session
# Manager" lists it: no ssm:GetParameter(s) on *, no Run Command (ec2messages).
SESSION_MANAGER_ACTIONS = {
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


@pytest.fixture(scope="module")
def fleet() -> Template:
    return templates()["web-fleet"]


def user_data(fleet: Template) -> str:
    script, _ = fleet["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"][
        "UserData"
    ]["Fn::Base64"]["Fn::Sub"]
    return str(script)


def _line(script: str, text: str) -> int:
    lines = [number for number, line in enumerate(script.splitlines()) if text in line]
    assert lines, f"{text!r} is not in the user data"
    return lines[0]


def test_the_user_data_installs_and_enables_the_agent_before_configuring_the_host(
    fleet: Template,
) -> None:
    script = user_data(fleet)
    unpacked = _line(script, "tar -xzf bundle.tar.gz")
    installed = _line(script, 'dpkg -i "$agent"')
    enabled = _line(script, "systemctl enable --now amazon-ssm-agent.service")
    configured = _line(script, "ansible-playbook")
    # From the release's bundle (pinned, checked), first: a failed boot is still reachable.
    assert "agent=bundle/amazon-ssm-agent.deb" in script
    assert unpacked < installed < enabled < configured
    # Installed again only when the bundle's version differs: a re-run changes nothing.
    assert "dpkg-query -W -f='${!Version}' amazon-ssm-agent" in script
    # sshd stays off; curl is there for the aws_ssm connection's file transfers.
    assert '"order_web_sshd_enabled": false' in script
    assert " curl " in script.split("apt-get install", 1)[1].splitlines()[0]


def _statements(fleet: Template) -> list[dict[str, Any]]:
    role = fleet["Resources"]["InstanceRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # not AmazonSSMManagedInstanceCore
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_the_instance_role_allows_session_manager_and_no_more_of_systems_manager(
    fleet: Template,
) -> None:
    statements = _statements(fleet)
    [agent] = [s for s in statements if s["Sid"] == "SessionManagerAgent"]
    assert set(agent["Action"]) == SESSION_MANAGER_ACTIONS
    others = {
        action
        for s in statements
        if s is not agent
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not {a for a in others if a.split(":")[0] in {"ssm", "ssmmessages", "ec2messages"}} - {
        "ssm:GetParameter"
    }


def test_private_subnets_reach_the_session_manager_endpoints_through_nat() -> None:
    """Without a NAT route the agent would need ssm and ssmmessages interface endpoints."""
    network = templates()["network"]
    routes = [
        r["Properties"]
        for r in network["Resources"].values()
        if r["Type"] == "AWS::EC2::Route"
        and r["Properties"]["RouteTableId"]["Ref"].startswith("PrivateRouteTable")
    ]
    assert len(routes) == 2
    assert all(r["DestinationCidrBlock"] == "0.0.0.0/0" and "NatGatewayId" in r for r in routes)
    egress = templates()["security"]["Resources"]["WebSecurityGroup"]["Properties"][
        "SecurityGroupEgress"
    ]
    assert any(rule["FromPort"] == 443 and rule["CidrIp"] == "0.0.0.0/0" for rule in egress)


def test_the_release_puts_the_pinned_agent_in_the_host_bundle() -> None:
    plays = yaml.safe_load((PLAYBOOKS / "release.yml").read_text())
    tasks = [task for play in plays for task in play.get("tasks", [])]
    [download] = [t for t in tasks if "ansible.builtin.get_url" in t]
    fetch = download["ansible.builtin.get_url"]
    assert fetch["dest"].endswith("/amazon-ssm-agent.deb")
    assert fetch["checksum"] == "sha256:{{ order_pipeline_ssm_agent_sha256 }}"
    shared = yaml.safe_load((PLAYBOOKS / "group_vars" / "all.yml").read_text())
    # AWS's documented regional bucket for Debian on x86_64.
    url = " ".join(shared["order_pipeline_ssm_agent_url"].split())
    assert url.startswith("https://s3.{{ order_pipeline_region }}.amazonaws.com/amazon-ssm-")
    assert url.endswith("/debian_amd64/amazon-ssm-agent.deb")


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_hosts_yml_reaches_hosts_through_session_manager(environment: str) -> None:
    path = PLAYBOOKS / "inventories" / environment / "group_vars" / "order_web.yml"
    settings = yaml.safe_load(path.read_text())
    assert settings["ansible_connection"] == "community.aws.aws_ssm"
    assert settings["ansible_aws_ssm_bucket_name"]
    assert settings["order_web_sshd_enabled"] is False
    inventory = yaml.safe_load((path.parent.parent / "aws_ec2.yml").read_text())
    assert inventory["hostnames"] == ["instance-id"]
