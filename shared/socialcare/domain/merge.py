"""Merging two customers who are one person, and splitting them again: the one service above
both identity and cases (only an agent merges; recognition never does).

``merge`` moves the source's identities and timeline into the target (re-keyed, so the hot path
and the 360 stay one lookup), leaves the source as an alias (``merged_into``) so ids held
elsewhere still resolve, merges the two customers' open cases (``cases.merge.CaseMerge``; both
case versions reach the CRM through the cases stream) and audits it on both. ``unmerge`` moves
identities, and the interactions that came through them, back out. Both are idempotent: an
interrupted merge of the same pair finishes on repeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.cases.merge import CaseMerge
from socialcare.domain.identity.service import MAX_KNOWN_NAMES, IdentityService, new_customer_id
from socialcare.errors import Conflict, NotFound
from socialcare.models.interaction import IdentifierKind
from socialcare.models.profile import IdentityRecord, Profile, identity_key
from socialcare.store.profiles import CustomerMoved, ProfilesRepository, now_iso

logger = Logger(child=True)


def verified_conflicts(a: Profile, b: Profile) -> dict[str, list[str]]:
    """Different verified phones or e-mails: the pair must not be merged without ``force``."""
    conflicts: dict[str, list[str]] = {}
    if a.verified_phones and b.verified_phones and a.verified_phones != b.verified_phones:
        conflicts["phone"] = sorted(a.verified_phones | b.verified_phones)
    if a.verified_emails and b.verified_emails and a.verified_emails != b.verified_emails:
        conflicts["email"] = sorted(a.verified_emails | b.verified_emails)
    return conflicts


class CustomerMerge:
    def __init__(self, profiles: ProfilesRepository, identity: IdentityService, cases: CaseMerge) -> None:
        self.profiles = profiles
        self.identity = identity
        self.cases = cases

    def merge(self, source: str, target: str, *, actor: str = "agent", force: bool = False) -> dict[str, Any]:
        """Merge customer ``source`` into ``target`` (the survivor); audited on both, reversible.

        Raises Conflict (409) for a self-merge, an already merged customer, or two customers
        holding different verified phones/e-mails (unless ``force``: an agent who knows better).
        """
        repo = self.profiles
        if source == target:
            raise Conflict("a customer cannot be merged into itself")
        found = repo.get_profiles([source, target])
        if source not in found or target not in found:
            raise NotFound("no such customer", missing=[c for c in (source, target) if c not in found])
        if found[target].merged_into:
            raise Conflict(f"customer {target} was already merged", merged_into=found[target].merged_into)
        resuming = found[source].merged_into == target
        if found[source].merged_into and not resuming:
            raise Conflict(f"customer {source} was already merged", merged_into=found[source].merged_into)
        at, merge_id = now_iso(), uuid.uuid4().hex[:12]
        conflicts = {} if resuming else self._start(found[source], found[target], at, force)
        if resuming and any(r.get("action") == "merge" and r.get("target") == target
                            for r in repo.merge_records(source)):
            raise Conflict(f"customer {source} was already merged", merged_into=target)
        # Resuming an interrupted merge: whatever is left moves, then the cases merge and the
        # audit (each idempotent) finish what the interrupted attempt did not.
        identities, items = self._move(source, target)
        outcome = self.cases.merge_customers(source, target)
        survivor, merged = outcome.survivor, outcome.merged
        cases = {"survivor": survivor.id if survivor else None, "merged": merged.id if merged else None,
                 "survivor_open": bool(survivor and survivor.is_open)}
        if survivor is not None and survivor.is_open:
            repo.update_context(target, open_case_id=survivor.id)
        record = {
            "action": "merge", "source": source, "target": target, "actor": actor, "forced": bool(conflicts),
            "resumed": resuming, "identities": [{"kind": i.kind, "value": i.value} for i in identities],
            "interactions": len(items), "cases": cases,
        }
        for cid in (target, source):  # the source's record last: it is what marks the merge done
            repo.put_merge_record(cid, at, merge_id, record)
        logger.info("customers merged", extra={"source": source, "target": target, "merge_id": merge_id})
        return {"id": target, "merged": source, "merge_id": merge_id, "identities_moved": len(identities),
                "interactions_moved": len(items), "cases": cases}

    def _start(self, source: Profile, target: Profile, at: str, force: bool) -> dict[str, list[str]]:
        """Guard, alias and fold the profile - all before any item moves, so that an interrupted
        merge loses no counter and a repeat only has items left to move."""
        repo = self.profiles
        conflicts = verified_conflicts(source, target)
        if conflicts and not force:
            raise Conflict("the customers hold different verified identifiers", conflicts=conflicts)
        try:
            repo.mark_merged(source.id, target.id, at)  # from now on writes to source go to target
        except CustomerMoved as exc:
            raise Conflict(f"customer {source.id} was merged concurrently") from exc
        frozen = repo.get_profile(source.id, follow=False) or source
        repo.absorb_counters(target.id, frozen)
        repo.overwrite_profile(target.id, {
            "first_seen": min(filter(None, [target.first_seen, frozen.first_seen]), default=None),
            "last_seen": max(filter(None, [target.last_seen, frozen.last_seen]), default=None),
            "name": target.name or frozen.name,
            "known_names": list(dict.fromkeys([*target.known_names, *frozen.known_names]))[-MAX_KNOWN_NAMES:],
            "merged_from": [*target.merged_from, source.id],
            "previous_cases": list(dict.fromkeys([*target.previous_cases, *frozen.previous_cases])),
        })
        return conflicts

    def _move(self, source: str, target: str) -> tuple[list[IdentityRecord], list[dict[str, Any]]]:
        """Identities, timeline and suggestions of ``source`` into ``target``'s partition."""
        repo = self.profiles
        identities = repo.identities(source)
        repo.move_identities(source, target, identities)
        items = repo.timeline_items(source)
        repo.move_interactions(source, target, items)
        for suggestion in repo.partition_suggestions(source):
            repo.delete_suggestion(source, suggestion.other_customer_id)
            if suggestion.other_customer_id != target:
                repo.put_suggestion(target, suggestion.other_customer_id, suggestion.reason, suggestion.evidence,
                                    suggestion.interaction_id)
        return identities, items

    # ------------------------------------------------------------------ unmerge
    def unmerge(self, customer_id: str, identities: Iterable[tuple[str, str]], *,
                actor: str = "agent") -> dict[str, Any]:
        """Split identities (and the interactions that came through them) off ``customer_id``.

        They go back to the customer they were merged from when they all came from one;
        otherwise to a new customer. Audited on both.
        """
        repo = self.profiles
        view = repo.customer_view(customer_id, follow=False)
        if view is None:
            raise NotFound("no such customer")
        if view.profile.merged_into:
            raise Conflict(f"customer {customer_id} was merged; unmerge from {view.profile.merged_into}")
        wanted = self._held(customer_id, {i.key: i for i in view.identities}, identities)
        destination, restored = self._destination(customer_id, wanted)
        keys = {i.key for i in wanted}
        repo.move_identities(customer_id, destination, wanted, origin=destination)
        items = [i for i in repo.timeline_items(customer_id) if i.get("via") in keys]
        repo.move_interactions(customer_id, destination, items, origin=destination)
        for cid in (customer_id, destination):
            counted = self._recount(cid)
            if cid == destination and not restored and counted.get("known_names"):
                counted["name"] = counted["known_names"][-1]  # a new customer is named by its messages
            repo.overwrite_profile(cid, counted)
        if restored:
            repo.overwrite_profile(customer_id, {"merged_from": [c for c in view.profile.merged_from
                                                                 if c != destination]})
        at, merge_id = now_iso(), uuid.uuid4().hex[:12]
        record = {
            "action": "unmerge", "source": customer_id, "target": destination, "actor": actor,
            "restored": restored, "identities": [{"kind": i.kind, "value": i.value} for i in wanted],
            "interactions": len(items),
        }
        for cid in (customer_id, destination):
            repo.put_merge_record(cid, at, merge_id, record)
        logger.info("customer unmerged", extra={"source": customer_id, "target": destination})
        return {"id": customer_id, "split_into": destination, "restored": restored, "merge_id": merge_id,
                "identities_moved": len(wanted), "interactions_moved": len(items)}

    def _held(self, customer_id: str, held: dict[str, IdentityRecord],
              identities: Iterable[tuple[str, str]]) -> list[IdentityRecord]:
        wanted: list[IdentityRecord] = []
        for kind, value in identities:
            key = identity_key(kind, self.identity.normalise(kind, value) or value)
            if key not in held:
                raise Conflict("the customer does not hold this identity", kind=kind, value=value)
            wanted.append(held[key])
        if not wanted:
            raise Conflict("no identities to unmerge")
        if len({i.key for i in wanted}) == len(held):
            raise Conflict("unmerging every identity would leave the customer empty")
        return wanted

    def _destination(self, customer_id: str, wanted: list[IdentityRecord]) -> tuple[str, bool]:
        origins = {i.origin_customer_id for i in wanted}
        if len(origins) == 1 and (origin := origins.pop()) and origin != customer_id:
            previous = self.profiles.get_profile(origin, follow=False)
            if previous is not None and previous.merged_into == customer_id:
                # Reactivate before any claim points back at it, so nothing follows a stale alias.
                self.profiles.reactivate(origin)
                return origin, True
        fresh = Profile(id=new_customer_id(), first_seen=now_iso())
        self.profiles.create_customer(fresh, [])
        return fresh.id, False

    def _recount(self, customer_id: str) -> dict[str, Any]:
        """Counters and verified sets rebuilt from what the customer now holds (unmerge only)."""
        inbound = [i for i in self.profiles.timeline_items(customer_id) if i.get("direction", "inbound") == "inbound"]
        counts: dict[str, int] = {}
        for item in inbound:
            counts[item["channel"]] = counts.get(item["channel"], 0) + 1
        held = self.profiles.identities(customer_id)
        names_seen = [i.get("author_name") for i in inbound if i.get("author_name")]
        fields: dict[str, Any] = {
            "channel_counts": counts,
            "interaction_count": len(inbound),
            "verified_phones": {i.value for i in held if i.verified and i.kind == IdentifierKind.PHONE},
            "verified_emails": {i.value for i in held if i.verified and i.kind == IdentifierKind.EMAIL},
        }
        if inbound:
            fields.update(first_seen=inbound[0]["occurred_at"], last_seen=inbound[-1]["occurred_at"],
                          last_channel=inbound[-1]["channel"])
        if names_seen:
            fields["known_names"] = list(dict.fromkeys(names_seen))[-MAX_KNOWN_NAMES:]
        return fields
