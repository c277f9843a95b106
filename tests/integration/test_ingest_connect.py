"""CallerLookupFunction end to end in moto: an unknown caller is recorded through the pipeline
and becomes a customer keyed by the number; calling again, Connect hears who it is."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from webhook_calls import Context, drain_messages, events_of  # tests/integration/webhook_calls.py

from socialcare.flows.processor import Processor
from socialcare.models.interaction import Action, Channel, Identifier, IdentifierKind, InboundEvent, Kind
from socialcare.observability import metrics
from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from socialcare.flows.wiring import Wiring

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "tests" / "fixtures" / "channels" / "connect_contact_flow.json").read_text())
SAFE = re.compile(r"^[A-Za-z0-9 _-]*$")


@pytest.fixture
def caller_lookup(aws: AwsStack) -> ModuleType:
    """CallerLookupFunction's handler, cold-started in the environment ``aws`` set."""
    return load_app("caller_lookup")


CONTEXT = Context(7_000, function_name="CallerLookupFunction", memory_limit_in_mb=256,
                  aws_request_id="req-connect")


def invoke(function: ModuleType, event: dict[str, Any]) -> dict[str, str]:
    answer = function.handler(event, CONTEXT)
    assert all(isinstance(k, str) and isinstance(v, str) and SAFE.match(v) for k, v in answer.items()), answer
    return answer


def queued(aws: AwsStack) -> list[tuple[InboundEvent, MessageTypeDef]]:
    messages = drain_messages(aws.queue_urls["InboundQueue"])
    return list(zip(events_of(messages), messages, strict=True))


def with_contact(contact_id: str) -> dict[str, Any]:
    event = json.loads(json.dumps(EVENT))
    event["Details"]["ContactData"]["ContactId"] = contact_id
    event["Details"]["ContactData"]["InitialContactId"] = contact_id
    return event


def test_an_unknown_caller_is_recorded_and_known_on_the_next_call(
    aws: AwsStack, wiring: Wiring, caller_lookup: ModuleType
) -> None:
    first = invoke(caller_lookup, with_contact("11111111-1111-1111-1111-111111111111"))
    assert first["customerKnown"] == "false" and first["customerId"] == ""

    ((event, message),) = queued(aws)
    assert event.action is Action.CREATE and event.source == "connect"
    call = event.interaction
    assert call is not None
    assert (call.id, call.channel, call.kind) == (
        "phone:11111111-1111-1111-1111-111111111111", Channel.PHONE, Kind.CALL
    )
    assert call.author.id == "+393331112222"
    assert call.identifiers == [Identifier(kind=IdentifierKind.PHONE, value="+393331112222", verified=True)]
    assert message["Attributes"]["MessageGroupId"] == "phone:+393331112222"

    stored = Processor(wiring).process(event)  # the processor creates the customer keyed by the number
    metrics.clear_metrics()  # ProcessorFunction's handler flushes these in its own invocation

    second = invoke(caller_lookup, with_contact("22222222-2222-2222-2222-222222222222"))
    assert second["customerKnown"] == "true"
    assert second["customerId"] == stored["customer_id"]
    assert second["lastChannel"] == "phone"
    assert re.match(r"^\d{8}T\d{6}Z$", second["lastContactAt"])
    # What the agent's screen shows before answering: the case the first call opened
    case = wiring.case_queries.get_case(stored["case_id"], with_interactions=False)
    assert case.is_open
    assert (second["openCaseId"], second["casePriority"]) == (case.id, case.priority.value)
    assert second["channelCount"] == "1"  # phone only, so far
    profile = wiring.profiles.get_profile(stored["customer_id"])
    assert profile is not None and profile.last_sentiment
    assert second["sentiment"] == profile.last_sentiment  # the triage of the first call
    assert len(queued(aws)) == 1  # the second call is recorded too


def test_connect_invoking_twice_in_one_contact_records_one_call(aws: AwsStack, caller_lookup: ModuleType) -> None:
    event = with_contact("33333333-3333-3333-3333-333333333333")
    invoke(caller_lookup, event)
    invoke(caller_lookup, event)
    assert len(queued(aws)) == 1  # same contact -> same interaction id and dedupe id
