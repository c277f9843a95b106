"""Integration tier: in-process moto, with resources built FROM template.yaml.

The ``aws`` fixture creates every DynamoDB table (key schema, attribute definitions, GSIs,
TTL), every SQS queue (FIFO attributes, redrive to its DLQ), bucket, topic and secret the
template declares, under ``moto.mock_aws``, then sets every ``SOCIALCARE_*`` variable of the
template's Globals to the created names - so a schema change in the template reaches these tests
with no second list to update. ``AWS_ENDPOINT_URL`` is unset: with it set, mock_aws would not
intercept and tests would talk to whatever listens there.

Usage::

    def test_something(aws: AwsStack) -> None:
        aws.tables["ProfilesTable"]          # physical table name
        aws.queue_urls["InboundQueue"]       # queue URL
        aws.secret_values["ApiToken"]        # the value seeded into the secret
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare import aws as aws_clients
from socialcare.config.settings import Settings
from socialcare.flows.case_stream import CaseStream
from socialcare.flows.wiring import Wiring
from socialcare.observability import metrics
from socialcare_infra.esm import filter_patterns, matches_any
from socialcare_infra.streams import StreamReader, lambda_stream_event, streams_client
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STACK = "socialcare-test"
REGION = "eu-west-1"

# CloudFormation queue properties that SQS takes as attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled", "VisibilityTimeout",
)


@functools.cache
def _parsed_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def template() -> dict[str, Any]:
    """template.yaml, parsed once per test process (pure-Python YAML: 0.4 s a parse) and copied
    for each caller, so no test sees another's changes."""
    return copy.deepcopy(_parsed_template())


@dataclass
class AwsStack:
    """What the fixture created, by the template's logical ids."""

    tables: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def profiles_table(self) -> str:
        return self.tables["ProfilesTable"]

    @property
    def api_token(self) -> str:
        return self.secret_values["ApiToken"]

    def alerts_inbox(self) -> str:
        """An SQS queue subscribed to the alerts topic (raw delivery), standing in for on-call."""
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns", region_name=REGION).subscribe(
            TopicArn=self.topics["AlertsTopic"], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        return str(url)

    @staticmethod
    def drain(url: str) -> list[dict[str, Any]]:
        """Every JSON message now on the queue, received and deleted."""
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return out


def _bool(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _create_table(client: Any, name: str, props: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("LocalSecondaryIndexes"):
        kwargs["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )


def _create_queue(client: Any, name: str, props: dict[str, Any]) -> tuple[str, str]:
    attributes = {k: _bool(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def build_stack(resolver: Resolver) -> AwsStack:
    """Create the template's emulated resources in the active moto mock, in dependency order."""
    stack = AwsStack()
    clients: list[Any] = [
        boto3.client(service, region_name=REGION)
        for service in ("dynamodb", "sqs", "s3", "sns", "secretsmanager")
    ]
    ddb, sqs, s3, sns, sm = clients
    wanted = [
        lid for lid, res in resolver.resources.items()
        if res.get("Type") in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::SNS::Topic",
                               "AWS::SecretsManager::Secret")
        and resolver.included(lid)
    ]
    for lid in resolver.creation_order(wanted):
        resource = resolver.resource(lid)
        rtype, name = resource["Type"], resolver.name(lid)
        # Resolved only now: a queue's RedrivePolicy needs its DLQ's ARN, recorded just before.
        props = resolver.resolve(resource.get("Properties") or {})
        if rtype == "AWS::DynamoDB::Table":
            _create_table(ddb, name, props)
            stack.tables[lid] = name
        elif rtype == "AWS::SQS::Queue":
            url, arn = _create_queue(sqs, name, props)
            resolver.set_ref(lid, url)
            resolver.set_attr(lid, "Arn", arn)
            stack.queue_urls[lid], stack.queue_arns[lid] = url, arn
        elif rtype == "AWS::S3::Bucket":
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            stack.buckets[lid] = name
        elif rtype == "AWS::SNS::Topic":
            arn = sns.create_topic(Name=name)["TopicArn"]
            resolver.set_ref(lid, arn)
            stack.topics[lid] = arn
        else:
            value = f"test-{name}"
            arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
            resolver.set_ref(lid, arn)
            stack.secret_arns[lid], stack.secret_values[lid] = arn, value
    variables = (resolver.template.get("Globals") or {}).get("Function", {}).get("Environment", {})
    resolved = resolver.resolve(variables.get("Variables") or {})
    stack.env = {k: str(v) for k, v in resolved.items() if k.startswith("SOCIALCARE_")}
    return stack


def _reset_caches() -> None:
    aws_clients.reset()
    parameters.clear_caches()
    # Flows called outside a handler (pipeline.process) leave metrics on the shared Metrics
    # object; a later test's decorated handler would flush them under its own namespace.
    metrics.clear_metrics()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    """Every table, queue, bucket, topic and secret of template.yaml, in moto, with the
    functions' SOCIALCARE_* environment pointing at them."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SocialCare")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "socialcare")
    with mock_aws():
        _reset_caches()
        stack = build_stack(Resolver(template(), stack_name=STACK, region=REGION))
        for name, value in stack.env.items():
            monkeypatch.setenv(name, value)
        # Nothing reaches the real platforms from a test (the processor asks Graph for DM senders'
        # names): their APIs are a closed loopback port, refused at once, unless a test serves one.
        for variable in ("SOCIALCARE_GRAPH_API_URL", "SOCIALCARE_X_API_URL"):
            monkeypatch.setenv(variable, "http://127.0.0.1:9")
        _reset_caches()
        yield stack
    _reset_caches()


@pytest.fixture
def wiring(aws: AwsStack) -> Wiring:
    """Every service, built the way a function builds them, from the environment ``aws`` set."""
    return Wiring(Settings())


class CaseVersions:
    """What CasesTable's stream holds, relayed through the real CaseStream flow with the
    template's event filter - what Lambda's event source mapping does in AWS."""

    def __init__(self, wiring: Wiring, table: str) -> None:
        self.arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=table)["Table"][
            "LatestStreamArn"]
        self.reader = StreamReader(streams_client(REGION), self.arn, "TRIM_HORIZON")
        events = template()["Resources"]["CaseStreamFunction"]["Properties"]["Events"]
        self.filters = filter_patterns(events["CaseVersions"]["Properties"].get("FilterCriteria"))
        self.flow = CaseStream(wiring)

    def relay(self) -> dict[str, Any]:
        """Relay every record written since the last call; returns the function's answer."""
        records = [r for r in self.reader.read() if matches_any(r, self.filters)]
        if not records:
            return {"batchItemFailures": []}
        return self.flow.handle_batch(lambda_stream_event(records, self.arn, REGION))


@pytest.fixture
def case_versions(aws: AwsStack, wiring: Wiring) -> CaseVersions:
    return CaseVersions(wiring, aws.tables["CasesTable"])
