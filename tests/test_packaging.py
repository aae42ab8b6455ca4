"""The packaged template keeps the guarantees chalice package alone does not give."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.package import package


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package(tmp_path_factory.mktemp("chalice") / "out")


def sqs_event_sources(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_every_sqs_trigger_reports_batch_item_failures(packaged: Path) -> None:
    template = json.loads(packaged.read_text())
    sources = sqs_event_sources(template)
    assert sources, "the fulfillment queue trigger is missing"
    for source in sources:
        assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_shared_contract_is_in_the_deployment_package(packaged: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(packaged.with_name("deployment.zip")).namelist()
    for requirement in ("aws_lambda_powertools/", "pydantic/", "defusedxml/"):
        assert any(name.startswith(requirement) for name in names), requirement
    assert "chalicelib/migrations/0001_billing.sql" in names
    assert "chalicelib/data/eurofxref-recorded.xml" in names
    assert "order_contracts/order.py" in names
    assert "chalicelib/reservation.py" in names
    assert "app.py" in names


def _policy_documents(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The functions' role policies and the callers' managed policies (merge-template.json)."""
    documents = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents.append(resource["Properties"]["PolicyDocument"])
    return documents


def test_no_generated_policy_has_wildcard_actions_or_resources(packaged: Path) -> None:
    template = json.loads(packaged.read_text())
    documents = _policy_documents(template)
    assert any(
        statement["Action"] == "execute-api:Invoke"
        for document in documents
        for statement in document["Statement"]
    ), "the callers' managed policies are missing"
    for document in documents:
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any(action == "*" or action.endswith(":*") for action in actions)
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            assert "*" not in resources


def test_cfn_lint_passes_on_the_packaged_template(packaged: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(packaged)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
