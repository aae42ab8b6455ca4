"""make deploy's dry run and step list (deploy/sequence.py), without AWS."""

from pathlib import Path

import boto3

from deploy import sequence
from deploy.stacks import STACKS


def test_the_dry_run_is_the_plan_then_the_remaining_steps_and_needs_no_aws() -> None:
    env = sequence.Environment(
        boto3.session.Session(region_name="us-east-1"),
        "production",
        "shop.example.com",
        overrides={"network": {"NatGateways": "per-az"}},
    )
    lines = sequence.dry_run(env)
    text = "\n".join(lines)
    for stack in STACKS:
        assert stack.name in text
    assert "DomainName = shop.example.com (given)" in text
    assert "Still required" not in text
    assert "NatGateways = per-az (given)" in text
    tail = lines[lines.index("Then, for environment production (Chalice stage prod):") + 1 :]
    assert [line.split(":")[0].strip() for line in tail] == [
        "stage-configuration",
        "migration",
        "link-key",
        "serverless",
        "batch-failures",
        "rates",
        "web-secret",
        "web-fleet",
    ]


def test_deploy_follows_the_readme_order() -> None:
    names = [step.name for step in sequence.deploy_steps()]
    stacks = [stack.key for stack in STACKS if not stack.deployed_by_ansible]
    assert names[: len(stacks)] == stacks
    assert names.index("migration") < names.index("serverless") < names.index("batch-failures")
    assert names.index("batch-failures") < names.index("rates") < names.index("web-fleet")
    assert names.index("web-secret") < names.index("web-fleet")
    # The functions read the link key when they first email: it exists before they do.
    assert names.index("link-key") < names.index("serverless")


def test_the_web_fleet_step_names_what_the_playbooks_need_before_the_first_run() -> None:
    """The committed inventories leave the account id and the agent's pin to the operator."""
    unset = sequence.web_fleet_unset(sequence.REPOSITORY / "playbooks" / "inventories" / "staging")
    assert [item.split(" in ")[0] for item in unset] == [
        "order_pipeline_account_id",
        "order_pipeline_ssm_agent_sha256",
    ]


def test_chalice_deploy_runs_again_only_when_the_app_changed(tmp_path: Path) -> None:
    app = tmp_path / "chalice_app"
    (app / ".chalice" / "deployed").mkdir(parents=True)
    (app / "app.py").write_text("app = 1\n")
    first = sequence.app_fingerprint(app, "prod")
    (app / ".chalice" / "deployed" / "prod.json").write_text("{}")  # chalice's own record
    assert sequence.app_fingerprint(app, "prod") == first
    assert sequence.app_fingerprint(app, "staging") != first
    (app / "app.py").write_text("app = 2\n")
    assert sequence.app_fingerprint(app, "prod") != first
