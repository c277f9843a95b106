"""Salesforce adapter (REST API, requests - not simple-salesforce; see docs/crm.md for why).

* Contact: matched by our external id ``Socialcare_Customer_Id__c``, e-mail or phone (one SOQL
  query); a match is updated by Id, otherwise the Contact is upserted by the external id, which
  is itself idempotent.
* Case: upserted by the external id field ``Socialcare_Case_Id__c``
  (``PATCH /sobjects/Case/Socialcare_Case_Id__c/<case id>``): a retry can never create a second
  Case.
* CaseComment per interaction, each posted at most once (OnceGuard keyed by interaction id:
  CaseComment has no external id to upsert on).
* Erasure (GDPR): each listed Case deleted by Id (its CaseComments go with it), then the Contact
  by our external id - a created or an adopted contact carries it. Cases first: Salesforce will
  not delete a Contact that still has cases. A 404 (``ENTITY_IS_DELETED``, ``NOT_FOUND``) means
  already gone. Deleted records sit in the recycle bin ~15 days (docs/privacy.md).

Credentials (CrmCredentials JSON, key ``salesforce``): ``instance_url`` plus either
``access_token`` or ``client_id``/``client_secret`` (OAuth 2.0 client-credentials flow, token
cached per execution environment and refreshed once on 401). Optional ``case_origin``.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from socialcare.crm import render
from socialcare.crm.base import CrmAdapter, CrmErasure, Http, NoGuard, Permanent, UpsertResult
from socialcare.models.crm import CaseUpserted
from socialcare.ports import OnceGuard

CASE_EXTERNAL_ID = "Socialcare_Case_Id__c"
CONTACT_EXTERNAL_ID = "Socialcare_Customer_Id__c"

_STATUS = {
    "new": "New",
    "open": "Working",
    "pending": "Working",
    "escalated": "Escalated",
    "resolved": "Closed",
    "merged": "Closed",
}
_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}


_ERROR_CODE = re.compile(r'"errorCode"\s*:\s*"(\w+)"')


def _throttled(response: requests.Response) -> bool:
    # Salesforce reports an exhausted API allowance as 403 REQUEST_LIMIT_EXCEEDED, not 429.
    return response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in (response.text or "")


def soql_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceAdapter(CrmAdapter):
    provider: ClassVar[str] = "salesforce"

    def __init__(
        self,
        credentials: dict[str, Any],
        http: Http,
        *,
        guard: OnceGuard | None = None,
        api_version: str = "v61.0",
    ) -> None:
        instance = str(credentials.get("instance_url") or "").rstrip("/")
        if not instance:
            raise Permanent("salesforce: crm_credentials.salesforce.instance_url is missing")
        self.instance_url = instance
        self.credentials = credentials
        self.http = http
        self.http.also_retryable = _throttled
        self.guard = guard or NoGuard()
        self.base = f"{instance}/services/data/{api_version}"
        self.origin = str(credentials.get("case_origin") or "Web")
        self._token: str | None = credentials.get("access_token") or None

    # ------------------------------------------------------------------ auth

    def _login(self) -> str:
        client_id, secret = self.credentials.get("client_id"), self.credentials.get("client_secret")
        if not (client_id and secret):
            raise Permanent("salesforce: access token rejected and no client_id/client_secret to renew it")
        response = self.http.request(
            "POST",
            f"{self.instance_url}/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            ok=(200,),
        )
        token = response.json().get("access_token")
        if not token:
            raise Permanent("salesforce: token endpoint answered without access_token")
        self._token = str(token)
        return self._token

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kw: Any) -> requests.Response:
        token = self._token or self._login()
        url = path if path.startswith("http") else f"{self.base}{path}"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                return self.http.request(method, url, headers=headers, ok=ok, **kw)
            except Permanent as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                token = self._login()  # expired session: renew once
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ records

    def _contact_id(self, event: CaseUpserted) -> str:
        customer = event.customer
        first, last = render.split_name(customer)
        fields: dict[str, Any] = {"LastName": last, CONTACT_EXTERNAL_ID: customer.id}
        if first:
            fields["FirstName"] = first
        if customer.emails:
            fields["Email"] = customer.emails[0]
        if customer.phones:
            fields["Phone"] = customer.phones[0]
        if customer.emails or customer.phones:
            clauses = [f"{CONTACT_EXTERNAL_ID} = {soql_quote(customer.id)}"]
            if customer.emails:
                clauses.append("Email IN (" + ", ".join(soql_quote(e) for e in customer.emails) + ")")
            if customer.phones:
                clauses.append("Phone IN (" + ", ".join(soql_quote(p) for p in customer.phones) + ")")
            soql = f"SELECT Id, {CONTACT_EXTERNAL_ID} FROM Contact WHERE " + " OR ".join(clauses) + " LIMIT 5"
            records = self._call("GET", "/query", params={"q": soql}, ok=(200,)).json().get("records", [])
            if records:
                ours = [r for r in records if r.get(CONTACT_EXTERNAL_ID) == customer.id]
                match = (ours or records)[0]
                # An agent-made contact found by e-mail/phone: adopt it (stamp our id) instead of
                # creating a twin.
                self._call("PATCH", f"/sobjects/Contact/{match['Id']}", json=fields)
                return str(match["Id"])
        upsert = {k: v for k, v in fields.items() if k != CONTACT_EXTERNAL_ID}
        response = self._call(
            "PATCH", f"/sobjects/Contact/{CONTACT_EXTERNAL_ID}/{quote(customer.id, safe='')}", json=upsert
        )
        return self._record_id(response, "Contact", CONTACT_EXTERNAL_ID, customer.id)

    def _record_id(self, response: requests.Response, sobject: str, field: str, value: str) -> str:
        if response.status_code != 204 and response.content:
            found = response.json().get("id")
            if found:
                return str(found)
        # API versions before 46.0 answer an update with 204 and no body.
        got = self._call(
            "GET", f"/sobjects/{sobject}/{field}/{quote(value, safe='')}", params={"fields": "Id"}, ok=(200,)
        )
        return str(got.json()["Id"])

    def upsert_case(self, event: CaseUpserted, *, record_id: str | None = None) -> UpsertResult:
        case = event.case
        contact_id = self._contact_id(event)
        fields = {
            "Subject": render.subject(event),
            "Description": render.summary(event),
            "Status": _STATUS[case.status],
            "Priority": _PRIORITY[case.priority],
            "Origin": self.origin,
            "ContactId": contact_id,
        }
        response = self._call("PATCH", f"/sobjects/Case/{CASE_EXTERNAL_ID}/{quote(case.id, safe='')}", json=fields)
        created = response.status_code == 201
        sf_id = self._record_id(response, "Case", CASE_EXTERNAL_ID, case.id)
        for interaction in event.interactions:
            if not interaction.text:
                continue
            body = render.note(interaction)[:4000]  # CommentBody holds 4000 characters
            self.guard.once(
                f"salesforce:comment:{case.id}:{interaction.id}",
                partial(self._comment, sf_id, body),
            )
        for key, body, _ in render.reply_notes(event):
            self.guard.once(f"salesforce:reply:{case.id}:{key}", partial(self._comment, sf_id, body[:4000]))
        if case.status == "merged" and case.merged_into:
            self.guard.once(
                f"salesforce:merged:{case.id}:{case.merged_into}",
                partial(self._comment, sf_id, render.merged_note(event)),
            )
        return UpsertResult(record_id=sf_id, created=created)

    def _comment(self, parent_id: str, body: str) -> str:
        # IsPublished false: the customer's own words must not be re-published to a portal.
        response = self._call(
            "POST", "/sobjects/CaseComment", json={"ParentId": parent_id, "CommentBody": body, "IsPublished": False}
        )
        return str(response.json().get("id", ""))

    def erase_customer(self, request: CrmErasure) -> None:
        for _, case_record in request.records:
            self._delete(f"/sobjects/Case/{quote(case_record, safe='')}")
        self._delete(f"/sobjects/Contact/{CONTACT_EXTERNAL_ID}/{quote(request.customer_id, safe='')}")

    def _delete(self, path: str) -> None:
        try:
            self._call("DELETE", path, ok=(200, 204, 404))
        except Permanent as exc:
            # Salesforce's message can name her ("Your attempt to delete Giulia Rossi could not be
            # completed..."): only its error codes go into the reason, which is logged and kept
            # with the DLQ message.
            codes = ", ".join(dict.fromkeys(_ERROR_CODE.findall(exc.reason))) or "no error code"
            raise Permanent(f"salesforce DELETE {path} answered {exc.status}: {codes}", status=exc.status) from None
