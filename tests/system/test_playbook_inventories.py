"""playbooks/inventories resolved by ansible, and the host play's inventory, offline.

Nothing here reaches AWS: the inventories' aws_ec2 plugin is not enabled (only the yaml one
is, so an inventory directory contributes its group_vars and no hosts), AWS_ENDPOINT_URL
points at a closed loopback port, and the host play runs on stand-in hosts with a stand-in
role that only records which hosts it configured.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import ROOT

PLAYBOOKS = ROOT / "playbooks"
ANSIBLE_BIN = ROOT / ".venv-ansible" / "bin"
# No AWS: a closed port on loopback, fake keys, the inventory plugin that would call EC2 off.
OFFLINE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_EC2_METADATA_DISABLED": "true",
    "ANSIBLE_INVENTORY_ENABLED": "yaml",
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_NOCOLOR": "1",
}
EXPECTED = {
    "production": {"stage": "production", "min": 2, "max": 6},
    "staging": {"stage": "staging", "min": 1, "max": 2},
}


@pytest.fixture(autouse=True)
def ansible_installed() -> None:
    assert (ANSIBLE_BIN / "ansible").exists(), "run `make ansible-venv` first (make test does)"


def resolve(inventory: Path, expression: str) -> Any:
    """What localhost's plays would see for a Jinja expression, with the playbooks' group_vars."""
    result = subprocess.run(
        [
            str(ANSIBLE_BIN / "ansible"),
            "localhost",
            *("--playbook-dir", str(PLAYBOOKS), "-i", str(inventory)),
            *("-m", "ansible.builtin.debug", "-a", f"msg={{{{ ({expression}) | to_json }}}}"),
        ],
        cwd=PLAYBOOKS,
        env={
            **os.environ,
            **OFFLINE,
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_STDOUT_CALLBACK": "json",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{") :])
    [play] = report["plays"]
    [task] = play["tasks"]
    return json.loads(task["hosts"]["localhost"]["msg"])


@pytest.mark.parametrize("environment", sorted(EXPECTED))
def test_each_inventory_deploys_its_own_stage_and_sizes(environment: str) -> None:
    resolved = resolve(
        PLAYBOOKS / "inventories" / environment,
        "{'stage': order_pipeline_stage, 'min': web_fleet_min_size | int,"
        " 'max': web_fleet_max_size | int, 'web_stage': order_web_stage,"
        " 'account': order_pipeline_account_id | default(None)}",
    )
    expected = EXPECTED[environment]
    assert {key: resolved[key] for key in expected} == expected
    assert resolved["web_stage"] == expected["stage"]
    assert resolved["account"] is not None  # each inventory names its account (account.yml)


def test_the_host_play_configures_the_instances_the_fleet_play_left(tmp_path: Path) -> None:
    """site.yml reads the inventory once at start; the fleet play then replaces the instances.

    Stand-ins: an inventory file the "fleet" play rewrites (i-old terminated, i-new launched),
    then hosts.yml as it is, with a role that records the hosts it ran on.
    """
    shutil.copy(PLAYBOOKS / "hosts.yml", tmp_path / "hosts.yml")
    (tmp_path / "account.yml").write_text(
        "- name: Stand-in for the account check\n  hosts: localhost\n  gather_facts: false\n"
        "  tasks: []\n"
    )
    role = tmp_path / "roles" / "order_web" / "tasks"
    role.mkdir(parents=True)
    configured = tmp_path / "configured.txt"
    (role / "main.yml").write_text(
        "- name: Record the host\n  ansible.builtin.lineinfile:\n"
        f"    path: {configured}\n    line: '{{{{ inventory_hostname }}}}'\n    create: true\n"
        "    mode: '0644'\n"
    )
    inventory = tmp_path / "inventory.yml"

    def hosts(*names: str) -> str:
        local = {
            "ansible_connection": "local",
            "ansible_become": False,
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        }
        return json.dumps({"order_web": {"hosts": {name: local for name in names}}})

    inventory.write_text(hosts("i-old"))
    (tmp_path / "site.yml").write_text(
        "- name: Stand-in for the fleet's rolling update\n  hosts: localhost\n"
        "  gather_facts: false\n  tasks:\n    - name: Replace i-old with i-new\n"
        f"      ansible.builtin.copy:\n        dest: {inventory}\n"
        f"        content: '{hosts('i-new')}'\n        mode: '0644'\n"
        "- name: Configure the web hosts\n  ansible.builtin.import_playbook: hosts.yml\n"
    )
    result = subprocess.run(
        [
            str(ANSIBLE_BIN / "ansible-playbook"),
            *("-i", str(inventory), "-e", "order_web_intake_topic_arn=arn:stand-in"),
            str(tmp_path / "site.yml"),
        ],
        cwd=tmp_path,
        env={**os.environ, **OFFLINE, "ANSIBLE_INVENTORY_ENABLED": "yaml,host_list"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert configured.read_text().split() == ["i-new"]
