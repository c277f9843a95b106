"""Amazon Connect caller lookup: a flat map of Connect-safe strings, whatever happens."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from socialcare.channels import callerlookup
from socialcare.channels.callerlookup import KEYS, connect_safe, lookup_caller
from socialcare.settings import get_settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "channels" / "connect_contact_flow.json"
EVENT = json.loads(FIXTURE.read_text())
SAFE = re.compile(r"^[A-Za-z0-9 _-]*$")


class Directory:
    """The identity read API, answering from a dict (phone -> context)."""

    def __init__(self, contexts: dict[str, dict[str, Any]], delay: float = 0.0) -> None:
        self.contexts = contexts
        self.delay = delay
        self.asked: list[tuple[str, str]] = []

    def find_customer(self, kind: str, value: str) -> str | None:
        time.sleep(self.delay)
        self.asked.append((kind, value))
        ctx = self.contexts.get(value)
        return ctx["customer_id"] if ctx else None

    def context_for(self, customer_id: str) -> dict[str, Any]:
        return next(c for c in self.contexts.values() if c["customer_id"] == customer_id)


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


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    # No inbound queue in the unit tier: recording the call fails, which must not break the answer.
    monkeypatch.setenv("SOCIALCARE_INBOUND_QUEUE_URL", "")
    get_settings.cache_clear()


def assert_connect_map(answer: dict[str, str]) -> None:
    assert list(answer) == list(KEYS)
    assert all(isinstance(v, str) and SAFE.match(v) for v in answer.values()), answer
    assert len(json.dumps(answer).encode()) < 32 * 1024


def test_a_known_caller_gets_their_context_as_connect_safe_strings() -> None:
    directory = Directory({"+393331112222": ANNA})
    answer = lookup_caller(EVENT, directory)
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


def test_an_unknown_caller_is_not_known_and_fields_are_empty() -> None:
    answer = lookup_caller(EVENT, Directory({}))
    assert_connect_map(answer)
    assert answer["customerKnown"] == "false"
    assert {k: v for k, v in answer.items() if k not in ("customerKnown", "lookupStatus")} == {
        k: "" for k in KEYS if k not in ("customerKnown", "lookupStatus")
    }


def test_fields_the_cases_engineer_has_not_filled_yet_are_empty_strings() -> None:
    partial = {k: v for k, v in ANNA.items() if k in ("customer_id", "name", "last_channel", "last_seen")}
    answer = lookup_caller(EVENT, Directory({"+393331112222": partial}))
    assert answer["customerKnown"] == "true"
    assert (answer["openCaseId"], answer["casePriority"], answer["sentiment"]) == ("", "", "")


def test_an_anonymous_caller_gets_an_answer_without_a_lookup() -> None:
    event = json.loads(json.dumps(EVENT))
    event["Details"]["ContactData"]["CustomerEndpoint"] = {"Address": "anonymous", "Type": "TELEPHONE_NUMBER"}
    directory = Directory({})
    answer = lookup_caller(event, directory)
    assert answer["customerKnown"] == "false" and answer["lookupStatus"] == "anonymous"
    assert directory.asked == []


def test_a_lookup_past_its_deadline_still_answers_in_time() -> None:
    started = time.monotonic()
    answer = lookup_caller(EVENT, Directory({"+393331112222": ANNA}, delay=1.0), deadline=0.2)
    assert time.monotonic() - started < 0.9
    assert answer["customerKnown"] == "false" and answer["lookupStatus"] == "lookup_timeout"


def test_a_failing_directory_does_not_fail_the_contact_flow() -> None:
    class Broken(Directory):
        def find_customer(self, kind: str, value: str) -> str | None:
            raise RuntimeError("dynamodb unavailable")

    answer = lookup_caller(EVENT, Broken({}))
    assert_connect_map(answer)
    assert answer["lookupStatus"] == "lookup_failed"


def test_a_non_connect_event_gets_a_flat_answer_not_an_exception() -> None:
    answer = lookup_caller({"hello": "world"}, Directory({}))
    assert_connect_map(answer)
    assert answer["lookupStatus"] == "invalid_event"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zoë O'Brien", "Zoe O Brien"),
        ("José <script>", "Jose script"),
        ("李雷", ""),
        (None, ""),
        (True, "true"),
        ("x" * 1000, "x" * callerlookup.MAX_VALUE_CHARS),
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
    assert callerlookup.caller_number(address) == expected
