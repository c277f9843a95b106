"""HubSpot adapter against the documented CRM v3 shapes (responses; no network)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import responses

from socialcare.crm.base import CrmErasure, Http, Permanent, Retryable
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
    responses.post(
        f"{BASE}/crm/v3/objects/contacts/search",
        json={"results": [{"id": "c-7", "properties": {"socialcare_customer_id": "cus-giulia"}}]},
    )
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


@responses.activate
def test_a_contact_adopted_by_email_is_stamped_with_our_customer_id() -> None:
    responses.post(  # an agent-made contact, found by her e-mail
        f"{BASE}/crm/v3/objects/contacts/search", json={"results": [{"id": "c-8", "properties": {"email": "x"}}]}
    )
    responses.patch(f"{BASE}/crm/v3/objects/contacts/c-8", json={"id": "c-8"})
    responses.post(f"{BASE}/crm/v3/objects/tickets/search", json={"results": []})
    responses.post(f"{BASE}/crm/v3/objects/tickets", json={"id": "t-8"}, status=201)

    _adapter().upsert_case(CaseUpserted.from_view(sample_view(interactions=0)))

    (stamp,) = _calls("/crm/v3/objects/contacts/c-8", "PATCH")
    assert _body(stamp) == {"properties": {"socialcare_customer_id": "cus-giulia"}}
    assert _body(_calls("/crm/v3/objects/tickets")[0])["associations"][0]["to"]["id"] == "c-8"
    assert not _calls("/crm/v3/objects/contacts")  # adopted, not duplicated


ERASURE = CrmErasure(customer_id="cus-giulia", records=(("SC-2026-1", "t-1"), ("SC-2026-2", "t-2")),
                     delivery_id="job-1")


def _erasable(ticket_1_notes: list[list[str]]) -> None:
    """t-1 with its notes (one page per list), t-2 already deleted, two contacts found."""
    pages = len(ticket_1_notes)
    for index, page in enumerate(ticket_1_notes):
        doc: dict = {"results": [{"toObjectId": n, "associationTypes": [{"typeId": 227}]} for n in page]}
        if index + 1 < pages:
            doc["paging"] = {"next": {"after": f"cursor-{index + 1}"}}
        params = {"limit": "500", **({"after": f"cursor-{index}"} if index else {})}
        responses.get(f"{BASE}/crm/v4/objects/tickets/t-1/associations/notes", json=doc,
                      match=[responses.matchers.query_param_matcher(params)])
    responses.post(f"{BASE}/crm/v3/objects/notes/batch/archive", status=204)
    responses.delete(f"{BASE}/crm/v3/objects/tickets/t-1", status=204)
    responses.get(f"{BASE}/crm/v4/objects/tickets/t-2/associations/notes", status=404,
                  json={"status": "error", "category": "OBJECT_NOT_FOUND"})
    responses.delete(f"{BASE}/crm/v3/objects/tickets/t-2", status=404, json={"status": "error"})
    responses.post(f"{BASE}/crm/v3/objects/contacts/search", json={"results": [
        {"id": "c-1", "properties": {"socialcare_customer_id": "cus-giulia"}},
        {"id": "c-2", "properties": {"socialcare_customer_id": "CUS-GIULIA"}},  # not hers: never GDPR-deleted
    ]})
    responses.post(f"{BASE}/crm/v3/objects/contacts/gdpr-delete", status=204)


@responses.activate
def test_erasure_archives_notes_and_tickets_then_gdpr_deletes_her_contact() -> None:
    _erasable([[str(n) for n in range(100, 250)], ["900"]])

    _adapter().erase_customer(ERASURE)

    assert [(c.request.method, str(c.request.url).split("?")[0].removeprefix(BASE)) for c in responses.calls] == [
        ("GET", "/crm/v4/objects/tickets/t-1/associations/notes"),
        ("GET", "/crm/v4/objects/tickets/t-1/associations/notes"),
        ("POST", "/crm/v3/objects/notes/batch/archive"),
        ("POST", "/crm/v3/objects/notes/batch/archive"),
        ("DELETE", "/crm/v3/objects/tickets/t-1"),
        ("GET", "/crm/v4/objects/tickets/t-2/associations/notes"),
        ("DELETE", "/crm/v3/objects/tickets/t-2"),
        ("POST", "/crm/v3/objects/contacts/search"),
        ("POST", "/crm/v3/objects/contacts/gdpr-delete"),
    ]
    archived = [i["id"] for c in _calls("/crm/v3/objects/notes/batch/archive") for i in _body(c)["inputs"]]
    assert [len(_body(c)["inputs"]) for c in _calls("/crm/v3/objects/notes/batch/archive")] == [100, 51]
    assert archived == [str(n) for n in range(100, 250)] + ["900"]
    assert _body(_calls("/crm/v3/objects/contacts/search")[0])["filterGroups"] == [
        {"filters": [{"propertyName": "socialcare_customer_id", "operator": "EQ", "value": "cus-giulia"}]}
    ]
    assert [_body(c) for c in _calls("/crm/v3/objects/contacts/gdpr-delete")] == [{"objectId": "c-1"}]
    assert all(c.request.headers["Authorization"] == "Bearer pat-1" for c in responses.calls)


@responses.activate
def test_erasure_during_an_outage_is_retryable_and_missing_scopes_are_permanent() -> None:
    _erasable([["300"]])
    responses.replace(responses.POST, f"{BASE}/crm/v3/objects/contacts/gdpr-delete", status=503)
    with pytest.raises(Retryable) as outage:
        _adapter().erase_customer(ERASURE)
    assert outage.value.status == 503

    responses.replace(
        responses.POST, f"{BASE}/crm/v3/objects/contacts/gdpr-delete", status=403,
        json={"status": "error", "message": "This app hasn't been granted all required scopes",
              "category": "MISSING_SCOPES"},
    )
    with pytest.raises(Permanent, match="gdpr-delete answered 403.*MISSING_SCOPES"):
        _adapter().erase_customer(ERASURE)
