"""Zendesk adapter against the documented Support API shapes (responses; no network)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
import responses
from responses import matchers

from socialcare.crm.base import Http, Retryable
from socialcare.crm.samples import sample_view
from socialcare.crm.zendesk import ZendeskAdapter
from socialcare.models.crm import CaseUpserted

BASE = "https://acme.zendesk.com/api/v2"


class MemoryGuard:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


def _adapter(guard: MemoryGuard | None = None) -> ZendeskAdapter:
    creds = {"subdomain": "acme", "email": "bot@acme.test", "api_token": "ztok"}
    return ZendeskAdapter(creds, Http("zendesk", timeout=2), guard=guard or MemoryGuard())


def _body(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def _user(user_id: int = 901) -> None:
    responses.post(f"{BASE}/users/create_or_update", json={"user": {"id": user_id}}, status=201)


@responses.activate
def test_new_case_creates_one_ticket_with_external_id_requester_and_private_notes() -> None:
    _user()
    responses.get(
        f"{BASE}/tickets", json={"tickets": []}, match=[matchers.query_param_matcher({"external_id": "SC-2026-1"})]
    )
    responses.post(f"{BASE}/tickets", json={"ticket": {"id": 4242}}, status=201)
    responses.put(f"{BASE}/tickets/4242", json={"ticket": {"id": 4242}})

    result = _adapter().upsert_case(CaseUpserted.from_view(sample_view()))

    assert result.record_id == "4242" and result.created
    user = _body(responses.calls[0])["user"]
    assert user == {
        "name": "Giulia Rossi",
        "external_id": "cus-giulia",
        "email": "giulia@example.com",
        "verified": True,
        "phone": "+393331234567",
    }
    auth = responses.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "bot@acme.test/token:ztok"
    created = [c for c in responses.calls if c.request.method == "POST" and c.request.url.endswith("/tickets")]
    assert len(created) == 1
    ticket = _body(created[0])["ticket"]
    assert ticket["external_id"] == "SC-2026-1"
    assert ticket["requester_id"] == 901
    assert ticket["status"] == "open" and ticket["priority"] == "high"
    assert {"socialcare", "channel_x", "channel_facebook", "team_social"} <= set(ticket["tags"])
    assert ticket["comment"]["public"] is False
    notes = [_body(c)["ticket"]["comment"] for c in responses.calls if c.request.method == "PUT"]
    assert len(notes) == 2 and all(n["public"] is False for n in notes)


@responses.activate
def test_existing_ticket_is_found_by_external_id_and_updated_not_recreated() -> None:
    _user()
    responses.get(f"{BASE}/tickets", json={"tickets": [{"id": 77, "external_id": "SC-2026-1"}]})
    responses.put(f"{BASE}/tickets/77", json={"ticket": {"id": 77}})
    view = sample_view(status="resolved", interactions=0)

    result = _adapter().upsert_case(CaseUpserted.from_view(view))

    assert result.record_id == "77" and not result.created
    assert not [c for c in responses.calls if c.request.method == "POST" and c.request.url.endswith("/tickets")]
    assert _body(responses.calls[-1])["ticket"]["status"] == "solved"


@responses.activate
def test_stored_ticket_id_skips_the_lookup_and_a_deleted_one_falls_back() -> None:
    _user()
    responses.put(f"{BASE}/tickets/13", status=404, json={"error": "RecordNotFound"})
    responses.get(f"{BASE}/tickets", json={"tickets": [{"id": 14}]})
    responses.put(f"{BASE}/tickets/14", json={"ticket": {"id": 14}})

    result = _adapter().upsert_case(CaseUpserted.from_view(sample_view(interactions=0)), record_id="13")

    assert result.record_id == "14"


@responses.activate
def test_phone_only_customer_reuses_the_agent_made_user() -> None:
    responses.get(
        f"{BASE}/users/search",
        json={"users": [{"id": 555}]},
        match=[matchers.query_param_matcher({"query": "phone:+393331234567"})],
    )
    responses.get(f"{BASE}/tickets", json={"tickets": []})
    responses.post(f"{BASE}/tickets", json={"ticket": {"id": 1}}, status=201)

    _adapter().upsert_case(CaseUpserted.from_view(sample_view(email=None, interactions=0)))

    assert not [c for c in responses.calls if "create_or_update" in c.request.url]
    assert _body(responses.calls[-1])["ticket"]["requester_id"] == 555


@responses.activate
def test_create_is_guarded_so_a_racing_retry_cannot_create_a_second_ticket() -> None:
    _user()
    responses.get(f"{BASE}/tickets", json={"tickets": []})
    responses.post(f"{BASE}/tickets", json={"ticket": {"id": 5}}, status=201)
    responses.put(f"{BASE}/tickets/5", json={"ticket": {"id": 5}})
    guard = MemoryGuard()
    adapter = _adapter(guard)
    event = CaseUpserted.from_view(sample_view(interactions=0))

    # The search index has not caught up (still answers []), yet the guard remembers the create.
    adapter.upsert_case(event)
    adapter.upsert_case(event)

    assert len([c for c in responses.calls if c.request.method == "POST" and c.request.url.endswith("/tickets")]) == 1


@responses.activate
def test_rate_limited_zendesk_is_retryable_with_its_retry_after() -> None:
    responses.post(f"{BASE}/users/create_or_update", status=429, headers={"Retry-After": "33"})
    with pytest.raises(Retryable) as caught:
        _adapter().upsert_case(CaseUpserted.from_view(sample_view()))
    assert caught.value.retry_after == 33
