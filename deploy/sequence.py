"""make deploy / make destroy: one environment's whole deployment in order, or its teardown.

Usage:
  python -m deploy.sequence deploy --stage production --domain shop.example.com
      [--hosted-zone-id Z...] [--skip STEP ...] [--dry-run]
  python -m deploy.sequence destroy --stage production [--delete-data] [--skip STEP ...]

deploy runs README "Deploying to AWS" step by step: the five stacks, the Chalice stage's
configuration from their outputs, the billing schema, `chalice deploy`, the SQS triggers'
batch-failure and concurrency settings, the first exchange-rate refresh, the web tier's
secret key and the web fleet (ansible-playbook site.yml). Each step changes only what is not
yet as it should be, so a second run changes nothing. It stops, saying what to do, where the
operator must act: the certificate's DNS record, the inventory's account id.

destroy deletes in an order that works and keeps the stores of data (tables, buckets, the
billing database and what it stands on) unless --delete-data.
"""

import argparse
import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from deploy import stack_ops
from deploy.batch_failures import report_batch_item_failures
from deploy.migrate import billing_database_url
from deploy.plan import capabilities, parse_overrides, plan
from deploy.stacks import STACKS, Stack
from deploy.stage_config import (
    APP_NAME,
    CHALICE_DIR,
    EVENT_FUNCTIONS,
    configure_stage,
    order_link_key_parameter,
    ses_send_rate,
)
from deploy.templates import load_template, template_body

REPOSITORY = Path(__file__).resolve().parent.parent
# Each environment is an inventory of playbooks/ and a Chalice stage (production's is prod,
# the name README and the packaged template have always used).
CHALICE_STAGES = {"production": "prod", "staging": "staging"}
RETAINED_TABLE_OUTPUTS = ("OrdersTableName", "InventoryTableName", "CountersTableName")
RETAINED_BUCKET_OUTPUTS = ("OrdersBucketName", "ArtifactsBucketName", "LogsBucketName")
BILLING_CLUSTER = "order-pipeline-billing"
# The exit status when the run stopped for the operator (not an error): run it again after.
WAITING_FOR_OPERATOR = 3

Say = Callable[[str], None]


class StopForOperator(RuntimeError):
    """The deployment cannot go on until the operator acts; the message says how."""


@dataclass
class Environment:
    """What every step needs: where, which environment, how to reach AWS and report."""

    session: boto3.session.Session
    stage: str
    domain: str = ""
    hosted_zone_id: str = ""
    # More stack parameters: stack key -> name -> value (--parameter network.NatGateways=per-az).
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    chalice_dir: Path = CHALICE_DIR
    say: Say = print
    poll_seconds: float = 15
    # The template each stack is deployed from (the tests give moto the part it supports).
    body: Callable[[Stack], str] = lambda stack: template_body(stack.template)
    # The billing database's SQL runner for a URL (the Data API on AWS).
    database: Callable[[str, boto3.session.Session], Any] = database_from_url
    # The account's SES send rate (emails a second) the email is paced to and its trigger
    # sized for; None: read from SES (sesv2 GetAccount) when needed.
    ses_send_rate: float | None = None

    @property
    def chalice_stage(self) -> str:
        return CHALICE_STAGES.get(self.stage, self.stage)

    def client(self, name: str) -> Any:
        return self.session.client(name)  # type: ignore[call-overload]

    def function(self, name: str) -> str:
        return f"{APP_NAME}-{self.chalice_stage}-{name}"

    def send_rate(self) -> float | None:
        if self.ses_send_rate is None:
            self.ses_send_rate = ses_send_rate(self.client("sesv2"))
        return self.ses_send_rate


@dataclass(frozen=True)
class Step:
    name: str
    # What it does and why here, printed with --dry-run and as the step starts.
    why: str
    run: Callable[[Environment], str]


# ---- deploy ---------------------------------------------------------------------------


def stack_parameters(env: Environment, stack: Stack) -> dict[str, str]:
    given = dict(env.overrides.get(stack.key, {}))
    if stack.key == "messaging":
        given["SenderDomain"] = env.domain
    if stack.key == "observability":
        # The dashboard and alarms watch this stage's functions.
        given.setdefault("FunctionPrefix", f"{APP_NAME}-{env.chalice_stage}")
    if stack.key == "edge":
        given["DomainName"] = env.domain
        if env.hosted_zone_id:
            given["HostedZoneId"] = env.hosted_zone_id
    return given


def pending_certificate(env: Environment) -> str | None:
    """While the edge stack waits on ACM and no hosted zone writes the record: what to do."""
    if env.hosted_zone_id:
        return None
    acm = env.client("acm")
    listing = acm.list_certificates(CertificateStatuses=["PENDING_VALIDATION"])
    for summary in listing["CertificateSummaryList"]:
        if summary["DomainName"] != env.domain:
            continue
        options = acm.describe_certificate(CertificateArn=summary["CertificateArn"])[
            "Certificate"
        ].get("DomainValidationOptions", [])
        records = [o["ResourceRecord"] for o in options if "ResourceRecord" in o]
        if not records:
            continue
        lines = "\n".join(f"    {r['Name']}  {r['Type']}  {r['Value']}" for r in records)
        return (
            f"The certificate for {env.domain} waits for its DNS validation record. Create it at "
            f"your DNS provider:\n{lines}\nThe edge stack keeps waiting (ACM allows 72 hours); run "
            "`make deploy` again with the same arguments: it resumes here once the "
            "certificate is issued."
        )
    return None


def deploy_stack(stack: Stack) -> Callable[[Environment], str]:
    def run(env: Environment) -> str:
        cloudformation = env.client("cloudformation")
        desired = stack_ops.Desired(
            stack.name,
            env.body(stack),
            stack_parameters(env, stack),
            capabilities(load_template(stack.template)),
        )
        outcome = stack_ops.apply(cloudformation, desired)
        waits_on_dns = stack.key == "edge"
        stack_ops.settle(
            cloudformation,
            stack.name,
            env.say,
            poll_seconds=env.poll_seconds,
            stop_waiting=(lambda: pending_certificate(env)) if waits_on_dns else (lambda: None),
        )
        return outcome

    return run


def _files(paths: Sequence[Path]) -> dict[Path, bytes | None]:
    return {path: path.read_bytes() if path.exists() else None for path in paths}


def stage_configuration(env: Environment) -> str:
    paths = [env.chalice_dir / "config.json", env.chalice_dir / f"policy-{env.chalice_stage}.json"]
    before = _files(paths)
    configure_stage(
        env.client("cloudformation"),
        env.chalice_stage,
        env.chalice_dir,
        env.stage,
        send_rate=env.send_rate(),
    )
    return "unchanged" if _files(paths) == before else "written"


def _ledger(env: Environment) -> SqlLedger:
    url = billing_database_url(env.chalice_dir, env.chalice_stage)
    return SqlLedger(env.database(url, env.session))


def migration(env: Environment) -> str:
    applied = _ledger(env).migrate()
    return f"applied {', '.join(applied)}" if applied else "unchanged"


def _run(command: Sequence[str], cwd: Path, say: Say) -> None:
    say(f"    $ {' '.join(command)}")
    result = subprocess.run(command, cwd=cwd, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {result.returncode}")


def app_fingerprint(app_dir: Path, stage: str) -> str:
    """What `chalice deploy` would deploy: every file of the app, its config and policies."""
    digest = hashlib.sha256(stage.encode())
    skipped = {"deployed", "deployments", "__pycache__"}
    for path in sorted(app_dir.rglob("*")):
        if path.is_file() and not skipped & set(path.relative_to(app_dir).parts):
            digest.update(str(path.relative_to(app_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _deployed_record(env: Environment) -> Path:
    # Beside chalice's own record of the stage (.chalice/deployed/<stage>.json).
    return env.chalice_dir / "deployed" / f"{env.chalice_stage}.fingerprint"


def serverless(env: Environment) -> str:
    # chalice deploy updates every function and makes a new API deployment each time: run it
    # only when the app, its configuration or its policy changed since the last one.
    fingerprint = app_fingerprint(env.chalice_dir.parent, env.chalice_stage)
    record = _deployed_record(env)
    if record.exists() and record.read_text() == fingerprint:
        return "unchanged"
    chalice = str(Path(sys.executable).with_name("chalice"))
    _run([chalice, "deploy", "--stage", env.chalice_stage], env.chalice_dir.parent, env.say)
    record.parent.mkdir(exist_ok=True)
    record.write_text(fingerprint)
    return "deployed"


def _mapping_settings(env: Environment) -> dict[str, Any]:
    client = env.client("lambda")
    settings: dict[str, Any] = {}
    for function in EVENT_FUNCTIONS:
        try:
            mappings = client.list_event_source_mappings(FunctionName=env.function(function))
        except client.exceptions.ResourceNotFoundException:
            continue
        for mapping in mappings["EventSourceMappings"]:
            settings[mapping["UUID"]] = (
                mapping.get("FunctionResponseTypes"),
                mapping.get("ScalingConfig"),
            )
    return settings


def batch_failures(env: Environment) -> str:
    before = _mapping_settings(env)
    report_batch_item_failures(env.client("lambda"), env.chalice_stage, env.send_rate())
    return "unchanged" if _mapping_settings(env) == before else "set"


def first_rate_refresh(env: Environment) -> str:
    if _ledger(env).rates_on_or_before(datetime.now(UTC).date()) is not None:
        return "unchanged (rates already loaded)"
    response = env.client("lambda").invoke(FunctionName=env.function("refresh_exchange_rates"))
    if response.get("FunctionError"):
        raise RuntimeError(f"refresh_exchange_rates failed: {response['Payload'].read()!r}")
    return "refreshed"


def _secret_once(env: Environment, name: str, **key: str) -> str:
    """A SecureString generated here once, never overwritten: never in a template or on a
    command line."""
    ssm = env.client("ssm")
    try:
        ssm.get_parameter(Name=name)
        return "unchanged"
    except ssm.exceptions.ParameterNotFound:
        pass
    ssm.put_parameter(Name=name, Type="SecureString", Value=secrets.token_urlsafe(48), **key)
    return "created"


# The pipeline's own KMS key (security.yaml), not the account's aws/ssm key: its key policy
# and our roles' policies say who may decrypt (see ARCHITECTURE.md, "Secrets").
PIPELINE_KEY = "alias/order-pipeline"


def web_secret_key(env: Environment) -> str:
    # Read by the web hosts only (web-fleet.yaml's role may decrypt with our key).
    return _secret_once(env, f"/order-pipeline/{env.stage}/web/secret-key", KeyId=PIPELINE_KEY)


def order_link_key(env: Environment) -> str:
    # Read by the email function (it signs the emails' links) and the web hosts (they check
    # them): on the pipeline's own key, which both roles may decrypt with.
    return _secret_once(env, order_link_key_parameter(env.stage), KeyId=PIPELINE_KEY)


def web_fleet_unset(inventory: Path) -> list[str]:
    """What the playbooks refuse to run without, still unset (they check it themselves too)."""
    own = yaml.safe_load((inventory / "group_vars" / "all.yml").read_text()) or {}
    shared = yaml.safe_load((REPOSITORY / "playbooks" / "group_vars" / "all.yml").read_text())
    unset = []
    if not str(own.get("order_pipeline_account_id") or ""):
        unset.append(f"order_pipeline_account_id in {inventory}/group_vars/all.yml")
    if not str(shared.get("order_pipeline_ssm_agent_sha256") or ""):
        unset.append("order_pipeline_ssm_agent_sha256 in playbooks/group_vars/all.yml")
    return unset


def web_fleet(env: Environment) -> str:
    inventory = REPOSITORY / "playbooks" / "inventories" / env.stage
    if unset := web_fleet_unset(inventory):
        raise StopForOperator(
            "The web fleet needs, before its first run: "
            + "; ".join(unset)
            + ' (README "Web hosts with Ansible"). Set them, then run `make deploy` again.'
        )
    ansible = REPOSITORY / ".venv-ansible" / "bin" / "ansible-playbook"
    _run([str(ansible), "-i", str(inventory), "site.yml"], REPOSITORY / "playbooks", env.say)
    return "converged (site.yml: a run with nothing new changes nothing)"


def deploy_steps() -> list[Step]:
    stacks = [
        Step(stack.key, f"stack {stack.name}: {stack.purpose}", deploy_stack(stack))
        for stack in STACKS
        if not stack.deployed_by_ansible
    ]
    return [
        *stacks,
        Step(
            "stage-configuration",
            "the Chalice stage's environment and exact-ARN policy, from the stacks' outputs",
            stage_configuration,
        ),
        Step("migration", "the billing schema through the Data API", migration),
        Step(
            "link-key",
            "the key the emails' links are signed with, in SSM, once (before the functions)",
            order_link_key,
        ),
        Step("serverless", "chalice deploy: the functions, their triggers, the API", serverless),
        Step(
            "batch-failures",
            "ReportBatchItemFailures on the SQS triggers; the Aurora and SES consumers capped",
            batch_failures,
        ),
        Step(
            "rates",
            "the first exchange-rate refresh, when no rate is loaded yet",
            first_rate_refresh,
        ),
        Step("web-secret", "the web tier's secret key in SSM, once", web_secret_key),
        Step("web-fleet", "ansible-playbook site.yml: release, fleet stack, hosts", web_fleet),
    ]


# ---- destroy --------------------------------------------------------------------------


def _outputs(env: Environment, stack: Stack) -> dict[str, str]:
    described = stack_ops.describe(env.client("cloudformation"), stack.name)
    return {o["OutputKey"]: o["OutputValue"] for o in (described or {}).get("Outputs", [])}


def delete_stack(stack: Stack) -> Callable[[Environment], str]:
    def run(env: Environment) -> str:
        cloudformation = env.client("cloudformation")
        deleted = stack_ops.delete(
            cloudformation, stack.name, env.say, poll_seconds=env.poll_seconds
        )
        return "deleted" if deleted else "absent"

    return run


def delete_serverless(env: Environment) -> str:
    if not (env.chalice_dir / "deployed" / f"{env.chalice_stage}.json").exists():
        return "absent"
    chalice = str(Path(sys.executable).with_name("chalice"))
    _run([chalice, "delete", "--stage", env.chalice_stage], env.chalice_dir.parent, env.say)
    _deployed_record(env).unlink(missing_ok=True)
    return "deleted"


def unprotect_load_balancer(env: Environment) -> str:
    """The ALB has deletion protection on; the edge stack is deleted next, so set it here."""
    arn = _outputs(env, _stack("edge")).get("LoadBalancerArn")
    if not arn:
        return "absent"
    env.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
    )
    return "deletion protection off"


def _stack(key: str) -> Stack:
    return next(stack for stack in STACKS if stack.key == key)


def delete_billing_database(env: Environment) -> str:
    """The retained cluster stands on the data, security and network stacks: it goes first."""
    rds = env.client("rds")
    try:
        (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=BILLING_CLUSTER)["DBClusters"]
    except rds.exceptions.DBClusterNotFoundFault:
        return "absent"
    rds.modify_db_cluster(
        DBClusterIdentifier=BILLING_CLUSTER, DeletionProtection=False, ApplyImmediately=True
    )
    for member in cluster.get("DBClusterMembers", []):
        rds.delete_db_instance(DBInstanceIdentifier=member["DBInstanceIdentifier"])
        rds.get_waiter("db_instance_deleted").wait(
            DBInstanceIdentifier=member["DBInstanceIdentifier"],
            WaiterConfig={"Delay": max(1, int(env.poll_seconds)), "MaxAttempts": 240},
        )
    snapshot = f"{BILLING_CLUSTER}-final-{datetime.now(UTC):%Y%m%d%H%M}"
    rds.delete_db_cluster(DBClusterIdentifier=BILLING_CLUSTER, FinalDBSnapshotIdentifier=snapshot)
    rds.get_waiter("db_cluster_deleted").wait(
        DBClusterIdentifier=BILLING_CLUSTER,
        WaiterConfig={"Delay": max(1, int(env.poll_seconds)), "MaxAttempts": 240},
    )
    return f"deleted (final snapshot {snapshot}, on our key: the key is kept)"


def _delete_tables(env: Environment, names: Sequence[str]) -> list[str]:
    dynamodb, gone = env.client("dynamodb"), []
    for table in names:
        try:
            dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
            dynamodb.delete_table(TableName=table)
            gone.append(table)
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
    return gone


def _delete_buckets(env: Environment, names: Sequence[str]) -> list[str]:
    s3, gone = env.session.resource("s3"), []
    for name in names:
        bucket = s3.Bucket(name)
        try:
            bucket.object_versions.delete()  # versioned: every version, then the bucket
            bucket.delete()
            gone.append(name)
        except ClientError as error:
            if "NoSuchBucket" not in str(error):
                raise
    return gone


def _delete_secret(env: Environment, secret: str) -> list[str]:
    # Without recovery: otherwise the name is blocked 7 to 30 days and a redeploy fails.
    manager = env.client("secretsmanager")
    try:
        manager.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
    except manager.exceptions.ResourceNotFoundException:
        return []
    return ["the billing secret"]


def delete_retained_stores(outputs: Mapping[str, str]) -> Callable[[Environment], str]:
    def run(env: Environment) -> str:
        gone = [
            *_delete_tables(env, [outputs[k] for k in RETAINED_TABLE_OUTPUTS if k in outputs]),
            *_delete_buckets(env, [outputs[k] for k in RETAINED_BUCKET_OUTPUTS if k in outputs]),
            *(
                _delete_secret(env, outputs["BillingSecretArn"])
                if "BillingSecretArn" in outputs
                else []
            ),
        ]
        return f"deleted {', '.join(gone)}" if gone else "absent"

    return run


def destroy_steps(env: Environment, delete_data: bool) -> list[Step]:
    steps = [
        Step(
            "web-fleet",
            "the web fleet's stack (instances, launch template, role)",
            delete_stack(_stack("web-fleet")),
        ),
        Step("serverless", "chalice delete: the functions, triggers and API", delete_serverless),
        Step(
            "edge-protection",
            "the load balancer's deletion protection off",
            unprotect_load_balancer,
        ),
        Step(
            "observability",
            "the dashboard and alarms (they import the edge stack's exports)",
            delete_stack(_stack("observability")),
        ),
        Step(
            "edge", "the edge stack (load balancer, certificate, WAF)", delete_stack(_stack("edge"))
        ),
    ]
    if not delete_data:
        return steps
    # Read before the data stack goes: its outputs name the retained stores.
    outputs = _outputs(env, _stack("data"))
    return [
        *steps,
        Step(
            "billing-database",
            "the retained Aurora cluster, with a final snapshot",
            delete_billing_database,
        ),
        *[
            Step(key, f"the {key} stack", delete_stack(_stack(key)))
            for key in ("data", "messaging", "security", "network")
        ],
        Step(
            "stores",
            "the retained tables, buckets (every version) and the secret",
            delete_retained_stores(outputs),
        ),
    ]


KEPT = (
    "Kept (--delete-data deletes them): the tables, the buckets and the billing database, "
    "and the data, messaging, security and network stacks the database stands on."
)


# ---- running --------------------------------------------------------------------------


def run_steps(env: Environment, steps: Sequence[Step], skip: Sequence[str] = ()) -> dict[str, str]:
    """Run the steps in order, saying what each did; return step name -> outcome."""
    outcomes: dict[str, str] = {}
    for position, step in enumerate(steps, start=1):
        if step.name in skip:
            env.say(f"==> [{position}/{len(steps)}] {step.name}: skipped")
            continue
        env.say(f"==> [{position}/{len(steps)}] {step.name}: {step.why}")
        outcomes[step.name] = step.run(env)
        env.say(f"    {outcomes[step.name]}")
    return outcomes


def dry_run(env: Environment) -> list[str]:
    lines = plan({stack.key: stack_parameters(env, stack) for stack in STACKS})
    lines.append(f"Then, for environment {env.stage} (Chalice stage {env.chalice_stage}):")
    lines += [f"  {step.name}: {step.why}" for step in deploy_steps()[len(STACKS) - 1 :]]
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("deploy", help="deploy the environment (again: changes nothing)")
    up.add_argument("--domain", required=True, help="the shop's name and the email sender's domain")
    up.add_argument("--hosted-zone-id", default="", help="the domain's Route 53 zone, if here")
    up.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="STACK.NAME=VALUE",
        help="another stack parameter, such as network.NatGateways=per-az (repeatable)",
    )
    up.add_argument(
        "--ses-send-rate",
        type=float,
        help="the account's SES send rate, emails a second (default: read from SES)",
    )
    up.add_argument("--dry-run", action="store_true", help="print the plan; needs no AWS")
    down = actions.add_parser("destroy", help="tear the environment down")
    down.add_argument(
        "--delete-data", action="store_true", help="the tables, buckets, database too"
    )
    for action in (up, down):
        action.add_argument("--stage", required=True, choices=sorted(CHALICE_STAGES))
        action.add_argument("--skip", action="append", default=[], metavar="STEP")
        action.add_argument("--region", help="the region (default: the AWS configuration's)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    arguments = parser.parse_args(argv)
    deploying = arguments.action == "deploy"
    try:
        overrides = parse_overrides(arguments.parameter) if deploying else {}
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    # boto3 reads AWS_DEFAULT_REGION, the AWS CLI also AWS_REGION: either will do here.
    session = boto3.session.Session(region_name=arguments.region or os.environ.get("AWS_REGION"))
    env = Environment(
        session,
        arguments.stage,
        getattr(arguments, "domain", ""),
        getattr(arguments, "hosted_zone_id", ""),
        overrides,
        ses_send_rate=getattr(arguments, "ses_send_rate", None),
    )
    if deploying and arguments.dry_run:
        print("\n".join(dry_run(env)))
        return
    if not session.region_name:
        parser.exit(2, "error: no region: export AWS_REGION (or give --region)\n")
    # chalice and ansible-playbook, run by the steps, work in the same region.
    os.environ["AWS_DEFAULT_REGION"] = session.region_name
    steps = deploy_steps() if deploying else destroy_steps(env, arguments.delete_data)
    try:
        run_steps(env, steps, arguments.skip)
    except (StopForOperator, stack_ops.WaitElsewhere) as stop:
        print(f"\n==> Waiting for you:\n{stop}")
        raise SystemExit(WAITING_FOR_OPERATOR) from None
    except (stack_ops.StackFailed, RuntimeError, ClientError) as error:
        parser.exit(1, f"error: {error}\n")
    if not deploying and not arguments.delete_data:
        print(KEPT)


if __name__ == "__main__":
    main()
