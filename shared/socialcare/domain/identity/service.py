"""Recognising the customer behind an interaction, and the identity lookups.

Rules, in order (first hit wins):

1. the platform identity itself (``x#<user id>``, ``whatsapp#<wa_id>``, ``phone#<E.164>``...);
2. strong identifiers - phones (E.164) and e-mails (lower-case). *Verified* ones (asserted by a
   platform or the CRM: wa_id, caller id) link on their own; *claimed* ones (typed in a message)
   link only with name agreement, and never merge two existing customers;
3. a business reference (order/account number, regexes in ``config/identity.yaml``) together
   with name agreement; without it, the reference becomes a match suggestion for an agent.

Evidence is gathered by ``evidence`` and decided by ``decision`` (both pure); this service reads
and writes the profiles. Merging customers is ``domain.merge``: only an agent merges.

Cost: recognising a returning customer is two DynamoDB round trips - one BatchGetItem of the
claims of every identifier the event carries, one BatchGetItem of the candidate profiles -
and writes happen only when the event brings something new.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from socialcare.domain import names, phones
from socialcare.domain.identity.decision import Decision, decide
from socialcare.domain.identity.evidence import Clue, Evidence, Rules, gather, normalise, via_key
from socialcare.errors import BadRequest, NotFound
from socialcare.models.interaction import IdentifierKind, Interaction
from socialcare.models.profile import Claim, Profile
from socialcare.observability import metrics
from socialcare.store.profiles import ClaimTaken, CustomerMoved, ProfilesRepository, iso, now_iso

logger = Logger(child=True)

_ATTEMPTS = 4  # a lost claim race costs one re-read; more than a few means something is wrong
MAX_KNOWN_NAMES = 8


class Recognition(BaseModel):
    customer_id: str
    created: bool
    matched_by: str = Field(description="platform | phone | email | phone+name | ref+name | new ...")
    context: dict[str, Any] = Field(default_factory=dict)
    suggestions: list[str] = Field(default_factory=list, description="customers an agent may merge")


def context_of(profile: Profile, *, created: bool = False) -> dict[str, Any]:
    """The returning-customer context routing, the CRM sync and the Connect screen-pop carry."""
    counts = dict(sorted(profile.channel_counts.items()))
    return {
        "customer_id": profile.id,
        "name": profile.name,
        "returning": not created,
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "last_channel": profile.last_channel,
        "channels": [c for c, n in counts.items() if n > 0],
        "channel_counts": counts,
        "channel_count": sum(1 for n in counts.values() if n > 0),
        "interaction_count": profile.interaction_count,
        "previous_cases": list(profile.previous_cases),
        "last_sentiment": profile.last_sentiment,
        "open_case_id": profile.open_case_id,
        "case_priority": profile.case_priority,
        "tier": profile.tier,
        # a resolved case whose satisfaction survey awaits this customer's rating (the processor)
        "survey_case_id": profile.survey_case_id,
        # what a CRM contact is matched on
        "verified_phones": sorted(profile.verified_phones),
        "verified_emails": sorted(profile.verified_emails),
        "handles": dict(profile.handles),
    }


def new_customer_id() -> str:
    return f"cus_{uuid.uuid4().hex[:20]}"


def _names_to_add(evidence: Evidence, profile: Profile) -> list[str] | None:
    known = [names.tokens(n) for n in profile.names]
    fresh = [n for n in evidence.names if names.tokens(n) not in known]
    if not fresh:
        return None
    return [*profile.known_names, *fresh][-MAX_KNOWN_NAMES:]


class IdentityService:
    def __init__(self, profiles: ProfilesRepository, rules: Rules) -> None:
        self.profiles = profiles
        self.rules = rules

    def normalise(self, kind: str, value: str) -> str | None:
        return normalise(kind, value, self.rules)

    def via(self, interaction: Interaction) -> str:
        """The identity key an interaction came through (stored on its timeline item)."""
        return via_key(interaction, self.rules)

    # ------------------------------------------------------------------ recognise
    def recognise(self, interaction: Interaction, *, tombstones: Sequence[str] = ()) -> Recognition:
        """Find (or create) the customer who wrote ``interaction``; never merges two customers.

        ``tombstones``: salted hashes of the message's ids, read with the claims in the same
        BatchGetItem; ``Tombstoned`` (store.erasure) when the message was erased (docs/privacy.md)."""
        evidence = gather(interaction, self.rules)
        keys = [(c.kind, c.value) for c in evidence.clues]
        for attempt in range(_ATTEMPTS):
            claims = self.profiles.get_claims(keys, tombstones=tombstones if attempt == 0 else ())
            profiles = self.profiles.get_profiles({c.customer_id for c in claims.values()})
            self._resolve_aliases(claims, profiles)
            decision = decide(evidence, claims, profiles)
            try:
                recognition = self._apply(interaction, evidence, decision, profiles)
            except (ClaimTaken, CustomerMoved) as exc:
                # Someone claimed one of these identifiers (or merged the customer) first: re-read
                # and join the winner rather than creating a second customer.
                logger.info("identity race lost, re-reading", extra={"attempt": attempt, "reason": str(exc)})
                continue
            metrics.add_metric(name="NewCustomers" if recognition.created else "ReturningCustomers",
                               unit=MetricUnit.Count, value=1)
            self._suggest(recognition, decision, profiles, interaction.id)
            return recognition
        raise RuntimeError(f"could not settle the identity of {interaction.id} after {_ATTEMPTS} attempts")

    def _suggest(self, recognition: Recognition, decision: Decision, profiles: dict[str, Profile],
                 interaction_id: str) -> None:
        known = profiles.get(recognition.customer_id)
        already = known.suggested_with if known is not None else set()
        for draft in decision.suggestions:
            if draft.other_customer_id in already:
                continue  # suggested (or dismissed) before: no write on the hot path
            self.profiles.put_suggestion(
                recognition.customer_id, draft.other_customer_id, draft.reason,
                [{"kind": draft.clue.kind, "value": draft.clue.value}], interaction_id,
            )
            metrics.add_metric(name="MatchSuggestions", unit=MetricUnit.Count, value=1)

    def _resolve_aliases(self, claims: dict[str, Claim], profiles: dict[str, Profile]) -> None:
        """A claim read in the middle of a merge may still name the merged customer: follow it."""
        for claim in claims.values():
            profile = profiles.get(claim.customer_id)
            if profile is not None and profile.merged_into:
                survivor = self.profiles.get_profile(claim.customer_id)
                if survivor is None:
                    continue
                profiles[survivor.id] = survivor
                claim.customer_id = survivor.id
        for cid in [c for c, p in profiles.items() if p.merged_into]:
            del profiles[cid]

    def _apply(self, interaction: Interaction, evidence: Evidence, decision: Decision,
               profiles: dict[str, Profile]) -> Recognition:
        handles = {interaction.channel.value: evidence.handle} if evidence.handle else {}
        handle_of = {evidence.platform.key: evidence.handle} if evidence.platform and evidence.handle else {}
        attach = [c.as_new(handle_of.get(c.key), decision.orphans.get(c.key)) for c in decision.attach]
        suggested = list(dict.fromkeys(d.other_customer_id for d in decision.suggestions))
        if decision.customer_id is None:
            name = evidence.names[0] if evidence.names else interaction.author.handle
            verified = [c for c in decision.attach if c.verified]
            profile = Profile(
                id=new_customer_id(), name=name, known_names=list(evidence.names),
                first_seen=iso(interaction.occurred_at), handles={k: v for k, v in handles.items() if v},
                verified_phones={c.value for c in verified if c.kind == IdentifierKind.PHONE},
                verified_emails={c.value for c in verified if c.kind == IdentifierKind.EMAIL},
            )
            self.profiles.create_customer(profile, attach, handles)
            return Recognition(customer_id=profile.id, created=True, matched_by="new",
                               context=context_of(profile, created=True), suggestions=suggested)
        profile = profiles[decision.customer_id]
        new_names = _names_to_add(evidence, profile)
        handle_changed = bool(handles) and any(profile.handles.get(k) != v for k, v in handles.items())
        missing_name = profile.name is None and bool(evidence.names)
        if attach or decision.upgrades or new_names or handle_changed or missing_name:
            self.profiles.attach(
                profile.id, attach, upgrades=[c.as_new() for c in decision.upgrades], known_names=new_names,
                name=evidence.names[0] if missing_name else None,
                handles={**profile.handles, **handles} if handle_changed else None,
            )
        return Recognition(customer_id=profile.id, created=False, matched_by=decision.matched_by,
                           context=context_of(profile), suggestions=suggested)

    # ------------------------------------------------------------------ lookups
    def find_customer(self, kind: str, value: str) -> str | None:
        """The customer holding an identifier given in any spelling, or None.

        ``phone`` accepts "+39 333 111 2222", "0039 333 1112222", "393331112222", "3331112222"
        (default region); ``email`` any case; ``x``/``instagram`` a user id or an @handle.
        """
        kind, value = kind.strip().lower(), value.strip()
        handles_kind = kind in (IdentifierKind.X, IdentifierKind.INSTAGRAM)
        if handles_kind and value.startswith("@"):
            return self.profiles.get_handle(kind, value)
        try:
            kind = IdentifierKind(kind).value
        except ValueError:
            return None
        normalised = self.normalise(kind, value)
        if normalised is None:
            return None
        claim = self.profiles.get_claim(kind, normalised)
        if claim is None and handles_kind and not value.isdigit():
            return self.profiles.get_handle(kind, value)  # "anna_bianchi" without its "@"
        if claim is None and kind == IdentifierKind.PHONE:
            # A WhatsApp-only customer whose parser did not assert the phone: its wa_id is the number.
            claim = self.profiles.get_claim(IdentifierKind.WHATSAPP.value, phones.wa_id_of(normalised))
        return claim.customer_id if claim else None

    def context_for(self, customer_id: str) -> dict[str, Any]:
        """The returning-customer context (Connect screen-pop, routing), or {} for an unknown id."""
        profile = self.profiles.get_profile(customer_id)
        return context_of(profile) if profile is not None else {}

    def add_identity(self, customer_id: str, kind: str, value: str, *, verified: bool = True,
                     source: str = "crm") -> str:
        """Attach an identifier a trusted system asserts (a CRM contact's phone or e-mail).

        Returns "attached", "already" (the customer holds it), or "suggested" when another
        customer holds it - which, as everywhere, never merges the two.
        """
        normalised = self.normalise(kind, value)
        if normalised is None:
            raise BadRequest(f"not a valid {kind}: {value!r}")
        profile = self.profiles.get_profile(customer_id)
        if profile is None:
            raise NotFound(f"no customer {customer_id}")
        clue = Clue(kind, normalised, verified, source)
        for _ in range(_ATTEMPTS):
            claim = self.profiles.get_claim(kind, normalised)
            if claim is not None and claim.customer_id == profile.id:
                if verified and not claim.verified:
                    self.profiles.attach(profile.id, [], upgrades=[clue.as_new()])
                return "already"
            if claim is not None:
                self.profiles.put_suggestion(profile.id, claim.customer_id, f"shared {kind}",
                                             [{"kind": kind, "value": normalised}], None)
                return "suggested"
            try:
                self.profiles.attach(profile.id, [clue.as_new()])
            except (ClaimTaken, CustomerMoved):
                profile = self.profiles.get_profile(customer_id) or profile
                continue
            return "attached"
        raise RuntimeError(f"could not attach {kind} to {customer_id}")

    def dismiss_suggestion(self, customer_id: str, other: str, *, actor: str = "agent") -> dict[str, Any]:
        """An agent decided two customers are different people: drop the suggestion, audited.

        The pair stays in both profiles' ``suggested_with``, so it is not suggested again.
        """
        suggestion = self.profiles.get_suggestion(customer_id, other)
        if suggestion is None:
            raise NotFound(f"no suggestion between {customer_id} and {other}")
        self.profiles.delete_suggestion(customer_id, other)
        at, record_id = now_iso(), uuid.uuid4().hex[:12]
        record = {"action": "dismiss_suggestion", "source": customer_id, "target": other, "actor": actor,
                  "reason": suggestion.reason, "evidence": suggestion.evidence}
        for cid in (customer_id, other):
            self.profiles.put_merge_record(cid, at, record_id, record)
        return {"id": customer_id, "dismissed": other}
