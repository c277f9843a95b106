"""``socialcare customer export|erase`` against a deployed stack, as an admin runs them
(docs/privacy.md): template.yaml's tables, queues and bucket made by (moto's) CloudFormation, found
with ``--stack NAME``; the customer stored by the real processor flow; the CLI through typer's
CliRunner. A customer who is not the demo's: a German sender writing in German, with an e-mail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from data_rights_scan import leftovers
from test_ops_deployed import STACK, Deployed, _reset, cli, deployed_stack

from socialcare.config.settings import ProcessorSettings, load
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind

pytestmark = pytest.mark.integration

AUTHOR = "4471100220033"
TEXT = "@brand Meine Bestellung 88-4412-ZX ist nie angekommen, bitte an jürgen.weiss@example.de schreiben"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Deployed, Wiring]]:
    kinds = ("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SNS::Topic")
    with mock.patch.dict(os.environ), deployed_stack(kinds) as made:  # the CLI sets SOCIALCARE_* itself
        os.environ.update(made.environment())
        # moto's CloudFormation creates no secrets: the salt the stack would have generated
        salt = boto3.client("secretsmanager").create_secret(Name="ErasureSalt", SecretString="deployed-salt-9f2a")
        os.environ["SOCIALCARE_ERASURE_SALT_ARN"] = salt["ARN"]
        _reset()
        yield made, Wiring(load(ProcessorSettings))


def test_customer_export_then_erase_leaves_an_audit_record_of_the_job_only(stack: tuple[Deployed, Wiring]) -> None:
    deployed, wiring = stack
    interaction = Interaction(
        id=Interaction.make_id(Channel.X, "1870000000000000001"), channel=Channel.X,
        platform_message_id="1870000000000000001", kind=Kind.PUBLIC_POST, text=TEXT,
        author=Author(id=AUTHOR, handle="JuergenWeiss", name="Jürgen Weiß"),
        occurred_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    event = InboundEvent(action=Action.CREATE, source="x", event_id="1870000000000000001", interaction=interaction,
                         raw={"id_str": "1870000000000000001", "text": TEXT})
    assert Processor(wiring).process(event)["status"] == "stored"
    customer = wiring.identity.find_customer("x", AUTHOR)
    assert customer is not None

    exported = cli("customer", "export", customer, "--stack", STACK)
    assert exported.exit_code == 0, exported.output
    document: dict[str, Any] = json.loads(exported.stdout)
    assert [m["text"] for m in document["timeline"]] == [TEXT]

    erased = cli("customer", "erase", customer, "--stack", STACK, "--yes")

    assert erased.exit_code == 0, erased.output
    assert ": done (" in erased.stdout
    assert wiring.identity.find_customer("x", AUTHOR) is None
    assert leftovers(boto3.client("dynamodb"), boto3.client("s3"), [AUTHOR, "weiß", "juergenweiss", "jürgen"]) == []
    records = boto3.client("dynamodb").scan(TableName=deployed.ids["AuditTable"])["Items"]
    (record,) = [r for r in records if r["action"]["S"] == "ERASE customer"]
    job_id = erased.stdout.split()[1].rstrip(":")
    assert record["targets"]["M"] == {"job_id": {"S": job_id}} and customer not in json.dumps(record)
