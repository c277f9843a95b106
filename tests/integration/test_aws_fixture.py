"""The shared ``aws`` fixture builds what template.yaml declares - other suites rely on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from socialcare.config.settings import Settings
from socialcare_infra.template import load_template

if TYPE_CHECKING:
    from conftest import AwsStack

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_tables_have_the_templates_keys_indexes_and_ttl(aws: AwsStack) -> None:
    resources = load_template(TEMPLATE)["Resources"]
    ddb = boto3.client("dynamodb")
    for logical_id, name in aws.tables.items():
        declared = resources[logical_id]["Properties"]
        table = ddb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == declared["KeySchema"], logical_id
        declared_gsis = {g["IndexName"] for g in declared.get("GlobalSecondaryIndexes", [])}
        assert {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])} == declared_gsis, logical_id
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl.get("AttributeName") == declared["TimeToLiveSpecification"]["AttributeName"], logical_id
    assert {"ProfilesTable", "CasesTable", "StateTable", "IdempotencyTable"} <= set(aws.tables)


def test_queues_are_fifo_and_redrive_to_their_dlq(aws: AwsStack) -> None:
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=aws.queue_urls["InboundQueue"], AttributeNames=["All"])
    attrs = attributes["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["VisibilityTimeout"] == "180"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == aws.queue_arns["InboundDLQ"]
    assert int(redrive["maxReceiveCount"]) == 5


def test_the_functions_environment_points_at_the_created_resources(aws: AwsStack) -> None:
    settings = Settings()
    assert settings.profiles_table == aws.tables["ProfilesTable"]
    assert settings.inbound_queue_url == aws.queue_urls["InboundQueue"]
    assert settings.api_token_arn == aws.secret_arns["ApiToken"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.api_token_arn)
    assert secret["SecretString"] == aws.api_token
