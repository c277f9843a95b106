"""The local stack's reading of template.yaml: names, intrinsics, conditions, translations.

Pure functions only: no moto, no network (sockets are refused here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from socialcare_infra.esm import failed_message_ids, rate_seconds, record_passes, schedule_enabled
from socialcare_infra.provision import (
    LOCAL_SECRET_DEFAULTS,
    Provisioner,
    _lifecycle_rule,
    scale_seconds,
    secret_env_names,
)
from socialcare_infra.template import Resolver, TemplateError, kebab, load_template, physical_name

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    # Kept here as well as in the tier's conftest, so this file stays offline on its own.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


def make_resolver(resources: dict[str, Any] | None = None, **kwargs: Any) -> Resolver:
    template: dict[str, Any] = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
            "Email": {"Type": "String", "Default": ""},
            "Size": {"Type": "Number", "Default": 2},
        },
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]},
            "ProdWithEmail": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "HasEmail"}]},
            "ProdOrEmail": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "HasEmail"}]},
        },
        "Mappings": {"Sizes": {"dev": {"Memory": 256}}},
        "Resources": resources or {
            "WorkQueue": {"Type": "AWS::SQS::Queue", "Properties": {
                "FifoQueue": True, "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDLQ", "Arn"]}}}},
            "WorkDLQ": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
            "PlainQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "EventsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "MediaBucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "AlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "ApiToken": {"Type": "AWS::SecretsManager::Secret", "Metadata": {"LocalEnv": "SOCIALCARE_API_TOKEN"}},
            "EchoFunction": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
            "Subscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasEmail", "Properties": {}},
        },
    }
    return Resolver(template, stack_name="socialcare-local", **kwargs)


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("logical_id", "expected"),
    [
        ("InboundQueue", "inbound-queue"),
        ("InboundDLQ", "inbound-dlq"),
        ("CrmSyncQueue", "crm-sync-queue"),
        ("XConsumerSecret", "x-consumer-secret"),
        ("HttpApi", "http-api"),
        ("APIGatewayRole", "api-gateway-role"),
        ("Table2Backup", "table2-backup"),
        ("ProfilesTable", "profiles-table"),
    ],
)
def test_kebab_splits_words_and_keeps_acronyms_whole(logical_id: str, expected: str) -> None:
    assert kebab(logical_id) == expected


def test_physical_names_carry_the_stack_and_fifo_suffix() -> None:
    fifo = {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}
    assert physical_name("socialcare-local", "InboundQueue", fifo) == "socialcare-local-inbound-queue.fifo"
    assert physical_name("socialcare-local", "InboundDLQ", fifo) == "socialcare-local-inbound-dlq.fifo"
    assert physical_name("socialcare-local", "ProfilesTable", {"Type": "AWS::DynamoDB::Table"}) == (
        "socialcare-local-profiles-table")
    fifo_topic = {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": "true"}}
    assert physical_name("s", "AlertsTopic", fifo_topic) == "s-alerts-topic.fifo"


# ---------------------------------------------------------------------- the real template
def test_real_template_loads_with_short_tags_and_resolves_every_function_environment() -> None:
    resolver = Resolver(load_template(TEMPLATE_PATH))
    variables = resolver.resolve(resolver.template["Globals"]["Function"]["Environment"]["Variables"])
    assert variables["SOCIALCARE_PROFILES_TABLE"] == "socialcare-local-profiles-table"
    assert variables["SOCIALCARE_INBOUND_QUEUE_URL"].endswith("/123456789012/socialcare-local-inbound-queue.fifo")
    assert variables["SOCIALCARE_API_TOKEN_ARN"].startswith(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:socialcare-local-api-token")
    assert all(isinstance(v, str) for v in variables.values())
    inbound = resolver.resolve(resolver.resource("InboundQueue")["Properties"])
    assert inbound["RedrivePolicy"]["deadLetterTargetArn"] == (
        "arn:aws:sqs:eu-west-1:123456789012:socialcare-local-inbound-dlq.fifo")


def test_real_template_case_stream_source_and_role_resolve_to_the_cases_table_stream() -> None:
    resolver = Resolver(load_template(TEMPLATE_PATH))
    stream_arn = resolver.resolve({"Fn::GetAtt": ["CasesTable", "StreamArn"]})
    table_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/socialcare-local-cases-table"
    assert stream_arn.startswith(f"{table_arn}/stream/")
    events = resolver.resolve(resolver.resource("CaseStreamFunction")["Properties"]["Events"])
    assert events["CaseVersions"]["Type"] == "DynamoDB"
    assert events["CaseVersions"]["Properties"]["Stream"] == stream_arn
    # The local stack emulates no IAM, but the role's resources must still resolve (no dangling names).
    role = resolver.resolve(resolver.resource("CaseStreamRole")["Properties"])
    granted = {
        action: statement["Resource"]
        for statement in role["Policies"][0]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert granted["dynamodb:GetRecords"] == stream_arn
    assert granted["dynamodb:ListStreams"] == f"{table_arn}/stream/*"
    assert granted["sqs:SendMessage"] == "arn:aws:sqs:eu-west-1:123456789012:socialcare-local-crm-sync-queue.fifo"


def test_every_secret_of_the_real_template_names_a_local_variable_with_a_default() -> None:
    resolver = Resolver(load_template(TEMPLATE_PATH))
    names = secret_env_names(resolver)
    assert "SOCIALCARE_X_CONSUMER_SECRET" in names
    assert names <= set(LOCAL_SECRET_DEFAULTS), names - set(LOCAL_SECRET_DEFAULTS)


# ---------------------------------------------------------------------- Ref and GetAtt
def test_ref_follows_cloudformation_semantics_per_resource_type() -> None:
    r = make_resolver(region="us-west-2")
    assert r.ref("EventsTable") == "socialcare-local-events-table"
    assert r.ref("MediaBucket") == "socialcare-local-media-bucket"
    assert r.ref("AlertsTopic") == "arn:aws:sns:us-west-2:123456789012:socialcare-local-alerts-topic"
    assert r.ref("ApiToken").startswith("arn:aws:secretsmanager:us-west-2:123456789012:secret:")
    assert r.ref("WorkQueue").endswith("/123456789012/socialcare-local-work-queue.fifo")
    assert r.ref("EchoFunction") == "socialcare-local-echo-function"
    assert r.ref("HttpApi") == "HttpApi"  # not emulated: refers to itself


def test_values_known_only_after_creation_replace_derived_ones() -> None:
    r = make_resolver()
    r.set_ref("ApiToken", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:socialcare-local-api-token-AbCdEf")
    r.set_ref("WorkQueue", "http://127.0.0.1:4566/123456789012/socialcare-local-work-queue.fifo")
    assert r.resolve({"Ref": "ApiToken"}).endswith("-AbCdEf")
    assert r.resolve({"Fn::GetAtt": ["WorkQueue", "QueueUrl"]}).startswith("http://127.0.0.1:4566/")


def test_get_att_attributes() -> None:
    r = make_resolver()
    assert r.resolve({"Fn::GetAtt": ["WorkQueue", "Arn"]}) == (
        "arn:aws:sqs:eu-west-1:123456789012:socialcare-local-work-queue.fifo")
    assert r.resolve({"Fn::GetAtt": "WorkQueue.QueueName"}) == "socialcare-local-work-queue.fifo"
    assert r.resolve({"Fn::GetAtt": ["EventsTable", "Arn"]}) == (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/socialcare-local-events-table")
    assert r.resolve({"Fn::GetAtt": ["MediaBucket", "Arn"]}) == "arn:aws:s3:::socialcare-local-media-bucket"
    assert r.resolve({"Fn::GetAtt": ["AlertsTopic", "TopicName"]}) == "socialcare-local-alerts-topic"
    with pytest.raises(TemplateError):
        r.resolve({"Fn::GetAtt": ["WorkQueue", "NoSuchAttribute"]})


# ---------------------------------------------------------------------- other intrinsics
def test_sub_join_select_split_and_pseudo_parameters() -> None:
    r = make_resolver(region="eu-south-1")
    assert r.resolve({"Fn::Sub": "${AWS::StackName}/${AWS::Region}/${AWS::AccountId}/${AWS::Partition}"}) == (
        "socialcare-local/eu-south-1/123456789012/aws")
    assert r.resolve({"Fn::Sub": "${MediaBucket.Arn}/*"}) == "arn:aws:s3:::socialcare-local-media-bucket/*"
    assert r.resolve({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-dev"
    assert r.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "EventsTable"}}]}) == (
        "socialcare-local-events-table-dev")
    assert r.resolve({"Fn::Join": [",", ["a", {"Ref": "Stage"}, 3]]}) == "a,dev,3"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256
    assert r.resolve({"Fn::Sub": "https://x.execute-api.${AWS::Region}.${AWS::URLSuffix}"}) == (
        "https://x.execute-api.eu-south-1.amazonaws.com")


def test_conditions_if_and_no_value() -> None:
    dev = make_resolver()
    assert dev.condition("IsProd") is False
    assert dev.condition("HasEmail") is False
    no_value = {"Ref": "AWS::NoValue"}
    value = {"A": {"Fn::If": ["IsProd", "big", no_value]}, "B": [1, {"Fn::If": ["IsProd", 2, no_value]}]}
    assert dev.resolve(value) == {"B": [1]}
    prod = make_resolver(parameters={"Stage": "prod", "Email": "ops@example.com"})
    assert prod.condition("ProdWithEmail") is True
    assert prod.resolve(value) == {"A": "big", "B": [1, 2]}
    only_email = make_resolver(parameters={"Email": "ops@example.com"})
    assert (only_email.condition("ProdWithEmail"), only_email.condition("ProdOrEmail")) == (False, True)


def test_false_condition_excludes_the_resource() -> None:
    assert make_resolver().included("Subscription") is False
    assert make_resolver(parameters={"Email": "a@b.c"}).included("Subscription") is True
    assert make_resolver().included("WorkQueue") is True


def test_parameters_default_override_and_validation() -> None:
    assert make_resolver().ref("Size") == "2"  # CloudFormation hands parameters over as strings
    assert make_resolver(parameters={"Stage": "prod"}).ref("Stage") == "prod"
    with pytest.raises(TemplateError, match="not one of"):
        make_resolver(parameters={"Stage": "qa"})
    with pytest.raises(TemplateError, match="unknown parameter"):
        make_resolver(parameters={"Nope": "x"})


def test_creation_order_puts_each_dlq_before_its_queue() -> None:
    r = make_resolver()
    order = r.creation_order(["WorkQueue", "PlainQueue", "WorkDLQ"])
    assert order.index("WorkDLQ") < order.index("WorkQueue")
    assert sorted(order) == ["PlainQueue", "WorkDLQ", "WorkQueue"]


# ---------------------------------------------------------------------- provisioning translations
def test_queue_attributes_scale_the_visibility_timeout_and_encode_the_redrive_policy() -> None:
    r = make_resolver()
    provisioner = Provisioner(r, "http://127.0.0.1:9", environ={}, time_scale=0.02)
    props = r.resolve({
        "FifoQueue": True, "ContentBasedDeduplication": False, "VisibilityTimeout": 180,
        "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 345600,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WorkDLQ", "Arn"]}, "maxReceiveCount": 5},
    })
    attributes = provisioner.queue_attributes(props)
    assert attributes["VisibilityTimeout"] == "4"  # 180 s x 0.02 = 3.6 s, rounded up
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "false"
    assert attributes["MessageRetentionPeriod"] == "345600"  # retention is not scaled
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:socialcare-local-work-dlq.fifo",
        "maxReceiveCount": 5,
    }
    assert scale_seconds(30, 0.02) == 1  # never below one second


def test_secret_values_come_from_the_environment_then_the_documented_defaults() -> None:
    r = make_resolver()
    resource = r.resource("ApiToken")
    from_env = Provisioner(r, "http://127.0.0.1:9", environ={"SOCIALCARE_API_TOKEN": "mine"})
    assert from_env.secret_value("ApiToken", resource, {}) == "mine"
    default = Provisioner(r, "http://127.0.0.1:9", environ={})
    assert default.secret_value("ApiToken", resource, {}) == "local-api-token"


def test_lifecycle_rule_is_translated_to_the_s3_api_shape() -> None:
    rule = {"Id": "expire-media", "Status": "Enabled", "ExpirationInDays": 395,
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    assert _lifecycle_rule(rule) == {
        "ID": "expire-media", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": 395}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


# ---------------------------------------------------------------------- event source rules
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "unknown"}]}, None),
        ({"batchItemFailures": [{"id": "m1"}]}, None),
        ("not json object", None),
    ],
)
def test_partial_batch_response_follows_lambda_rules(response: Any, expected: set[str] | None) -> None:
    assert failed_message_ids(response, ["m1", "m2"]) == expected


def test_schedule_expressions_and_states() -> None:
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("cron(0 12 * * ? *)") is None
    assert schedule_enabled({"State": "DISABLED"}) is False
    assert schedule_enabled({"Enabled": False}) is False
    assert schedule_enabled({}) is True


@pytest.mark.parametrize(
    ("pattern", "body", "passes"),
    [
        ({"body": {"kind": ["mention"]}}, '{"kind": "mention"}', True),
        ({"body": {"kind": ["mention"]}}, '{"kind": "dm"}', False),
        ({"body": {"kind": [{"prefix": "men"}]}}, '{"kind": "mention"}', True),
        ({"body": {"kind": [{"anything-but": ["dm"]}]}}, '{"kind": "mention"}', True),
        ({"body": {"kind": [{"anything-but": ["dm"]}]}}, '{"kind": "dm"}', False),
        ({"body": {"reach": [{"numeric": [">", 1000, "<=", 5000]}]}}, '{"reach": 1840}', True),
        ({"body": {"reach": [{"numeric": [">", 1000]}]}}, '{"reach": 10}', False),
        ({"body": {"vip": [{"exists": False}]}}, '{"kind": "dm"}', True),
        ({"body": {"tags": ["refund"]}}, '{"tags": ["billing", "refund"]}', True),
        ({"body": ["plain text"]}, "plain text", True),
        ({"body": {"kind": ["mention"]}}, "not json", False),
    ],
)
def test_sqs_event_filter_patterns(pattern: dict[str, Any], body: str, passes: bool) -> None:
    record = {"body": body, "attributes": {"MessageGroupId": "g"}}
    assert record_passes(record, [pattern]) is passes


def test_no_filter_passes_everything_and_any_pattern_is_enough() -> None:
    record = {"body": '{"kind": "dm"}'}
    assert record_passes(record, None) is True
    assert record_passes(record, [{"body": {"kind": ["mention"]}}, {"body": {"kind": ["dm"]}}]) is True


# ---------------------------------------------------------------------- command line
def test_local_ports_default_to_the_environment_then_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcare_infra.cli import build_parser

    for name in ("MOTO", "API", "INVOKE"):
        monkeypatch.delenv(f"SOCIALCARE_LOCAL_{name}_PORT", raising=False)
    args = build_parser().parse_args(["local"])
    assert (args.moto_port, args.api_port, args.invoke_port, args.stack) == (4566, 3000, 3001, "socialcare-local")
    monkeypatch.setenv("SOCIALCARE_LOCAL_API_PORT", "0")
    monkeypatch.setenv("SOCIALCARE_LOCAL_INVOKE_PORT", "13001")
    args = build_parser().parse_args(["local"])
    assert (args.moto_port, args.api_port, args.invoke_port) == (4566, 0, 13001)
    args = build_parser().parse_args(["local", "--api-port", "8080", "--param", "Stage=prod"])
    assert (args.api_port, args.param) == (8080, [("Stage", "prod")])
