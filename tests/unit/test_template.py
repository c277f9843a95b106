"""Guards on template.yaml: the deployment properties the design relies on.

Each test collects every violation and fails with the full list, naming the resource and
the property to fix. No network, no AWS: the template is only parsed (cfn_flip's loader
understands the CloudFormation short tags !Ref, !GetAtt, !Sub, ...). Stream filter patterns are
evaluated with the local stack's matcher (socialcare_infra.esm) against records shaped the way
the case relay (socialcare.flows.case_stream) reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfn_tools import load_yaml

from socialcare.flows.case_stream import sync_requests
from socialcare.store.cases.items import (
    CASE_SK,
    CRM_SK,
    MARKER_SK,
    POINTER_SK,
    TIMELINE_PREFIX,
    case_pk,
    marker_pk,
    pointer_pk,
)
from socialcare_infra.esm import matches_any

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"

RUNTIME = "python3.13"
ARCHITECTURES = ["arm64"]
LAMBDA_DEFAULT_TIMEOUT = 3  # seconds, when neither the function nor Globals set Timeout
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
VISIBILITY_FACTOR = 6  # AWS guidance for SQS event sources: visibility >= 6x function timeout

FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
TABLE_TYPES = {"AWS::DynamoDB::Table"}

# SAM policy templates that take no resource parameter because the actions cannot be scoped.
UNSCOPABLE_POLICY_TEMPLATES = {"CloudWatchPutMetricPolicy", "AWSXrayWriteOnlyAccess"}
# AWS managed policies an explicit function role may carry: logs and traces, no data access
# (SAM's AWSLambdaDynamoDBExecutionRole, say, reads every stream of the account: Resource "*").
EXECUTION_ONLY_MANAGED_POLICIES = {"AWSLambdaBasicExecutionRole", "AWSXRayDaemonWriteAccess", "AWSXrayWriteOnlyAccess"}
X_RAY_MANAGED_POLICIES = {"AWSXRayDaemonWriteAccess", "AWSXrayWriteOnlyAccess"}
# Event source types whose SAM-generated role would get a managed policy on every stream ("*").
STREAM_EVENT_TYPES = {"DynamoDB", "Kinesis"}
# What Lambda's event source mapping needs to read a DynamoDB stream.
STREAM_READ_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                       "dynamodb:ListStreams"}
DYNAMODB_STREAM_RETENTION_SECONDS = 24 * 3600

SECRET_WORDS = re.compile(r"secret|token|passw|pwd|api_?key|credential|private_?key|signing_?key", re.I)
# Parameters may *refer* to a secret (its ARN or name), never carry one.
REFERENCE_SUFFIX = re.compile(r"(arn|arns|name|names|id|ids)$", re.I)
SECRET_LOOKING_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|^(sk|pk|rk|xox[abp]|ghp|gho|EAA)[-_A-Za-z0-9]{10,}"  # Stripe, Slack, GitHub, Meta tokens
    r"|^[A-Za-z0-9+/_\-=]{24,}$"  # long opaque string: token, key, base64/hex secret
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded = load_yaml(TEMPLATE_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict) and isinstance(loaded.get("Resources"), dict), (
        f"{TEMPLATE_PATH} has no Resources mapping"
    )
    return loaded


# ----------------------------------------------------------------------------- helpers


def resources(template: dict[str, Any], types: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in types:
            yield logical_id, resource


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def function_setting(template: dict[str, Any], function: dict[str, Any], name: str, default: Any = None) -> Any:
    """A function property, falling back to Globals.Function for SAM functions."""
    if name in props(function):
        return props(function)[name]
    if function.get("Type") == "AWS::Serverless::Function":
        return ((template.get("Globals") or {}).get("Function") or {}).get(name, default)
    return default


def referenced_id(value: Any) -> str | None:
    """Logical id behind !Ref X / !GetAtt X.Attr (short or long form), else None."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if "Ref" in value and isinstance(value["Ref"], str):
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and target and isinstance(target[0], str):
            return target[0]
        if isinstance(target, str):
            return target.split(".", 1)[0]
    return None


def show(value: Any) -> str:
    """A template value as written in YAML, for failure messages."""
    target = referenced_id(value)
    if target is not None and "Ref" in value:
        return f"!Ref {target}"
    if target is not None:
        attr = value["Fn::GetAtt"]
        return f"!GetAtt {'.'.join(attr) if isinstance(attr, list) else attr}"
    return json.dumps(value, default=str)


def sqs_consumers(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(function id, event/mapping name, event properties, queue reference) for every SQS source."""
    for fn_id, fn in resources(template, FUNCTION_TYPES):
        for event_name, event in (props(fn).get("Events") or {}).items():
            if event.get("Type") == "SQS":
                event_props = event.get("Properties") or {}
                yield fn_id, event_name, event_props, event_props.get("Queue")
    for mapping_id, mapping in resources(template, {"AWS::Lambda::EventSourceMapping"}):
        source = props(mapping).get("EventSourceArn")
        source_id = referenced_id(source)
        if source_id and template["Resources"].get(source_id, {}).get("Type") == "AWS::SQS::Queue":
            fn_id = referenced_id(props(mapping).get("FunctionName")) or "<unresolved FunctionName>"
            yield fn_id, mapping_id, props(mapping), source


def stream_consumers(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(function id, event/mapping name, event properties, stream reference) for every stream source."""
    for fn_id, fn in resources(template, FUNCTION_TYPES):
        for event_name, event in (props(fn).get("Events") or {}).items():
            if event.get("Type") in STREAM_EVENT_TYPES:
                event_props = event.get("Properties") or {}
                yield fn_id, event_name, event_props, event_props.get("Stream")
    for mapping_id, mapping in resources(template, {"AWS::Lambda::EventSourceMapping"}):
        source = props(mapping).get("EventSourceArn")
        source_type = template["Resources"].get(referenced_id(source) or "", {}).get("Type")
        if source_type in TABLE_TYPES | {"AWS::Kinesis::Stream"}:
            fn_id = referenced_id(props(mapping).get("FunctionName")) or "<unresolved FunctionName>"
            yield fn_id, mapping_id, props(mapping), source


def sub_references(value: Any) -> set[str] | None:
    """Names a !Sub refers to (``${X}``, ``${X.Attr}``, its variable map's references), pseudo
    parameters left out; None when ``value`` is not a !Sub."""
    if not isinstance(value, dict) or set(value) != {"Fn::Sub"}:
        return None
    body: Any = value["Fn::Sub"]
    variables: dict[str, Any] = {}
    if isinstance(body, list):
        body, variables = body[0], (body[1] if len(body) > 1 else {})
    found: set[str] = set()
    for name in re.findall(r"\$\{([^!}][^}]*)\}", str(body)):
        if name in variables:
            target = referenced_id(variables[name])
            found.add(target if target is not None else f"<{name} = {show(variables[name])}>")
        elif not name.startswith("AWS::"):
            found.add(name.split(".", 1)[0])
    return found


def literal_text(value: Any) -> str:
    """A string, or a !Sub's template string (for names written inside a !Sub)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        return str(body[0] if isinstance(body, list) else body)
    return value if isinstance(value, str) else ""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def fail_if(violations: list[str], what: str) -> None:
    if violations:
        pytest.fail(f"{what} ({len(violations)}):\n  - " + "\n  - ".join(violations), pytrace=False)


# ----------------------------------------------------------------------------- functions


def test_template_has_functions(template: dict[str, Any]) -> None:
    assert list(resources(template, FUNCTION_TYPES)), "no Lambda functions found: did the template move?"


def test_every_function_runs_python313_on_arm64(template: dict[str, Any]) -> None:
    violations = []
    for fn_id, fn in resources(template, FUNCTION_TYPES):
        runtime = function_setting(template, fn, "Runtime")
        architectures = function_setting(template, fn, "Architectures", ["x86_64"])
        if runtime != RUNTIME:
            violations.append(f"{fn_id}: Runtime is {runtime!r} (own or Globals), expected {RUNTIME!r}")
        if architectures != ARCHITECTURES:
            violations.append(
                f"{fn_id}: Architectures is {architectures!r} (own, Globals or the x86_64 default), "
                f"expected {ARCHITECTURES!r}"
            )
    fail_if(violations, "functions not on python3.13/arm64")


def test_every_function_builds_with_the_functions_makefile(template: dict[str, Any]) -> None:
    """See docs/build.md: code-only functions, one functions/Makefile, the layer carries the rest."""
    violations = []
    for fn_id, fn in resources(template, {"AWS::Serverless::Function"}):
        metadata = fn.get("Metadata") or {}
        expected = {"BuildMethod": "makefile", "ContextPath": "functions"}
        got = {key: metadata.get(key) for key in expected}
        if got != expected:
            violations.append(f"{fn_id}: Metadata {got} should be {expected}")
        code_uri = props(fn).get("CodeUri")
        if not (isinstance(code_uri, str) and re.fullmatch(r"functions/[a-z0-9_]+/?", code_uri)):
            violations.append(f"{fn_id}: CodeUri {code_uri!r} should be functions/<dir>/")
        if props(fn).get("Handler") != "app.handler":
            violations.append(f"{fn_id}: Handler {props(fn).get('Handler')!r} should be 'app.handler'")
    fail_if(violations, "functions not built the documented way")


def test_shared_layer_is_built_for_python313_arm64(template: dict[str, Any]) -> None:
    layer = template["Resources"].get("SharedLayer")
    assert layer and layer.get("Type") == "AWS::Serverless::LayerVersion", "SharedLayer is missing"
    violations = []
    if (layer.get("Metadata") or {}).get("BuildMethod") != "makefile":
        violations.append("SharedLayer: Metadata.BuildMethod should be makefile (shared/Makefile)")
    if props(layer).get("CompatibleRuntimes") != [RUNTIME]:
        violations.append(f"SharedLayer: CompatibleRuntimes should be [{RUNTIME}]")
    if props(layer).get("CompatibleArchitectures") != ARCHITECTURES:
        violations.append(f"SharedLayer: CompatibleArchitectures should be {ARCHITECTURES}")
    for fn_id, fn in resources(template, {"AWS::Serverless::Function"}):
        layers = function_setting(template, fn, "Layers", [])
        if not any(referenced_id(entry) == "SharedLayer" for entry in layers or []):
            violations.append(f"{fn_id}: does not use SharedLayer (own or Globals Layers)")
    fail_if(violations, "SharedLayer problems")


# ----------------------------------------------------------------------------- queues


def test_every_sqs_event_source_reports_batch_item_failures(template: dict[str, Any]) -> None:
    violations = []
    for fn_id, source_name, source_props, _queue in sqs_consumers(template):
        if "ReportBatchItemFailures" not in (source_props.get("FunctionResponseTypes") or []):
            violations.append(
                f"{fn_id}.{source_name}: FunctionResponseTypes lacks ReportBatchItemFailures "
                "(one bad message would make the whole batch retry)"
            )
    fail_if(violations, "SQS event sources without partial batch responses")


def test_queue_visibility_timeout_covers_six_consumer_timeouts(template: dict[str, Any]) -> None:
    violations = []
    queues = template["Resources"]
    for fn_id, source_name, _props, queue_ref in sqs_consumers(template):
        queue_id = referenced_id(queue_ref)
        if queue_id is None or queues.get(queue_id, {}).get("Type") != "AWS::SQS::Queue":
            violations.append(f"{fn_id}.{source_name}: Queue {show(queue_ref)} is not a queue of this template")
            continue
        fn = queues.get(fn_id)
        timeout = function_setting(template, fn, "Timeout", LAMBDA_DEFAULT_TIMEOUT) if fn else None
        visibility = props(queues[queue_id]).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT)
        if not isinstance(timeout, int) or not isinstance(visibility, int):
            violations.append(
                f"{queue_id} -> {fn_id}: VisibilityTimeout {visibility!r} and Timeout {timeout!r} "
                "must be literal numbers"
            )
        elif visibility < VISIBILITY_FACTOR * timeout:
            violations.append(
                f"{queue_id}: VisibilityTimeout {visibility}s < {VISIBILITY_FACTOR} x {fn_id} Timeout "
                f"{timeout}s = {VISIBILITY_FACTOR * timeout}s"
            )
    fail_if(violations, "queues whose messages could reappear while still being processed")


def test_every_fifo_queue_has_a_fifo_dlq(template: dict[str, Any]) -> None:
    queues = dict(resources(template, {"AWS::SQS::Queue"}))
    dlq_ids = set()
    for queue in queues.values():
        redrive = props(queue).get("RedrivePolicy") or {}
        target = referenced_id(redrive.get("deadLetterTargetArn"))
        if target:
            dlq_ids.add(target)
    violations = []
    for queue_id, queue in queues.items():
        if not props(queue).get("FifoQueue") or queue_id in dlq_ids:
            continue
        redrive = props(queue).get("RedrivePolicy")
        if not redrive:
            violations.append(f"{queue_id}: FIFO queue without RedrivePolicy (poison messages block groups)")
            continue
        target = referenced_id(redrive.get("deadLetterTargetArn"))
        if target not in queues:
            violations.append(
                f"{queue_id}: RedrivePolicy.deadLetterTargetArn should be !GetAtt <DLQ>.Arn of this template"
            )
        elif not props(queues[target]).get("FifoQueue"):
            violations.append(f"{queue_id}: its DLQ {target} must be FIFO too")
        count = redrive.get("maxReceiveCount")
        if not isinstance(count, int) or count < 1:
            violations.append(f"{queue_id}: RedrivePolicy.maxReceiveCount {count!r} should be an int >= 1")
    fail_if(violations, "FIFO queues without a working dead-letter queue")


# ----------------------------------------------------------------------------- streams


def test_every_stream_event_source_reports_batch_item_failures_and_bisects(template: dict[str, Any]) -> None:
    all_resources = template["Resources"]
    violations = []
    for fn_id, source_name, source_props, stream_ref in stream_consumers(template):
        where = f"{fn_id}.{source_name}"
        if "ReportBatchItemFailures" not in (source_props.get("FunctionResponseTypes") or []):
            violations.append(
                f"{where}: FunctionResponseTypes lacks ReportBatchItemFailures (a failed record would make the "
                "whole batch retry, and the records after it be published again)"
            )
        if source_props.get("BisectBatchOnFunctionError") is not True:
            violations.append(f"{where}: BisectBatchOnFunctionError should be true (isolate a failing record)")
        table_id = referenced_id(stream_ref)
        table = all_resources.get(table_id or "", {})
        if table.get("Type") in TABLE_TYPES and not props(table).get("StreamSpecification"):
            violations.append(f"{where}: {table_id} has no StreamSpecification")
        elif table_id is None or not table:
            violations.append(f"{where}: Stream {show(stream_ref)} is not a stream of this template")
    fail_if(violations, "stream event sources without partial batch responses")


def case_stream_event(template: dict[str, Any]) -> dict[str, Any]:
    fn = template["Resources"].get("CaseStreamFunction")
    assert fn, "CaseStreamFunction is missing: nothing relays saved case versions to the CRM"
    events = [e for e in (props(fn).get("Events") or {}).values() if e.get("Type") == "DynamoDB"]
    assert len(events) == 1, f"CaseStreamFunction should have one DynamoDB event, has {len(events)}"
    return events[0].get("Properties") or {}


def stream_record(event_name: str, pk: str, sk: str, version: int | None = 3) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda filters and delivers it (NEW_IMAGE)."""
    keys = {"pk": {"S": pk}, "sk": {"S": sk}}
    image = {**keys, **({"version": {"N": str(version)}} if version is not None else {})}
    change: dict[str, Any] = {"Keys": keys, "SequenceNumber": "100", "StreamViewType": "NEW_IMAGE"}
    if event_name != "REMOVE":
        change["NewImage"] = image
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": change}


def test_case_stream_reports_failures_bisects_and_retries_until_records_expire(template: dict[str, Any]) -> None:
    """Every saved case version reaches the CRM only if the stream source reports partial
    failures, bisects, retries a record until it expires and starts at the oldest record."""
    source = case_stream_event(template)
    violations = []
    if referenced_id(source.get("Stream")) != "CasesTable" or "StreamArn" not in show(source.get("Stream")):
        violations.append(f"Stream {show(source.get('Stream'))} should be !GetAtt CasesTable.StreamArn")
    view = (props(template["Resources"]["CasesTable"]).get("StreamSpecification") or {}).get("StreamViewType")
    if view not in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        violations.append(f"CasesTable StreamViewType {view!r}: the relay reads NewImage")
    if "ReportBatchItemFailures" not in (source.get("FunctionResponseTypes") or []):
        violations.append("FunctionResponseTypes lacks ReportBatchItemFailures")
    if source.get("BisectBatchOnFunctionError") is not True:
        violations.append("BisectBatchOnFunctionError should be true")
    if source.get("MaximumRetryAttempts") != -1:
        violations.append(
            f"MaximumRetryAttempts {source.get('MaximumRetryAttempts')!r} should be -1 (retry until the record "
            "expires): a record given up on is a case version the CRM never sees"
        )
    if source.get("MaximumRecordAgeInSeconds", -1) != -1:
        violations.append(
            f"MaximumRecordAgeInSeconds {source.get('MaximumRecordAgeInSeconds')!r} should be absent or -1 "
            "(keep retrying for the stream's whole retention)"
        )
    if source.get("StartingPosition") != "TRIM_HORIZON":
        violations.append(
            f"StartingPosition {source.get('StartingPosition')!r} should be TRIM_HORIZON (LATEST skips the "
            "versions written before the mapping polls)"
        )
    fail_if(violations, "CaseStreamFunction's stream source could lose case versions")


def test_case_stream_filter_lets_through_case_versions_only(template: dict[str, Any]) -> None:
    """The filter passes every case item (sk = CASE) insert and change, and nothing else: the CRM
    state items the CRM sync writes to CasesTable would otherwise feed back into it."""
    filters = (case_stream_event(template).get("FilterCriteria") or {}).get("Filters") or []
    patterns = [json.loads(f["Pattern"]) if isinstance(f.get("Pattern"), str) else f.get("Pattern") for f in filters]
    assert patterns, "no FilterCriteria: every item of CasesTable (CRM state, timeline) would be relayed"
    violations = []
    for index, pattern in enumerate(patterns):
        sk = (((pattern or {}).get("dynamodb") or {}).get("Keys") or {}).get("sk")
        if sk != {"S": [CASE_SK]}:
            violations.append(f"Filters[{index}]: dynamodb.Keys.sk is {sk!r}, expected {{S: [{CASE_SK}]}}")
    case = case_pk("SC-2026-000001")
    for record in (stream_record("INSERT", case, CASE_SK), stream_record("MODIFY", case, CASE_SK)):
        assert [r for _, r in sync_requests({"Records": [record]}) if r], f"the relay no longer takes {record}"
        if not matches_any(record, patterns):
            violations.append(f"the filter drops a case version: {record['eventName']} sk={CASE_SK}")
    skipped = (
        stream_record("MODIFY", case, CRM_SK),  # written by the CRM sync itself
        stream_record("INSERT", case, f"{TIMELINE_PREFIX}2026-11-23T10:00:00Z#x:1"),
        stream_record("REMOVE", case, CASE_SK),
        stream_record("INSERT", marker_pk("x:1860000000000000001"), MARKER_SK),  # same sk as a case
        stream_record("MODIFY", pointer_pk("cust-1"), POINTER_SK),
    )
    for record in skipped:
        if matches_any(record, patterns):
            keys = record["dynamodb"]["Keys"]
            violations.append(f"the filter lets through {record['eventName']} {keys['pk']['S']} / {keys['sk']['S']}")
    fail_if(violations, "CaseStreamFunction's filter")


def test_the_relay_skips_a_record_that_can_never_be_published() -> None:
    """A case item the CRM sync cannot describe (an id over 128 characters) would otherwise fail
    its batch until the stream drops it 24 hours later, holding back every case behind it."""
    good, bad = stream_record("INSERT", case_pk("SC-2026-000001"), CASE_SK), stream_record(
        "MODIFY", case_pk("X" * 200), CASE_SK
    )
    requests = [r for _, r in sync_requests({"Records": [bad, good]})]
    assert requests[0] is None
    assert requests[1] is not None and (requests[1].case_id, requests[1].version) == ("SC-2026-000001", 3)


def test_a_stuck_case_stream_alarms_before_its_records_expire(template: dict[str, Any]) -> None:
    """Retrying until a record expires blocks its shard: someone must hear of it within the
    stream's 24 hours (then only `socialcare crm reconcile` catches up)."""
    alarms = [
        props(alarm)
        for _alarm_id, alarm in resources(template, {"AWS::CloudWatch::Alarm"})
        if props(alarm).get("MetricName") == "IteratorAge"
        and any(referenced_id(d.get("Value")) == "CaseStreamFunction" for d in props(alarm).get("Dimensions") or [])
    ]
    assert alarms, "no IteratorAge alarm on CaseStreamFunction"
    for alarm in alarms:
        threshold_seconds = float(alarm.get("Threshold", 0)) / 1000  # IteratorAge is in milliseconds
        periods = int(alarm.get("EvaluationPeriods", 1)) * int(alarm.get("Period", 60))
        assert 0 < threshold_seconds + periods < DYNAMODB_STREAM_RETENTION_SECONDS / 2, (
            f"IteratorAge alarm fires after {threshold_seconds + periods:.0f}s: too close to the 24 h retention"
        )
        assert alarm.get("AlarmActions"), "the IteratorAge alarm notifies nobody"


# ----------------------------------------------------------------------------- tables


def test_tables_are_on_demand_with_pitr_sse_and_ttl(template: dict[str, Any]) -> None:
    tables = list(resources(template, TABLE_TYPES))
    assert tables, "no DynamoDB tables found"
    violations = []
    for table_id, table in tables:
        p = props(table)
        if p.get("BillingMode") != "PAY_PER_REQUEST":
            violations.append(f"{table_id}: BillingMode {p.get('BillingMode')!r}, expected PAY_PER_REQUEST")
        if (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
            violations.append(f"{table_id}: PointInTimeRecoverySpecification is not enabled")
        if (p.get("SSESpecification") or {}).get("SSEEnabled") is not True:
            violations.append(f"{table_id}: SSESpecification.SSEEnabled not true")
        ttl = p.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled") is not True or not ttl.get("AttributeName"):
            violations.append(f"{table_id}: TimeToLiveSpecification needs Enabled: true and an AttributeName")
    fail_if(violations, "tables missing on-demand billing / PITR / SSE / TTL")


# ----------------------------------------------------------------------------- IAM


def policy_violations(where: str, policy: Any, resource_ids: set[str]) -> list[str]:
    """Problems with one entry of a SAM function's Policies list."""
    if isinstance(policy, str):  # AWS managed policy name or ARN
        if "FullAccess" in policy or policy.endswith("AdministratorAccess"):
            return [f"{where}: managed policy {policy!r} is far too broad"]
        return []
    if not isinstance(policy, dict) or referenced_id(policy) is not None or "Statement" in policy:
        return []  # a managed policy of this template, or an inline policy document
    violations = []
    for template_name, arguments in policy.items():
        if not arguments:
            if template_name not in UNSCOPABLE_POLICY_TEMPLATES:
                violations.append(f"{where}: policy template {template_name} has no scoping argument")
            continue
        for arg_name, value in arguments.items():
            if referenced_id(value) not in resource_ids:
                violations.append(
                    f"{where}: {template_name}.{arg_name} = {show(value)} should be !Ref/!GetAtt of a "
                    "resource in this template (not a literal, a parameter or '*')"
                )
    return violations


def test_function_policies_are_scoped(template: dict[str, Any]) -> None:
    resource_ids = set(template["Resources"])
    violations = []
    for fn_id, fn in resources(template, {"AWS::Serverless::Function"}):
        policies = props(fn).get("Policies") or []
        if isinstance(policies, (str, dict)):
            policies = [policies]
        for index, policy in enumerate(policies):
            violations += policy_violations(f"{fn_id}.Policies[{index}]", policy, resource_ids)
    for role_id, role in resources(template, {"AWS::IAM::Role"}):
        for arn in props(role).get("ManagedPolicyArns") or []:
            name = literal_text(arn)
            if "FullAccess" in name or name.endswith("AdministratorAccess"):
                violations.append(f"{role_id}.ManagedPolicyArns: {name!r} is far too broad")
    fail_if(violations, "unscoped or overly broad function permissions")


def statement_violations(where: str, statement: dict[str, Any], resource_ids: set[str]) -> list[str]:
    """Problems with one statement of an inline role policy: every Allow names its actions and
    only resources of this template (!Ref/!GetAtt, or a !Sub built on them such as
    ``${Table.Arn}/stream/*``)."""
    if statement.get("Effect") != "Allow":
        return []
    violations = [f"{where}: {key} grants everything but a list" for key in ("NotAction", "NotResource")
                  if key in statement]
    for action in as_list(statement.get("Action")):
        if not isinstance(action, str) or action == "*" or action.endswith(":*"):
            violations.append(f"{where}: Action {show(action)} is a wildcard: name the actions")
    granted = as_list(statement.get("Resource"))
    if not granted and "NotResource" not in statement:
        violations.append(f"{where}: no Resource")
    for resource in granted:
        target = referenced_id(resource)
        refs = sub_references(resource)
        if target in resource_ids:
            continue
        if refs and refs <= resource_ids and not literal_text(resource).startswith("*"):
            continue
        violations.append(
            f"{where}: Resource {show(resource)} should be !Ref/!GetAtt (or a !Sub on them) of a resource "
            "in this template (not a literal, a parameter or '*')"
        )
    return violations


def role_statements(role: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for policy in props(role).get("Policies") or []:
        name = policy.get("PolicyName", "?")
        for index, statement in enumerate(as_list((policy.get("PolicyDocument") or {}).get("Statement"))):
            yield f"{name}.Statement[{index}]", statement


def explicit_role_violations(template: dict[str, Any], fn_id: str, fn: dict[str, Any], role_ref: Any) -> list[str]:
    all_resources = template["Resources"]
    role_id = referenced_id(role_ref)
    if role_id is None or all_resources.get(role_id, {}).get("Type") != "AWS::IAM::Role" or "Ref" in role_ref:
        return [f"{fn_id}: Role {show(role_ref)} should be !GetAtt <an AWS::IAM::Role of this template>.Arn"]
    violations = []
    if props(fn).get("Policies"):
        violations.append(f"{fn_id}: Policies are ignored by SAM when Role is set: grant them in {role_id}")
    role = props(all_resources[role_id])
    for index, statement in enumerate(as_list((role.get("AssumeRolePolicyDocument") or {}).get("Statement"))):
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow" and principal != {"Service": "lambda.amazonaws.com"}:
            violations.append(
                f"{role_id}.AssumeRolePolicyDocument.Statement[{index}]: Principal {show(principal)} "
                "should be {Service: lambda.amazonaws.com} only"
            )
    managed = {literal_text(arn).rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns") or []}
    for name in sorted(managed - EXECUTION_ONLY_MANAGED_POLICIES):
        violations.append(
            f"{role_id}.ManagedPolicyArns: {name or '<unreadable ARN>'} is not one of "
            f"{sorted(EXECUTION_ONLY_MANAGED_POLICIES)}: grant data access inline, scoped"
        )
    if "AWSLambdaBasicExecutionRole" not in managed:
        violations.append(f"{role_id}: lacks AWSLambdaBasicExecutionRole ({fn_id} could not write its logs)")
    if function_setting(template, fn, "Tracing") == "Active" and not managed & X_RAY_MANAGED_POLICIES:
        violations.append(f"{role_id}: {fn_id} is traced but the role has no X-Ray write policy")
    if not role.get("Policies"):
        violations.append(f"{role_id}: no inline policy for what {fn_id} does")
    for where, statement in role_statements(all_resources[role_id]):
        violations += statement_violations(f"{role_id}.Policies.{where}", statement, set(all_resources))
    return violations


def test_functions_with_their_own_role_get_a_scoped_role_of_this_template(template: dict[str, Any]) -> None:
    """A function with an explicit Role (needed where SAM would attach a policy on every stream
    of the account) must get it from this template, and that role must grant only named actions
    on this template's resources, plus logs and traces."""
    violations = []
    for fn_id, fn in resources(template, {"AWS::Serverless::Function"}):
        role_ref = function_setting(template, fn, "Role")
        if role_ref is not None:
            violations += explicit_role_violations(template, fn_id, fn, role_ref)
    fail_if(violations, "explicit function roles that are not scoped to this template")


def test_stream_consumers_have_a_role_that_reads_only_their_stream(template: dict[str, Any]) -> None:
    """SAM gives a DynamoDB/Kinesis event's generated role a managed policy on every stream
    ("*"), so a stream consumer needs its own role, which must still let Lambda read the stream."""
    all_resources = template["Resources"]
    violations = []
    for fn_id, source_name, _props, stream_ref in stream_consumers(template):
        fn = all_resources.get(fn_id)
        role_id = referenced_id(function_setting(template, fn, "Role")) if fn else None
        if role_id is None or all_resources.get(role_id, {}).get("Type") != "AWS::IAM::Role":
            violations.append(
                f"{fn_id}.{source_name}: needs an explicit Role of this template (a SAM-generated role gets a "
                "managed policy that reads every stream of the account)"
            )
            continue
        table_id = referenced_id(stream_ref)
        granted: set[str] = set()
        for _where, statement in role_statements(all_resources[role_id]):
            on_table = any(
                referenced_id(resource) == table_id or table_id in (sub_references(resource) or set())
                for resource in as_list(statement.get("Resource"))
            )
            if statement.get("Effect") == "Allow" and on_table:
                granted |= set(as_list(statement.get("Action")))
        for action in sorted(STREAM_READ_ACTIONS - granted):
            violations.append(
                f"{role_id}: {fn_id}.{source_name} reads {show(stream_ref)} but the role does not allow {action} "
                f"on {table_id}'s stream"
            )
    fail_if(violations, "stream consumers whose role is not theirs or cannot read their stream")


# ----------------------------------------------------------------------------- secrets


def test_no_parameter_carries_a_secret(template: dict[str, Any]) -> None:
    violations = []
    for name, parameter in (template.get("Parameters") or {}).items():
        if SECRET_WORDS.search(name) and not REFERENCE_SUFFIX.search(name):
            violations.append(
                f"Parameter {name}: its name says it holds a secret; put the value in an "
                "AWS::SecretsManager::Secret filled out of band and pass its ARN instead"
            )
        if parameter.get("NoEcho") in (True, "true", "True"):
            violations.append(f"Parameter {name}: NoEcho means it carries a secret value")
        for key in ("Default", "AllowedValues"):
            values = parameter.get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and "://" not in value and SECRET_LOOKING_VALUE.search(value):
                    violations.append(f"Parameter {name}: {key} {value[:6]!r}... looks like a credential")
    fail_if(violations, "parameters that carry secret values")


def test_secrets_are_created_without_values(template: dict[str, Any]) -> None:
    secrets = list(resources(template, {"AWS::SecretsManager::Secret"}))
    violations = [
        f"{secret_id}: SecretString in the template (values are put out of band)"
        for secret_id, secret in secrets
        if "SecretString" in props(secret) or "SecretBinary" in props(secret)
    ]
    fail_if(violations, "secrets with values in the template")


def test_secret_environment_variables_hold_arns_only(template: dict[str, Any]) -> None:
    secret_ids = {secret_id for secret_id, _ in resources(template, {"AWS::SecretsManager::Secret"})}
    scopes: list[tuple[str, dict[str, Any]]] = [
        ("Globals.Function", ((template.get("Globals") or {}).get("Function") or {}))
    ]
    scopes += [(fn_id, props(fn)) for fn_id, fn in resources(template, FUNCTION_TYPES)]
    violations = []
    for where, scope in scopes:
        variables = ((scope.get("Environment") or {}).get("Variables")) or {}
        for var, value in variables.items():
            if not SECRET_WORDS.search(var):
                continue
            if not var.endswith("_ARN") or referenced_id(value) not in secret_ids:
                violations.append(
                    f"{where}: {var} should be <NAME>_ARN = !Ref <a Secret of this template>, got {show(value)}"
                )
    fail_if(violations, "secret-looking environment variables that are not secret ARNs")


# ----------------------------------------------------------------------------- observability

SHARED_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "socialcare"
CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                             2922, 3288, 3653}
# What the HTTP API's access log must say of every request, and what it must never copy: the raw
# path (customer and case ids), the query string (crc_token, hub.verify_token) or a header.
ACCESS_LOG_FIELDS = {"requestId", "ip", "routeKey", "status", "latency", "integrationError"}
ACCESS_LOG_FORBIDDEN = re.compile(
    r"\$context\.(path|rawPath|rawQueryString)\b|\$(input|request)\.|header|authorization", re.I
)


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {alarm_id: props(alarm) for alarm_id, alarm in resources(template, {"AWS::CloudWatch::Alarm"})}


def watched(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, str | None]]]:
    """(namespace, metric, {dimension: logical id or literal}) of every metric an alarm reads,
    whether it is a single-metric alarm or metric math."""
    def dims(raw: Any) -> dict[str, str | None]:
        return {d["Name"]: referenced_id(d["Value"]) or (d["Value"] if isinstance(d["Value"], str) else None)
                for d in raw or []}

    if "MetricName" in alarm:
        return [(alarm.get("Namespace", ""), alarm["MetricName"], dims(alarm.get("Dimensions")))]
    found = []
    for query in alarm.get("Metrics") or []:
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            found.append((metric.get("Namespace", ""), metric["MetricName"], dims(metric.get("Dimensions"))))
    return found


def globals_environment(template: dict[str, Any]) -> dict[str, Any]:
    return dict(((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables") or {})


def alerts_topic(template: dict[str, Any]) -> str:
    topic = referenced_id(globals_environment(template).get("SOCIALCARE_ALERTS_TOPIC_ARN"))
    assert topic and template["Resources"][topic]["Type"] == "AWS::SNS::Topic", "no alerts topic in Globals"
    return topic


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Queues some queue redrives to, and queues a function dead-letters to itself (OutboundDLQ)."""
    found = {referenced_id((props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
             for _, q in resources(template, {"AWS::SQS::Queue"})}
    return {q for q in found if q} | {q for q, _ in resources(template, {"AWS::SQS::Queue"}) if q.endswith("DLQ")}


def test_every_alarm_notifies_the_alerts_topic_when_it_fires_and_when_it_clears(template: dict[str, Any]) -> None:
    topic = alerts_topic(template)
    found = alarms(template)
    assert found, "no alarms in the template"
    violations = []
    for alarm_id, alarm in found.items():
        for key in ("AlarmActions", "OKActions"):
            if topic not in {referenced_id(a) for a in as_list(alarm.get(key))}:
                violations.append(f"{alarm_id}: {key} should include !Ref {topic}")
        if alarm.get("TreatMissingData") != "notBreaching":
            violations.append(f"{alarm_id}: TreatMissingData should be notBreaching (an idle stack is not failing)")
    fail_if(violations, "alarms nobody hears of")


def test_every_dlq_has_exactly_one_depth_alarm(template: dict[str, Any]) -> None:
    depth: dict[str, list[str]] = {}
    for alarm_id, alarm in alarms(template).items():
        on_first = alarm.get("Threshold") == 0 and alarm.get("ComparisonOperator") == "GreaterThanThreshold"
        for namespace, metric, dimensions in watched(alarm):
            if (namespace, metric) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible") and on_first:
                depth.setdefault(str(dimensions.get("QueueName")), []).append(alarm_id)
    dlqs = dead_letter_queues(template)
    assert len(dlqs) >= 6, f"expected the six DLQs, found {sorted(dlqs)}"
    violations = [f"{dlq}: no alarm on its first dead letter (ApproximateNumberOfMessagesVisible > 0)"
                  for dlq in sorted(dlqs) if dlq not in depth]
    violations += [f"{dlq}: {len(ids)} depth alarms ({', '.join(ids)}): keep one" for dlq, ids in depth.items()
                   if len(ids) > 1]
    fail_if(violations, "DLQs whose dead letters nobody hears of")


def test_every_queue_alarms_on_its_oldest_message_before_it_expires(template: dict[str, Any]) -> None:
    ages: dict[str, dict[str, Any]] = {}
    for alarm_id, alarm in alarms(template).items():
        for namespace, metric, dimensions in watched(alarm):
            if (namespace, metric) == ("AWS/SQS", "ApproximateAgeOfOldestMessage"):
                ages[str(dimensions.get("QueueName"))] = {"id": alarm_id, **alarm}
    violations = []
    for queue_id, queue in resources(template, {"AWS::SQS::Queue"}):
        if queue_id not in ages:
            violations.append(f"{queue_id}: no ApproximateAgeOfOldestMessage alarm")
            continue
        alarm = ages[queue_id]
        retention = int(props(queue).get("MessageRetentionPeriod", 345600))
        fires_after = float(alarm["Threshold"]) + int(alarm["EvaluationPeriods"]) * int(alarm["Period"])
        if not 0 < fires_after < retention:
            violations.append(f"{alarm['id']}: fires after {fires_after:.0f}s, not before {queue_id}'s {retention}s "
                              "retention deletes the message")
    fail_if(violations, "queues whose waiting messages nobody hears of")


def test_every_function_has_error_and_throttle_alarms(template: dict[str, Any]) -> None:
    watched_functions: dict[str, set[str]] = {}
    for alarm in alarms(template).values():
        for namespace, metric, dimensions in watched(alarm):
            if namespace == "AWS/Lambda" and dimensions.get("FunctionName"):
                watched_functions.setdefault(str(dimensions["FunctionName"]), set()).add(metric)
    violations = [
        f"{fn_id}: no {metric} alarm"
        for fn_id, _ in resources(template, FUNCTION_TYPES)
        for metric in ("Errors", "Throttles")
        if metric not in watched_functions.get(fn_id, set())
    ]
    fail_if(violations, "functions whose failures nobody hears of")


def test_every_function_logs_to_a_group_kept_log_retention_days(template: dict[str, Any]) -> None:
    retention = (template.get("Parameters") or {}).get("LogRetentionDays") or {}
    assert retention.get("Type") == "Number" and retention.get("Default") == 30, "LogRetentionDays: Number, default 30"
    assert set(retention.get("AllowedValues") or []) == CLOUDWATCH_RETENTION_DAYS, (
        "LogRetentionDays.AllowedValues should be exactly CloudWatch Logs' retention values"
    )
    groups: dict[str, dict[str, Any]] = {}
    for group_id, group in resources(template, {"AWS::Logs::LogGroup"}):
        name = props(group).get("LogGroupName")
        refs = sub_references(name) or set()
        if literal_text(name).startswith("/aws/lambda/${") and len(refs) == 1:
            groups[next(iter(refs))] = {"id": group_id, **props(group)}
    violations = []
    for fn_id, _ in resources(template, FUNCTION_TYPES):
        if fn_id not in groups:
            violations.append(f'{fn_id}: no AWS::Logs::LogGroup named !Sub "/aws/lambda/${{{fn_id}}}" '
                              "(Lambda would create one kept forever)")
        elif referenced_id(groups[fn_id].get("RetentionInDays")) != "LogRetentionDays":
            violations.append(f"{groups[fn_id]['id']}: RetentionInDays should be !Ref LogRetentionDays")
    fail_if(violations, "function logs kept forever")


def test_traces_never_carry_responses_or_error_objects(template: dict[str, Any]) -> None:
    """The caller lookup returns a customer's name and the API a whole customer 360: the Tracer
    records neither, nor the exception objects whose attributes may hold a payload."""
    variables = globals_environment(template)
    violations = [f"Globals: {name} should be \"false\", got {show(variables.get(name))}"
                  for name in ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR")
                  if variables.get(name) != "false"]
    for fn_id, fn in resources(template, FUNCTION_TYPES):
        own = (props(fn).get("Environment") or {}).get("Variables") or {}
        violations += [f"{fn_id}: overrides {name}" for name in own if name.startswith("POWERTOOLS_TRACER_CAPTURE")]
    fail_if(violations, "tracing that records customer data")


def test_the_http_api_writes_a_json_access_log_without_paths_queries_or_headers(template: dict[str, Any]) -> None:
    apis = list(resources(template, {"AWS::Serverless::HttpApi"}))
    assert apis, "no HTTP API"
    violations = []
    for api_id, api in apis:
        settings = props(api).get("AccessLogSettings") or {}
        destination = referenced_id(settings.get("DestinationArn"))
        group = template["Resources"].get(destination or "", {})
        if group.get("Type") != "AWS::Logs::LogGroup":
            violations.append(f"{api_id}: AccessLogSettings.DestinationArn should be !GetAtt <a LogGroup>.Arn")
        elif referenced_id(props(group).get("RetentionInDays")) != "LogRetentionDays":
            violations.append(f"{destination}: RetentionInDays should be !Ref LogRetentionDays")
        text = settings.get("Format")
        try:
            fields = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict):
            violations.append(f"{api_id}: AccessLogSettings.Format should be one JSON object per request")
            continue
        if missing := ACCESS_LOG_FIELDS - set(fields):
            violations.append(f"{api_id}: the access log lacks {sorted(missing)}")
        if leak := ACCESS_LOG_FORBIDDEN.findall(text or ""):
            violations.append(f"{api_id}: the access log copies {leak} (ids, tokens or credentials)")
    fail_if(violations, "HTTP APIs without a safe access log")


def test_the_http_api_alarms_on_its_4xx_and_5xx_rates(template: dict[str, Any]) -> None:
    apis = {api_id for api_id, _ in resources(template, {"AWS::Serverless::HttpApi"})}
    rates: set[str] = set()
    for alarm in alarms(template).values():
        read = {metric for namespace, metric, dims in watched(alarm)
                if namespace == "AWS/ApiGateway" and dims.get("ApiId") in apis}
        expressions = [q.get("Expression", "") for q in alarm.get("Metrics") or [] if q.get("ReturnData", True)]
        if "Count" in read and expressions:  # a rate: errors over requests, by metric math
            rates |= read & {"4xx", "5xx"}
    assert rates == {"4xx", "5xx"}, f"the HTTP API should alarm on its 4xx and 5xx rates, found {sorted(rates)}"


def test_alarms_on_application_metrics_watch_what_the_code_emits(template: dict[str, Any]) -> None:
    """A Powertools metric carries the namespace and the service dimension of Globals; an alarm on
    another namespace, dimension set or a name no code emits would never fire."""
    variables = globals_environment(template)
    namespace, service = variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in SHARED_SOURCE.rglob("*.py"))
    wanted = {"SlaBreaches", "CrmSyncFailures", "PlatformAuthFailures"}
    violations = []
    for alarm_id, alarm in alarms(template).items():
        for metric_ns, metric, dimensions in watched(alarm):
            if metric_ns.startswith("AWS/"):
                continue
            wanted.discard(metric)
            if metric_ns != namespace:
                violations.append(f"{alarm_id}: namespace {metric_ns!r}, the code emits to {namespace!r}")
            if dimensions != {"service": service}:
                violations.append(f"{alarm_id}: dimensions {dimensions}, the code emits {metric} with service only")
            # emitted with the service dimension only: metrics.add_metric, or count() with no dimension
            if not re.search(rf'add_metric\(name="{metric}"|count\("{metric}"(, \d+)?\)', source):
                violations.append(f"{alarm_id}: nothing in shared/socialcare emits {metric} without dimensions")
    violations += [f"no alarm on {metric}" for metric in sorted(wanted)]
    fail_if(violations, "alarms on metrics that never arrive")


def test_the_dashboard_graphs_the_powertools_metrics_queues_and_functions(template: dict[str, Any]) -> None:
    dashboards = list(resources(template, {"AWS::CloudWatch::Dashboard"}))
    assert len(dashboards) == 1, f"expected one dashboard, found {len(dashboards)}"
    dashboard_id, dashboard = dashboards[0]
    body = props(dashboard).get("DashboardBody")
    refs = sub_references(body)
    assert refs is not None, f"{dashboard_id}: DashboardBody should be a !Sub, so names resolve"
    declared = set(template["Resources"]) | set(template.get("Parameters") or {})
    unknown = refs - declared
    assert not unknown, f"{dashboard_id}: !Sub names no resource or parameter {sorted(unknown)}"
    text = literal_text(body)
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))["widgets"]
    assert widgets, f"{dashboard_id}: no widgets"
    namespace = globals_environment(template)["POWERTOOLS_METRICS_NAMESPACE"]
    violations = [f"{dashboard_id}: no graph of {metric}"
                  for metric in ("FirstResponseSeconds", "InboundEvents", "SlaBreaches", "Latency", "Errors",
                                 "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible")
                  if f'"{metric}' not in text and f'\\"{metric}\\"' not in text]
    if f"{namespace}," not in text and f'"{namespace}"' not in text:
        violations.append(f"{dashboard_id}: does not read the Powertools namespace {namespace!r}")
    queues = [queue_id for queue_id, _ in resources(template, {"AWS::SQS::Queue"})]
    violations += [f"{dashboard_id}: {queue_id} is not graphed" for queue_id in queues if queue_id not in refs]
    functions = [fn_id for fn_id, _ in resources(template, FUNCTION_TYPES)]
    violations += [f"{dashboard_id}: {fn_id}'s errors are not graphed" for fn_id in functions if fn_id not in refs]
    fail_if(violations, "a dashboard that misses what operators look at")
