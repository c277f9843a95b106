"""Every documented request body in tests/fixtures/corpus/ (the platforms' documentation and
open-source libraries' fixtures, each file naming its source), replayed signed through the real
webhook handlers and then through the real Processor on moto.

Per file: each ``before`` body then ``body`` is answered 200 (never a 4xx for a documented
type, never a 5xx), the webhook publishes ``expect.received`` events, the processor takes every
published event without raising (nothing would be dead-lettered), and what ``expect`` names is
there: ``stored`` interactions (text, content type), ``applied`` edits/deletes/reactions on the
original, ``identities`` on the customer. File format: docs/channels.md, "Payload corpus".

One moto stack serves the module (building one takes about a second); before each file its
tables and queues are emptied, so files may reuse the ids of their documentation.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import responses
from moto import mock_aws
from webhook_calls import FUNCTIONS, SECRETS, post_signed  # tests/integration/webhook_calls.py

from socialcare.config.settings import Settings
from socialcare.flows.processor import Processor
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import InboundEvent
from socialcare.publish import unwrap_body
from socialcare_infra.handlers import load_app
from socialcare_infra.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
FILES = sorted(CORPUS.rglob("*.json"))
pytestmark = pytest.mark.integration


def _integration_conftest() -> ModuleType:
    """tests/integration/conftest.py's stack builder, for a stack that outlives one test."""
    spec = importlib.util.spec_from_file_location("corpus_stack", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class Stack:
    aws: Any  # conftest.AwsStack
    wiring: Wiring
    processor: Processor
    webhooks: dict[str, ModuleType]

    keys: dict[str, list[str]] = field(default_factory=dict)

    def reset(self) -> None:
        """Empty every table and inbound.fifo: the next file starts from nothing. (The work
        queues the case service feeds are never read here, so they may keep what they got.)"""
        ddb = boto3.client("dynamodb")
        for table in self.aws.tables.values():
            if table not in self.keys:
                schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
                self.keys[table] = [k["AttributeName"] for k in schema]
            names = {f"#k{i}": k for i, k in enumerate(self.keys[table])}
            items = [i for page in ddb.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
                for i in page["Items"]]
            for start in range(0, len(items), 25):
                chunk = items[start:start + 25]
                ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": i}} for i in chunk]})
        drain(self)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    base = _integration_conftest()
    with pytest.MonkeyPatch.context() as env, mock_aws(), responses.RequestsMock(
        assert_all_requests_are_fired=False
    ) as internet:
        # No request leaves the machine: media CDNs and Graph (media, profiles) answer 404 with
        # Graph's "no such object" error, which costs an attachment or a name, never the message.
        gone = json.dumps({"error": {"message": "Unsupported get request.", "type": "GraphMethodException",
                                     "code": 100}})
        internet.add_callback(responses.GET, re.compile(r"https?://.*"),
                              callback=lambda _: (404, {"Content-Type": "application/json"}, gone))
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        for name, value in {"AWS_DEFAULT_REGION": base.REGION, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            env.setenv(name, value)
        base._reset_caches()
        template = load_template(base.TEMPLATE)
        for resource in template["Resources"].values():
            if resource.get("Type") == "AWS::DynamoDB::Table":
                # Nothing here reads the tables' streams; moto would keep every record of the
                # module and copy them all on each transaction, slowing each file more.
                (resource.get("Properties") or {}).pop("StreamSpecification", None)
        aws = base.build_stack(Resolver(template, stack_name=base.STACK, region=base.REGION))
        for name, value in aws.env.items():
            env.setenv(name, value)
        base._reset_caches()
        wiring = Wiring(Settings())
        yield Stack(aws, wiring, Processor(wiring), {k: load_app(v) for k, v in FUNCTIONS.items()})
        base._reset_caches()


def replay(stack: Stack, endpoint: str, body: Any) -> list[InboundEvent]:
    """POST one body signed, expect 200, then run what it published through the processor."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    status, answer = post_signed(stack.webhooks[endpoint], endpoint, stack.aws.secret_values[SECRETS[endpoint]], raw)
    assert status == 200, f"{endpoint} answered {status}: {answer}"
    events = drain(stack)
    assert answer["received"] == len(events)
    for event in events:
        stack.processor.process(event)  # raising here = retried, then dead-lettered
    return events


def drain(stack: Stack) -> list[InboundEvent]:
    sqs = boto3.client("sqs")
    url = stack.aws.queue_urls["InboundQueue"]
    events: list[InboundEvent] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            events.append(InboundEvent.model_validate_json(unwrap_body(message["Body"], stack.wiring.media_store)))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return events


def check_stored(stack: Stack, expected: dict[str, Any]) -> dict[str, Any]:
    item = stack.wiring.profiles.interaction(expected["id"])
    assert item is not None, f"{expected['id']} is on no customer's timeline"
    assert not item.get("deleted"), f"{expected['id']} is stored as deleted"
    if "text_contains" in expected:
        assert expected["text_contains"] in (item.get("text") or ""), item.get("text")
    if "content_type" in expected:
        assert (item.get("content") or {}).get("type") == expected["content_type"], item.get("content")
    return item


def check_applied(stack: Stack, expected: dict[str, Any]) -> None:
    target, action = expected["target"], expected["action"]
    guard = stack.wiring.profiles.guard(target)
    assert guard is not None, f"nothing known of {target}"
    item = stack.wiring.profiles.interaction(target)
    if action == "delete":
        assert guard.get("deleted"), f"{target} is not marked deleted"
        assert item is None or not item.get("text"), "a deleted message keeps its text"
        return
    assert item is not None, f"{target} is on no customer's timeline"
    if action == "edit":
        assert item.get("edits") or item.get("edited_at"), f"{target} was not edited"
        assert expected.get("text_contains", "") in (item.get("text") or "")
    elif action == "react":
        emojis = [str(r.get("emoji", "")) for r in (item.get("reactions") or {}).values()]
        assert expected.get("emoji", "") in emojis, f"{target} reactions: {item.get('reactions')}"
    else:
        raise AssertionError(f"unknown action {action}")


def check_identity(stack: Stack, customers: set[str], expected: dict[str, Any]) -> None:
    records = [r for c in customers for r in stack.wiring.profiles.identities(c)]
    found = [r for r in records if r.kind == expected["kind"] and r.value == expected["value"]]
    assert found, f"no identity {expected['kind']}:{expected['value']} among {[(r.kind, r.value) for r in records]}"
    if "verified" in expected:
        assert any(r.verified == expected["verified"] for r in found), found


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_documented_body_is_accepted_processed_and_stored(stack: Stack, path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case.get("source"), "every corpus file names where its body comes from"
    stack.reset()
    endpoint, expect = case["endpoint"], case["expect"]
    for before in case.get("before", []):
        replay(stack, endpoint, before)
    events = replay(stack, endpoint, case["body"])
    assert len(events) == expect["received"], [(e.action.value, e.event_id) for e in events]
    guards = [stack.wiring.profiles.guard(e.interaction.id) for e in events if e.interaction is not None]
    customers = {str(g["customer_id"]) for g in guards if g and g.get("customer_id")}
    for expected in expect.get("stored", []):
        item = check_stored(stack, expected)
        customers.add(str(item["pk"]).removeprefix("CUSTOMER#"))
    for expected in expect.get("applied", []):
        check_applied(stack, expected)
    for expected in expect.get("identities", []):
        check_identity(stack, customers, expected)


# ------------------------------------------------------------------ one bad event in a batch


def _corpus_body(name: str) -> Any:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))["body"]


def _x_mixed() -> tuple[Any, str]:
    body = _corpus_body("x/aaa-direct-message-received.json")
    good = body["direct_message_events"][0]
    body["direct_message_events"] = [
        {**good, "id": "954491830116155397", "created_timestamp": "99999999999999999999"},  # beyond year 9999
        good,
        {**good, "id": "954491830116155398", "created_timestamp": "soon"},
    ]
    body["tweet_create_events"] = [{"id_str": "1", "text": "a post without its user"}]
    return body, "x:954491830116155396"


def _meta_mixed() -> tuple[Any, str]:
    body = json.loads((ROOT / "tests" / "fixtures" / "channels" / "meta_whatsapp_messages.json").read_text())
    value = body["entry"][0]["changes"][0]["value"]
    good = value["messages"][0]
    value["messages"] = [{**good, "id": "wamid.BAD1", "timestamp": "99999999999999999999"}, good,
                         {**good, "id": "wamid.BAD2", "interactive": "not an object", "type": "interactive"}]
    return body, f"whatsapp:{good['id']}"


@pytest.mark.parametrize(("endpoint", "mixed"), [("x", _x_mixed), ("meta", _meta_mixed)], ids=["x", "meta"])
def test_a_customer_message_batched_with_malformed_events_is_stored(
    stack: Stack, endpoint: str, mixed: Any
) -> None:
    stack.reset()
    body, kept = mixed()
    events = replay(stack, endpoint, body)
    assert kept in {e.interaction.id for e in events if e.interaction is not None}
    assert stack.wiring.profiles.interaction(kept) is not None


def test_a_gateway_batch_with_an_invalid_message_names_it_and_publishes_nothing(stack: Stack) -> None:
    """The gateway is our own API: its caller hears which messages are wrong, all of them, and
    nothing of the batch is taken until it resends - so nothing is accepted in part."""
    stack.reset()
    good = _corpus_body("gateway/chat-curl-example.json")
    body = {"messages": [good, {**good, "message_id": "c-2", "channel": "fax"}, {**good, "message_id": "c-3",
                                                                                "sender": {"name": "nobody"}}]}
    raw = json.dumps(body).encode()
    status, answer = post_signed(stack.webhooks["inbound"], "inbound", stack.aws.secret_values["InboundSecret"], raw)
    assert status == 400 and answer["error"] == "bad_request"
    assert [(i["index"], i["message_id"]) for i in answer["details"]["invalid"]] == [(1, "c-2"), (2, "c-3")]
    assert drain(stack) == []
    replay(stack, "inbound", {"messages": [good]})  # the caller drops the bad ones and resends
    assert stack.wiring.profiles.interaction("chat:c-1") is not None
