"""Malformed bodies are the sender's error: the shared JSON guard (depth, lone surrogates), the
bounded count of ignored reasons, and POST /webhooks/crm/{provider} with correctly signed but
malformed bodies - 400 with a JSON reason, nothing applied or sent, never a 5xx the CRM would
retry forever (issue 11). The CRM webhook runs on moto, as in test_crm_inbound.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import test_crm_inbound as crm  # tests/unit/test_crm_inbound.py: the moto stack and signing helpers
from pydantic import BaseModel

from socialcare.domain.channels.common import MAX_IGNORED_REASONS, Parsed, load_json
from socialcare.errors import BadRequest
from socialcare.flows.http import make_resolver

aws_stack = crm.aws_stack  # its fixtures, used here under the same names
stack = crm.stack
GENERIC_SECRET = crm.GENERIC_SECRET
_call, _ours, _replies, _zendesk = crm._call, crm._ours, crm._replies, crm._zendesk
DEEP = 100_000
LONE = "\ud800"  # a lone UTF-16 surrogate: json.dumps writes it as the escape \ud800


# ------------------------------------------------------------------ the shared guard


@pytest.mark.parametrize("body", [b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP,
                                  b"[" * 65 + b"]" * 65])
def test_nesting_past_the_bound_is_refused_without_recursing(body: bytes) -> None:
    with pytest.raises(BadRequest, match="nested deeper"):
        load_json(body)


def test_nesting_within_the_bound_and_surrogate_pairs_are_read() -> None:
    assert load_json(b"[" * 64 + b"]" * 64) is not None
    assert load_json(b'{"text": "\\ud83d\\ude21", "path": "\\\\ud800"}') == {"text": "\U0001f621", "path": "\\ud800"}


@pytest.mark.parametrize("body", [b'{"text": "ciao \\ud800"}', b'{"\\udc00": 1}', b'[["\\udfff"]]'])
def test_a_lone_surrogate_anywhere_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid Unicode"):
        load_json(body)


def test_distinct_ignored_reasons_are_bounded_and_nothing_is_lost() -> None:
    parsed = Parsed()
    for i in range(60_000):
        parsed.ignore(f"x:unknown:key_{i}", 2)
    other = Parsed()
    other.ignore("x:favorite_events")
    parsed.merge(other)
    assert len(parsed.ignored) <= MAX_IGNORED_REASONS + 1
    assert sum(parsed.ignored.values()) == 120_001


class Note(BaseModel):
    text: str


def _route_reading(body: str) -> dict[str, Any]:
    """A route that reads its body as json.loads and pydantic do, with no guard of its own: the
    resolver's handlers must still answer 400, never 500."""
    app = make_resolver()

    @app.post("/notes")
    def note() -> str:
        doc = json.loads(app.current_event.body or "")
        return Note(text=doc["text"]).model_dump_json()

    event = {"version": "2.0", "routeKey": "$default", "rawPath": "/notes", "rawQueryString": "", "headers": {},
             "requestContext": {"http": {"method": "POST", "path": "/notes"}, "stage": "$default"},
             "body": body, "isBase64Encoded": False}
    response: dict[str, Any] = app.resolve(event, {})
    return {"status": response["statusCode"], "json": json.loads(response["body"])}


@pytest.mark.parametrize("body", ['{"text": ' + "[" * DEEP + "]" * DEEP + "}", '{"text": "ciao \\ud800"}'],
                         ids=["deep", "lone_surrogate"])
def test_every_route_answers_400_for_what_breaks_parsing_later(body: str) -> None:
    answer = _route_reading(body)
    assert answer["status"] == 400 and answer["json"]["error"] == "bad_request" and answer["json"]["reason"]


def test_a_route_still_answers_well_formed_bodies() -> None:
    assert _route_reading('{"text": "ciao"}')["status"] == 200


# ------------------------------------------------------------------ the CRM inbound webhook


def _generic(stack: dict[str, Any], body: bytes) -> dict[str, Any]:
    return _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body))


def _assert_refused(stack: dict[str, Any], response: dict[str, Any]) -> None:
    assert response["statusCode"] == 400, response
    assert response["json"]["error"] == "bad_request" and response["json"]["reason"]
    assert stack["service"].calls == [] and _replies(stack) == []


def _reply(**reply: Any) -> dict[str, Any]:
    return {"event": "case.replied", "case_id": "SC-2026-1",
            "reply": {"id": "r-1", "text": "Il rimborso è partito.", "public": True,
                      "author": {"id": "agent-7", "name": "Marta"}, **reply}}


def test_the_unspoiled_reply_is_sent(stack: dict[str, Any]) -> None:
    assert _generic(stack, json.dumps(_reply()).encode())["statusCode"] == 200
    assert [(r["source"], r["crm_reply_id"]) for r in _replies(stack)] == [("crm:webhook", "r-1")]


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,
    json.dumps(_reply()).encode()[:-1] + b', "deep": ' + b"[" * DEEP + b"]" * DEEP + b"}",
])
def test_crm_deeply_nested_body_is_a_400(stack: dict[str, Any], body: bytes) -> None:
    _assert_refused(stack, _generic(stack, body))


def test_zendesk_deeply_nested_body_is_a_400(stack: dict[str, Any]) -> None:
    body = b'{"ticket_id": "4242", "comment": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}"
    _assert_refused(stack, _call(stack["app"], "zendesk", body, _zendesk(body)))


@pytest.mark.parametrize("doc", [
    _reply(text="ciao " + LONE),  # the text the customer would be sent
    _reply(author={"id": "agent-7", "name": "Marta " + LONE}),  # metadata
    {"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved", "note": LONE},
], ids=["text", "author", "unread_field"])
def test_crm_lone_surrogate_is_a_400_not_a_503(stack: dict[str, Any], doc: dict[str, Any]) -> None:
    _assert_refused(stack, _generic(stack, json.dumps(doc).encode()))


@pytest.mark.parametrize("doc", [
    {"event": "case.status_changed", "case_id": "SC-2026-1", "status": "solved", "actor": "agent-7"},
    {"event": "case.replied", "case_id": "SC-2026-1", "reply": "Il rimborso è partito."},
    _reply(author="Marta"),
    _reply(text=["not", "text"]),
], ids=["actor_string", "reply_string", "author_string", "text_list"])
def test_crm_wrong_types_are_a_400(stack: dict[str, Any], doc: dict[str, Any]) -> None:
    _assert_refused(stack, _generic(stack, json.dumps(doc).encode()))


def test_zendesk_comment_that_is_a_string_is_a_400(stack: dict[str, Any]) -> None:
    body = json.dumps({"ticket_id": "4242", "external_id": "SC-2026-1", "status": "solved",
                       "comment": "Risolto"}).encode()
    _assert_refused(stack, _call(stack["app"], "zendesk", body, _zendesk(body)))


def test_crm_timestamp_far_in_the_past_is_refused_not_a_500(stack: dict[str, Any]) -> None:
    body = json.dumps(_reply()).encode()
    response = _call(stack["app"], "webhook", body, _ours(GENERIC_SECRET, body, ts=-10**20))
    assert response["statusCode"] == 401 and response["json"]["error"] == "unauthorized"
    assert _replies(stack) == []
