"""Guards on template.yaml: the deployment properties the design relies on.

Each test collects every violation and fails with the full list, naming the resource and
the property to fix. No network, no AWS: the template is only parsed (cfn_flip's loader
understands the CloudFormation short tags !Ref, !GetAtt, !Sub, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfn_tools import load_yaml

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
            if isinstance(arn, str) and "FullAccess" in arn:
                violations.append(f"{role_id}.ManagedPolicyArns: {arn!r} is far too broad")
    fail_if(violations, "unscoped or overly broad function permissions")


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
