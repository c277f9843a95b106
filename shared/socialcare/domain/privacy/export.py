"""Everything held about a person as one JSON document (GDPR access / portability).

The profile, identities and the claims on them, the whole timeline with every message's full
text (a long one read back from the media bucket) and structured content and the raw platform
event kept beside it, the cases (an incident's only with this person's interactions), their
hand-offs, the work items held on them, match suggestions, merge records, the API audit records
that name the person or their cases, and the keys of every media object. A merged-away id is
answered with its survivor's document (``merged_into`` says so).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from socialcare.domain.privacy.inventory import Inventory, gather
from socialcare.errors import NotFound
from socialcare.store.bodies import TextBodies
from socialcare.store.cases import CasesRepository
from socialcare.store.erasure import ErasureStore
from socialcare.store.erasure_jobs import ErasureJobs
from socialcare.store.profiles import ProfilesRepository
from socialcare.store.profiles.items import CLAIM, claim_pk, decompress_raw

FORMAT = "socialcare.customer-export.v1"
_INTERNAL = ("pk", "sk", "type", "entity", "queue_pk", "queue_sk", "retention_shard",
             "retention_month")


def jsonable(value: Any) -> Any:
    """Plain JSON: sets as sorted lists, bytes as base64 (hand-written: a DynamoDB item's
    Python values, which json cannot encode as they are)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _INTERNAL}


class CustomerExport:
    def __init__(self, store: ErasureStore, jobs: ErasureJobs, cases: CasesRepository, profiles: ProfilesRepository,
                 bodies: TextBodies | None) -> None:
        self.store = store
        self.jobs = jobs
        self.cases = cases
        self.profiles = profiles
        self.bodies = bodies

    def export(self, customer_id: str) -> dict[str, Any]:
        profile = self.profiles.get_profile(customer_id)
        if profile is None:
            raise NotFound(f"no customer {customer_id}")
        inventory = gather(self.store, self.cases, profile.id)
        case_ids = inventory.case_ids
        cases = self._cases(inventory)
        return jsonable({
            "format": FORMAT,
            "exported_at": datetime.now(UTC).isoformat(),
            "requested_id": customer_id,
            "customer_id": profile.id,
            "merged_into": profile.id if profile.id != customer_id else None,
            "merged_customer_ids": [c for c in inventory.customer_ids if c != profile.id],
            "profile": _public(inventory.profile or {}),
            "merged_profiles": [_public(p) for p in inventory.profiles if p.get("id") != profile.id],
            "identities": [_public(i) for i in inventory.identities],
            "claims": self._claims(inventory),
            "timeline": [self._message(i) for i in inventory.timeline],
            "cases": cases,
            "handoffs": [{"case_id": c["id"], **h} for c in cases for h in c.get("handoffs") or []],
            "work_items": [{"case_id": c["id"], **w} for c in cases for w in c.get("pending_items") or []],
            "suggestions": [_public(s) for s in inventory.suggestions],
            "merges": [_public(m) for m in inventory.merges],
            "audit": self.jobs.audit_entries(inventory.customer_ids, case_ids),
            "media": self._media(inventory),
        })

    def _claims(self, inventory: Inventory) -> list[dict[str, Any]]:
        keys = [(claim_pk(str(i["kind"]), str(i["value"])), CLAIM) for i in inventory.identities]
        claims = self.store.items(self.store.profiles_table, keys)
        return [_public(c) for c in claims if c.get("customer_id") in inventory.customer_ids]

    def _message(self, item: dict[str, Any]) -> dict[str, Any]:
        message = _public(item)
        raw = message.pop("raw", None)
        if isinstance(raw, bytes | bytearray):
            message["raw"] = decompress_raw(bytes(raw))
        key = item.get("text_s3_key")
        if key and self.bodies is not None:
            whole = self.bodies.get_text(str(key))
            if whole is not None:
                message["text"] = whole
                message["text_truncated"] = False
        return message

    def _cases(self, inventory: Inventory) -> list[dict[str, Any]]:
        owners, mine = set(inventory.customer_ids), set(inventory.interaction_ids)
        found = []
        for case_id in inventory.case_ids:
            case = self.cases.get_with_interactions(case_id)
            if case is None:
                continue
            data = case.model_dump(mode="json")
            if case.customer_id not in owners:  # an incident: only this person's part of it
                data = {"id": case.id, "kind": case.kind, "status": case.status.value,
                        "opened_at": data["opened_at"],
                        "interactions": [i for i in data["interactions"] if i.get("id") in mine]}
            found.append(data)
        return found

    def _media(self, inventory: Inventory) -> list[str]:
        keys = list(inventory.media_keys)
        for prefix in inventory.media_prefixes:
            keys += list(self.store.object_keys(prefix))
        return sorted(set(keys))
