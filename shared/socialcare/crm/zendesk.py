"""Zendesk adapter (Support REST API v2, requests - not zenpy; see docs/crm.md for why).

* Requester: ``POST /api/v2/users/create_or_update`` matches an existing user by e-mail or
  ``external_id`` (our customer id); a customer known only by phone is first looked up with
  ``/api/v2/users/search?query=phone:...`` so an agent-made user is reused, not duplicated.
* Ticket: the stored record id first, else ``GET /api/v2/tickets?external_id=<case id>``, else a
  create guarded by OnceGuard (two invocations racing on one case cannot both create).
* Interactions become private notes (``public: false``): a public comment would e-mail the
  customer their own message back.

* Erasure (GDPR): each ticket deleted, then permanently (``/deleted_tickets``), then the requester
  found by ``external_id`` deleted, then permanently (``/deleted_users``): Zendesk's own
  procedure for a right-to-erasure request. A 404 on any of them means already gone.

Credentials (CrmCredentials JSON, key ``zendesk``): ``subdomain`` (or ``base_url``) and either
``email`` + ``api_token`` or ``oauth_token``.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from socialcare.crm import render
from socialcare.crm.base import CrmAdapter, CrmErasure, Http, NoGuard, Permanent, UpsertResult
from socialcare.models.crm import CaseUpserted
from socialcare.ports import OnceGuard

_STATUS = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "escalated": "open",
    "resolved": "solved",
    # "closed" would freeze the ticket for good; solved is closed for agents and still linkable.
    "merged": "solved",
}


class ZendeskAdapter(CrmAdapter):
    provider: ClassVar[str] = "zendesk"

    def __init__(self, credentials: dict[str, Any], http: Http, *, guard: OnceGuard | None = None) -> None:
        base = credentials.get("base_url") or (
            f"https://{credentials['subdomain']}.zendesk.com" if credentials.get("subdomain") else ""
        )
        if not base:
            raise Permanent("zendesk: crm_credentials.zendesk needs subdomain or base_url")
        self.base = str(base).rstrip("/") + "/api/v2"
        self.http = http
        self.guard = guard or NoGuard()
        if credentials.get("oauth_token"):
            self.http.session.headers["Authorization"] = f"Bearer {credentials['oauth_token']}"
        elif credentials.get("email") and credentials.get("api_token"):
            self.http.session.auth = (f"{credentials['email']}/token", str(credentials["api_token"]))
        else:
            raise Permanent("zendesk: crm_credentials.zendesk needs email+api_token or oauth_token")

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = self.http.request(method, f"{self.base}{path}", **kw)
        return response.json() if response.content else {}

    def _requester_id(self, event: CaseUpserted) -> int:
        customer = event.customer
        if customer.phones and not customer.emails:
            found = self._json("GET", "/users/search", params={"query": f"phone:{customer.phones[0]}"}, ok=(200,))
            users = found.get("users") or []
            if len(users) == 1:
                return int(users[0]["id"])
        user: dict[str, Any] = {"name": customer.name or customer.id, "external_id": customer.id}
        if customer.emails:
            user["email"] = customer.emails[0]
            user["verified"] = True  # we hold it from a platform; do not send Zendesk's verify e-mail
        if customer.phones:
            user["phone"] = customer.phones[0]
        doc = self._json("POST", "/users/create_or_update", json={"user": user}, ok=(200, 201))
        return int(doc["user"]["id"])

    def _find_ticket(self, case_id: str) -> int | None:
        doc = self._json("GET", "/tickets", params={"external_id": case_id}, ok=(200,))
        tickets = sorted(doc.get("tickets") or [], key=lambda t: int(t["id"]))
        return int(tickets[0]["id"]) if tickets else None

    def _create_ticket(self, event: CaseUpserted, requester_id: int) -> str:
        # Re-check inside the guard: a previous attempt may have created it and lost the answer.
        existing = self._find_ticket(event.case.id)
        if existing is not None:
            return str(existing)
        ticket = {
            **self._fields(event, requester_id),
            "subject": render.subject(event),
            "comment": {"body": render.summary(event), "public": False},
            "external_id": event.case.id,
        }
        doc = self._json("POST", "/tickets", json={"ticket": ticket}, ok=(200, 201))
        return str(doc["ticket"]["id"])

    @staticmethod
    def _fields(event: CaseUpserted, requester_id: int) -> dict[str, Any]:
        case = event.case
        tags = ["socialcare", *[f"channel_{c}" for c in case.channels]]
        if case.team:
            tags.append(f"team_{case.team}")
        return {
            "status": _STATUS[case.status],
            "priority": case.priority,
            "requester_id": requester_id,
            "tags": tags,
        }

    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        case = event.case
        requester_id = self._requester_id(event)
        ticket_id: str | None = record_id
        created = False
        if ticket_id is None:
            found = self._find_ticket(case.id)
            ticket_id = str(found) if found is not None else None
        if ticket_id is None:
            ticket_id = self.guard.once(f"zendesk:create:{case.id}", partial(self._create_ticket, event, requester_id))
            created = True
        else:
            try:
                self._json(
                    "PUT", f"/tickets/{ticket_id}", json={"ticket": self._fields(event, requester_id)}, ok=(200,)
                )
            except Permanent as exc:
                if exc.status != 404 or record_id is None:
                    raise
                # The stored id points at a deleted ticket: forget it and upsert by external id.
                return self.upsert_case(event, record_id=None)
        for interaction in event.interactions:
            if interaction.text:
                self.guard.once(
                    f"zendesk:comment:{case.id}:{interaction.id}",
                    partial(self._note, ticket_id, render.note(interaction)),
                )
        for key, body, _ in render.reply_notes(event):
            self.guard.once(f"zendesk:reply:{case.id}:{key}", partial(self._note, ticket_id, body))
        if case.status == "merged" and case.merged_into:
            self.guard.once(
                f"zendesk:merged:{case.id}:{case.merged_into}",
                partial(self._note, ticket_id, render.merged_note(event)),
            )
        return UpsertResult(record_id=ticket_id, created=created)

    def _note(self, ticket_id: str, body: str) -> str:
        self._json(
            "PUT", f"/tickets/{ticket_id}", json={"ticket": {"comment": {"body": body, "public": False}}}, ok=(200,)
        )
        return ticket_id

    def erase_customer(self, request: CrmErasure) -> None:
        gone = (200, 204, 404)
        for _, ticket_id in request.records:
            self.http.request("DELETE", f"{self.base}/tickets/{ticket_id}", ok=gone)
            self.http.request("DELETE", f"{self.base}/deleted_tickets/{ticket_id}", ok=gone)
        found = self._json("GET", "/users/search", params={"external_id": request.customer_id}, ok=(200,))
        for user in found.get("users") or []:
            self.http.request("DELETE", f"{self.base}/users/{user['id']}", ok=gone)
            self.http.request("DELETE", f"{self.base}/deleted_users/{user['id']}", ok=gone)
