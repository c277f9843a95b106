"""HubSpot adapter against the documented CRM v3 shapes (responses; no network)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import responses

from socialcare.crm.base import Http, Permanent
from socialcare.crm.hubspot import HubSpotAdapter
from socialcare.crm.samples import sample_view
from socialcare.models.crm import CaseUpserted

BASE = "https://api.hubapi.com"


class MemoryGuard:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


def _adapter() -> HubSpotAdapter:
    return HubSpotAdapter({"access_token": "pat-1"}, Http("hubspot", timeout=2), guard=MemoryGuard())


def _body(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def _calls(path: str, method: str = "POST") -> list[responses.Call]:
    return [c for c in responses.calls if c.request.method == method and c.request.url == f"{BASE}{path}"]


@responses.activate
def test_new_case_creates_a_ticket_associated_with_the_contact() -> None:
    responses.post(f"{BASE}/crm/v3/objects/contacts/search", json={"total": 0, "results": []})
    responses.post(f"{BASE}/crm/v3/objects/contacts", json={"id": "c-1"}, status=201)
    responses.post(f"{BASE}/crm/v3/objects/tickets/search", json={"total": 0, "results": []})
    responses.post(f"{BASE}/crm/v3/objects/tickets", json={"id": "t-9"}, status=201)
    responses.post(f"{BASE}/crm/v3/objects/notes", json={"id": "n-1"}, status=201)

    result = _adapter().upsert_case(CaseUpserted.from_view(sample_view()))

    assert result.record_id == "t-9" and result.created
    search = _body(_calls("/crm/v3/objects/contacts/search")[0])
    assert search["filterGroups"] == [
        {"filters": [{"propertyName": "socialcare_customer_id", "operator": "EQ", "value": "cus-giulia"}]},
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "giulia@example.com"}]},
        {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+393331234567"}]},
    ]
    contact = _body(_calls("/crm/v3/objects/contacts")[0])["properties"]
    assert contact["socialcare_customer_id"] == "cus-giulia" and contact["email"] == "giulia@example.com"
    ticket = _body(_calls("/crm/v3/objects/tickets")[0])
    assert ticket["properties"]["socialcare_case_id"] == "SC-2026-1"
    assert ticket["properties"]["hs_pipeline"] == "0" and ticket["properties"]["hs_pipeline_stage"] == "3"
    assert ticket["properties"]["hs_ticket_priority"] == "HIGH"
    assert ticket["associations"] == [
        {"to": {"id": "c-1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}]}
    ]
    notes = [_body(c) for c in _calls("/crm/v3/objects/notes")]
    assert len(notes) == 2
    assert notes[0]["associations"][0]["types"][0]["associationTypeId"] == 228
    assert responses.calls[0].request.headers["Authorization"] == "Bearer pat-1"


@responses.activate
def test_existing_ticket_found_by_custom_property_is_patched() -> None:
    responses.post(
        f"{BASE}/crm/v3/objects/contacts/search",
        json={"results": [{"id": "c-2", "properties": {"socialcare_customer_id": "cus-giulia"}}]},
    )
    responses.post(f"{BASE}/crm/v3/objects/tickets/search", json={"results": [{"id": "t-1"}]})
    responses.patch(f"{BASE}/crm/v3/objects/tickets/t-1", json={"id": "t-1"})

    result = _adapter().upsert_case(CaseUpserted.from_view(sample_view(status="resolved", interactions=0)))

    assert result.record_id == "t-1" and not result.created
    assert not _calls("/crm/v3/objects/tickets")
    assert _body(_calls("/crm/v3/objects/tickets/t-1", "PATCH")[0])["properties"]["hs_pipeline_stage"] == "4"


@responses.activate
def test_contact_conflict_uses_the_existing_contact_id() -> None:
    responses.post(f"{BASE}/crm/v3/objects/contacts/search", json={"results": []})
    responses.post(
        f"{BASE}/crm/v3/objects/contacts",
        status=409,
        json={"status": "error", "message": "Contact already exists. Existing ID: 3131", "category": "CONFLICT"},
    )
    responses.post(f"{BASE}/crm/v3/objects/tickets/search", json={"results": []})
    responses.post(f"{BASE}/crm/v3/objects/tickets", json={"id": "t-3"}, status=201)

    _adapter().upsert_case(CaseUpserted.from_view(sample_view(interactions=0)))

    assert _body(_calls("/crm/v3/objects/tickets")[0])["associations"][0]["to"]["id"] == "3131"


@responses.activate
def test_missing_custom_property_is_a_permanent_error() -> None:
    responses.post(
        f"{BASE}/crm/v3/objects/contacts/search",
        status=400,
        json={"status": "error", "message": "There was a problem with the request.", "category": "VALIDATION_ERROR"},
    )
    with pytest.raises(Permanent, match="VALIDATION_ERROR"):
        _adapter().upsert_case(CaseUpserted.from_view(sample_view()))


@responses.activate
def test_unique_case_property_upserts_without_searching_and_associates_the_contact() -> None:
    responses.post(f"{BASE}/crm/v3/objects/contacts/search", json={"results": [{"id": "c-7", "properties": {}}]})
    responses.post(
        f"{BASE}/crm/v3/objects/tickets/batch/upsert",
        json={"status": "COMPLETE", "results": [{"id": "t-5", "new": True}]},
    )
    responses.put(f"{BASE}/crm/v4/objects/tickets/t-5/associations/default/contacts/c-7", json={"status": "COMPLETE"})
    adapter = HubSpotAdapter(
        {"access_token": "pat-1", "unique_case_property": True}, Http("hubspot", timeout=2), guard=MemoryGuard()
    )

    result = adapter.upsert_case(CaseUpserted.from_view(sample_view(interactions=0)))

    assert result.record_id == "t-5" and result.created
    (upsert,) = [_body(c) for c in _calls("/crm/v3/objects/tickets/batch/upsert")]
    assert upsert["inputs"][0]["idProperty"] == "socialcare_case_id"
    assert upsert["inputs"][0]["id"] == "SC-2026-1"
    assert upsert["inputs"][0]["properties"]["hs_pipeline_stage"] == "3"
    assert not _calls("/crm/v3/objects/tickets/search") and not _calls("/crm/v3/objects/tickets")
