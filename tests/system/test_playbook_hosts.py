"""The host role converged over real SSH on a booted Debian 12 (systemd-nspawn), twice.

The container sits in a network namespace of the test's own, joined by a veth pair: the
host side (10.213.0.1) runs moto for the web tier's AWS and is where Ansible and the checks
connect from; the container (10.213.0.2) has no other network, so everything it installs
comes from the wheelhouse the role copies.
"""

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

import boto3
import pytest

from local_stack.moto_server import LocalAws
from local_stack.resources import provision
from tests import ROOT, nspawn

PLAYBOOKS = ROOT / "playbooks"
ANSIBLE_PLAYBOOK = ROOT / ".venv-ansible" / "bin" / "ansible-playbook"
WHEELHOUSE = ROOT / "build" / "wheelhouse"
STAGE = "test"
SECRET_PARAMETER = f"/order-pipeline/{STAGE}/web/secret-key"
LINK_KEY_PARAMETER = f"/order-pipeline/{STAGE}/order-links/key"
LOG_GROUP = f"/order-pipeline/{STAGE}/web"


@dataclass(frozen=True)
class Converge:
    returncode: int
    output: str

    @property
    def changed(self) -> int:
        recap = re.search(r"^web-1\s*:\s*ok=\d+\s+changed=(\d+)", self.output, re.MULTILINE)
        assert recap, self.output[-3000:]
        return int(recap.group(1))


@dataclass(frozen=True)
class Host:
    address: str
    rootfs: Path
    key: Path
    endpoint: str
    converge: "ConvergeRunner"

    def ssh(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "/usr/bin/ssh",
                *("-i", str(self.key), "-o", "StrictHostKeyChecking=no"),
                *("-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"),
                f"{nspawn.ADMIN_USER}@{self.address}",
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


class ConvergeRunner:
    """ansible-playbook hosts.yml against the container, as site.yml's host play runs it."""

    def __init__(self, inventory: Path, variables: Path, environment: dict[str, str]) -> None:
        self._command = [
            str(ANSIBLE_PLAYBOOK),
            *("-i", str(inventory), "-e", f"@{variables}"),
            str(PLAYBOOKS / "hosts.yml"),
        ]
        self._environment = environment
        self.runs: list[Converge] = []

    def __call__(self) -> Converge:
        result = subprocess.run(
            self._command,
            cwd=PLAYBOOKS,
            env=self._environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.runs.append(Converge(result.returncode, result.stdout + result.stderr))
        return self.runs[-1]


def _wheel_version() -> str:
    subprocess.run(
        ["/usr/bin/make", "--no-print-directory", "wheelhouse"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = WHEELHOUSE.glob("order_web-*.whl")
    return wheel.name.split("-")[1]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, progress: nspawn.Progress) -> Iterator[Host]:
    missing = nspawn.have_tools()
    assert not missing, f"missing {missing}: `make test` installs them (SYSTEM_PACKAGES)"
    assert os.geteuid() == 0, "booting a container and making a network namespace need root"
    assert ANSIBLE_PLAYBOOK.exists(), "run `make ansible-venv` first (make test does)"
    scratch = tmp_path_factory.mktemp("host")
    image = nspawn.cached_image(progress)
    version = _wheel_version()
    with ExitStack() as stack:
        link = stack.enter_context(nspawn.network_namespace(f"ow{os.getpid() % 100000}"))
        # moto on the host end of the link: the container's gunicorn and shipper reach it.
        aws = stack.enter_context(LocalAws(host=link.host_address))
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
        }
        topic_arn = _provision(environment, scratch)

        rootfs = stack.enter_context(nspawn.overlay(image, scratch / "overlay"))
        key = scratch / "id_ed25519"
        subprocess.run(
            ["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
        _first_boot(rootfs, key.with_suffix(".pub").read_text())
        container = stack.enter_context(
            nspawn.booted(rootfs, link, scratch / "console.log", f"orderweb{os.getpid()}")
        )
        nspawn.wait_for_port(link.guest_address, 22, 60, container)

        inventory = scratch / "inventory.yml"
        inventory.write_text(
            json.dumps(
                {
                    "order_web": {
                        "hosts": {
                            "web-1": {
                                "ansible_host": link.guest_address,
                                "ansible_user": nspawn.ADMIN_USER,
                                "ansible_ssh_private_key_file": str(key),
                                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                                "-o UserKnownHostsFile=/dev/null",
                                "ansible_python_interpreter": "/usr/bin/python3",
                            }
                        }
                    }
                }
            )
        )
        variables = scratch / "vars.json"
        variables.write_text(
            json.dumps(
                {
                    # What inventories/<env>/group_vars/all.yml gives; moto's account.
                    "order_pipeline_stage": STAGE,
                    "order_pipeline_region": "us-east-1",
                    "order_pipeline_account_id": "123456789012",
                    "order_web_version": version,
                    "order_web_wheelhouse_src": str(WHEELHOUSE),
                    "order_web_stage": STAGE,
                    # The stacks' outputs that hosts.yml would otherwise read.
                    "order_web_intake_topic_arn": topic_arn,
                    "order_web_inventory_table": "inventory",
                    "order_web_orders_table": "orders",
                    "order_web_workers": 2,
                    "order_web_sshd_allow_users": [nspawn.ADMIN_USER],
                    # The container's only AWS: moto on the host end of the link.
                    "order_web_extra_environment": {
                        "AWS_ENDPOINT_URL": aws.endpoint_url,
                        "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing",
                    },
                }
            )
        )
        yield Host(
            link.guest_address,
            rootfs,
            key,
            aws.endpoint_url,
            ConvergeRunner(inventory, variables, environment),
        )


def _provision(environment: dict[str, str], scratch: Path) -> str:
    """The web tier's AWS in moto: topics, tables, the secret parameter, a catalog, a log group."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"])
        provisioned = provision(session, f"sqlite:///{scratch / 'billing.db'}")
        session.client("ssm").put_parameter(
            Name=SECRET_PARAMETER, Value="converge-test-secret", Type="SecureString"
        )
        session.client("ssm").put_parameter(
            Name=LINK_KEY_PARAMETER, Value="converge-test-link-key", Type="SecureString"
        )
        session.client("logs").create_log_group(logGroupName=LOG_GROUP)
        session.resource("dynamodb").Table("inventory").put_item(
            Item={
                "sku": "TEA-EARLGREY",
                "name": "Earl Grey",
                "stock": 10,
                "price": Decimal("4.50"),
                "currency": "EUR",
            }
        )
    return provisioned.topic_arns["order-intake"]


def _first_boot(rootfs: Path, public_key: str) -> None:
    """What cloud-init does on an instance's first boot: its name and the admin's key."""
    (rootfs / "etc" / "hostname").write_text("web-1\n")
    (rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n127.0.1.1 web-1\n")
    home = rootfs / "home" / nspawn.ADMIN_USER
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    (ssh_dir / "authorized_keys").chmod(0o600)
    owner = home.stat()
    for path in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, owner.st_uid, owner.st_gid)


@pytest.fixture(scope="module")
def first_converge(host: Host, progress: nspawn.Progress) -> Converge:
    started = time.monotonic()
    result = host.converge()
    progress(f"first converge: {time.monotonic() - started:.0f}s")
    assert result.returncode == 0, result.output[-6000:]
    return result


def test_the_service_runs_under_systemd_as_its_own_user(
    host: Host, first_converge: Converge
) -> None:
    assert first_converge.changed > 0
    active = host.ssh(
        "systemctl", "is-active", "order-web.service", "order-web-log-shipper.service"
    )
    assert active.stdout.split() == ["active", "active"], active.stdout + active.stderr
    user = host.ssh("systemctl", "show", "-P", "User", "order-web.service")
    assert user.stdout.strip() == "order-web"
    socket = host.ssh("sudo", "test", "-S", "/run/order-web/gunicorn.ctl")
    assert socket.returncode == 0, "gunicorn's control socket belongs in the RuntimeDirectory"


def test_the_storefront_answers_over_the_link(host: Host, first_converge: Converge) -> None:
    base = f"http://{host.address}:8080"
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok"}
    with urllib.request.urlopen(f"{base}/", timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert "Earl Grey" in response.read().decode()


def _paths(messages: list[str]) -> set[str]:
    """The request paths of the access log lines among messages (JSON, however spaced)."""
    paths = set()
    for message in messages:
        try:
            paths.add(json.loads(message).get("path"))
        except (ValueError, AttributeError):
            continue
    return paths


def test_the_service_journal_reaches_cloudwatch_logs(host: Host, first_converge: Converge) -> None:
    logs = boto3.client("logs", endpoint_url=host.endpoint, region_name="us-east-1")
    deadline = time.monotonic() + 30
    messages: list[str] = []
    while time.monotonic() < deadline and "/healthz" not in _paths(messages):
        time.sleep(1)
        events = logs.filter_log_events(logGroupName=LOG_GROUP)["events"]
        messages = [event["message"] for event in events]
    shipper = host.ssh(
        "sudo", "journalctl", "--no-pager", "-n", "30", "-u", "order-web-log-shipper"
    )
    assert "/healthz" in _paths(messages), shipper.stdout + "\n".join(messages[-5:])


def test_a_second_converge_changes_nothing(
    host: Host, first_converge: Converge, progress: nspawn.Progress
) -> None:
    started = time.monotonic()
    second = host.converge()
    progress(f"second converge: {time.monotonic() - started:.0f}s")
    assert second.returncode == 0, second.output[-6000:]
    assert second.changed == 0, second.output[-6000:]


def test_systemd_analyze_verify_finds_nothing(host: Host, first_converge: Converge) -> None:
    for unit in ("order-web.service", "order-web-log-shipper.service"):
        verify = host.ssh("sudo", "systemd-analyze", "verify", f"/etc/systemd/system/{unit}")
        assert verify.returncode == 0, verify.stderr
        assert verify.stderr == "", verify.stderr


def test_sshd_refuses_root_and_passwords(host: Host, first_converge: Converge) -> None:
    effective = host.ssh("sudo", "sshd", "-T").stdout
    assert "permitrootlogin no" in effective
    assert "passwordauthentication no" in effective
    assert "kbdinteractiveauthentication no" in effective
