"""``socialcare dlq`` and ``socialcare replay`` against a deployed stack, as an admin runs them.

template.yaml's own queues, tables, bucket and topic are created by CloudFormation (moto's) in a
stack; the CLI finds them with ``--stack NAME`` as it does in AWS (ListStackResources), and runs
through typer's CliRunner exactly as the ``socialcare`` command would. Customers' interactions are
stored by the real processor flow, so replay reads what production writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from typer.testing import CliRunner

from socialcare import aws as aws_clients
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare.observability import metrics
from socialcare.publish import dedupe_id
from socialcare_infra.cli import app
from socialcare_infra.template import is_fifo_queue, load_template, physical_name

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STACK = "socialcare-prod"


@dataclass
class Deployed:
    name: str
    ids: dict[str, str]  # logical id -> physical id, as CloudFormation lists them

    def sqs(self) -> Any:
        return boto3.client("sqs")

    def send(self, logical_id: str, body: str, group: str | None = None, **attributes: str) -> None:
        extra: dict[str, Any] = {}
        if group:
            extra = {"MessageGroupId": group, "MessageDeduplicationId": f"{group}-{body}"[:128]}
        if attributes:
            extra["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        self.sqs().send_message(QueueUrl=self.ids[logical_id], MessageBody=body, **extra)

    def drain(self, logical_id: str) -> list[dict[str, Any]]:
        """Every message now on the queue (received with its attributes, then deleted)."""
        found: list[dict[str, Any]] = []
        while got := self.sqs().receive_message(QueueUrl=self.ids[logical_id], MaxNumberOfMessages=10,
                                                AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages"):
            found += got
            for m in got:
                self.sqs().delete_message(QueueUrl=self.ids[logical_id], ReceiptHandle=m["ReceiptHandle"])
        return found

    def environment(self) -> dict[str, str]:
        """What the template's Globals give every function, resolved against this stack."""
        variables = load_template(TEMPLATE)["Globals"]["Function"]["Environment"]["Variables"]
        env = {}
        for name, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in self.ids:
                env[name] = self.ids[value["Ref"]]
            elif name.endswith("_ARN") and isinstance(value, dict):
                env[name] = f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{value.get('Ref')}"
        return env

    def depth(self, logical_id: str) -> int:
        attrs = self.sqs().get_queue_attributes(QueueUrl=self.ids[logical_id],
                                                AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])


def cloudformation_body(kinds: tuple[str, ...]) -> str:
    """The resources of template.yaml of these types, as one CloudFormation template."""
    template = load_template(TEMPLATE)
    resources = {lid: res for lid, res in template["Resources"].items() if res["Type"] in kinds}
    for lid, res in resources.items():
        if res["Type"] == "AWS::SQS::Queue" and is_fifo_queue(res):
            # CloudFormation names an unnamed FIFO queue "<...>.fifo" itself; moto does not.
            res["Properties"]["QueueName"] = physical_name("prod", lid, res)
    return json.dumps({"Parameters": template["Parameters"], "Conditions": template.get("Conditions", {}),
                       "Resources": resources})


def _reset() -> None:
    aws_clients.reset()
    parameters.clear_caches()
    metrics.clear_metrics()


@contextmanager
def deployed_stack(kinds: tuple[str, ...]) -> Iterator[Deployed]:
    """A stack of template.yaml's resources of these types, in moto, for a module's tests."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_ENDPOINT_URL", raising=False)  # mock_aws intercepts only AWS's own hosts
        for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_METRICS_NAMESPACE": "SocialCare"}.items():
            env.setenv(name, value)
        with mock_aws():
            _reset()
            cfn = boto3.client("cloudformation")
            cfn.create_stack(StackName=STACK, TemplateBody=cloudformation_body(kinds))
            listed = cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
            yield Deployed(STACK, {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed})
            _reset()


@pytest.fixture(scope="module")
def stack() -> Iterator[Deployed]:
    with deployed_stack(("AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SNS::Topic")) as made:
        yield made


@pytest.fixture
def deployed(stack: Deployed) -> Deployed:
    """The module's stack with every queue empty."""
    for logical_id, physical_id in stack.ids.items():
        if physical_id.startswith("https://sqs."):
            stack.drain(logical_id)  # PurgeQueue: once a minute only
    return stack


def cli(*args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# ---------------------------------------------------------------------------------- dlq
def dead_letter_queues_of_the_template() -> set[str]:
    resources = load_template(TEMPLATE)["Resources"]
    return {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for r in resources.values() if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]}


def test_dlq_list_shows_every_dead_letter_queue_with_its_depth_and_source(deployed: Deployed) -> None:
    deployed.send("InboundDLQ", '{"a": 1}', "g1")
    deployed.send("InboundDLQ", '{"a": 2}', "g2")
    deployed.send("CrmRetryDLQ", '{"case_id": "SC-2026-1"}')

    result = cli("dlq", "list", "--stack", STACK)

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:-1]}
    assert set(rows) == dead_letter_queues_of_the_template()
    assert rows["InboundDLQ"][1:3] == ["2", "0"] and rows["InboundDLQ"][3] == "InboundQueue"
    assert rows["CrmRetryDLQ"][1] == "1" and rows["OutboundDLQ"][1] == "0"
    assert result.stdout.splitlines()[-1] == f"3 message(s) in {len(rows)} dead-letter queue(s)"


def inbound_event(message_id: str, channel: Channel, author: str, text: str, at: datetime) -> InboundEvent:
    interaction = Interaction(
        id=Interaction.make_id(channel, message_id), channel=channel, platform_message_id=message_id,
        kind=Kind.PUBLIC_POST if channel is Channel.X else Kind.DIRECT_MESSAGE,
        author=Author(id=author, handle="annabianchi", name="Anna Bianchi"), text=text, occurred_at=at)
    raw = {"id_str": message_id, "text": text, "user": {"id_str": author, "name": "Anna Bianchi"}}
    return InboundEvent(action=Action.CREATE, source=channel.value, event_id=message_id, interaction=interaction,
                        raw=raw)


def test_dlq_show_peeks_without_consuming_and_masks_customer_data(deployed: Deployed) -> None:
    event = inbound_event("1790000000000000001", Channel.WHATSAPP, "393401234567",
                          "Sono Anna, scrivetemi a anna.bianchi@example.org", datetime(2026, 11, 30, tzinfo=UTC))
    deployed.send("InboundDLQ", event.queue_body(), event.group_id,
                  reason="processor failed for anna.bianchi@example.org (+39 340 123 4567)")

    result = cli("dlq", "show", "--stack", STACK, "--queue", "inbounddlq")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "whatsapp:1790000000000000001" in out and "reason: processor failed for" in out
    for personal in ("Anna", "anna.bianchi", "393401234567", "340 123 4567", "annabianchi"):
        assert personal not in out
    assert out.splitlines()[-1] == "1 message(s) of InboundDLQ shown; none consumed"
    # nothing was consumed: the message is there, visible, for the next reader
    assert [json.loads(m["Body"])["event_id"] for m in deployed.drain("InboundDLQ")] == ["1790000000000000001"]


def test_dlq_redrive_moves_messages_back_to_their_source_keeping_group_and_reason(deployed: Deployed) -> None:
    for n, group in enumerate(["SC-2026-1", "SC-2026-1", "SC-2026-2"]):
        deployed.send("OutboundDLQ", json.dumps({"case_id": group, "n": n}), group, reason=f"failure {n}")

    partial = cli("dlq", "redrive", "--stack", STACK, "--queue", "OutboundDLQ", "--limit", "2", "--yes")

    assert partial.exit_code == 0, partial.output
    assert "moved 2 message(s) from OutboundDLQ to OutboundQueue" in partial.stdout
    assert deployed.depth("OutboundDLQ") == 1
    rest = cli("dlq", "redrive", "--stack", STACK, "--queue", "OutboundQueue", "--yes")  # named by its source
    assert rest.exit_code == 0, rest.output
    assert "moved 1 message(s)" in rest.stdout
    # all of it, on a deployed stack: SQS's own move task first (moto has none: batches, and it says so)
    assert "StartMessageMoveTask unavailable" in rest.stdout
    assert deployed.depth("OutboundDLQ") == 0
    back = deployed.drain("OutboundQueue")
    assert sorted((m["Attributes"]["MessageGroupId"], json.loads(m["Body"])["n"],
                   m["MessageAttributes"]["reason"]["StringValue"]) for m in back) == [
        ("SC-2026-1", 0, "failure 0"), ("SC-2026-1", 1, "failure 1"), ("SC-2026-2", 2, "failure 2")]


def test_a_redriven_message_gets_a_deduplication_id_of_its_own(deployed: Deployed) -> None:
    # The consumer dead-lettered it under its first delivery's deduplication id, which may still
    # be in the source queue's five-minute window: sent again under it, SQS would drop it. (moto
    # forgets the id of a deleted message, so the id itself is what this test can see.)
    body = json.dumps({"case_id": "SC-2026-7"})
    deployed.sqs().send_message(QueueUrl=deployed.ids["CrmSyncDLQ"], MessageBody=body,
                                MessageGroupId="SC-2026-7", MessageDeduplicationId="SC-2026-7-v3")

    assert cli("dlq", "redrive", "--stack", STACK, "--queue", "CrmSyncDLQ", "--yes").exit_code == 0
    assert cli("dlq", "redrive", "--stack", STACK, "--queue", "CrmSyncDLQ", "--yes").stdout.startswith(
        "CrmSyncDLQ is empty")

    [back] = deployed.drain("CrmSyncQueue")
    assert back["Body"] == body and back["Attributes"]["MessageGroupId"] == "SC-2026-7"
    assert back["Attributes"]["MessageDeduplicationId"] != "SC-2026-7-v3"


def test_redrive_asks_before_moving_anything(deployed: Deployed) -> None:
    deployed.send("SocialTeamDLQ", '{"item_id": "w1"}', "SC-2026-3")

    result = cli("dlq", "redrive", "--stack", STACK, "--queue", "SocialTeamDLQ", stdin="n\n")

    assert result.exit_code == 1
    assert "Move 1 message(s) from SocialTeamDLQ back to SocialTeamQueue?" in result.output
    assert deployed.depth("SocialTeamDLQ") == 1


def test_an_unknown_queue_or_stack_is_one_clear_line(deployed: Deployed) -> None:
    unknown = cli("dlq", "show", "--stack", STACK, "--queue", "NoSuchDLQ")
    assert unknown.exit_code == 1
    assert "no dead-letter queue 'NoSuchDLQ' in this stack (its DLQs: CallcentreTeamDLQ" in unknown.stderr
    missing = cli("dlq", "list", "--stack", "no-such-stack")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("socialcare dlq list: ") and "no-such-stack" in missing.stderr
    assert "Traceback" not in missing.output


# ---------------------------------------------------------------------------------- replay
WINDOW = ("--from", "2026-11-30T09:00:00Z", "--to", "2026-11-30T11:00:00+00:00")


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 30, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def stored(stack: Deployed) -> Iterator[tuple[Any, dict[str, InboundEvent]]]:
    """Four interactions stored by the real processor flow (once for the module); one deleted by
    its author. Replays change nothing stored, so the module's tests share them."""
    from socialcare.config.settings import ProcessorSettings, load
    from socialcare.flows.processor import Processor
    from socialcare.flows.wiring import Wiring

    with pytest.MonkeyPatch.context() as env:
        for name, value in stack.environment().items():
            env.setenv(name, value)
        # moto's CloudFormation creates no secrets: the processor's erasure salt (it fails closed
        # without one) is made here, as the stack would have generated it
        salt = boto3.client("secretsmanager").create_secret(Name="ErasureSalt", SecretString="deployed-salt-5d1e")
        env.setenv("SOCIALCARE_ERASURE_SALT_ARN", salt["ARN"])
        _reset()
        yield from _store(stack, Processor(Wiring(load(ProcessorSettings))))
    _reset()


def _store(stack: Deployed, processor: Any) -> Iterator[tuple[Any, dict[str, InboundEvent]]]:
    events = {
        "mention": inbound_event("1860000000000000001", Channel.X, "2244994945",
                                 "@brand il mio ordine ORD-123456 non è mai arrivato", at(10, 0)),
        "whatsapp": inbound_event("wamid.HBgLMzkzNDAxMjM0NTY3", Channel.WHATSAPP, "393401234567",
                                  "Ciao, sono Anna: ancora nessuna notizia del pacco", at(10, 30)),
        "later": inbound_event("1860000000000000002", Channel.X, "2244994945", "@brand allora?", at(12, 0)),
        "deleted": inbound_event("1860000000000000003", Channel.X, "2244994945", "@brand vergogna", at(10, 45)),
    }
    for event in events.values():
        assert processor.process(event)["status"] == "stored"
    processor.process(InboundEvent(action=Action.DELETE, source="x", event_id="1860000000000000003",
                                   target_id=events["deleted"].interaction.id))
    for logical_id in ("InboundQueue", "SocialTeamQueue", "CallcentreTeamQueue"):
        stack.drain(logical_id)
    yield processor, events


def timeline_items(deployed: Deployed) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=deployed.ids["ProfilesTable"])["Items"]
    return sorted(i["sk"]["S"] for i in items if i["sk"]["S"].startswith("TS#"))


def test_replay_dry_run_counts_the_window_without_publishing(deployed: Deployed, stored: Any) -> None:
    result = cli("replay", "--stack", STACK, *WINDOW, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "2 interaction(s) from 2026-11-30T09:00:00+00:00 to 2026-11-30T11:00:00+00:00 (whatsapp: 1, x: 1)" \
        in result.stdout
    assert "would replay 2 onto inbound.fifo" in result.stdout
    assert deployed.depth("InboundQueue") == 0


def test_replay_republishes_the_original_events_and_the_processor_stores_nothing_twice(
    deployed: Deployed, stored: Any
) -> None:
    processor, events = stored
    before = timeline_items(deployed)

    result = cli("replay", "--stack", STACK, *WINDOW, "--channel", "x")

    assert result.exit_code == 0, result.output
    assert "replayed 1 onto inbound.fifo" in result.stdout
    [message] = deployed.drain("InboundQueue")
    replayed = InboundEvent.model_validate_json(message["Body"])
    original = events["mention"]
    assert replayed.interaction == original.interaction
    assert (replayed.event_id, replayed.raw_payload()) == (original.event_id, original.raw)
    # the webhook's own SQS identity: a replay within five minutes of the original is dropped by SQS
    assert message["Attributes"]["MessageDeduplicationId"] == dedupe_id(original)
    assert message["Attributes"]["MessageGroupId"] == original.group_id
    # and later, by the processor: stored once, whatever the number of replays
    assert processor.process(replayed)["status"] == "duplicate"
    assert timeline_items(deployed) == before


def test_replay_without_a_channel_takes_every_channel_and_skips_deleted_messages(
    deployed: Deployed, stored: Any
) -> None:
    _, events = stored

    result = cli("replay", "--stack", STACK, *WINDOW)

    assert result.exit_code == 0, result.output
    ids = sorted(InboundEvent.model_validate_json(m["Body"]).interaction.id
                 for m in deployed.drain("InboundQueue"))
    assert ids == sorted(events[k].interaction.id for k in ("mention", "whatsapp"))


# ---------------------------------------------------------------------------------- audit
def test_audit_lists_the_trail_newest_first_by_actor_and_since(stack: Deployed) -> None:
    from socialcare.store.audit import AuditLog, AuditRecord

    log = AuditLog(stack.ids["AuditTable"], boto3.client("dynamodb"))
    for n, (actor, role, action, targets) in enumerate([
        ("giulia@brand.example", "supervisor", "POST /api/customers/merge", {"source": "C-1", "target": "C-2"}),
        ("marco@brand.example", "agent", "POST /api/cases/{case_id}/resolve", {"case_id": "SC-2026-4"}),
        ("giulia@brand.example", "supervisor", "POST /api/cases/{case_id}/reopen", {"case_id": "SC-2026-4"}),
    ]):
        log.write(AuditRecord(actor=actor, role=role, action=action, targets=targets, status=200,
                              at=at(9, n), request_id=f"req-{n}", via="jwt"))

    everyone = cli("audit", "--stack", STACK)
    giulia = cli("audit", "--stack", STACK, "--actor", "giulia@brand.example", "--since", "2026-11-30T09:01")

    assert everyone.exit_code == 0, everyone.output
    assert [line.split()[-1] for line in everyone.stdout.splitlines()[:-1]] == ["req-2", "req-1", "req-0"]
    assert everyone.stdout.splitlines()[0] == (
        "2026-11-30T09:02:00+00:00  giulia@brand.example (supervisor)  POST /api/cases/{case_id}/reopen"
        "  case_id=SC-2026-4  200  req-2")
    assert giulia.exit_code == 0, giulia.output
    assert giulia.stdout.splitlines() == [
        "2026-11-30T09:02:00+00:00  giulia@brand.example (supervisor)  POST /api/cases/{case_id}/reopen"
        "  case_id=SC-2026-4  200  req-2",
        "1 record(s) of giulia@brand.example since 2026-11-30T09:01:00+00:00"]
    assert cli("audit", "--stack", STACK, "--limit", "2").stdout.splitlines()[-1] == "2 record(s)"
