"""Redelivery: platforms and SQS deliver at least once. The same signed POST three times, each
processed by the real ProcessorFunction and the case stream relayed; after the first one, its
SQS batch is also handed to the processor twice more (SQS redelivering the same message). After
the first processing nothing changes: no second interaction, customer, case, case timeline
entry, delivery receipt, work item, CRM sync request or dead letter, and no item of any table
differs.

One documented payload per event kind (tests/fixtures/corpus/, each file naming its source;
tests/fixtures/channels/connect_contact_flow.json for Amazon Connect). A file's ``before``
bodies (the original message an edit, reaction or delete names) are delivered once first.
Between deliveries every queue is drained, so SQS's own deduplication (which holds only while
the first copy is on the queue, and only five minutes in AWS) cannot hide a duplicate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from harness import CHANNELS, Stack, as_bytes, corpus  # tests/reliability/harness.py

pytestmark = pytest.mark.integration

KINDS = [
    "x/aaa-tweet-create-mention",           # X public mention (v1.1 Account Activity)
    "x/aaa-direct-message-received",        # X DM (v1.1)
    "x/xaa-dm-received",                    # X DM (v2 Activity API)
    "x/aaa-tweet-delete-of-a-stored-mention",
    "meta/facebook/fb-feed-comment-add",    # Page feed comment
    "meta/facebook/fb-feed-comment-edited",
    "meta/messenger/messenger-text-quick-reply",
    "meta/messenger/messenger-reaction-react",
    "meta/messenger/messenger-message-edit",
    "meta/instagram/ig-comment",
    "meta/instagram/ig-text",               # Instagram DM
    "meta/whatsapp/wa-text",
    "meta/whatsapp/wa-status-read",
    "meta/whatsapp/wa-reaction",
    "meta/whatsapp/wa-edit-image-caption",
    "meta/whatsapp/wa-revoke",
    "gateway/email-verified-with-attachment",
    "gateway/batch-chat-and-form",          # a chat message and a web form in one POST
]

State = tuple[dict[str, int], Any]


def state(stack: Stack) -> State:
    items = stack.items()
    return stack.counts(items), items


def three_times(stack: Stack, send: Callable[[], None]) -> tuple[State, list[State]]:
    """``send`` once, processed; the same SQS batches redriven twice; ``send`` twice more, processed.
    Returns the state after the first processing and after each later step."""
    send()
    stack.process()
    stack.settle()
    first = state(stack)
    later = []
    for _ in range(2):  # the same SQS messages, handed to the processor three times in all
        stack.redrive()
        stack.settle()
        later.append(state(stack))
    for _ in range(2):
        send()
        stack.process()
        stack.settle()
        later.append(state(stack))
    return first, later


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per table and key, the attributes that differ (or the whole item, added or removed)."""
    out: dict[str, Any] = {}
    for table in before.keys() | after.keys():
        old, new = before.get(table, {}), after.get(table, {})
        for key in old.keys() | new.keys():
            if key not in old or key not in new:
                out[f"{table} {key}"] = "added" if key in new else "removed"
            elif old[key] != new[key]:
                names = old[key].keys() | new[key].keys()
                out[f"{table} {key}"] = {a: (old[key].get(a), new[key].get(a)) for a in names
                                         if old[key].get(a) != new[key].get(a)}
    return out


def assert_nothing_added(first: State, later: list[State]) -> None:
    first_counts, first_items = first
    for counts, items in later:
        assert counts == first_counts, "a redelivery added something"
        assert changed(first_items, items) == {}, "a redelivery changed a stored item"
    assert first_counts["dead_letters"] == 0


@pytest.mark.parametrize("name", KINDS)
def test_an_event_delivered_three_times_lands_once(stack: Stack, name: str) -> None:
    case = corpus(name)
    endpoint, received = case["endpoint"], case["expect"]["received"]
    for before in case.get("before", []):
        assert stack.post(endpoint, as_bytes(before))[0] == 200
    stack.process()
    stack.settle()
    stack.batches.clear()
    baseline = state(stack)

    def send() -> None:
        status, answer = stack.post(endpoint, as_bytes(case["body"]))
        assert (status, answer["received"]) == (200, received), answer

    first, later = three_times(stack, send)
    assert_nothing_added(first, later)
    if received:
        assert first != baseline, "the first delivery changed nothing"
    for stored in case["expect"].get("stored", []):
        assert stack.interaction_ids().count(stored["id"]) == 1


def test_a_call_looked_up_three_times_lands_once(stack: Stack) -> None:
    # Amazon Connect retries a contact flow's Lambda invocation; the contact id names the call.
    event = json.loads((CHANNELS / "connect_contact_flow.json").read_text(encoding="utf-8"))
    first, later = three_times(stack, lambda: stack.call_connect(event) and None)
    assert_nothing_added(first, later)
    assert first[0]["interactions"] == 1 and first[0]["customers"] == 1
