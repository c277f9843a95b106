"""Salesforce adapter against the documented REST shapes (responses; no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from responses import matchers

from socialcare.crm.base import CrmErasure, Http, Permanent, Retryable
from socialcare.crm.salesforce import SalesforceAdapter
from socialcare.crm.samples import sample_view
from socialcare.models.crm import CaseUpserted

INSTANCE = "https://acme.my.salesforce.com"
API = f"{INSTANCE}/services/data/v61.0"
CASE_URL = f"{API}/sobjects/Case/Socialcare_Case_Id__c/SC-2026-1"


class MemoryGuard:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


def _adapter(guard: MemoryGuard | None = None, **creds: str) -> SalesforceAdapter:
    credentials = {"instance_url": INSTANCE, "access_token": "tok", **creds}
    return SalesforceAdapter(credentials, Http("salesforce", timeout=2), guard=guard or MemoryGuard())


def _json(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def _ok_contact_query(records: list[dict] | None = None) -> None:
    responses.get(f"{API}/query", json={"totalSize": len(records or []), "done": True, "records": records or []})


@responses.activate
def test_case_is_upserted_by_external_id_with_contact_and_comments() -> None:
    _ok_contact_query()
    responses.patch(
        f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia",
        json={"id": "003C", "success": True, "errors": [], "created": True},
        status=201,
    )
    responses.patch(CASE_URL, json={"id": "500A", "success": True, "errors": [], "created": True}, status=201)
    responses.post(f"{API}/sobjects/CaseComment", json={"id": "00aX", "success": True, "errors": []}, status=201)
    event = CaseUpserted.from_view(sample_view(channels=("x", "whatsapp")))

    result = _adapter().upsert_case(event)

    assert result.record_id == "500A" and result.created
    soql = parse_qs(urlparse(responses.calls[0].request.url).query)["q"][0]
    assert "Socialcare_Customer_Id__c = 'cus-giulia'" in soql
    assert "Email IN ('giulia@example.com')" in soql and "Phone IN ('+393331234567')" in soql
    contact = _json(responses.calls[1])
    assert contact["LastName"] == "Rossi" and contact["FirstName"] == "Giulia"
    assert "Socialcare_Customer_Id__c" not in contact  # the external id is in the URL
    case = _json(responses.calls[2])
    assert responses.calls[2].request.method == "PATCH"
    assert case["ContactId"] == "003C" and case["Status"] == "Working" and case["Priority"] == "High"
    assert "Socialcare_Case_Id__c" not in case
    assert all(c.request.headers["Authorization"] == "Bearer tok" for c in responses.calls)
    comments = [_json(c) for c in responses.calls if c.request.url.endswith("/CaseComment")]
    assert [c["ParentId"] for c in comments] == ["500A", "500A"]
    assert all(c["IsPublished"] is False for c in comments)
    assert "il pacco non è arrivato" in comments[0]["CommentBody"]


@responses.activate
def test_contact_found_by_email_is_adopted_not_duplicated() -> None:
    _ok_contact_query([{"Id": "003AGENT", "Socialcare_Customer_Id__c": None}])
    responses.patch(f"{API}/sobjects/Contact/003AGENT", status=204)
    responses.patch(CASE_URL, json={"id": "500A", "success": True, "errors": [], "created": False}, status=200)
    responses.post(f"{API}/sobjects/CaseComment", json={"id": "00aX"}, status=201)

    _adapter().upsert_case(CaseUpserted.from_view(sample_view()))

    assert _json(responses.calls[1])["Socialcare_Customer_Id__c"] == "cus-giulia"
    assert not any("/Contact/Socialcare_Customer_Id__c/" in c.request.url for c in responses.calls)
    assert _json(responses.calls[2])["ContactId"] == "003AGENT"


@responses.activate
def test_a_retry_posts_no_comment_twice_and_updates_the_same_case() -> None:
    responses.patch(
        f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia", json={"id": "003C", "created": False}
    )
    responses.patch(CASE_URL, json={"id": "500A", "created": False})
    responses.post(f"{API}/sobjects/CaseComment", json={"id": "00aX"}, status=201)
    guard = MemoryGuard()
    adapter = _adapter(guard)
    view = sample_view(email=None, phone=None)

    adapter.upsert_case(CaseUpserted.from_view(view))
    adapter.upsert_case(
        CaseUpserted.from_view(view.model_copy(update={"case": view.case.model_copy(update={"version": 2})}))
    )

    comment_posts = [c for c in responses.calls if c.request.url.endswith("/CaseComment")]
    assert len(comment_posts) == 2  # two interactions, each once across both syncs
    assert [c.request.url for c in responses.calls].count(CASE_URL) == 2


@responses.activate
def test_api_before_46_answers_204_and_the_id_is_read_back() -> None:
    responses.patch(f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia", status=204)
    responses.get(f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia", json={"Id": "003OLD"})
    responses.patch(CASE_URL, status=204)
    responses.get(CASE_URL, json={"Id": "500OLD"}, match=[matchers.query_param_matcher({"fields": "Id"})])
    result = _adapter().upsert_case(CaseUpserted.from_view(sample_view(email=None, phone=None, interactions=0)))
    assert result.record_id == "500OLD"


@responses.activate
def test_expired_session_is_renewed_once_with_client_credentials() -> None:
    responses.post(f"{INSTANCE}/services/oauth2/token", json={"access_token": "fresh", "instance_url": INSTANCE})
    responses.patch(
        f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia",
        status=401,
        json=[{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}],
    )
    responses.patch(
        f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia", json={"id": "003C", "created": False}
    )
    responses.patch(CASE_URL, json={"id": "500A", "created": False})
    adapter = _adapter(client_id="cid", client_secret="csecret")

    adapter.upsert_case(CaseUpserted.from_view(sample_view(email=None, phone=None, interactions=0)))

    token_call = responses.calls[1]
    assert parse_qs(token_call.request.body)["grant_type"] == ["client_credentials"]
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer fresh"


@responses.activate
def test_request_limit_exceeded_is_retryable_and_a_bad_field_is_permanent() -> None:
    url = f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia"
    responses.patch(
        url, status=403, json=[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    )
    with pytest.raises(Retryable):
        _adapter().upsert_case(CaseUpserted.from_view(sample_view(email=None, phone=None)))
    responses.replace(
        responses.PATCH,
        url,
        status=400,
        json=[{"errorCode": "INVALID_FIELD", "message": "No such column 'Socialcare_Customer_Id__c'"}],
    )
    with pytest.raises(Permanent, match="INVALID_FIELD"):
        _adapter().upsert_case(CaseUpserted.from_view(sample_view(email=None, phone=None)))


@responses.activate
def test_merged_case_is_closed_with_a_comment_naming_the_survivor() -> None:
    responses.patch(f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia", json={"id": "003C"})
    responses.patch(f"{API}/sobjects/Case/Socialcare_Case_Id__c/SC-2026-9", json={"id": "500M", "created": False})
    responses.post(f"{API}/sobjects/CaseComment", json={"id": "00aM"}, status=201)
    view = sample_view("SC-2026-9", status="merged", merged_into="SC-2026-1", email=None, phone=None, interactions=0)

    _adapter().upsert_case(CaseUpserted.from_view(view))

    assert _json(responses.calls[1])["Status"] == "Closed"
    assert "SC-2026-1" in _json(responses.calls[2])["CommentBody"]


def test_soql_values_are_quoted() -> None:
    from socialcare.crm.salesforce import soql_quote

    assert soql_quote("o'brien\\x") == "'o\\'brien\\\\x'"


ERASURE = CrmErasure(customer_id="cus-giulia", records=(("SC-2026-1", "500A"), ("SC-2026-2", "500B")),
                     delivery_id="job-1")
CONTACT_BY_EXTERNAL_ID = f"{API}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia"


@responses.activate
def test_erasure_deletes_her_cases_then_her_contact_and_a_404_is_already_gone() -> None:
    responses.delete(f"{API}/sobjects/Case/500A", status=204)
    responses.delete(  # deleted by an agent (or by our previous attempt): in the recycle bin
        f"{API}/sobjects/Case/500B", status=404,
        json=[{"errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
    )
    responses.delete(CONTACT_BY_EXTERNAL_ID, status=204)

    _adapter().erase_customer(ERASURE)

    # cases first: Salesforce refuses to delete a contact that still has cases
    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("DELETE", f"{API}/sobjects/Case/500A"),
        ("DELETE", f"{API}/sobjects/Case/500B"),
        ("DELETE", CONTACT_BY_EXTERNAL_ID),
    ]
    assert all(c.request.headers["Authorization"] == "Bearer tok" for c in responses.calls)


@responses.activate
def test_erasure_of_a_customer_salesforce_never_had_completes() -> None:
    responses.delete(CONTACT_BY_EXTERNAL_ID, status=404,
                     json=[{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    _adapter().erase_customer(CrmErasure(customer_id="cus-giulia"))
    assert len(responses.calls) == 1


@responses.activate
def test_erasure_during_an_outage_is_retryable_and_a_refusal_is_permanent() -> None:
    responses.delete(f"{API}/sobjects/Case/500A", status=503, body="Service Unavailable")
    with pytest.raises(Retryable) as outage:
        _adapter().erase_customer(ERASURE)
    assert outage.value.status == 503
    assert len(responses.calls) == 1  # nothing after the failed step; the job retries from the start

    responses.replace(responses.DELETE, f"{API}/sobjects/Case/500A", status=204)
    responses.delete(f"{API}/sobjects/Case/500B", status=204)
    responses.delete(  # an agent's own case still points at her contact
        CONTACT_BY_EXTERNAL_ID, status=400,
        json=[{"errorCode": "DELETE_FAILED", "message": "Your attempt to delete Giulia Rossi could not be completed"}],
    )
    with pytest.raises(Permanent, match="DELETE_FAILED") as refused:
        _adapter().erase_customer(ERASURE)
    assert "Giulia" not in refused.value.reason  # the reason is logged and kept with the DLQ message


@responses.activate
def test_erasure_without_delete_permission_fails_clearly() -> None:
    responses.delete(f"{API}/sobjects/Case/500A", status=403,
                     json=[{"errorCode": "INSUFFICIENT_ACCESS_OR_READONLY", "message": "insufficient access rights"}])
    with pytest.raises(Permanent, match="DELETE /sobjects/Case/500A answered 403: INSUFFICIENT_ACCESS_OR_READONLY"):
        _adapter().erase_customer(ERASURE)
