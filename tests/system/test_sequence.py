"""The make targets of deploy/sequence.py: the dry run needs no AWS, the usage is told."""

import os
import subprocess

from tests import ROOT


def _make(*arguments: str) -> subprocess.CompletedProcess[str]:
    # No credentials, no endpoint: a dry run must not need them.
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_DEFAULT_REGION"
    }
    environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    return subprocess.run(
        ["/usr/bin/make", "--no-print-directory", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_deploy_dry_run_prints_the_plan_and_the_steps_without_aws() -> None:
    result = _make(
        "deploy",
        "STAGE=staging",
        "DOMAIN=shop.example.com",
        "DRY_RUN=1",
        "PARAMETERS=network.NatGateways=per-az",
    )
    assert result.returncode == 0, result.stderr
    assert "==> 1. order-pipeline-network" in result.stdout
    assert "NatGateways = per-az (given)" in result.stdout
    assert "Then, for environment staging (Chalice stage staging):" in result.stdout
    assert "  web-fleet: ansible-playbook site.yml" in result.stdout


def test_the_targets_say_how_to_call_them() -> None:
    deploy, destroy = _make("deploy", "STAGE=production"), _make("destroy")
    assert deploy.returncode == destroy.returncode == 2
    assert "usage: make deploy STAGE=production|staging DOMAIN=" in deploy.stdout
    assert "usage: make destroy STAGE=production|staging" in destroy.stdout
