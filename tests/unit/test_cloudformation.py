"""cloudformation/*.yaml: what no linter checks in the templates: wiring, limits, least
privilege, encryption.

cfn-lint and checkov (make templates) judge each resource alone; these tests judge how the
resources fit together and with the code (app.py, the Chalice config, the local stack). The
packaged Chalice template is in tests/system/test_package.py.
"""

import json
from typing import Any

import pytest

from deploy.plan import imported_exports, parameter_values
from deploy.stacks import STACKS
from deploy.templates import Template
from order_contracts.events import (
    EVENT_TYPE_ATTRIBUTE,
    OrderBilled,
    OrderCancelled,
    OrderRejected,
    OrderReserved,
)
from tests import ROOT
from tests.cfn import is_our_key, of_type, queue_consumers, referenced, templates, value

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"
# The event types each queue consumer accepts (chalicelib.consumers refuses the others).
CONSUMES: dict[str, tuple[type[Any], ...]] = {
    "process_order": (),  # order-intake carries S3 records and OrderPlaced, unfiltered
    "initiate_billing": (OrderReserved, OrderCancelled),
    "customer_communications": (OrderBilled, OrderRejected, OrderCancelled),
}
# Actions on data (read, write, decrypt): never on every resource.
DATA_ACTION_PREFIXES = (
    "s3:",
    "dynamodb:",
    "sqs:",
    "sns:",
    "ses:",
    "secretsmanager:",
    "rds-data:",
    "kms:",
    "ssm:GetParameter",
)
# Only the log bucket uses SSE-S3: load balancer access logs cannot go to SSE-KMS buckets.
SSE_S3_BUCKETS = {"LogsBucket"}


@pytest.fixture(scope="module")
def all_templates() -> dict[str, Template]:
    return templates()


@pytest.fixture(scope="module")
def messaging(all_templates: dict[str, Template]) -> Template:
    return all_templates["messaging"]


def as_list(node: Any) -> list[Any]:
    return node if isinstance(node, list) else [node]


def test_the_issues_stacks_exist_and_every_output_is_exported_under_the_stack_name(
    all_templates: dict[str, Template],
) -> None:
    assert {"network", "security", "messaging", "data", "edge"} <= set(all_templates)
    for name, template in all_templates.items():
        for output, declaration in template.get("Outputs", {}).items():
            expected = {"Fn::Sub": f"${{AWS::StackName}}-{output}"}
            assert declaration.get("Export", {}).get("Name") == expected, f"{name}: {output}"


def test_every_parameter_is_described_and_constrained(all_templates: dict[str, Template]) -> None:
    constraints = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue"}
    for name, template in all_templates.items():
        for parameter, declaration in template.get("Parameters", {}).items():
            assert declaration.get("Description"), f"{name}: {parameter}"
            typed = str(declaration["Type"]).startswith("AWS::")
            assert typed or constraints & set(declaration), f"{name}: {parameter} unconstrained"


def test_stacks_import_only_from_stacks_deployed_before_them(
    all_templates: dict[str, Template],
) -> None:
    order = [stack.name for stack in STACKS]
    for key, template in all_templates.items():
        position = order.index(f"order-pipeline-{key}")
        for export in imported_exports(template, parameter_values(template, {})):
            (exporter,) = [name for name in order if export.startswith(f"{name}-")]
            assert order.index(exporter) < position, f"{key} imports {export}"


def test_the_web_acl_guards_the_load_balancer(all_templates: dict[str, Template]) -> None:
    edge = all_templates["edge"]
    (acl_id, acl), *others = of_type(edge, "AWS::WAFv2::WebACL").items()
    assert not others
    assert acl["Properties"]["Scope"] == "REGIONAL"
    (association,) = of_type(edge, "AWS::WAFv2::WebACLAssociation").values()
    (load_balancer_id,) = of_type(edge, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert association["Properties"]["ResourceArn"] == {"Ref": load_balancer_id}
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}

    rules = acl["Properties"]["Rules"]
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    } <= managed
    rate_rules = [rule for rule in rules if "RateBasedStatement" in rule["Statement"]]
    # The one for every request; the storefront's order posts have their own (test below).
    (rate,) = [
        rule
        for rule in rate_rules
        if "ScopeDownStatement" not in rule["Statement"]["RateBasedStatement"]
    ]
    assert "Block" in rate["Action"]
    assert len({rule["Priority"] for rule in rules}) == len(rules)


def _byte_match(statement: dict[str, Any]) -> tuple[str, str, str, tuple[str, ...]]:
    match = statement["ByteMatchStatement"]
    (field,) = match["FieldToMatch"]
    transformations = tuple(t["Type"] for t in match["TextTransformations"])
    return field, match["PositionalConstraint"], match["SearchString"], transformations


def test_the_storefronts_order_posts_have_their_own_tighter_rate_limit(
    all_templates: dict[str, Template],
) -> None:
    edge = all_templates["edge"]
    (acl,) = of_type(edge, "AWS::WAFv2::WebACL").values()
    rates = {
        "ScopeDownStatement" in rule["Statement"]["RateBasedStatement"]: rule
        for rule in acl["Properties"]["Rules"]
        if "RateBasedStatement" in rule["Statement"]
    }
    general = rates[False]["Statement"]["RateBasedStatement"]
    orders = rates[True]["Statement"]["RateBasedStatement"]
    assert orders["AggregateKeyType"] == "IP"
    assert orders.get("EvaluationWindowSec", 300) == general.get("EvaluationWindowSec", 300)
    assert value(edge, orders["Limit"]) < value(edge, general["Limit"])
    # The storefront's form posts to /orders (order_web/shop.py: place_order).
    matches = {
        _byte_match(statement)
        for statement in orders["ScopeDownStatement"]["AndStatement"]["Statements"]
    }
    assert matches == {
        ("Method", "EXACTLY", "POST", ("NONE",)),
        ("UriPath", "EXACTLY", "/orders", ("NORMALIZE_PATH",)),
    }
    # Block (CAPTCHA cannot answer a POST), as 429 with a body a shopper can read.
    response = rates[True]["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert response["CustomResponseBodyKey"] in acl["Properties"]["CustomResponseBodies"]


def test_the_load_balancer_speaks_tls_12_or_later_and_http_only_redirects(
    all_templates: dict[str, Template],
) -> None:
    edge = all_templates["edge"]
    listeners = {
        resource["Properties"]["Protocol"]: resource["Properties"]
        for resource in of_type(edge, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert set(listeners) == {"HTTPS", "HTTP"}
    assert listeners["HTTPS"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert [action["Type"] for action in listeners["HTTP"]["DefaultActions"]] == ["redirect"]
    redirect = listeners["HTTP"]["DefaultActions"][0]["RedirectConfig"]
    assert (redirect["Protocol"], redirect["StatusCode"]) == ("HTTPS", "HTTP_301")
    (target_group,) = of_type(edge, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    properties = target_group["Properties"]
    assert (properties["Port"], properties["HealthCheckPath"]) == (8080, "/livez")


def _queues(messaging: Template) -> dict[str, dict[str, Any]]:
    return of_type(messaging, "AWS::SQS::Queue")


def test_every_queue_has_a_dead_letter_queue_that_keeps_messages_longer(
    messaging: Template,
) -> None:
    queues = _queues(messaging)
    dead_letter_ids = {
        referenced(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    }
    sources = {
        logical_id: q for logical_id, q in queues.items() if logical_id not in dead_letter_ids
    }
    assert len(sources) == 3
    for logical_id, queue in sources.items():
        properties = queue["Properties"]
        assert "RedrivePolicy" in properties, f"{logical_id} has no dead-letter queue"
        dead_letter = queues[referenced(properties["RedrivePolicy"]["deadLetterTargetArn"]) or ""]
        retention = value(messaging, properties["MessageRetentionPeriod"])
        dead_retention = value(messaging, dead_letter["Properties"]["MessageRetentionPeriod"])
        assert dead_retention > retention, logical_id
        assert value(messaging, properties["RedrivePolicy"]["maxReceiveCount"]) == 5


def _lambda_timeouts() -> dict[str, int]:
    """The longest timeout each consumer gets in any stage of .chalice/config.json."""
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    timeouts: dict[str, int] = {}
    for function in CONSUMES:
        candidates = [config.get("lambda_timeout", 60)]
        candidates += [
            setting
            for stage in config.get("stages", {}).values()
            for setting in (
                stage.get("lambda_timeout"),
                stage.get("lambda_functions", {}).get(function, {}).get("lambda_timeout"),
            )
            if setting is not None
        ]
        timeouts[function] = max(candidates)
    return timeouts


def test_visibility_timeouts_are_at_least_six_times_their_consumers_timeout(
    messaging: Template,
) -> None:
    consumers = queue_consumers()
    timeouts = _lambda_timeouts()
    for queue in _queues(messaging).values():
        name = queue["Properties"]["QueueName"]
        if name not in consumers:
            continue  # a dead-letter queue: nothing consumes it
        visibility = value(messaging, queue["Properties"]["VisibilityTimeout"])
        assert visibility >= 6 * timeouts[consumers[name]], name
    assert set(consumers) <= {q["Properties"]["QueueName"] for q in _queues(messaging).values()}


def test_every_subscription_delivers_raw_what_its_consumer_accepts(messaging: Template) -> None:
    topics = {
        logical_id: topic["Properties"]["TopicName"]
        for logical_id, topic in of_type(messaging, "AWS::SNS::Topic").items()
    }
    queues = {
        logical_id: q["Properties"]["QueueName"] for logical_id, q in _queues(messaging).items()
    }
    consumers = queue_consumers()
    seen = set()
    for subscription in of_type(messaging, "AWS::SNS::Subscription").values():
        properties = subscription["Properties"]
        if properties["Protocol"] != "sqs":
            continue  # the alarm topic's optional email subscription
        queue = queues[referenced(properties["Endpoint"]) or ""]
        seen.add((topics[referenced(properties["TopicArn"]) or ""], queue))
        assert properties["RawMessageDelivery"] is True, queue
        accepted = sorted(
            event.model_fields["event_type"].default for event in CONSUMES[consumers[queue]]
        )
        expected = {EVENT_TYPE_ATTRIBUTE: accepted} if accepted else None
        assert properties.get("FilterPolicy") == expected, queue
        if expected:
            assert properties.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
    assert {queue for _, queue in seen} == set(consumers)


def _policy_documents(template: Template) -> list[tuple[str, dict[str, Any], bool]]:
    """(where, document, is a key policy) for every policy a template declares."""
    documents: list[tuple[str, dict[str, Any], bool]] = []
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for policy in properties.get("Policies", []):
            documents.append(
                (f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"], False)
            )
        for key in ("PolicyDocument", "KeyPolicy"):
            document = _substituted_json(properties.get(key))
            if isinstance(document, dict):
                documents.append((logical_id, document, key == "KeyPolicy"))
    return documents


def _substituted_json(value: Any) -> Any:
    """A policy written as JSON text in a Fn::Sub (X-Ray's resource policy), as a document;
    its ${...} placeholders are inside strings, so the text parses as it stands."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
        return json.loads(text)
    return value


def _stage_policies() -> list[tuple[str, dict[str, Any], bool]]:
    return [
        (path.name, json.loads(path.read_text()), False)
        for path in sorted(CHALICE_DIR.glob("policy-*.json"))
    ]


def _all_policies() -> list[tuple[str, dict[str, Any], bool]]:
    found = _stage_policies()
    for name, template in templates().items():
        found += [
            (f"{name}.yaml: {where}", doc, key) for where, doc, key in _policy_documents(template)
        ]
    return found


@pytest.mark.parametrize(("where", "document", "key_policy"), _all_policies())
def test_no_policy_grants_everything_or_data_everywhere(
    where: str, document: dict[str, Any], key_policy: bool
) -> None:
    for statement in as_list(document["Statement"]):
        if statement["Effect"] != "Allow":
            continue  # Deny statements (TLS only) may be as broad as they like
        actions = as_list(statement.get("Action", []))
        resources = as_list(statement.get("Resource", []))
        principal = statement.get("Principal")
        assert principal not in ("*", {"AWS": "*"}), f"{where}: {statement}"
        for action in actions:
            assert action != "*", where
            assert not action.endswith(":*"), f"{where}: {action}"
            if action == "iam:PassRole":
                assert "*" not in resources, f"{where}: PassRole on *"
            # In a key policy "*" means the key itself.
            if "*" in resources and not key_policy:
                assert not action.startswith(DATA_ACTION_PREFIXES), f"{where}: {action} on *"


def test_the_policy_review_covers_every_stage_policy_file() -> None:
    assert "policy-dev.json" in {name for name, _, _ in _stage_policies()}


@pytest.mark.parametrize(("where", "document", "key_policy"), _stage_policies())
def test_only_the_inventory_table_may_be_scanned(
    where: str, document: dict[str, Any], key_policy: bool
) -> None:
    """GET /catalog lists the inventory table; nothing else needs a Scan of any table."""
    scanned = [
        resource
        for statement in as_list(document["Statement"])
        if statement["Effect"] == "Allow"
        and {"dynamodb:Scan", "dynamodb:*"} & set(as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    ]
    (table,) = scanned
    assert table.endswith(":table/inventory"), where


def test_web_hosts_accept_traffic_only_from_the_load_balancer(
    all_templates: dict[str, Template],
) -> None:
    security = all_templates["security"]
    web = of_type(security, "AWS::EC2::SecurityGroup")["WebSecurityGroup"]
    assert "SecurityGroupIngress" not in web["Properties"]
    ingress_rules = [
        (name, rule["Properties"])
        for name, template in all_templates.items()
        for rule in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    into_web = [
        properties
        for name, properties in ingress_rules
        if properties["GroupId"] == {"Ref": "WebSecurityGroup"}
        or "WebSecurityGroupId" in json.dumps(properties["GroupId"])
    ]
    assert into_web
    for properties in into_web:
        assert "CidrIp" not in properties
        assert "CidrIpv6" not in properties
        assert referenced(properties["SourceSecurityGroupId"]) == "AlbSecurityGroup" or (
            "AlbSecurityGroupId" in json.dumps(properties["SourceSecurityGroupId"])
        )
        assert (properties["FromPort"], properties["ToPort"]) == (8080, 8080)


def test_every_security_group_rule_is_described_and_ssh_is_never_open(
    all_templates: dict[str, Template],
) -> None:
    for name, template in all_templates.items():
        rules = [
            rule
            for group in of_type(template, "AWS::EC2::SecurityGroup").values()
            for key in ("SecurityGroupIngress", "SecurityGroupEgress")
            for rule in group["Properties"].get(key, [])
        ]
        rules += [
            resource["Properties"]
            for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
            for resource in of_type(template, kind).values()
        ]
        for rule in rules:
            assert rule.get("Description"), f"{name}: {rule}"
            opens_ssh = rule.get("FromPort", 0) <= 22 <= rule.get("ToPort", 65535)
            assert not (opens_ssh and rule.get("CidrIp") == "0.0.0.0/0"), f"{name}: {rule}"


def test_topics_queues_tables_buckets_and_logs_use_the_customer_key(
    all_templates: dict[str, Template],
) -> None:
    where_the_key_goes = {
        "AWS::SNS::Topic": lambda p: p["KmsMasterKeyId"],
        "AWS::SQS::Queue": lambda p: p["KmsMasterKeyId"],
        "AWS::DynamoDB::Table": lambda p: p["SSESpecification"]["KMSMasterKeyId"],
        "AWS::Logs::LogGroup": lambda p: p["KmsKeyId"],
        "AWS::SecretsManager::Secret": lambda p: p["KmsKeyId"],
        "AWS::RDS::DBCluster": lambda p: p["KmsKeyId"],
    }
    for name, template in all_templates.items():
        for resource_type, key_of in where_the_key_goes.items():
            for logical_id, resource in of_type(template, resource_type).items():
                assert is_our_key(key_of(resource["Properties"])), f"{name}: {logical_id}"
        for logical_id, bucket in of_type(template, "AWS::S3::Bucket").items():
            (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            default = rule["ServerSideEncryptionByDefault"]
            if logical_id in SSE_S3_BUCKETS:
                assert default["SSEAlgorithm"] == "AES256"
            else:
                assert default["SSEAlgorithm"] == "aws:kms", f"{name}: {logical_id}"
                assert is_our_key(default["KMSMasterKeyID"]), f"{name}: {logical_id}"


def test_stores_of_data_are_retained_and_buckets_are_tls_only(
    all_templates: dict[str, Template],
) -> None:
    data = all_templates["data"]
    stores = [
        *of_type(data, "AWS::DynamoDB::Table").items(),
        *of_type(data, "AWS::S3::Bucket").items(),
        *of_type(data, "AWS::RDS::DBCluster").items(),
        *of_type(data, "AWS::SecretsManager::Secret").items(),
    ]
    assert len(stores) == 8
    for logical_id, resource in stores:
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    tls_only = {
        referenced(policy["Properties"]["Bucket"])
        for policy in of_type(data, "AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_only == set(of_type(data, "AWS::S3::Bucket"))


def test_ses_sends_bounces_and_complaints_to_the_feedback_topic(messaging: Template) -> None:
    (destination,) = of_type(messaging, "AWS::SES::ConfigurationSetEventDestination").values()
    event_destination = destination["Properties"]["EventDestination"]
    assert sorted(event_destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    topic = referenced(event_destination["SnsDestination"]["TopicARN"]) or ""
    assert messaging["Resources"][topic]["Properties"]["TopicName"] == "ses-feedback"


def test_every_dead_letter_queue_has_a_depth_alarm(messaging: Template) -> None:
    alarmed = {
        referenced(dimension["Value"])
        for alarm in of_type(messaging, "AWS::CloudWatch::Alarm").values()
        for dimension in alarm["Properties"]["Dimensions"]
        if dimension["Name"] == "QueueName"
    }
    dead_letters = {
        referenced(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in _queues(messaging).values()
        if "RedrivePolicy" in queue["Properties"]
    }
    assert len(dead_letters) == 3
    assert dead_letters == alarmed


def test_the_web_fleets_group_launches_with_a_role_the_key_policy_names(
    all_templates: dict[str, Template],
) -> None:
    """EBS volumes on our key: Auto Scaling's role needs the key (AWS's documented two
    statements); the default role does not exist on a fresh account, so the group has its own."""
    security, fleet = all_templates["security"], all_templates["web-fleet"]
    (role,) = of_type(security, "AWS::IAM::ServiceLinkedRole").values()
    assert role["Properties"]["AWSServiceName"] == "autoscaling.amazonaws.com"
    role_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
        "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_"
        + role["Properties"]["CustomSuffix"]
    }
    key = security["Resources"]["Key"]
    # KMS refuses a policy naming a principal that does not exist yet.
    assert "AutoScalingServiceRole" in as_list(key.get("DependsOn", []))
    statements = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"AWS": role_arn}
    ]
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert actions == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
        "kms:CreateGrant",
    }
    (grant,) = [s for s in statements if "kms:CreateGrant" in as_list(s["Action"])]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": True}}
    assert security["Outputs"]["AutoScalingServiceRoleArn"]["Value"] == role_arn

    (group,) = of_type(fleet, "AWS::AutoScaling::AutoScalingGroup").values()
    assert group["Properties"]["ServiceLinkedRoleARN"] == {
        "Fn::ImportValue": {"Fn::Sub": "${SecurityStack}-AutoScalingServiceRoleArn"}
    }
    (template,) = of_type(fleet, "AWS::EC2::LaunchTemplate").values()
    (volume,) = template["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"]
    assert volume["Ebs"]["Encrypted"] is True
    assert is_our_key(volume["Ebs"]["KmsKeyId"])


def _mentioned(node: Any) -> set[str]:
    """Logical ids a node names (Ref, GetAtt, ${Name} in a Sub) and the exports it imports."""
    if isinstance(node, list):
        return {name for item in node for name in _mentioned(item)}
    if not isinstance(node, dict):
        return set()
    if "Ref" in node or "Fn::GetAtt" in node:
        return {str(referenced(node))}
    if "Fn::ImportValue" in node:
        return {"import:" + json.dumps(node["Fn::ImportValue"], sort_keys=True)}
    return {name for item in node.values() for name in _mentioned(item)}


def test_the_retained_database_stands_on_what_the_teardown_deletes_after_it(
    all_templates: dict[str, Template],
) -> None:
    """The cluster and its writer are kept (Retain on delete and on replacement); what they use
    is not, so the README's teardown deletes them before the stacks (else DELETE_FAILED)."""
    data = all_templates["data"]
    resources = data["Resources"]
    for logical_id in ("BillingCluster", "BillingWriter"):
        policies = (resources[logical_id].get("DeletionPolicy"),)
        policies += (resources[logical_id].get("UpdateReplacePolicy"),)
        assert policies == ("Retain", "Retain"), logical_id
    uses = _mentioned(resources["BillingCluster"]["Properties"]) | _mentioned(
        resources["BillingWriter"]["Properties"]
    )
    deleted_with_the_stacks = {
        name
        for name in uses
        if name in resources and resources[name].get("DeletionPolicy") != "Retain"
    } | {name.split("-")[-1].rstrip('"}') for name in uses if name.startswith("import:")}
    assert deleted_with_the_stacks == {
        "BillingSubnetGroup",  # data stack (stands on the network stack's private subnets)
        "BillingMonitoringRole",  # data stack
        "DatabaseSecurityGroupId",  # security stack
        "KeyArn",  # security stack, but the key itself is retained
    }
    assert all_templates["security"]["Resources"]["Key"]["DeletionPolicy"] == "Retain"


def test_the_reviews_smaller_risks_stay_fixed(all_templates: dict[str, Template]) -> None:
    security, data, fleet = (all_templates[n] for n in ("security", "data", "web-fleet"))
    # The load balancer reaches the web hosts only: an inline rule replaces the default egress.
    alb = security["Resources"]["AlbSecurityGroup"]["Properties"]
    assert [rule["CidrIp"] for rule in alb["SecurityGroupEgress"]] == ["127.0.0.1/32"]
    # Access logging waits for the log bucket's policy.
    for bucket in ("OrdersBucket", "ArtifactsBucket"):
        assert "LogsBucketPolicy" in as_list(data["Resources"][bucket].get("DependsOn", []))
    # Aurora's exported log: our group, with retention, on our key, made before the cluster.
    (group,) = [
        g
        for g in of_type(data, "AWS::Logs::LogGroup").values()
        if g["Properties"]["LogGroupName"] == "/aws/rds/cluster/order-pipeline-billing/postgresql"
    ]
    assert group["Properties"]["RetentionInDays"]
    assert is_our_key(group["Properties"]["KmsKeyId"])
    cluster = data["Resources"]["BillingCluster"]
    assert "BillingPostgresqlLogGroup" in as_list(cluster["DependsOn"])
    # Staging may let Aurora pause; production's default stays always on.
    minimum = data["Parameters"]["BillingMinCapacity"]
    assert 0 in minimum["AllowedValues"]
    assert minimum["Default"] == 0.5
    # Hosts read their own secret parameter only: no managed policy with ssm:GetParameter on *.
    role = fleet["Resources"]["InstanceRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    readers = [s for s in statements if "ssm:GetParameter" in as_list(s["Action"])]
    assert [s["Sid"] for s in readers] == ["ReadSecretKey"]


def test_the_account_wide_api_gateway_logging_role_outlives_the_stack_and_can_be_left_alone(
    all_templates: dict[str, Template],
) -> None:
    """One role per account and region: deleting our stack must not leave the account's
    setting naming a deleted role, and an account whose setting is already in use can keep it."""
    security = all_templates["security"]
    role = security["Resources"]["ApiGatewayLoggingRole"]
    assert role["DeletionPolicy"] == "Retain"
    assert role["UpdateReplacePolicy"] == "Retain"
    assert "RoleName" not in role["Properties"]  # a redeploy never meets its own old name
    account = security["Resources"]["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == "SettingApiGatewayLoggingRole"
    assert security["Parameters"]["SetApiGatewayLoggingRole"]["AllowedValues"] == [
        "true",
        "false",
    ]


def test_the_web_hosts_may_read_and_decrypt_both_secure_strings_on_our_key(
    all_templates: dict[str, Template],
) -> None:
    """deploy.sequence puts the web secret key and the link key on alias/order-pipeline: the
    instance role reads both parameters and decrypts with our key (its key policy delegates
    to IAM)."""
    role = of_type(all_templates["web-fleet"], "AWS::IAM::Role")["InstanceRole"]
    statements = [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    reads = [
        str(resource)
        for statement in statements
        if "ssm:GetParameter" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]
    assert any("/web/secret-key" in resource for resource in reads)
    assert any("/order-links/key" in resource for resource in reads)
    assert any(
        "kms:Decrypt" in as_list(statement["Action"]) and is_our_key(statement["Resource"])
        for statement in statements
    )
