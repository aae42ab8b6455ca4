"""A web host's boot, end to end: the launch template's user data on a booted Debian 12.

What runs is the user data exactly as CloudFormation renders it: the web-fleet stack is
deployed by fleet.yml into moto, and the script is read back from the launch template moto
made. The release (host bundle, pinned SSM Agent) is published to moto's S3 by release.yml.
The image (tests/nspawn.py, the converge test's) boots with systemd-nspawn in a network
namespace of the test's own; on its side of the link:
- an IMDSv2-only metadata service on 169.254.169.254 (tests/imds.py), serving this
  instance's id, region and role credentials;
- moto, as the instance's AWS;
- SignalResource, which moto lacks (tests/boot_services.py), recording the signal;
- a forwarding proxy to Debian's mirror (the instance's NAT path).
Like cloud-init, a unit runs the script at boot, its output in /var/log/cloud-init-output.log.

What differs from an EC2 instance, and why:
- no internet: the SSM Agent is a stand-in package of the same name and unit
  (tests/ssm_agent.py), pinned by the release like the real one;
- Debian 12's python3-boto3 (1.26) predates the AWS_ENDPOINT_URL settings (botocore 1.31),
  so the image carries the release's own boto3 in /usr/local, and systemd's
  DefaultEnvironment points every unit at moto and at the SignalResource service;
- cloud-init runs user data once per instance; here it runs at every boot, a stricter
  check: the second boot must change nothing.
"""

import base64
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_stack.moto_server import LocalAws
from tests import ROOT, nspawn, ssm_agent
from tests.boot_services import MirrorProxy, Signal, SignalServer, serving
from tests.system.test_playbook_fleet import (
    IMAGE_PARAMETER,
    Prerequisites,
    _create_prerequisites,
    run_play,
)

# Two boots, the first installing from Debian's mirror: minutes, not the tier's 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REGION = "us-east-1"
STAGE = "test"
STACK = "order-pipeline-web-fleet"
INSTANCE_ID = "i-0b00700000000boot"
ANSIBLE_PLAYBOOK = ROOT / ".venv-ansible" / "bin" / "ansible-playbook"
USER_DATA = Path("var/lib/cloud/instance/user-data.txt")
OUTPUT_LOG = Path("var/log/cloud-init-output.log")
# A /30 of its own: the converge test (10.213.0.0/30) may run at the same time.
HOST_ADDRESS, GUEST_ADDRESS = "10.213.0.5", "10.213.0.6"


@dataclass
class Instance:
    rootfs: Path
    link: nspawn.Link
    signals: list[Signal]
    user_data: str
    boot: Any  # () -> the booted container, as a context manager

    def output(self) -> str:
        path = self.rootfs / OUTPUT_LOG
        return path.read_text(errors="replace") if path.exists() else ""


def _client(endpoint: str, name: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client(name, endpoint_url=endpoint)  # type: ignore[call-overload]


def _publish_and_render(aws: Prerequisites, agent: Path) -> str:
    """release.yml and fleet.yml into moto; the user data CloudFormation rendered."""
    pin = {
        "order_pipeline_ssm_agent_url": agent.as_uri(),
        "order_pipeline_ssm_agent_sha256": ssm_agent.sha256(agent),
    }
    run_play(aws, "release.yml", pin)
    version = _version()
    run_play(
        aws,
        "fleet.yml",
        {
            "order_web_version": version,
            "web_fleet_image_parameter": IMAGE_PARAMETER,
            "web_fleet_min_size": 1,
            "web_fleet_max_size": 2,
        },
    )
    cloudformation = _client(aws.endpoint, "cloudformation")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    [template] = _client(aws.endpoint, "ec2").describe_launch_template_versions(
        LaunchTemplateId=outputs["LaunchTemplateId"], Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    return base64.b64decode(template["LaunchTemplateData"]["UserData"]).decode()


def _version() -> str:
    pyproject = (ROOT / "ec2_tier" / "pyproject.toml").read_text()
    match = re.search(r'(?m)^version = "([^"]+)"', pyproject)
    assert match
    return match.group(1)


def _web_tier_data(endpoint: str) -> None:
    """What the stacks hold that a host reads: the secret parameters, a catalog."""
    _client(endpoint, "ssm").put_parameter(
        Name=f"/order-pipeline/{STAGE}/web/secret-key",
        Value="boot-test-secret",
        Type="SecureString",
    )
    # The key the emails' links are signed with: the host checks them (order_web's role).
    _client(endpoint, "ssm").put_parameter(
        Name=f"/order-pipeline/{STAGE}/order-links/key",
        Value="boot-test-link-key",
        Type="SecureString",
    )
    table = (
        boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        .resource("dynamodb", endpoint_url=endpoint)
        .Table("inventory")
    )
    table.put_item(
        Item={
            "sku": "TEA-EARLGREY",
            "name": "Earl Grey",
            "stock": 10,
            "price": Decimal("4.50"),
            "currency": "EUR",
        }
    )


def _prepare(
    rootfs: Path, user_data: str, aws_endpoint: str, signal_endpoint: str, proxy: str
) -> None:
    """The instance's first boot, as EC2 and cloud-init would leave it, plus the test's AWS."""
    (rootfs / "etc" / "hostname").write_text("ip-10-213-0-6\n")
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n127.0.1.1 ip-10-213-0-6\n")
    script = rootfs / USER_DATA
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(user_data)
    script.chmod(0o700)
    unit = rootfs / "etc" / "systemd" / "system" / "cloud-init-user-data.service"
    unit.write_text(
        "[Unit]\nDescription=Run the instance's user data (as cloud-init's scripts-user)\n"
        "After=network-online.target\n\n"
        f"[Service]\nType=oneshot\nExecStart=/{USER_DATA}\nRemainAfterExit=yes\n"
        f"StandardOutput=append:/{OUTPUT_LOG}\nStandardError=append:/{OUTPUT_LOG}\n"
        "TimeoutStartSec=1200\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    wants = rootfs / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")
    manager = rootfs / "etc" / "systemd" / "system.conf.d"
    manager.mkdir(parents=True, exist_ok=True)
    (manager / "local-aws.conf").write_text(
        "[Manager]\nDefaultEnvironment="
        f'"AWS_ENDPOINT_URL={aws_endpoint}" "AWS_ENDPOINT_URL_CLOUDFORMATION={signal_endpoint}"\n'
    )
    (rootfs / "etc" / "apt" / "apt.conf.d" / "01-test-mirror-proxy").write_text(
        f'Acquire::http::Proxy "{proxy}";\n'
    )
    # The release's boto3 (it reads AWS_ENDPOINT_URL) ahead of Debian's on python3's path.
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            *("-m", "pip", "install", "--quiet", "--no-index", "--no-compile"),
            *("--find-links", str(ROOT / "build" / "host-bundle" / "controller-wheels")),
            *("--target", str(rootfs / "usr" / "local" / "lib" / "python3.11" / "dist-packages")),
            "boto3",
        ],
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


def _resource_exists(endpoint: str) -> Any:
    cloudformation = _client(endpoint, "cloudformation")

    def exists(stack: str, logical_id: str) -> bool:
        try:
            cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        except cloudformation.exceptions.ClientError:
            return False
        return True

    return exists


@pytest.fixture(scope="module")
def instance(
    tmp_path_factory: pytest.TempPathFactory, progress: nspawn.Progress
) -> Iterator[Instance]:
    missing = nspawn.have_tools()
    assert not missing, f"missing {missing}: `make test` installs them (SYSTEM_PACKAGES)"
    assert os.geteuid() == 0, "booting a container and making a network namespace need root"
    assert ANSIBLE_PLAYBOOK.exists(), "run `make ansible-venv` first (make test does)"
    scratch = tmp_path_factory.mktemp("boot")
    image = nspawn.cached_image(progress)
    with ExitStack() as stack:
        name = f"ob{os.getpid() % 100000}"
        link = stack.enter_context(nspawn.network_namespace(name, HOST_ADDRESS, GUEST_ADDRESS))
        aws = stack.enter_context(LocalAws(host=link.host_address))
        prerequisites = _create_prerequisites(
            lambda n: _client(aws.endpoint_url, n), aws.endpoint_url
        )
        _web_tier_data(aws.endpoint_url)
        progress("publishing the release and deploying the web-fleet stack into moto")
        user_data = _publish_and_render(prerequisites, ssm_agent.build(scratch))

        signals_server = SignalServer((link.host_address, 0), _resource_exists(aws.endpoint_url))
        signal_endpoint = stack.enter_context(serving(signals_server))
        mirror_host = nspawn.debian_mirror().split("/")[2]
        proxy = stack.enter_context(serving(MirrorProxy((link.host_address, 0), mirror_host)))
        # The metadata service in the namespace only: the machine's own is untouched.
        subprocess.run(
            [nspawn.IP, "-n", name, "addr", "add", "169.254.169.254/32", "dev", "lo"], check=True
        )
        imds = stack.enter_context(
            subprocess.Popen(
                [
                    nspawn.IP,
                    "netns",
                    "exec",
                    name,
                    str(ROOT / ".venv" / "bin" / "python"),
                    "-m",
                    "tests.imds",
                    "--instance-id",
                    INSTANCE_ID,
                    "--region",
                    REGION,
                    "--role",
                    "order-pipeline-web-fleet-InstanceRole",
                    "--address",
                    GUEST_ADDRESS,
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
        assert imds.stdout
        assert imds.stdout.readline().strip() == "ready"
        stack.callback(imds.terminate)

        rootfs = stack.enter_context(nspawn.overlay(image, scratch / "overlay"))
        _prepare(rootfs, user_data, aws.endpoint_url, signal_endpoint, proxy)

        def boot(log: str) -> Any:
            return nspawn.booted(rootfs, link, scratch / log, f"orderboot{os.getpid()}")

        yield Instance(rootfs, link, signals_server.signals, user_data, boot)


def _wait_for_signals(
    instance: Instance, count: int, container: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while len(instance.signals) < count:
        assert container.poll() is None, "the container stopped"
        assert time.monotonic() < deadline, instance.output()[-6000:]
        time.sleep(2)


def _in_container(container: subprocess.Popen[bytes], *command: str) -> str:
    """Run a command in the booted container's namespaces (its systemd is PID 1 there)."""
    children = Path(f"/proc/{container.pid}/task/{container.pid}/children").read_text().split()
    [init] = children
    result = subprocess.run(
        ["/usr/bin/nsenter", "-t", init, "-m", "-u", "-i", "-n", "-p", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


def _recaps(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"^localhost\s*:\s*ok=\d+\s+changed=(\d+)", output, re.M)]


def test_a_booted_host_serves_signals_success_and_a_second_boot_changes_nothing(
    instance: Instance, progress: nspawn.Progress
) -> None:
    # The script is CloudFormation's rendering: our bucket, stack and version in it.
    assert "order-pipeline-artifacts-test" in instance.user_data
    assert "${" not in instance.user_data.replace("${Version}", "")
    started = time.monotonic()
    with instance.boot("console-1.log") as container:
        _wait_for_signals(instance, 1, container, 900)
        progress(f"first boot configured and signalled in {time.monotonic() - started:.0f}s")
        assert instance.signals[0] == Signal(STACK, "AutoScalingGroup", INSTANCE_ID, "SUCCESS"), (
            instance.output()[-6000:]
        )
        with urllib.request.urlopen(f"http://{GUEST_ADDRESS}:8080/", timeout=10) as page:
            assert "Earl Grey" in page.read().decode()
        # The agent: installed from the bundle, enabled, running; sshd masked.
        status = (instance.rootfs / "var" / "lib" / "dpkg" / "status").read_text()
        assert f"Package: {ssm_agent.PACKAGE}\nStatus: install ok installed" in status
        assert _in_container(container, "systemctl", "is-enabled", ssm_agent.UNIT) == "enabled"
        assert _in_container(container, "systemctl", "is-active", ssm_agent.UNIT) == "active"
        assert _in_container(container, "systemctl", "is-enabled", "ssh.service") == "masked"
        # It booted against IMDSv2 only: the metadata service refuses a request without a token.
        no_token = _in_container(
            container,
            *("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"),
            "http://169.254.169.254/latest/meta-data/instance-id",
        )
        assert no_token == "401"
        first_output = instance.output()
        dpkg_log = (instance.rootfs / "var" / "log" / "dpkg.log").read_text()
    first_recaps = _recaps(first_output)
    assert len(first_recaps) == 1, first_output[-4000:]
    assert first_recaps[0] > 0

    started = time.monotonic()
    with instance.boot("console-2.log") as container:
        _wait_for_signals(instance, 2, container, 600)
        progress(f"second boot in {time.monotonic() - started:.0f}s")
        assert instance.signals[1].status == "SUCCESS", instance.output()[-6000:]
        with urllib.request.urlopen(f"http://{GUEST_ADDRESS}:8080/livez", timeout=10) as live:
            assert live.status == 200
        assert _in_container(container, "systemctl", "is-active", ssm_agent.UNIT) == "active"
    second_recaps = _recaps(instance.output())
    assert second_recaps[1:] == [0], instance.output()[-4000:]
    # Nothing installed or removed again: the agent kept, apt had nothing to do.
    assert (instance.rootfs / "var" / "log" / "dpkg.log").read_text() == dpkg_log
    assert json.dumps([s.status for s in instance.signals]) == '["SUCCESS", "SUCCESS"]'
