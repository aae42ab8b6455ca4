"""make deploy and make destroy (deploy/sequence.py) against moto, for the part moto supports.

The stacks are the real templates cut to what moto's CloudFormation creates (tests/moto_stacks.py);
the billing database is SQLite through the same ledger; `chalice deploy` is stood in by the
functions and SQS triggers it makes, created through moto's Lambda; ansible-playbook
(site.yml) runs in tests/system/test_playbook_fleet.py and is skipped here.
"""

import io
import json
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.sql.database import database_from_url
from chalicelib.fx import EuroRate
from deploy import sequence, stack_ops
from deploy.stacks import Stack
from deploy.templates import load_template
from tests import ROOT
from tests.moto_stacks import moto_subset, stand_ins

DOMAIN = "shop.example.com"
# Not in moto's reach: ansible-playbook (a system test runs site.yml's plays against moto).
SKIP = ("web-fleet",)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[sequence.Environment]:
    # moto's Lambda without docker: invocations answer, nothing runs.
    with mock_aws(config={"lambda": {"use_docker": False}}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto's "not supported" for the cut templates
        session = boto3.session.Session(region_name="us-east-1")
        made = stand_ins(session)

        def body(stack: Stack) -> str:
            subset, _, _ = moto_subset(load_template(stack.template))
            for name, literal in made.get(stack.key, {}).items():
                subset["Outputs"][name] = {
                    "Value": literal,
                    "Export": {"Name": f"{stack.name}-{name}"},
                }
            return json.dumps(subset)

        chalice_dir = tmp_path / "app" / ".chalice"
        shutil.copytree(ROOT / "chalice_app" / ".chalice", chalice_dir, ignore=_deployed)
        billing = f"sqlite:///{tmp_path / 'billing.db'}"
        lines = Lines()
        yield sequence.Environment(
            session,
            "production",
            DOMAIN,
            chalice_dir=chalice_dir,
            say=lines,
            poll_seconds=0,
            body=body,
            database=lambda _url, s: database_from_url(billing, s),
            ses_send_rate=14,  # moto has no sesv2 GetAccount
        )


def _deployed(directory: str, names: list[str]) -> list[str]:
    return ["deployed"] if "deployed" in names else []


def _chalice_deploy_stand_in(env: sequence.Environment) -> str:
    """What `chalice deploy` creates that later steps use: the functions and SQS triggers."""
    iam, lambda_ = env.client("iam"), env.client("lambda")
    role = iam.create_role(RoleName="order-pipeline-prod", AssumeRolePolicyDocument="{}")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return {}\n")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in env.client("cloudformation").describe_stacks(StackName="order-pipeline-messaging")[
            "Stacks"
        ][0]["Outputs"]
    }
    queues = {
        "process_order": outputs["OrderFulfillmentQueueArn"],
        "initiate_billing": outputs["OrderBillingQueueArn"],
        "customer_communications": outputs["OrderNotificationsQueueArn"],
    }
    for function in ("refresh_exchange_rates", *queues):
        lambda_.create_function(
            FunctionName=env.function(function),
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )
    for function, queue in queues.items():
        lambda_.create_event_source_mapping(
            FunctionName=env.function(function), EventSourceArn=queue, BatchSize=10
        )
    # What the real step records after chalice deploy: the app as deployed.
    record = sequence._deployed_record(env)
    record.parent.mkdir(exist_ok=True)
    record.write_text(sequence.app_fingerprint(env.chalice_dir.parent, env.chalice_stage))
    return "stood in"


def _steps() -> list[sequence.Step]:
    return [
        sequence.Step(s.name, s.why, _chalice_deploy_stand_in) if s.name == "serverless" else s
        for s in sequence.deploy_steps()
    ]


def test_deploy_runs_every_step_in_order_then_a_second_run_changes_nothing(
    env: sequence.Environment,
) -> None:
    first = sequence.run_steps(env, _steps(), SKIP)
    assert list(first) == [
        "network",
        "security",
        "messaging",
        "data",
        "edge",
        "observability",
        "stage-configuration",
        "migration",
        "link-key",
        "serverless",
        "batch-failures",
        "rates",
        "web-secret",
    ]
    assert all(
        first[key] == "created"
        for key in ("network", "security", "messaging", "data", "edge", "observability")
    )
    assert first["stage-configuration"] == "written"
    assert first["migration"].startswith("applied ")
    assert first["batch-failures"] == "set"
    assert first["rates"] == "refreshed"
    assert first["web-secret"] == "created"
    assert first["link-key"] == "created"
    # Both SecureStrings on our key (which the web hosts' and the functions' roles may use),
    # not the account's aws/ssm key.
    secure_strings = env.client("ssm").describe_parameters(
        ParameterFilters=[
            {
                "Key": "Name",
                "Values": [
                    "/order-pipeline/production/order-links/key",
                    "/order-pipeline/production/web/secret-key",
                ],
            }
        ]
    )["Parameters"]
    assert [(p["Type"], p.get("KeyId")) for p in secure_strings] == [
        ("SecureString", "alias/order-pipeline")
    ] * 2
    config = json.loads((env.chalice_dir / "config.json").read_text())
    assert config["stages"]["prod"]["environment_variables"]["SES_SENDER"] == f"orders@{DOMAIN}"
    mappings = env.client("lambda").list_event_source_mappings(
        FunctionName=env.function("initiate_billing")
    )["EventSourceMappings"]
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mappings[0]["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert isinstance(env.say, Lines)
    assert any(line.startswith("==> [5/14] edge: stack order-pipeline-edge") for line in env.say)

    # The refresh_exchange_rates function's effect (moto's Lambda runs no code): today's rates.
    _load_rates(env)
    # The real steps, chalice deploy's included: nothing to do.
    second = sequence.run_steps(env, sequence.deploy_steps(), SKIP)
    assert set(second.values()) == {"unchanged", "unchanged (rates already loaded)"}, second


def _load_rates(env: sequence.Environment) -> None:
    ledger: Any = sequence._ledger(env)
    ledger.save_rates([EuroRate("USD", datetime.now(UTC).date(), Decimal("1.08"))])


class Lines(list[str]):
    """The progress the sequence says, kept."""

    def __call__(self, line: str) -> None:
        self.append(line)


def test_the_edge_stack_stops_for_the_certificates_dns_record(env: sequence.Environment) -> None:
    acm = env.client("acm")
    arn = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
    message = sequence.pending_certificate(env)
    assert message is not None
    [option] = acm.describe_certificate(CertificateArn=arn)["Certificate"][
        "DomainValidationOptions"
    ]
    assert option["ResourceRecord"]["Name"] in message
    assert option["ResourceRecord"]["Value"] in message
    assert "make deploy" in message
    # With the zone in Route 53, ACM writes the record itself: nothing to wait for.
    env.hosted_zone_id = "Z0123456789"
    assert sequence.pending_certificate(env) is None


def test_destroy_keeps_the_data_unless_told_then_deletes_in_an_order_that_works(
    env: sequence.Environment,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sequence.run_steps(env, _steps(), SKIP)
    cloudformation = env.client("cloudformation")

    # As `make destroy STAGE=production` runs it (it sets the region for its subprocesses).
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sequence.main(["destroy", "--stage", "production", "--region", "us-east-1"])
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith("==> ")] == [
        "==> [1/5] web-fleet: the web fleet's stack (instances, launch template, role)",
        "==> [2/5] serverless: chalice delete: the functions, triggers and API",
        "==> [3/5] edge-protection: the load balancer's deletion protection off",
        "==> [4/5] observability: the dashboard and alarms (they import the edge stack's exports)",
        "==> [5/5] edge: the edge stack (load balancer, certificate, WAF)",
    ]
    assert printed[-1] == sequence.KEPT
    assert stack_ops.describe(cloudformation, "order-pipeline-edge") is None
    for key in ("data", "messaging", "security", "network"):
        assert stack_ops.describe(cloudformation, f"order-pipeline-{key}") is not None
    assert "orders" in env.client("dynamodb").list_tables()["TableNames"]

    # moto cannot delete the network stack: its DeleteStack removes the VPC before the
    # subnets, gateways and endpoints in it (DependencyViolation, measured with moto 5.2).
    gone = sequence.run_steps(env, sequence.destroy_steps(env, delete_data=True), ("network",))
    assert gone["billing-database"].startswith("deleted (final snapshot")
    for key in ("data", "messaging", "security"):
        assert gone[key] == "deleted"
        assert stack_ops.describe(cloudformation, f"order-pipeline-{key}") is None
    assert gone["stores"].startswith("deleted ")
    assert env.client("rds").describe_db_clusters()["DBClusters"] == []
    assert env.client("s3").list_buckets()["Buckets"] == []
    assert env.client("dynamodb").list_tables()["TableNames"] == []
    # Nothing left behind blocks a redeploy under the same names. (moto keeps the deleted
    # security stack's flow log, which AWS deletes with it: removed here, measured with 5.2.)
    ec2 = env.client("ec2")
    ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]])
    again = sequence.run_steps(env, sequence.deploy_steps()[:5])
    assert again == {
        "network": "unchanged",
        **dict.fromkeys(("security", "messaging", "data", "edge"), "created"),
    }
