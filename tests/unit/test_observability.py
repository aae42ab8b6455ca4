"""cloudformation/observability.yaml against what the code emits: the dashboard's and the
alarms' business metrics are order_contracts/metrics.py's (namespace, names, dimensions and
their values), every business metric is on the dashboard, and the AWS resources it graphs
are the ones the other templates and app.py create.
"""

import ast
import json
import re
from typing import Any

import pytest

from deploy.templates import Template
from order_contracts.metrics import NAMESPACE, SERVICE, SERVICE_DIMENSION, Metric, dimensions
from tests import ROOT
from tests.cfn import APP_PY, of_type, templates

# The dashboard body's variables: parameters by their defaults, imports by stand-ins.
STAND_INS = {
    "AWS::Region": "us-east-1",
    "LoadBalancer": "app/order-pipeline/0123456789abcdef",
    "TargetGroup": "targetgroup/order-web/0123456789abcdef",
}
# The levels at which AWS reviews an SES account (ARCHITECTURE.md cites them).
SES_REVIEW_BOUNCE_RATE = 0.05
SES_REVIEW_COMPLAINT_RATE = 0.001

MetricRef = tuple[str, str, dict[str, str]]


@pytest.fixture(scope="module")
def template() -> Template:
    return templates()["observability"]


def dashboard(template: Template) -> dict[str, Any]:
    (resource,) = of_type(template, "AWS::CloudWatch::Dashboard").values()
    body, _variables = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    defaults = {name: str(p["Default"]) for name, p in template["Parameters"].items()}
    values = {**defaults, **STAND_INS}
    unknown = set(re.findall(r"\$\{([^}]+)\}", body)) - set(values)
    assert not unknown, f"the dashboard names {unknown}, which are neither parameters nor imports"
    document: dict[str, Any] = json.loads(
        re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], body)
    )
    return document


def dashboard_metrics(template: Template) -> list[MetricRef]:
    found = []
    for widget in dashboard(template)["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            namespace, name, *rest = [part for part in entry if not isinstance(part, dict)]
            found.append((namespace, name, dict(zip(rest[::2], rest[1::2], strict=True))))
    return found


def alarm_metrics(template: Template) -> list[tuple[str, MetricRef]]:
    found = []
    for alarm_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        stats = [
            m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m
        ]
        if "MetricName" in properties:
            stats.append(properties)
        for stat in stats:
            dims = {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])}
            found.append((alarm_id, (stat["Namespace"], stat["MetricName"], dims)))
    return found


def business(refs: list[MetricRef]) -> list[MetricRef]:
    return [ref for ref in refs if ref[0] == NAMESPACE]


def by_name(name: str) -> Metric:
    found = [m for m in Metric if m.metric_name == name]
    assert found, f"{name} is not a metric of order_contracts.metrics"
    return found[0]


def check_dimensions(name: str, dims: dict[str, str]) -> None:
    metric = by_name(name)
    own = metric.spec.dimension
    assert dims == dimensions(metric, dims.get(own) if own else None), name


def test_the_dashboards_business_metrics_are_the_registrys(template: Template) -> None:
    refs = business(dashboard_metrics(template))
    assert refs, "no business metric on the dashboard"
    for _namespace, name, dims in refs:
        check_dimensions(name, dims)
    # Every metric, and every value of its dimension, is on the dashboard.
    shown = {(name, tuple(sorted(dims.items()))) for _n, name, dims in refs}
    for metric in Metric:
        for value in metric.spec.values or (None,):
            expected = tuple(sorted(dimensions(metric, value).items()))
            assert (metric.metric_name, expected) in shown, (metric.metric_name, value)


def test_the_alarms_business_metrics_are_the_registrys(template: Template) -> None:
    refs = [(alarm, ref) for alarm, ref in alarm_metrics(template) if ref[0] == NAMESPACE]
    for _alarm, (_namespace, name, dims) in refs:
        check_dimensions(name, dims)
    watched = {ref[1] for _alarm, ref in refs}
    assert {Metric.STUCK_ORDERS.metric_name, Metric.RECORDS_THROTTLED.metric_name} <= watched
    assert all(dims[SERVICE_DIMENSION] == SERVICE for _a, (_n, _m, dims) in refs)


def test_every_alarm_goes_to_the_alarm_topic(template: Template) -> None:
    topic = {"Fn::ImportValue": {"Fn::Sub": "${MessagingStack}-AlarmTopicArn"}}
    for alarm_id, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        assert alarm["Properties"]["AlarmActions"] == [topic], alarm_id
        assert alarm["Properties"]["OKActions"] == [topic], alarm_id


def test_the_ses_alarms_sit_well_below_the_levels_aws_reviews_at(template: Template) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SES"
    }
    parameters = template["Parameters"]
    bounce = parameters[alarms["Reputation.BounceRate"]["Threshold"]["Ref"]]
    complaint = parameters[alarms["Reputation.ComplaintRate"]["Threshold"]["Ref"]]
    assert bounce["Default"] <= SES_REVIEW_BOUNCE_RATE / 2
    assert bounce["MaxValue"] <= SES_REVIEW_BOUNCE_RATE
    assert complaint["Default"] <= SES_REVIEW_COMPLAINT_RATE / 2
    assert complaint["MaxValue"] <= SES_REVIEW_COMPLAINT_RATE


def test_the_dashboard_graphs_the_resources_the_other_templates_and_app_py_create(
    template: Template,
) -> None:
    all_templates = templates()
    refs = dashboard_metrics(template)
    queues = {dims["QueueName"] for ns, _m, dims in refs if ns == "AWS/SQS"}
    declared = {
        q["Properties"]["QueueName"]
        for q in of_type(all_templates["messaging"], "AWS::SQS::Queue").values()
    }
    assert queues == declared
    (cluster,) = of_type(all_templates["data"], "AWS::RDS::DBCluster").values()
    defaults = {name: p["Default"] for name, p in template["Parameters"].items()}
    assert defaults["BillingClusterId"] == cluster["Properties"]["DBClusterIdentifier"]
    prefix = defaults["FunctionPrefix"]
    errors = {d["FunctionName"] for ns, m, d in refs if ns == "AWS/Lambda" and m == "Errors"}
    assert errors == {prefix} | {f"{prefix}-{name}" for name in event_handlers()}
    assert defaults["ApiName"] == app_name()


def event_handlers() -> set[str]:
    """app.py's functions that Chalice deploys as their own Lambda function (not routes)."""
    tree = ast.parse(APP_PY.read_text())
    own = {"on_sqs_message", "on_sns_message", "schedule", "on_s3_event", "lambda_function"}
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in own
    }


def app_name() -> str:
    tree = ast.parse(APP_PY.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Chalice":
            (keyword,) = [k for k in node.keywords if k.arg == "app_name"]
            assert isinstance(keyword.value, ast.Constant)
            return str(keyword.value.value)
    raise AssertionError("no Chalice(app_name=...) in app.py")


def test_architecture_says_what_each_metric_means() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text[text.index("### The metrics") : text.index("### What they cost")]
    for metric in Metric:
        assert f"| `{metric.metric_name}` | {metric.spec.unit} |" in section, metric.metric_name
