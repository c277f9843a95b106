"""HubSpot adapter (CRM v3 objects API, requests - not hubspot-api-client; see docs/crm.md).

* Contact: one search with three OR-ed filter groups (``socialcare_customer_id``, ``email``,
  ``phone``); otherwise created, guarded by OnceGuard. A 409 "contact already exists" names the
  existing id, which is then used.
* Ticket: with ``unique_case_property`` (``socialcare_case_id`` created with unique values), one
  ``batch/upsert`` by that property plus a default association to the contact - a true upsert.
  Otherwise the stored record id first, else a search on ``socialcare_case_id``, else a create
  (associated with the contact, association type 16 = ticket to contact) guarded by OnceGuard -
  HubSpot's search index lags writes by seconds, so a search alone could not stop a retry from
  creating a twin.
* Interactions become notes associated with the ticket (association type 228 = note to ticket),
  each at most once.
* Erasure (GDPR): for each listed ticket its notes (they hold her words and are associated with
  the ticket only, so neither the ticket's deletion nor the contact's GDPR delete reaches them) are
  archived, then the ticket; then every contact carrying her ``socialcare_customer_id`` gets
  HubSpot's GDPR delete (permanent). A contact adopted by e-mail/phone is stamped with that
  property when adopted, so it is found too. A 404 means already gone.

Credentials (CrmCredentials JSON, key ``hubspot``): ``access_token`` (private app), optional
``base_url``, ``pipeline`` (default "0") and ``stages`` mapping our statuses to pipeline stage
ids (defaults: the default support pipeline's 1 new, 2 waiting on contact, 3 waiting on us, 4 closed).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from socialcare.crm import render
from socialcare.crm.base import CrmAdapter, CrmErasure, CrmError, Http, NoGuard, Permanent, UpsertResult
from socialcare.models.crm import CaseUpserted
from socialcare.ports import OnceGuard

CASE_PROPERTY = "socialcare_case_id"
CUSTOMER_PROPERTY = "socialcare_customer_id"
TICKET_TO_CONTACT = 16
NOTE_TO_TICKET = 228

DEFAULT_STAGES = {"new": "1", "open": "3", "pending": "2", "escalated": "3", "resolved": "4", "merged": "4"}
# Every portal has LOW/MEDIUM/HIGH; URGENT exists only on newer ones, so urgent maps to HIGH.
_PRIORITY = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "HIGH"}
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


def _eq(prop: str, value: str) -> dict[str, Any]:
    return {"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}


def _assoc(to_id: str, type_id: int) -> dict[str, Any]:
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


class HubSpotAdapter(CrmAdapter):
    provider: ClassVar[str] = "hubspot"

    def __init__(self, credentials: dict[str, Any], http: Http, *, guard: OnceGuard | None = None) -> None:
        token = credentials.get("access_token")
        if not token:
            raise Permanent("hubspot: crm_credentials.hubspot.access_token is missing")
        self.base = str(credentials.get("base_url") or "https://api.hubapi.com").rstrip("/")
        self.http = http
        self.http.session.headers["Authorization"] = f"Bearer {token}"
        self.guard = guard or NoGuard()
        self.pipeline = str(credentials.get("pipeline") or "0")
        self.stages = {**DEFAULT_STAGES, **(credentials.get("stages") or {})}
        # Portals where socialcare_case_id was created with "unique values" get a true upsert
        # (no search, no lagging index, no possible twin); the others search-then-create.
        self.unique_case_property = bool(credentials.get("unique_case_property"))

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = self.http.request(method, f"{self.base}{path}", **kw)
        return response.json() if response.content else {}

    def _search(self, object_type: str, groups: list[dict[str, Any]], properties: list[str]) -> list[dict[str, Any]]:
        doc = self._json(
            "POST",
            f"/crm/v3/objects/{object_type}/search",
            json={"filterGroups": groups, "properties": properties, "limit": 10},
            ok=(200,),
        )
        return list(doc.get("results") or [])

    # ------------------------------------------------------------------ contact

    def _contact_id(self, event: CaseUpserted) -> str:
        customer = event.customer
        groups = [_eq(CUSTOMER_PROPERTY, customer.id)]
        groups += [_eq("email", e) for e in customer.emails[:2]]
        groups += [_eq("phone", p) for p in customer.phones[:2]]  # HubSpot allows 5 groups
        found = self._search("contacts", groups, [CUSTOMER_PROPERTY, "email", "phone"])
        if found:
            ours = [c for c in found if (c.get("properties") or {}).get(CUSTOMER_PROPERTY) == customer.id]
            if ours:
                return str(ours[0]["id"])
            adopted = found[0]
            if not (adopted.get("properties") or {}).get(CUSTOMER_PROPERTY):
                # An agent-made contact found by e-mail/phone: stamp our id so an erasure finds it
                # (a contact already carrying another customer's id is used, never re-stamped).
                self._json("PATCH", f"/crm/v3/objects/contacts/{adopted['id']}",
                           json={"properties": {CUSTOMER_PROPERTY: customer.id}}, ok=(200,))
            return str(adopted["id"])
        return self.guard.once(f"hubspot:contact:{customer.id}", partial(self._create_contact, event))

    def _create_contact(self, event: CaseUpserted) -> str:
        customer = event.customer
        first, last = render.split_name(customer)
        props = {CUSTOMER_PROPERTY: customer.id, "firstname": first, "lastname": last}
        if customer.emails:
            props["email"] = customer.emails[0]
        if customer.phones:
            props["phone"] = customer.phones[0]
        try:
            doc = self._json("POST", "/crm/v3/objects/contacts", json={"properties": props}, ok=(200, 201))
        except CrmError as exc:  # a 409 (classified Retryable by Http) names the contact that exists
            match = _EXISTING_ID.search(exc.reason)
            if match and exc.status == 409:
                return match.group(1)
            raise
        return str(doc["id"])

    # ------------------------------------------------------------------ ticket

    def _properties(self, event: CaseUpserted) -> dict[str, str]:
        case = event.case
        return {
            "subject": render.subject(event),
            "content": render.summary(event),
            "hs_pipeline": self.pipeline,
            "hs_pipeline_stage": str(self.stages[case.status]),
            "hs_ticket_priority": _PRIORITY[case.priority],
            CASE_PROPERTY: case.id,
        }

    def _create_ticket(self, event: CaseUpserted, contact_id: str) -> str:
        found = self._search("tickets", [_eq(CASE_PROPERTY, event.case.id)], [CASE_PROPERTY])
        if found:
            return str(found[0]["id"])
        body = {"properties": self._properties(event), "associations": [_assoc(contact_id, TICKET_TO_CONTACT)]}
        return str(self._json("POST", "/crm/v3/objects/tickets", json=body, ok=(200, 201))["id"])

    def _upsert_by_unique_property(self, event: CaseUpserted, contact_id: str) -> tuple[str, bool]:
        body = {"inputs": [{"idProperty": CASE_PROPERTY, "id": event.case.id, "properties": self._properties(event)}]}
        doc = self._json("POST", "/crm/v3/objects/tickets/batch/upsert", json=body, ok=(200, 201))
        (result,) = doc["results"]
        ticket_id = str(result["id"])
        # Default (unlabelled) association: idempotent, so repeating it on every sync is harmless.
        self._json(
            "PUT", f"/crm/v4/objects/tickets/{ticket_id}/associations/default/contacts/{contact_id}", ok=(200, 201)
        )
        return ticket_id, bool(result.get("new"))

    def _search_or_create(self, event: CaseUpserted, contact_id: str, record_id: str | None) -> tuple[str, bool]:
        ticket_id = record_id
        if ticket_id is None:
            found = self._search("tickets", [_eq(CASE_PROPERTY, event.case.id)], [CASE_PROPERTY])
            ticket_id = str(found[0]["id"]) if found else None
        if ticket_id is None:
            create = partial(self._create_ticket, event, contact_id)
            return self.guard.once(f"hubspot:create:{event.case.id}", create), True
        try:
            self._json(
                "PATCH", f"/crm/v3/objects/tickets/{ticket_id}", json={"properties": self._properties(event)}, ok=(200,)
            )
        except Permanent as exc:
            if exc.status != 404 or record_id is None:
                raise
            return self._search_or_create(event, contact_id, None)  # the stored ticket was deleted
        return ticket_id, False

    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        case = event.case
        contact_id = self._contact_id(event)
        if self.unique_case_property:
            ticket_id, created = self._upsert_by_unique_property(event, contact_id)
        else:
            ticket_id, created = self._search_or_create(event, contact_id, record_id)
        for interaction in event.interactions:
            if interaction.text:
                self.guard.once(
                    f"hubspot:note:{case.id}:{interaction.id}",
                    partial(self._note, ticket_id, render.note(interaction), interaction.occurred_at),
                )
        for key, body, at in render.reply_notes(event):
            self.guard.once(f"hubspot:reply:{case.id}:{key}", partial(self._note, ticket_id, body, at))
        if case.status == "merged" and case.merged_into:
            self.guard.once(
                f"hubspot:merged:{case.id}:{case.merged_into}",
                partial(self._note, ticket_id, render.merged_note(event), datetime.now(UTC)),
            )
        return UpsertResult(record_id=ticket_id, created=created)

    def _note(self, ticket_id: str, body: str, when: datetime) -> str:
        doc = self._json(
            "POST",
            "/crm/v3/objects/notes",
            json={
                "properties": {"hs_timestamp": when.astimezone(UTC).isoformat(), "hs_note_body": body},
                "associations": [_assoc(ticket_id, NOTE_TO_TICKET)],
            },
            ok=(200, 201),
        )
        return str(doc.get("id", ""))

    # ------------------------------------------------------------------ erasure (GDPR)

    def erase_customer(self, request: CrmErasure) -> None:
        for _, ticket_id in request.records:
            self._archive_notes(ticket_id)
            self.http.request("DELETE", f"{self.base}/crm/v3/objects/tickets/{ticket_id}", ok=(204, 404))
        found = self._search("contacts", [_eq(CUSTOMER_PROPERTY, request.customer_id)], [CUSTOMER_PROPERTY])
        for contact in found:
            # Permanent and irreversible: only a contact whose property is exactly her id.
            if (contact.get("properties") or {}).get(CUSTOMER_PROPERTY) != request.customer_id:
                continue
            self.http.request(
                "POST", f"{self.base}/crm/v3/objects/contacts/gdpr-delete",
                json={"objectId": str(contact["id"])}, ok=(200, 204, 404),
            )

    def _archive_notes(self, ticket_id: str) -> None:
        note_ids: list[str] = []
        params: dict[str, Any] = {"limit": 500}
        while True:
            response = self.http.request(
                "GET", f"{self.base}/crm/v4/objects/tickets/{ticket_id}/associations/notes", params=params,
                ok=(200, 404),
            )
            if response.status_code == 404:  # the ticket is gone (a previous attempt archived it)
                return
            doc = response.json()
            note_ids += [str(r["toObjectId"]) for r in doc.get("results") or []]
            after = ((doc.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
            params = {"limit": 500, "after": after}
        for start in range(0, len(note_ids), 100):  # batch/archive takes 100 inputs
            batch = [{"id": note_id} for note_id in note_ids[start:start + 100]]
            self.http.request("POST", f"{self.base}/crm/v3/objects/notes/batch/archive", json={"inputs": batch},
                              ok=(204,))
