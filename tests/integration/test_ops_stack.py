"""socialcare_infra.ops.point_at_stack against a CloudFormation stack (moto): the admin CLI
finds the deployed physical names and the CRM the stack syncs to."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from socialcare_infra import ops

pytestmark = pytest.mark.integration

TEMPLATE = {
    "Parameters": {"CrmProvider": {"Type": "String", "Default": "none"}},
    "Resources": {
        "CasesTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
        "CrmSyncQueue": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "QueueName": "crm-sync.fifo"}},
    },
}


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("SOCIALCARE_CASES_TABLE", "SOCIALCARE_CRM_SYNC_QUEUE_URL", "SOCIALCARE_CRM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="socialcare-prod", TemplateBody=json.dumps(TEMPLATE),
            Parameters=[{"ParameterKey": "CrmProvider", "ParameterValue": "zendesk"}],
        )
        yield "socialcare-prod"
    # point_at_stack writes os.environ directly, as the CLI wants; undo it for the next test
    for name in ("SOCIALCARE_CASES_TABLE", "SOCIALCARE_CRM_SYNC_QUEUE_URL", "SOCIALCARE_CRM_PROVIDER"):
        os.environ.pop(name, None)


def test_names_and_the_crm_provider_come_from_the_stack(deployed: str) -> None:
    ops.point_at_stack(["CasesTable", "CrmSyncQueue"], stack=deployed)
    table = os.environ["SOCIALCARE_CASES_TABLE"]
    assert table in boto3.client("dynamodb").list_tables()["TableNames"]
    assert os.environ["SOCIALCARE_CRM_SYNC_QUEUE_URL"] in boto3.client("sqs").list_queues()["QueueUrls"]
    assert os.environ["SOCIALCARE_CRM_PROVIDER"] == "zendesk"


def test_a_stale_provider_in_the_shell_loses_to_the_stack_and_is_named(
    deployed: str, caplog: pytest.LogCaptureFixture
) -> None:
    os.environ["SOCIALCARE_CRM_PROVIDER"] = "hubspot"
    with caplog.at_level(logging.WARNING, logger="socialcare_infra.ops"):
        ops.point_at_stack(["CasesTable"], stack=deployed)
    assert os.environ["SOCIALCARE_CRM_PROVIDER"] == "zendesk"
    assert "SOCIALCARE_CRM_PROVIDER=hubspot in this shell is ignored" in caplog.text


def test_a_resource_the_stack_lacks_is_a_clear_error(deployed: str) -> None:
    with pytest.raises(LookupError, match="has no StateTable"):
        ops.point_at_stack(["CasesTable", "StateTable"], stack=deployed)
