"""Amazon Connect caller lookup: a flat map of Connect-safe strings, whatever happens."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from socialcare.domain.channels import connect
from socialcare.domain.channels.connect import KEYS, connect_safe
from socialcare.flows.caller_lookup import LOOKUP_DEADLINE_SECONDS, CallerLookup, CustomerDirectory
from socialcare.models.crm import CrmSyncRequest
from socialcare.models.interaction import Channel, InboundEvent, Kind
from socialcare.models.reply import OutboundMessage
from socialcare.models.workitem import WorkItem
from socialcare.ports import Publisher
from socialcare.publish import PublishFailed

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "channels" / "connect_contact_flow.json"
EVENT = json.loads(FIXTURE.read_text())
SAFE = re.compile(r"^[A-Za-z0-9 _-]*$")
REGION = "IT"


class Directory:
    """The identity read API (CustomerDirectory), answering from a dict (phone -> context)."""

    def __init__(self, contexts: dict[str, dict[str, Any]], stuck: threading.Event | None = None) -> None:
        self.contexts = contexts
        self.stuck = stuck  # a lookup that hangs until this event is set
        self.asked: list[tuple[str, str]] = []

    def find_customer(self, kind: str, value: str) -> str | None:
        if self.stuck is not None:
            self.stuck.wait(10)
        self.asked.append((kind, value))
        ctx = self.contexts.get(value)
        return ctx["customer_id"] if ctx else None

    def context_for(self, customer_id: str) -> dict[str, Any]:
        return next(c for c in self.contexts.values() if c["customer_id"] == customer_id)


class Inbound:
    """An in-memory ``ports.Publisher``: records what reaches inbound.fifo, or fails like a queue that is down."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.events: list[InboundEvent] = []

    def inbound(self, events: Sequence[InboundEvent]) -> int:
        if self.down:
            raise PublishFailed("inbound queue unavailable")
        self.events.extend(events)
        return len(events)

    def work_items(self, items: Sequence[WorkItem]) -> None:
        raise AssertionError("the caller lookup sends no work items")

    def crm_syncs(self, requests: Sequence[CrmSyncRequest]) -> None:
        raise AssertionError("the caller lookup sends no CRM syncs")

    def outbound(self, replies: Sequence[OutboundMessage]) -> None:
        raise AssertionError("the caller lookup sends no replies")

    def alert(self, subject: str, message: Mapping[str, Any]) -> None:
        raise AssertionError("the caller lookup raises no alerts")


@pytest.fixture(params=["queue_up", "queue_down"])
def publisher(request: pytest.FixtureRequest) -> Inbound:
    # Recording the call on inbound.fifo may fail: that must never break the answer to Connect.
    return Inbound(down=request.param == "queue_down")


def lookup_caller(
    event: Any, directory: CustomerDirectory, publisher: Publisher, deadline: float = LOOKUP_DEADLINE_SECONDS
) -> dict[str, str]:
    return CallerLookup(directory, publisher, REGION, deadline=deadline).handle(event)


ANNA = {
    "customer_id": "cus_0123456789abcdef0123",
    "name": "Anna Bianchi-D'Agostino Ñúñez",
    "last_channel": "whatsapp",
    "last_seen": "2026-11-22T06:25:00.123456+00:00",
    "channel_count": 4,
    "open_case_id": "SC-2026-000042",
    "case_priority": "urgent",
    "last_sentiment": "negative",
}


def assert_connect_map(answer: dict[str, str]) -> None:
    assert list(answer) == list(KEYS)
    assert all(isinstance(v, str) and SAFE.match(v) for v in answer.values()), answer
    assert len(json.dumps(answer).encode()) < 32 * 1024


def assert_call_recorded(publisher: Inbound, number: str) -> None:
    """The call goes through the normal pipeline as a ``phone`` interaction - unless the queue is down."""
    if publisher.down:
        assert publisher.events == []
        return
    [event] = publisher.events
    assert event.interaction is not None and event.source == "connect"
    assert (event.interaction.channel, event.interaction.kind) == (Channel.PHONE, Kind.CALL)
    assert event.interaction.author.id == number
    assert event.interaction.platform_message_id == EVENT["Details"]["ContactData"]["InitialContactId"]


def test_a_known_caller_gets_their_context_as_connect_safe_strings(publisher: Inbound) -> None:
    directory = Directory({"+393331112222": ANNA})
    answer = lookup_caller(EVENT, directory, publisher)
    assert_connect_map(answer)
    assert answer == {
        "customerKnown": "true",
        "customerId": "cus_0123456789abcdef0123",
        "customerName": "Anna Bianchi-D Agostino Nunez",
        "lastChannel": "whatsapp",
        "lastContactAt": "20261122T062500Z",
        "openCaseId": "SC-2026-000042",
        "casePriority": "urgent",
        "channelCount": "4",
        "sentiment": "negative",
        "lookupStatus": "ok",
    }
    assert directory.asked == [("phone", "+393331112222")]
    assert_call_recorded(publisher, "+393331112222")


def test_an_unknown_caller_is_not_known_and_fields_are_empty(publisher: Inbound) -> None:
    answer = lookup_caller(EVENT, Directory({}), publisher)
    assert_connect_map(answer)
    assert answer["customerKnown"] == "false"
    assert {k: v for k, v in answer.items() if k not in ("customerKnown", "lookupStatus")} == {
        k: "" for k in KEYS if k not in ("customerKnown", "lookupStatus")
    }
    # an unknown caller's call is recorded too: it makes them a customer keyed by the number
    assert_call_recorded(publisher, "+393331112222")


def test_fields_the_cases_engineer_has_not_filled_yet_are_empty_strings(publisher: Inbound) -> None:
    partial = {k: v for k, v in ANNA.items() if k in ("customer_id", "name", "last_channel", "last_seen")}
    answer = lookup_caller(EVENT, Directory({"+393331112222": partial}), publisher)
    assert answer["customerKnown"] == "true"
    assert (answer["openCaseId"], answer["casePriority"], answer["sentiment"]) == ("", "", "")


def test_an_anonymous_caller_gets_an_answer_without_a_lookup(publisher: Inbound) -> None:
    event = json.loads(json.dumps(EVENT))
    event["Details"]["ContactData"]["CustomerEndpoint"] = {"Address": "anonymous", "Type": "TELEPHONE_NUMBER"}
    directory = Directory({})
    answer = lookup_caller(event, directory, publisher)
    assert answer["customerKnown"] == "false" and answer["lookupStatus"] == "anonymous"
    assert directory.asked == []
    assert publisher.events == []  # no number: nothing to record


def test_a_lookup_past_its_deadline_still_answers_in_time(publisher: Inbound) -> None:
    hung = threading.Event()
    answer = lookup_caller(EVENT, Directory({"+393331112222": ANNA}, stuck=hung), publisher, deadline=0.2)
    hung.set()  # the answer came while the directory still hung (a synchronous wait finds Anna)
    assert answer["customerKnown"] == "false" and answer["lookupStatus"] == "lookup_timeout"
    assert_call_recorded(publisher, "+393331112222")


def test_a_failing_directory_does_not_fail_the_contact_flow(publisher: Inbound) -> None:
    class Broken(Directory):
        def find_customer(self, kind: str, value: str) -> str | None:
            raise RuntimeError("dynamodb unavailable")

    answer = lookup_caller(EVENT, Broken({}), publisher)
    assert_connect_map(answer)
    assert answer["lookupStatus"] == "lookup_failed"
    assert_call_recorded(publisher, "+393331112222")


def test_a_non_connect_event_gets_a_flat_answer_not_an_exception(publisher: Inbound) -> None:
    answer = lookup_caller({"hello": "world"}, Directory({}), publisher)
    assert_connect_map(answer)
    assert answer["lookupStatus"] == "invalid_event"
    assert publisher.events == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zoë O'Brien", "Zoe O Brien"),
        ("José <script>", "Jose script"),
        ("李雷", ""),
        (None, ""),
        (True, "true"),
        ("x" * 1000, "x" * connect.MAX_VALUE_CHARS),
    ],
)
def test_values_are_folded_to_connects_character_set(value: Any, expected: str) -> None:
    assert connect_safe(value) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("+393331112222", "+393331112222"),
        ("+39 333 111 2222", "+393331112222"),
        ("+99912345678", "+99912345678"),  # a range the metadata does not know: the network said so
        ("anonymous", None),
        ("+12", None),
    ],
)
def test_the_caller_number_is_e164_or_nothing(address: str, expected: str | None) -> None:
    assert connect.caller_number(address, REGION) == expected
