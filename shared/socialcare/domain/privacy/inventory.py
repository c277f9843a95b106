"""Everything held about one customer, found from their own partitions (no table scan).

A customer's ProfilesTable partition holds their profile, identities, timeline (re-keyed there by
merges), merge records and suggestions; the customers merged into them (``merged_from``) keep an
alias partition each. Everything else is found from these: claims and handles from the
identities, guards and case markers from the interaction ids, cases from the CustomerIndex, the
timeline's case ids and the profile's, media from each message's folder and each customer id's
``customers/<id>/`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from socialcare.store.bodies import folder_of
from socialcare.store.cases import CasesRepository
from socialcare.store.erasure import ErasureStore
from socialcare.store.profiles.items import customer_pk

_MAX_ALIASES = 50  # merge chains are short; a cycle or a runaway chain stops here


@dataclass
class Inventory:
    customer_id: str
    partitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # customer id -> items
    case_ids: list[str] = field(default_factory=list)

    @property
    def customer_ids(self) -> list[str]:
        return list(self.partitions)

    @property
    def exists(self) -> bool:
        return any(self.partitions.values())

    def _items(self, prefix: str) -> list[dict[str, Any]]:
        return [i for items in self.partitions.values() for i in items if str(i.get("sk", "")).startswith(prefix)]

    @property
    def profile(self) -> dict[str, Any] | None:
        return next((i for i in self.partitions.get(self.customer_id, []) if i.get("sk") == "PROFILE"), None)

    @property
    def profiles(self) -> list[dict[str, Any]]:
        return self._items("PROFILE")

    @property
    def timeline(self) -> list[dict[str, Any]]:
        return sorted(self._items("TS#"), key=lambda i: str(i["sk"]))

    @property
    def identities(self) -> list[dict[str, Any]]:
        return self._items("ID#")

    @property
    def suggestions(self) -> list[dict[str, Any]]:
        return self._items("SUGGEST#")

    @property
    def merges(self) -> list[dict[str, Any]]:
        return self._items("MERGE#")

    @property
    def interaction_ids(self) -> list[str]:
        return [str(i["id"]) for i in self.timeline if i.get("id")]

    @property
    def origin_ids(self) -> list[str]:
        """Every customer id the data was ever stored under (media keys carry the id at store time)."""
        found = list(self.customer_ids)
        found += [str(i["origin_customer_id"]) for i in self.timeline + self.identities if i.get("origin_customer_id")]
        return list(dict.fromkeys(found))

    @property
    def media_prefixes(self) -> list[str]:
        prefixes = [f"customers/{cid}/" for cid in self.origin_ids]
        for item in self.timeline:
            if item.get("media_folder"):
                prefixes.append(str(item["media_folder"]))
            if item.get("text_s3_key"):
                prefixes.append(folder_of(str(item["text_s3_key"])))
        return list(dict.fromkeys(prefixes))

    @property
    def media_keys(self) -> list[str]:
        """Object keys named on the timeline (attachments, long texts), wherever they are."""
        keys = [str(i["text_s3_key"]) for i in self.timeline if i.get("text_s3_key")]
        for item in self.timeline:
            keys += [str(a["s3_key"]) for a in item.get("attachments") or [] if isinstance(a, dict) and a.get("s3_key")]
        return list(dict.fromkeys(keys))

    def identifiers(self) -> dict[str, set[str]]:
        """kind -> values: every identifier held (identities, verified phones and e-mails, handles)."""
        found: dict[str, set[str]] = {}
        for ident in self.identities:
            found.setdefault(str(ident["kind"]), set()).add(str(ident["value"]))
            if ident.get("handle"):
                found.setdefault(f"handle:{ident['kind']}", set()).add(str(ident["handle"]).lstrip("@").lower())
        for profile in self.profiles:
            found.setdefault("phone", set()).update(profile.get("verified_phones") or ())
            found.setdefault("email", set()).update(profile.get("verified_emails") or ())
            for channel, handle in (profile.get("handles") or {}).items():
                if handle:
                    found.setdefault(f"handle:{channel}", set()).add(str(handle).lstrip("@").lower())
        return {k: v for k, v in found.items() if v}


def gather(store: ErasureStore, cases: CasesRepository, customer_id: str) -> Inventory:
    """The inventory of ``customer_id`` (already the survivor of any merge) and its aliases."""
    inventory = Inventory(customer_id)
    pending = [customer_id]
    while pending and len(inventory.partitions) < _MAX_ALIASES:
        cid = pending.pop(0)
        if cid in inventory.partitions:
            continue
        items = store.partition(store.profiles_table, customer_pk(cid))
        inventory.partitions[cid] = items
        profile = next((i for i in items if i.get("sk") == "PROFILE"), None) or {}
        pending += [str(m) for m in profile.get("merged_from") or [] if m]
    case_ids: list[str] = []
    for profile in inventory.profiles:
        case_ids += [str(c) for c in profile.get("previous_cases") or []]
        if profile.get("open_case_id"):
            case_ids.append(str(profile["open_case_id"]))
    case_ids += [str(i["case_id"]) for i in inventory.timeline if i.get("case_id")]
    for cid in inventory.customer_ids:
        case_ids += [c.id for c in cases.customer_cases(cid, limit=100)]
    inventory.case_ids = list(dict.fromkeys(case_ids))
    return inventory
