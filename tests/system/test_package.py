"""deploy/package.py: the packaged template (chalice package with chalice_app/merge-template.json).

It keeps the guarantees chalice package alone does not give: partial batch responses, the
shared contract in the bundle, a retained and encrypted log group and an error alarm per
function, no wildcard in a generated policy, and cfn-lint's approval.

And it makes API Gateway enforce who may call the order API on AWS. chalicelib/access.py is the
one table of routes and permissions (tests/unit/test_access.py holds app.py to it); here the
packaged template is held to that table: every route signed (AWS_IAM), one managed policy per
permission granting exactly its routes, the gateway's own errors in the project's error shape
(chalicelib/gateway_errors.py), throttling on the stage and tighter on the writes, and the
stage's web ACL.
"""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.access import ROUTES, Permission, policy_document
from chalicelib.gateway_errors import GATEWAY_ERRORS
from deploy.package import package, runtimes
from deploy.stage_config import EVENT_FUNCTIONS
from order_contracts import error_body
from tests import ROOT
from tests.cfn import is_our_key, of_type

CHALICE_DIR = ROOT / "chalice_app"
STAGE = json.loads((CHALICE_DIR / ".chalice" / "config.json").read_text())["stages"]["dev"][
    "api_gateway_stage"
]
# Stand-ins for what CloudFormation substitutes in the template's Fn::Sub strings.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "RestAPI": "a1b2c3d4e5",
}
STAND_IN_API_ARN = (
    f"arn:aws:execute-api:{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}:"
    f"{PSEUDO['RestAPI']}/{STAGE}"
)
# The account's regional API Gateway quota (10,000 requests per second, bucket of 5,000),
# shared by every API of the account: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
ACCOUNT_RATE, ACCOUNT_BURST = 10_000, 5_000
TIGHTER_ROUTES = {
    ("PUT", "/orders/{order_id}"),
    ("PUT", "/catalog/{sku}"),
    ("POST", "/catalog/{sku}/restock"),
}
MESSAGE = "$context.error.messageString"


@pytest.fixture(scope="module")
def sam_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chalice package, once for this module (it takes seconds): sam.json beside deployment.zip."""
    return package(tmp_path_factory.mktemp("chalice") / "out")


@pytest.fixture(scope="module")
def packaged(sam_json: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(sam_json.read_text())
    return template


# --- what chalice package alone does not give ---------------------------------------------


def test_every_packaged_function_has_a_retained_log_group_and_an_error_alarm(
    packaged: dict[str, Any],
) -> None:
    functions = of_type(packaged, "AWS::Serverless::Function")
    log_groups = of_type(packaged, "AWS::Logs::LogGroup")
    alarms = of_type(packaged, "AWS::CloudWatch::Alarm")
    assert len(functions) == 7  # the API handler, five event functions, the watchdog
    for logical_id, function in functions.items():
        # The function waits for its log group, so Lambda never creates one without retention.
        (group_id,) = function["DependsOn"]
        group = log_groups[group_id]["Properties"]
        name = function["Properties"]["FunctionName"]
        expected = {"Fn::Sub": f"/aws/lambda/{name['Fn::Sub']}"} if "Fn::Sub" in name else None
        assert group["LogGroupName"] == (expected or {"Fn::Sub": "/aws/lambda/${AWS::StackName}"})
        assert group["RetentionInDays"] > 0
        assert is_our_key(group["KmsKeyId"])
        assert is_our_key(function["Properties"]["KmsKeyArn"])
        errors = [
            alarm
            for alarm in alarms.values()
            if alarm["Properties"]["MetricName"] == "Errors"
            and alarm["Properties"]["Dimensions"]
            == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
        ]
        assert len(errors) == 1, logical_id


def test_packaged_function_names_match_what_chalice_deploy_names_them(
    packaged: dict[str, Any],
) -> None:
    """Deployed as stack order-pipeline-<stage>, the names match the stage policy's log groups."""
    names = {
        json.dumps(function["Properties"]["FunctionName"])
        for function in of_type(packaged, "AWS::Serverless::Function").values()
    }
    expected = {json.dumps({"Ref": "AWS::StackName"})} | {
        json.dumps({"Fn::Sub": f"${{AWS::StackName}}-{name}"}) for name in EVENT_FUNCTIONS
    }
    assert names == expected


def sqs_event_sources(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_every_sqs_trigger_reports_batch_item_failures(packaged: dict[str, Any]) -> None:
    sources = sqs_event_sources(packaged)
    assert sources, "the fulfillment queue trigger is missing"
    for source in sources:
        assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_shared_contract_is_in_the_deployment_package(sam_json: Path) -> None:
    names = zipfile.ZipFile(sam_json.with_name("deployment.zip")).namelist()
    for requirement in ("aws_lambda_powertools/", "pydantic/", "defusedxml/"):
        assert any(name.startswith(requirement) for name in names), requirement
    assert "chalicelib/migrations/0001_billing.sql" in names
    assert "chalicelib/data/eurofxref-recorded.xml" in names
    assert "order_contracts/order.py" in names
    assert "chalicelib/reservation.py" in names
    assert "app.py" in names


def test_the_bundle_carries_each_modules_bytecode_for_its_runtime(
    sam_json: Path, packaged: dict[str, Any]
) -> None:
    """/var/task is read-only: without the bundle's .pyc files each cold start compiles them."""
    names = set(zipfile.ZipFile(sam_json.with_name("deployment.zip")).namelist())
    runtime = next(iter(runtimes(packaged)))
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    for module in (
        "app.py",
        "chalicelib/consumers.py",
        "order_contracts/events.py",
        "pydantic/main.py",
    ):
        folder, _, name = module.rpartition("/")
        cached = f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc".lstrip("/")
        assert cached in names, cached


def _policy_documents(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The functions' role policies and the callers' managed policies (merge-template.json)."""
    documents = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents.append(resource["Properties"]["PolicyDocument"])
    return documents


def test_every_function_and_the_api_stage_trace_actively(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"].values()
    functions = [r for r in resources if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) >= 7
    assert {f["Properties"]["Tracing"] for f in functions} == {"Active"}
    (api,) = [r for r in resources if r["Type"] == "AWS::Serverless::Api"]
    assert api["Properties"]["TracingEnabled"] is True


def test_no_generated_policy_has_wildcard_actions_or_resources(packaged: dict[str, Any]) -> None:
    documents = _policy_documents(packaged)
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
            if actions == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]:
                continue  # X-Ray has no resource-level permissions: "*" is its only resource
            assert "*" not in resources


def test_cfn_lint_passes_on_the_packaged_template(sam_json: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(sam_json)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- who may call the order API ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rest_api(packaged: dict[str, Any]) -> dict[str, Any]:
    (api,) = of_type(packaged, "AWS::Serverless::Api").values()
    properties: dict[str, Any] = api["Properties"]
    return properties


def substituted(node: Any) -> Any:
    """node with every Fn::Sub replaced by its string, the stand-ins substituted."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m.group(1)], node["Fn::Sub"])
            return text
        return {key: substituted(value) for key, value in node.items()}
    if isinstance(node, list):
        return [substituted(item) for item in node]
    return node


def parameter_default(template: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return template["Parameters"][node["Ref"]]["Default"]
    return node


def encoded_resource_path(path: str) -> str:
    """A path as MethodSettings name it: '/' written '~1' after the leading one."""
    return "/" + path.replace("/", "~1")


# --- every route signed ---------------------------------------------------------------


def test_every_method_of_the_packaged_api_requires_a_sigv4_signature(
    rest_api: dict[str, Any],
) -> None:
    """IAMAuthorizer renders as a security requirement on a definition of authtype awsSigv4,
    which API Gateway imports as authorizationType AWS_IAM."""
    swagger = rest_api["DefinitionBody"]
    definitions = swagger["securityDefinitions"]
    sigv4 = {
        name
        for name, definition in definitions.items()
        if definition.get("x-amazon-apigateway-authtype") == "awsSigv4"
        and (definition.get("type"), definition.get("in"), definition.get("name"))
        == ("apiKey", "header", "Authorization")
    }
    assert sigv4
    methods = {
        (method.upper(), path): operation
        for path, operations in swagger["paths"].items()
        for method, operation in operations.items()
    }
    assert set(methods) == {(route.method, route.path) for route in ROUTES}
    for (method, path), operation in methods.items():
        requirements = operation.get("security")
        assert requirements, f"{method} {path} is not signed"
        for requirement in requirements:
            assert requirement, f"{method} {path}: an empty requirement lets anyone in"
            assert set(requirement) <= sigv4, f"{method} {path}: {requirement}"


def test_the_api_is_deployed_to_its_one_stage_only(rest_api: dict[str, Any]) -> None:
    """Without OpenApiVersion, SAM also deploys the API to a stage named "Stage", which
    neither the web ACL, the throttling nor the callers' policies would cover."""
    assert rest_api["StageName"] == STAGE
    assert rest_api.get("OpenApiVersion") in {"2.0", "3.0.1"}


# --- one managed policy per permission -----------------------------------------------


def _policy_id(permission: Permission) -> str:
    (statement,) = policy_document(permission, STAND_IN_API_ARN)["Statement"]
    return f"{statement['Sid']}Policy"


@pytest.mark.parametrize("permission", list(Permission))
def test_each_permissions_managed_policy_is_what_access_py_renders(
    packaged: dict[str, Any], permission: Permission
) -> None:
    policy = packaged["Resources"][_policy_id(permission)]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    document = substituted(policy["Properties"]["PolicyDocument"])
    assert document == policy_document(permission, STAND_IN_API_ARN)


def test_the_managed_policies_are_the_permissions_and_are_exported(
    packaged: dict[str, Any],
) -> None:
    policies = of_type(packaged, "AWS::IAM::ManagedPolicy")
    assert set(policies) == {_policy_id(permission) for permission in Permission}
    exported = {
        output["Value"]["Ref"]: output["Export"]["Name"]
        for name, output in packaged["Outputs"].items()
        if isinstance(output["Value"], dict) and output["Value"].get("Ref") in policies
    }
    assert exported == {
        logical_id: {"Fn::Sub": f"${{AWS::StackName}}-{logical_id}Arn"} for logical_id in policies
    }
    for logical_id in policies:
        assert packaged["Outputs"][f"{logical_id}Arn"]["Value"] == {"Ref": logical_id}


# --- the gateway's own errors in the project's shape ---------------------------------


def test_the_packaged_gateway_responses_are_the_gateway_errors_table(
    rest_api: dict[str, Any],
) -> None:
    """In SAM's GatewayResponses, not AWS::ApiGateway::GatewayResponse resources: SAM writes
    them into the API's definition, so each change is redeployed with the stage."""
    responses = rest_api["GatewayResponses"]
    assert set(responses) == set(GATEWAY_ERRORS)
    for kind, error in GATEWAY_ERRORS.items():
        response = responses[kind]
        expected_status = None if error.status is None else str(error.status)
        assert response.get("StatusCode") == expected_status, kind
        assert response["ResponseParameters"] == {"Headers": {"Content-Type": "'application/json'"}}
        (template,) = response["ResponseTemplates"].values()
        assert set(response["ResponseTemplates"]) == {"application/json"}
        assert MESSAGE in template, kind
        # messageString is the message already in quotes: render as API Gateway does.
        rendered = json.loads(template.replace(MESSAGE, json.dumps(error.message)))
        assert rendered == error_body(error.code, error.message), kind


# --- throttling -----------------------------------------------------------------------


def test_the_stage_is_throttled_and_the_writes_more_tightly(
    packaged: dict[str, Any], rest_api: dict[str, Any]
) -> None:
    settings = {
        (setting["HttpMethod"], setting["ResourcePath"]): (
            parameter_default(packaged, setting["ThrottlingRateLimit"]),
            parameter_default(packaged, setting["ThrottlingBurstLimit"]),
        )
        for setting in rest_api["MethodSettings"]
    }
    stage_rate, stage_burst = settings.pop(("*", "/*"))
    assert 0 < stage_rate <= ACCOUNT_RATE
    assert 0 < stage_burst <= ACCOUNT_BURST
    routes = {(route.method, encoded_resource_path(route.path)) for route in ROUTES}
    assert set(settings) <= routes, "a method setting names no route"
    assert set(settings) == {(m, encoded_resource_path(p)) for m, p in TIGHTER_ROUTES}
    for key, (rate, burst) in settings.items():
        assert 0 < rate < stage_rate, key
        assert 0 < burst < stage_burst, key
        assert rate <= burst, key


def test_the_merge_templates_parameters_are_described_and_constrained(
    packaged: dict[str, Any],
) -> None:
    for name, parameter in packaged["Parameters"].items():
        assert parameter.get("Description"), name
        assert {"MinValue", "MaxValue"} <= set(parameter) or "AllowedValues" in parameter, name
        if "MinValue" in parameter:
            assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"], name


# --- the stage's web ACL -----------------------------------------------------------------


def test_the_web_acl_guards_the_api_stage(
    packaged: dict[str, Any], rest_api: dict[str, Any]
) -> None:
    (acl_id, acl), *others = of_type(packaged, "AWS::WAFv2::WebACL").items()
    assert not others
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL"
    (association,) = of_type(packaged, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{RestAPI}}"
        f"/stages/{STAGE}"
    }
    # SAM names the stage it generates <api><StageName>Stage; the association waits for it.
    assert f"RestAPI{STAGE}Stage" in association["DependsOn"]

    rules = properties["Rules"]
    assert len({rule["Priority"] for rule in rules}) == len(rules)
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    }
    (rate_rule,) = [rule for rule in rules if "RateBasedStatement" in rule["Statement"]]
    rate = rate_rule["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate.get("EvaluationWindowSec", 300)) == ("IP", 300)
    # A plain Block: API Gateway then answers WAF_FILTERED in the project's shape (a WAF
    # custom response would take precedence over the gateway response).
    assert rate_rule["Action"] == {"Block": {}}
    # One address alone cannot use up the stage's throttle and starve every other caller.
    stage_rate = next(
        parameter_default(packaged, setting["ThrottlingRateLimit"])
        for setting in rest_api["MethodSettings"]
        if setting["ResourcePath"] == "/*"
    )
    assert parameter_default(packaged, rate["Limit"]) < stage_rate * 300


def test_the_api_web_acl_logs_to_our_key_without_credentials(packaged: dict[str, Any]) -> None:
    (acl_id,) = of_type(packaged, "AWS::WAFv2::WebACL")
    (logging,) = of_type(packaged, "AWS::WAFv2::LoggingConfiguration").values()
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (destination,) = logging["Properties"]["LogDestinationConfigs"]
    (group_id,) = re.findall(r"log-group:\$\{(\w+)\}", destination["Fn::Sub"])
    group = packaged["Resources"][group_id]["Properties"]
    # WAF logs only to groups named aws-waf-logs-*.
    assert group["LogGroupName"]["Fn::Sub"].startswith("aws-waf-logs-")
    assert is_our_key(group["KmsKeyId"])
    assert group["RetentionInDays"] > 0
    redacted = {field["SingleHeader"]["Name"] for field in logging["Properties"]["RedactedFields"]}
    assert {"authorization", "x-amz-security-token"} <= redacted


def test_the_notifications_function_paces_by_its_triggers_concurrency(
    packaged: dict[str, Any],
) -> None:
    """The packaged function's environment carries the parameter that sets its trigger."""
    functions = of_type(packaged, "AWS::Serverless::Function")
    properties = functions["CustomerCommunications"]["Properties"]
    [source] = properties["Events"].values()
    concurrency = {"Ref": "NotificationsMaximumConcurrency"}
    assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] == concurrency
    variables = properties["Environment"]["Variables"]
    assert variables["NOTIFICATIONS_MAXIMUM_CONCURRENCY"] == concurrency
