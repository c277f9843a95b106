"""Recognising the customer behind an interaction (ARCHITECTURE.md §4), and merging customers.

Rules, in order (first hit wins):

1. the platform identity itself (``x#<user id>``, ``whatsapp#<wa_id>``, ``phone#<E.164>``...);
2. strong identifiers - phones (E.164) and e-mails (lower-case). *Verified* ones (asserted by a
   platform or the CRM: wa_id, caller id) link on their own; *claimed* ones (typed in a message)
   link only with name agreement, and never merge two existing customers;
3. a business reference (order/account number, regexes in ``config/identity.yaml``) together
   with name agreement; without it, the reference becomes a match suggestion for an agent.

Nothing here ever merges two existing customers: evidence that points at a second customer
becomes a suggestion, and only an agent merges (``merge``/``unmerge``, audited and reversible).
That is the conflict guard too: two customers holding different verified phones or e-mails are
never merged automatically, and a manual merge of such a pair is refused unless forced.

Cost: recognising a returning customer is two DynamoDB round trips - one BatchGetItem of the
claims of every identifier the event carries, one BatchGetItem of the candidate profiles -
and writes happen only when the event brings something new.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from socialcare import names, phones
from socialcare.errors import BadRequest, Conflict, NotFound
from socialcare.models.interaction import Channel, IdentifierKind, Interaction
from socialcare.models.profile import Claim, IdentityRecord, NewIdentity, Profile, identity_key
from socialcare.observability import metrics
from socialcare.store.profiles import ClaimTaken, CustomerMoved, ProfilesRepository, iso, now_iso

logger = Logger(child=True)

RULES_PATH = Path(__file__).parent / "config" / "identity.yaml"
_ATTEMPTS = 4  # a lost claim race costs one re-read; more than a few means something is wrong
_MAX_KNOWN_NAMES = 8

# Channels whose author id is itself an identity kind of the same name.
_CHANNEL_KINDS = {
    Channel.X: IdentifierKind.X,
    Channel.FACEBOOK: IdentifierKind.FACEBOOK,
    Channel.MESSENGER: IdentifierKind.MESSENGER,
    Channel.INSTAGRAM: IdentifierKind.INSTAGRAM,
    Channel.WHATSAPP: IdentifierKind.WHATSAPP,
    Channel.CHAT: IdentifierKind.CHAT,
    Channel.WEB: IdentifierKind.WEB,
}
_STRONG = frozenset({IdentifierKind.PHONE.value, IdentifierKind.EMAIL.value})


# ---------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Reference:
    name: str
    pattern: re.Pattern[str]
    canonical: str


@dataclass(frozen=True)
class Rules:
    references: tuple[Reference, ...]
    self_introductions: tuple[re.Pattern[str], ...]
    email: re.Pattern[str]


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> Rules:
    data = yaml.safe_load(Path(path or RULES_PATH).read_text(encoding="utf-8"))
    return Rules(
        references=tuple(
            Reference(r["name"], re.compile(r["pattern"], re.IGNORECASE), r["canonical"])
            for r in data.get("references", [])
        ),
        self_introductions=tuple(re.compile(p, re.IGNORECASE) for p in data.get("self_introductions", [])),
        email=re.compile(data["email"]),
    )


# ---------------------------------------------------------------------------------- evidence
@dataclass(frozen=True)
class Clue:
    """One identifier an event gives about its author, normalised to its claim key."""

    kind: str
    value: str
    verified: bool
    source: str  # platform | identifier | text

    @property
    def key(self) -> str:
        return identity_key(self.kind, self.value)

    def as_new(self, handle: str | None = None, replaces: str | None = None) -> NewIdentity:
        return NewIdentity(kind=self.kind, value=self.value, verified=self.verified, source=self.source,
                           handle=handle, replaces=replaces)


@dataclass
class Evidence:
    platform: Clue | None
    strong: list[Clue] = field(default_factory=list)
    others: list[Clue] = field(default_factory=list)  # other channels' ids the platform asserts
    refs: list[Clue] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    handle: str | None = None

    @property
    def clues(self) -> list[Clue]:
        return [c for c in [self.platform, *self.strong, *self.others, *self.refs] if c is not None]


def normalise(kind: str, value: str) -> str | None:
    """The claim-key spelling of an identifier, or None when it is not a valid one."""
    value = (value or "").strip()
    if not value:
        return None
    if kind == IdentifierKind.PHONE:
        return phones.to_e164(value)
    if kind == IdentifierKind.WHATSAPP:
        # The wa_id is WhatsApp's own id for the person: it keys the claim even when it is no
        # phone number we can read (a range newer than our metadata); a "+39 ..." spelling of
        # it (an agent's lookup) lands on the same digits.
        e164 = phones.from_wa_id(value) or phones.to_e164(value)
        return phones.wa_id_of(e164) if e164 else (phones.wa_id_of(value) or None)
    if kind == IdentifierKind.EMAIL:
        return value.lower() if "@" in value else None
    if kind == IdentifierKind.REF:
        # "ordine 123456" and "ORD-123456" are one reference; an unrecognised one is kept as is.
        canonical = extract_refs(value, load_rules())
        return canonical[0] if len(canonical) == 1 else value.upper()
    return value


def platform_identity(interaction: Interaction) -> Clue | None:
    """The identity the author writes from: their id on this channel (always verified)."""
    author = interaction.author.id
    if interaction.channel is Channel.PHONE:
        e164 = phones.to_e164(author)
        return Clue(IdentifierKind.PHONE.value, e164, True, "platform") if e164 else None
    if interaction.channel is Channel.EMAIL:
        email = normalise(IdentifierKind.EMAIL, author)
        return Clue(IdentifierKind.EMAIL.value, email, True, "platform") if email else None
    kind = _CHANNEL_KINDS.get(interaction.channel)
    if kind is None:
        return None
    value = normalise(kind, author)
    return Clue(kind.value, value, True, "platform") if value else None


def extract_refs(text: str | None, rules: Rules) -> list[str]:
    found: list[str] = []
    for ref in rules.references:
        for match in ref.pattern.finditer(text or ""):
            canonical = ref.canonical.format(**match.groupdict()).upper()
            if canonical not in found:
                found.append(canonical)
    return found


def gather(interaction: Interaction, rules: Rules | None = None) -> Evidence:
    """Everything the event says about who wrote it, normalised; no I/O."""
    rules = rules or load_rules()
    platform = platform_identity(interaction)
    collected: dict[str, Clue] = {}

    def add(kind: str, raw_value: str, verified: bool, source: str) -> None:
        value = normalise(kind, raw_value)
        if value is None:
            return
        clue = Clue(kind, value, verified, source)
        previous = collected.get(clue.key)
        # The same identifier asserted by the platform and typed in the text is verified.
        if previous is None or (verified and not previous.verified):
            collected[clue.key] = clue

    for ident in interaction.identifiers:
        add(ident.kind.value, ident.value, ident.verified, "identifier")
    if interaction.channel is Channel.WHATSAPP and platform is not None:
        # A wa_id *is* the phone number: WhatsApp has verified it.
        add(IdentifierKind.PHONE.value, "+" + platform.value, True, "platform")
    text = interaction.text or ""
    for e164 in phones.find_in_text(text):
        add(IdentifierKind.PHONE.value, e164, False, "text")
    for email in rules.email.findall(text):
        add(IdentifierKind.EMAIL.value, email, False, "text")
    for ref in extract_refs(text, rules):
        add(IdentifierKind.REF.value, ref, False, "text")
    if platform is not None:
        collected.pop(platform.key, None)

    intro = names.self_introduction(text, rules.self_introductions)
    event_names = [n for n in (intro, interaction.author.name) if n and names.tokens(n)]
    handle = interaction.author.handle if interaction.channel in (Channel.X, Channel.INSTAGRAM) else None
    clues = list(collected.values())
    return Evidence(
        platform=platform,
        strong=[c for c in clues if c.kind in _STRONG],
        others=[c for c in clues if c.kind not in _STRONG and c.kind != IdentifierKind.REF],
        refs=[c for c in clues if c.kind == IdentifierKind.REF],
        names=list(dict.fromkeys(event_names)),
        handle=handle.lstrip("@") if handle else None,
    )


# ---------------------------------------------------------------------------------- decision
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


def _choose(evidence: Evidence, claims: dict[str, Claim], profiles: dict[str, Profile]) -> tuple[str | None, str]:
    def owner(clue: Clue) -> Claim | None:
        claim = claims.get(clue.key)
        return claim if claim is not None and claim.customer_id in profiles else None

    if evidence.platform is not None and (claim := owner(evidence.platform)) is not None:
        return claim.customer_id, "platform"
    verified = [c for c in [*evidence.strong, *evidence.others] if c.verified]
    for clue in verified:
        claim = owner(clue)
        # A verified identifier links on its own, unless it points at a claim that was only
        # typed by someone whose name clearly is not this author's (a mistyped number).
        if claim is not None and (claim.verified or not names.conflict(evidence.names,
                                                                       profiles[claim.customer_id].names)):
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
    agree = chosen is None or _names_agree(evidence, chosen_profile)
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
            # Evidence for a second customer never merges anyone: an agent decides.
            reason = "same reference, names differ" if clue.kind == IdentifierKind.REF else f"shared {clue.kind}"
            if clue.kind == IdentifierKind.REF and _names_agree(evidence, profiles[claim.customer_id]):
                reason = "same reference and name"
            decision.suggestions.append(SuggestionDraft(claim.customer_id, reason, clue))
    return decision


# ---------------------------------------------------------------------------------- recognise
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
        # what a CRM contact is matched on
        "verified_phones": sorted(profile.verified_phones),
        "verified_emails": sorted(profile.verified_emails),
        "handles": dict(profile.handles),
    }


def _new_customer_id() -> str:
    return f"cus_{uuid.uuid4().hex[:20]}"


def _names_to_add(evidence: Evidence, profile: Profile) -> list[str] | None:
    known = [names.tokens(n) for n in profile.names]
    fresh = [n for n in evidence.names if names.tokens(n) not in known]
    if not fresh:
        return None
    return [*profile.known_names, *fresh][-_MAX_KNOWN_NAMES:]


def _resolve_aliases(repo: ProfilesRepository, claims: dict[str, Claim], profiles: dict[str, Profile]) -> None:
    """A claim read in the middle of a merge may still name the merged customer: follow it."""
    for claim in claims.values():
        profile = profiles.get(claim.customer_id)
        if profile is not None and profile.merged_into:
            survivor = repo.get_profile(claim.customer_id)
            if survivor is None:
                continue
            profiles[survivor.id] = survivor
            claim.customer_id = survivor.id
    for cid in [c for c, p in profiles.items() if p.merged_into]:
        del profiles[cid]


def recognise(interaction: Interaction, repo: ProfilesRepository | None = None) -> Recognition:
    """Find (or create) the customer who wrote ``interaction``; never merges two customers."""
    repo = repo or ProfilesRepository.default()
    evidence = gather(interaction)
    keys = [(c.kind, c.value) for c in evidence.clues]
    for attempt in range(_ATTEMPTS):
        claims = repo.get_claims(keys)
        profiles = repo.get_profiles({c.customer_id for c in claims.values()})
        _resolve_aliases(repo, claims, profiles)
        decision = decide(evidence, claims, profiles)
        try:
            recognition = _apply(repo, interaction, evidence, decision, profiles)
        except (ClaimTaken, CustomerMoved) as exc:
            # Someone claimed one of these identifiers (or merged the customer) first: re-read
            # and join the winner rather than creating a second customer.
            logger.info("identity race lost, re-reading", extra={"attempt": attempt, "reason": str(exc)})
            continue
        metrics.add_metric(name="NewCustomers" if recognition.created else "ReturningCustomers",
                           unit=MetricUnit.Count, value=1)
        known = profiles.get(recognition.customer_id)
        already = known.suggested_with if known is not None else set()
        for draft in decision.suggestions:
            if draft.other_customer_id in already:
                continue  # suggested (or dismissed) before: no write on the hot path
            repo.put_suggestion(
                recognition.customer_id, draft.other_customer_id, draft.reason,
                [{"kind": draft.clue.kind, "value": draft.clue.value}], interaction.id,
            )
            metrics.add_metric(name="MatchSuggestions", unit=MetricUnit.Count, value=1)
        return recognition
    raise RuntimeError(f"could not settle the identity of {interaction.id} after {_ATTEMPTS} attempts")


def _apply(
    repo: ProfilesRepository, interaction: Interaction, evidence: Evidence, decision: Decision,
    profiles: dict[str, Profile],
) -> Recognition:
    handles = {interaction.channel.value: evidence.handle} if evidence.handle else {}
    handle_of = {evidence.platform.key: evidence.handle} if evidence.platform and evidence.handle else {}
    attach = [c.as_new(handle_of.get(c.key), decision.orphans.get(c.key)) for c in decision.attach]
    suggested = list(dict.fromkeys(d.other_customer_id for d in decision.suggestions))
    if decision.customer_id is None:
        name = evidence.names[0] if evidence.names else interaction.author.handle
        verified = [c for c in decision.attach if c.verified]
        profile = Profile(
            id=_new_customer_id(), name=name, known_names=list(evidence.names),
            first_seen=iso(interaction.occurred_at), handles={k: v for k, v in handles.items() if v},
            verified_phones={c.value for c in verified if c.kind == IdentifierKind.PHONE},
            verified_emails={c.value for c in verified if c.kind == IdentifierKind.EMAIL},
        )
        repo.create_customer(profile, attach, handles)
        return Recognition(customer_id=profile.id, created=True, matched_by="new",
                           context=context_of(profile, created=True), suggestions=suggested)
    profile = profiles[decision.customer_id]
    new_names = _names_to_add(evidence, profile)
    handle_changed = bool(handles) and any(profile.handles.get(k) != v for k, v in handles.items())
    missing_name = profile.name is None and bool(evidence.names)
    if attach or decision.upgrades or new_names or handle_changed or missing_name:
        repo.attach(
            profile.id, attach, upgrades=[c.as_new() for c in decision.upgrades], known_names=new_names,
            name=evidence.names[0] if missing_name else None,
            handles={**profile.handles, **handles} if handle_changed else None,
        )
    return Recognition(customer_id=profile.id, created=False, matched_by=decision.matched_by,
                       context=context_of(profile), suggestions=suggested)


# ---------------------------------------------------------------------------------- lookups
def find_customer(kind: str, value: str, repo: ProfilesRepository | None = None) -> str | None:
    """The customer holding an identifier given in any spelling, or None.

    ``phone`` accepts "+39 333 111 2222", "0039 333 1112222", "393331112222", "3331112222"
    (default region); ``email`` any case; ``x``/``instagram`` a user id or an @handle.
    """
    repo = repo or ProfilesRepository.default()
    kind, value = kind.strip().lower(), value.strip()
    handles_kind = kind in (IdentifierKind.X, IdentifierKind.INSTAGRAM)
    if handles_kind and value.startswith("@"):
        return repo.get_handle(kind, value)
    try:
        kind = IdentifierKind(kind).value
    except ValueError:
        return None
    normalised = normalise(kind, value)
    if normalised is None:
        return None
    claim = repo.get_claim(kind, normalised)
    if claim is None and handles_kind and not value.isdigit():
        return repo.get_handle(kind, value)  # "anna_bianchi" without its "@"
    if claim is None and kind == IdentifierKind.PHONE:
        # A WhatsApp-only customer whose parser did not assert the phone: its wa_id is the number.
        claim = repo.get_claim(IdentifierKind.WHATSAPP.value, phones.wa_id_of(normalised))
    return claim.customer_id if claim else None


def add_identity(customer_id: str, kind: str, value: str, *, verified: bool = True, source: str = "crm",
                 repo: ProfilesRepository | None = None) -> str:
    """Attach an identifier a trusted system asserts (a CRM contact's phone or e-mail).

    Returns "attached", "already" (the customer holds it), or "suggested" when another customer
    holds it - which, as everywhere, never merges the two.
    """
    repo = repo or ProfilesRepository.default()
    normalised = normalise(kind, value)
    if normalised is None:
        raise BadRequest(f"not a valid {kind}: {value!r}")
    profile = repo.get_profile(customer_id)
    if profile is None:
        raise NotFound(f"no customer {customer_id}")
    clue = Clue(kind, normalised, verified, source)
    for _ in range(_ATTEMPTS):
        claim = repo.get_claim(kind, normalised)
        if claim is not None and claim.customer_id == profile.id:
            if verified and not claim.verified:
                repo.attach(profile.id, [], upgrades=[clue.as_new()])
            return "already"
        if claim is not None:
            repo.put_suggestion(profile.id, claim.customer_id, f"shared {kind}", [{"kind": kind, "value": normalised}],
                                None)
            return "suggested"
        try:
            repo.attach(profile.id, [clue.as_new()])
        except (ClaimTaken, CustomerMoved):
            profile = repo.get_profile(customer_id) or profile
            continue
        return "attached"
    raise RuntimeError(f"could not attach {kind} to {customer_id}")


def context_for(customer_id: str, repo: ProfilesRepository | None = None) -> dict[str, Any]:
    """The returning-customer context (Connect screen-pop, routing), or {} for an unknown id."""
    repo = repo or ProfilesRepository.default()
    profile = repo.get_profile(customer_id)
    return context_of(profile) if profile is not None else {}


# ---------------------------------------------------------------------------------- merge
def _verified_conflicts(a: Profile, b: Profile) -> dict[str, list[str]]:
    conflicts: dict[str, list[str]] = {}
    if a.verified_phones and b.verified_phones and a.verified_phones != b.verified_phones:
        conflicts["phone"] = sorted(a.verified_phones | b.verified_phones)
    if a.verified_emails and b.verified_emails and a.verified_emails != b.verified_emails:
        conflicts["email"] = sorted(a.verified_emails | b.verified_emails)
    return conflicts


def _merge_cases(source: str, target: str) -> dict[str, Any] | None:
    """Merge the two customers' open cases into one, and tell the teams and the CRM.

    The older open case survives; the other becomes ``merged`` pointing at it. Both versions go
    to the CRM (the merged one closed with a pointer: the cases repository queues every case
    version it writes), and the hand-off items reach the teams.
    Every step is idempotent, so repeating an interrupted merge finishes it.
    """
    # Imported here: the cases service imports this module's context helpers.
    from socialcare import cases, workitems

    outcome = cases.merge_customers(source, target)  # both case versions reach the CRM from there
    workitems.send(outcome.work_items)
    survivor, merged = outcome.survivor, outcome.merged
    return {
        "survivor": survivor.id if survivor else None,
        "merged": merged.id if merged else None,
        "survivor_open": bool(survivor and survivor.is_open),
    }


def merge(source: str, target: str, *, actor: str = "agent", force: bool = False,
          repo: ProfilesRepository | None = None) -> dict[str, Any]:
    """Merge customer ``source`` into ``target`` (the survivor); audited on both, reversible.

    Raises Conflict (409) for a self-merge, an already merged customer, or two customers holding
    different verified phones/e-mails (unless ``force``: an agent who knows better). Repeating
    an interrupted merge of the same pair finishes moving what is left.
    """
    repo = repo or ProfilesRepository.default()
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
    conflicts = {} if resuming else _start_merge(repo, found[source], found[target], at, force)
    identities = repo.identities(source)
    repo.move_identities(source, target, identities)
    items = repo.timeline_items(source)
    repo.move_interactions(source, target, items)
    if resuming and not identities and not items:
        raise Conflict(f"customer {source} was already merged", merged_into=target)
    for suggestion in repo.partition_suggestions(source):
        repo.delete_suggestion(source, suggestion.other_customer_id)
        if suggestion.other_customer_id != target:
            repo.put_suggestion(target, suggestion.other_customer_id, suggestion.reason, suggestion.evidence,
                                suggestion.interaction_id)
    cases_merged = _merge_cases(source, target)
    if cases_merged and cases_merged["survivor"] and cases_merged["survivor_open"]:
        repo.update_context(target, open_case_id=cases_merged["survivor"])
    record = {
        "action": "merge", "source": source, "target": target, "actor": actor, "forced": bool(conflicts),
        "resumed": resuming, "identities": [{"kind": i.kind, "value": i.value} for i in identities],
        "interactions": len(items), "cases": cases_merged,
    }
    for cid in (source, target):
        repo.put_merge_record(cid, at, merge_id, record)
    logger.info("customers merged", extra={"source": source, "target": target, "merge_id": merge_id})
    return {"id": target, "merged": source, "merge_id": merge_id, "identities_moved": len(identities),
            "interactions_moved": len(items), "cases": cases_merged}


def _start_merge(repo: ProfilesRepository, source: Profile, target: Profile, at: str,
                 force: bool) -> dict[str, list[str]]:
    """Guard, alias and fold the profile - all before any item moves, so that an interrupted
    merge loses no counter and a repeat only has items left to move."""
    conflicts = _verified_conflicts(source, target)
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
        "known_names": list(dict.fromkeys([*target.known_names, *frozen.known_names]))[-_MAX_KNOWN_NAMES:],
        "merged_from": [*target.merged_from, source.id],
        "previous_cases": list(dict.fromkeys([*target.previous_cases, *frozen.previous_cases])),
    })
    return conflicts


def dismiss_suggestion(customer_id: str, other: str, *, actor: str = "agent",
                       repo: ProfilesRepository | None = None) -> dict[str, Any]:
    """An agent decided two customers are different people: drop the suggestion, audited.

    The pair stays in both profiles' ``suggested_with``, so it is not suggested again.
    """
    repo = repo or ProfilesRepository.default()
    suggestion = repo.get_suggestion(customer_id, other)
    if suggestion is None:
        raise NotFound(f"no suggestion between {customer_id} and {other}")
    repo.delete_suggestion(customer_id, other)
    at, record_id = now_iso(), uuid.uuid4().hex[:12]
    record = {"action": "dismiss_suggestion", "source": customer_id, "target": other, "actor": actor,
              "reason": suggestion.reason, "evidence": suggestion.evidence}
    for cid in (customer_id, other):
        repo.put_merge_record(cid, at, record_id, record)
    return {"id": customer_id, "dismissed": other}


def unmerge(customer_id: str, identities: Iterable[tuple[str, str]], *, actor: str = "agent",
            repo: ProfilesRepository | None = None) -> dict[str, Any]:
    """Split identities (and the interactions that came through them) off ``customer_id``.

    They go back to the customer they were merged from when they all came from one; otherwise
    to a new customer. Audited on both.
    """
    repo = repo or ProfilesRepository.default()
    view = repo.customer_view(customer_id, follow=False)
    if view is None:
        raise NotFound("no such customer")
    if view.profile.merged_into:
        raise Conflict(f"customer {customer_id} was merged; unmerge from {view.profile.merged_into}")
    held = {i.key: i for i in view.identities}
    wanted: list[IdentityRecord] = []
    for kind, value in identities:
        key = identity_key(kind, normalise(kind, value) or value)
        if key not in held:
            raise Conflict("the customer does not hold this identity", kind=kind, value=value)
        wanted.append(held[key])
    if not wanted:
        raise Conflict("no identities to unmerge")
    if len({i.key for i in wanted}) == len(held):
        raise Conflict("unmerging every identity would leave the customer empty")
    destination, restored = _unmerge_destination(repo, customer_id, wanted)
    keys = {i.key for i in wanted}
    repo.move_identities(customer_id, destination, wanted, origin=destination)
    items = [i for i in repo.timeline_items(customer_id) if i.get("via") in keys]
    repo.move_interactions(customer_id, destination, items, origin=destination)
    for cid in (customer_id, destination):
        counted = _recount(repo, cid)
        if cid == destination and not restored and counted.get("known_names"):
            counted["name"] = counted["known_names"][-1]  # a new customer is named by its messages
        repo.overwrite_profile(cid, counted)
    if restored:
        repo.overwrite_profile(customer_id, {
            "merged_from": [c for c in view.profile.merged_from if c != destination]
        })
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


def _unmerge_destination(repo: ProfilesRepository, customer_id: str, wanted: list[IdentityRecord]) -> tuple[str, bool]:
    origins = {i.origin_customer_id for i in wanted}
    if len(origins) == 1 and (origin := origins.pop()) and origin != customer_id:
        previous = repo.get_profile(origin, follow=False)
        if previous is not None and previous.merged_into == customer_id:
            # Reactivate before any claim points back at it, so nothing follows a stale alias.
            repo.reactivate(origin)
            return origin, True
    fresh = Profile(id=_new_customer_id(), first_seen=now_iso())
    repo.create_customer(fresh, [])
    return fresh.id, False


def _recount(repo: ProfilesRepository, customer_id: str) -> dict[str, Any]:
    """Counters and verified sets rebuilt from what the customer now holds (unmerge only)."""
    inbound = [i for i in repo.timeline_items(customer_id) if i.get("direction", "inbound") == "inbound"]
    counts: dict[str, int] = {}
    for item in inbound:
        counts[item["channel"]] = counts.get(item["channel"], 0) + 1
    held = repo.identities(customer_id)
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
        fields["known_names"] = list(dict.fromkeys(names_seen))[-_MAX_KNOWN_NAMES:]
    return fields
