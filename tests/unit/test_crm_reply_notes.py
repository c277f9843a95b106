"""The CRM hears back about replies: the case's reply states reach the CRM's read model, and each
vendor's record shows what was sent, refused or failed, and why - once per outcome, however often
the case is synced (responses; no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import responses

from socialcare.crm.base import Http
from socialcare.crm.render import reply_line
from socialcare.crm.salesforce import SalesforceAdapter
from socialcare.crm.samples import sample_view
from socialcare.crm.zendesk import ZendeskAdapter
from socialcare.domain.crm_view import case_view
from socialcare.domain.replies.state import merge_state
from socialcare.models.case import Case, Sla
from socialcare.models.crm import CaseUpserted, CustomerView, ReplyView
from socialcare.models.reply import ReplyRoute, ReplyState, ReplyStatus

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ZENDESK = "https://acme.zendesk.com/api/v2"
SALESFORCE = "https://acme.my.salesforce.com/services/data/v61.0"
WINDOW = "whatsapp_24h_window: WhatsApp's 24-hour customer service window closed 1 h ago"


class MemoryGuard:
    def __init__(self) -> None:
        self.done: dict[str, str] = {}

    def once(self, key: str, action: Callable[[], str]) -> str:
        if key not in self.done:
            self.done[key] = action()
        return self.done[key]


def _state(n: str, status: ReplyStatus, *, reason: str | None = None, minutes: int = 0) -> ReplyState:
    return ReplyState(interaction_id=f"reply:{n}", status=status, route=ReplyRoute.MESSAGE, channel="whatsapp",
                      source="crm:zendesk", agent="Marta", in_reply_to="whatsapp:wamid.1", reason=reason,
                      at=T0 + timedelta(minutes=minutes))


def _event(*replies: ReplyView, version: int = 2) -> CaseUpserted:
    return CaseUpserted.from_view(sample_view(version=version).model_copy(update={"replies": list(replies)}))


def _view(state: ReplyState) -> ReplyView:
    return ReplyView.model_validate(state.model_dump(mode="json"))


def test_the_read_model_carries_the_cases_reply_states_as_they_stand() -> None:
    case = Case(id="SC-2026-1", sla=Sla(policy="private/normal", calendar="social", started_at=T0,
                                         first_response_due=T0 + timedelta(hours=1),
                                         resolution_due=T0 + timedelta(hours=8)),
                opened_at=T0, updated_at=T0, version=4)
    merge_state(case, _state("a", ReplyStatus.QUEUED))
    merge_state(case, _state("a", ReplyStatus.SENT, minutes=1).model_copy(update={"platform_message_id": "wamid.9"}))
    merge_state(case, _state("b", ReplyStatus.REFUSED, reason=WINDOW, minutes=2))

    view = case_view(case, CustomerView(id="cus-1"))

    assert [(r.interaction_id, r.status) for r in view.replies] == [("reply:a", "sent"), ("reply:b", "refused")]
    assert view.replies[0].platform_message_id == "wamid.9" and view.replies[1].reason == WINDOW
    assert CaseUpserted.from_view(view).replies == view.replies


@responses.activate
def test_zendesk_notes_each_sent_refused_or_failed_reply_once_with_its_reason() -> None:
    responses.post(f"{ZENDESK}/users/create_or_update", json={"user": {"id": 901}})
    responses.put(f"{ZENDESK}/tickets/4242", json={"ticket": {"id": 4242}})
    adapter = ZendeskAdapter({"subdomain": "acme", "email": "bot@acme.test", "api_token": "z"},
                             Http("zendesk", timeout=2), guard=MemoryGuard())
    queued = _view(_state("a", ReplyStatus.QUEUED))
    refused = _view(_state("b", ReplyStatus.REFUSED, reason=WINDOW, minutes=1))

    adapter.upsert_case(_event(queued, refused), record_id="4242")
    sent = _view(_state("a", ReplyStatus.SENT, minutes=2))
    adapter.upsert_case(_event(sent, refused, version=3), record_id="4242")  # synced again: the reply went out

    comments = [json.loads(c.request.body)["ticket"].get("comment") for c in responses.calls
                if c.request.method == "PUT"]
    notes = [c["body"] for c in comments if c and c["body"].startswith("[socialcare reply")]
    assert len(notes) == 2 and all(c["public"] is False for c in comments if c)
    refused_note, sent_note = notes
    assert refused_note.startswith("[socialcare reply refused: whatsapp message by Marta (crm:zendesk)")
    assert WINDOW in refused_note and "in reply to: whatsapp:wamid.1" in refused_note
    assert sent_note.startswith("[socialcare reply sent: whatsapp message by Marta")


@responses.activate
def test_salesforce_describes_the_latest_replies_and_comments_a_failure() -> None:
    responses.get(f"{SALESFORCE}/query", json={"totalSize": 0, "done": True, "records": []})
    responses.patch(f"{SALESFORCE}/sobjects/Contact/Socialcare_Customer_Id__c/cus-giulia",
                    json={"id": "003C", "success": True, "errors": []}, status=200)
    case_url = f"{SALESFORCE}/sobjects/Case/Socialcare_Case_Id__c/SC-2026-1"
    responses.patch(case_url, json={"id": "500A", "success": True, "errors": []}, status=200)
    comment = responses.post(f"{SALESFORCE}/sobjects/CaseComment", json={"id": "00aX", "success": True},
                             status=201)
    adapter = SalesforceAdapter({"instance_url": "https://acme.my.salesforce.com", "access_token": "t"},
                                Http("salesforce", timeout=2), guard=MemoryGuard())
    failed = _view(_state("c", ReplyStatus.FAILED, reason="131047: more than 24 hours since the customer replied"))

    adapter.upsert_case(_event(failed))

    case = json.loads(next(c for c in responses.calls if c.request.url == case_url).request.body)
    assert "replies (newest last):" in case["Description"]
    assert "failed: whatsapp message by Marta (crm:zendesk)" in case["Description"]
    assert "why: 131047: more than 24 hours" in case["Description"]
    bodies = [json.loads(c.request.body)["CommentBody"] for c in responses.calls if c.request.url == comment.url]
    assert sum(b.startswith("[socialcare reply failed") for b in bodies) == 1


def test_the_reply_line_reads_for_an_agent_without_a_name() -> None:
    line = reply_line(ReplyView(interaction_id="reply:z", status="queued", channel="x", source="api", at=T0))
    assert line == "queued: x reply by api, 2026-11-20T09:00:00+00:00"

