"""Every documented Meta request body in tests/fixtures/corpus/meta (Meta's documentation and
open-source SDKs' fixtures, the source noted per file) parsed as the webhook parses it: the
events it yields, the ids and content types it stores, the messages it edits, deletes or
reacts to. (tests/integration/test_payload_corpus.py replays the same files signed, end to end.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from socialcare.domain.channels import meta
from socialcare.models.interaction import Action

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "meta"
FILES = sorted(CORPUS.rglob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_corpus_holds_at_least_seventy_documented_bodies_each_with_its_source() -> None:
    assert len(FILES) >= 70
    for path in FILES:
        doc = load(path)
        assert doc["endpoint"] == "meta" and doc["source"], path.name
        assert "expect" in doc and isinstance(doc["expect"]["received"], int), path.name


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_a_documented_body_yields_what_its_expectations_say(path: Path) -> None:
    doc = load(path)
    parsed = meta.parse(doc["body"])
    expect = doc["expect"]
    assert len(parsed.events) == expect["received"]
    assert not any(reason.startswith("meta:invalid") for reason in parsed.ignored) or "mixed" in path.name
    created = {e.interaction.id: e.interaction for e in parsed.events
               if e.interaction is not None and e.action in (Action.CREATE, Action.EDIT)}
    for stored in expect.get("stored", []):
        interaction = created[stored["id"]]
        assert stored.get("text_contains", "") in (interaction.text or "")
        assert interaction.content.get("type") == stored.get("content_type")
        assert interaction.text or interaction.attachments, "a stored message is never blank"
    applied = {(e.target_id, e.action.value): e for e in parsed.events if e.target_id}
    for change in expect.get("applied", []):
        event = applied[(change["target"], change["action"])]
        if "emoji" in change:
            assert event.interaction is not None and event.interaction.content["emoji"] == change["emoji"]
        if "text_contains" in change:
            assert event.interaction is not None and change["text_contains"] in (event.interaction.text or "")


@pytest.mark.parametrize("path", [p for p in FILES if load(p).get("before")],
                         ids=lambda p: str(p.relative_to(CORPUS)))
def test_what_an_edit_delete_or_reaction_names_was_stored_by_its_before_body(path: Path) -> None:
    doc = load(path)
    before = {e.interaction.id for b in doc["before"] for e in meta.parse(b).events
              if e.interaction is not None and e.action is Action.CREATE}
    assert all(change["target"] in before for change in doc["expect"].get("applied", []))
    assert doc["expect"].get("applied"), "a before body exists for something to apply"
