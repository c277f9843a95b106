"""Who wrote an event, decided from its evidence and the claims it hit (pure).

Nothing here ever merges two existing customers: evidence that points at a second customer
becomes a suggestion, and only an agent merges. That is the conflict guard too: two customers
holding different verified phones or e-mails are never merged automatically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socialcare.domain import names
from socialcare.domain.identity.evidence import Clue, Evidence
from socialcare.models.interaction import IdentifierKind
from socialcare.models.profile import Claim, Profile


@dataclass(frozen=True)
class SuggestionDraft:
    other_customer_id: str
    reason: str
    clue: Clue


@dataclass
class Decision:
    customer_id: str | None  # None: a new customer
    matched_by: str
    attach: list[Clue] = field(default_factory=list)
    upgrades: list[Clue] = field(default_factory=list)
    suggestions: list[SuggestionDraft] = field(default_factory=list)
    # claim key -> the vanished customer an attached claim still names (taken over on write)
    orphans: dict[str, str] = field(default_factory=dict)


def _names_agree(evidence: Evidence, profile: Profile | None) -> bool:
    return profile is not None and names.agree(evidence.names, profile.names)


def _compatible(evidence: Evidence, profile: Profile) -> bool:
    """Some name of the event is contained in (or contains) one the customer is known by: "Anna"
    on WhatsApp and "Anna Bianchi" who typed the number. "Luca Ricci" and "Maria Ricci" are not,
    nor is an event with no name at all (a call)."""
    known = [t for t in (names.tokens(n) for n in profile.names) if t]
    return any(e <= k or k <= e for e in (names.tokens(n) for n in evidence.names) if e for k in known)


def _asserted(evidence: Evidence, claims: dict[str, Claim], customer_id: str) -> bool:
    """The event reached the customer through an identity that both sides assert: the author's
    own account (its platform identity), or a phone or e-mail a platform asserted for each."""
    return any(clue.verified and (claim := claims.get(clue.key)) is not None and claim.verified
               and claim.customer_id == customer_id
               for clue in [evidence.platform, *evidence.strong, *evidence.others] if clue is not None)


def _own(evidence: Evidence, claims: dict[str, Claim], profile: Profile) -> bool:
    """Typed identifiers of an event that names nobody else belong to the customer it reached
    through an asserted identity, as they would on a first contact: the event carries no name (a
    DM without a profile name), the customer has none yet (a caller id), or the names are
    compatible. A name that is not ("sono Maria Ricci" from Luca's Messenger) keeps them apart."""
    if not _asserted(evidence, claims, profile.id):
        return False
    if not evidence.names or not any(names.tokens(n) for n in profile.names):
        return True
    return _compatible(evidence, profile)


def _choose(evidence: Evidence, claims: dict[str, Claim], profiles: dict[str, Profile]) -> tuple[str | None, str]:
    def owner(clue: Clue) -> Claim | None:
        claim = claims.get(clue.key)
        return claim if claim is not None and claim.customer_id in profiles else None

    if evidence.platform is not None and (claim := owner(evidence.platform)) is not None and (
            claim.verified or _compatible(evidence, profiles[claim.customer_id])):
        # (A caller id or a sender address may have been *typed* by someone else first: see below.)
        return claim.customer_id, "platform"
    verified = [c for c in [*evidence.strong, *evidence.others] if c.verified]
    for clue in verified:
        claim = owner(clue)
        # A verified identifier links on its own to a claim that some platform asserted too. A
        # claim that was only *typed* says who typed it, not who owns the number: a relative, or
        # a family sharing one landline, types it as well as its owner. So it links only when the
        # names are compatible (the benchmark's shared-landline families were merged while this
        # asked only for names that do not clash: a call has no name, "Ricci" is shared).
        if claim is not None and (claim.verified or _compatible(evidence, profiles[claim.customer_id])):
            return claim.customer_id, clue.kind
    for clue in (c for c in evidence.strong if not c.verified):
        claim = owner(clue)
        if claim is not None and _names_agree(evidence, profiles[claim.customer_id]):
            return claim.customer_id, f"{clue.kind}+name"
    for clue in evidence.refs:
        claim = owner(clue)
        if claim is not None and _names_agree(evidence, profiles[claim.customer_id]):
            return claim.customer_id, "ref+name"
    return None, "new"


def decide(evidence: Evidence, claims: dict[str, Claim], profiles: dict[str, Profile]) -> Decision:
    """Who wrote this, what to attach to them, and what to suggest to an agent. Pure."""
    chosen, matched_by = _choose(evidence, claims, profiles)
    decision = Decision(customer_id=chosen, matched_by=matched_by)
    chosen_profile = profiles.get(chosen) if chosen else None
    agree = chosen_profile is None or _names_agree(evidence, chosen_profile) or _own(evidence, claims, chosen_profile)
    for clue in evidence.clues:
        claim = claims.get(clue.key)
        if claim is None or claim.customer_id not in profiles:
            # A verified identifier always belongs to its author; a typed one attaches to an
            # existing customer only with name agreement (on a new customer it is the author's
            # own claim, kept as claimed).
            if clue.verified or agree:
                decision.attach.append(clue)
                if claim is not None:
                    decision.orphans[clue.key] = claim.customer_id
        elif claim.customer_id == chosen:
            if clue.verified and not claim.verified:
                decision.upgrades.append(clue)
        else:
            if clue.verified and not claim.verified:
                # The number's owner asserted what someone else only typed: the claim moves to
                # the owner (conditionally on its old holder), the typist keeps a suggestion.
                decision.attach.append(clue)
                decision.orphans[clue.key] = claim.customer_id
            # Evidence for a second customer never merges anyone: an agent decides.
            reason = "same reference, names differ" if clue.kind == IdentifierKind.REF else f"shared {clue.kind}"
            if clue.kind == IdentifierKind.REF and _names_agree(evidence, profiles[claim.customer_id]):
                reason = "same reference and name"
            decision.suggestions.append(SuggestionDraft(claim.customer_id, reason, clue))
    return decision


