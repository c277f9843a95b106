"""What an event says about who wrote it: the identity rules, clues and their normal forms (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from socialcare.config.rules import IdentityRules
from socialcare.domain import names, phones
from socialcare.domain.identity.references import References
from socialcare.models.interaction import Channel, IdentifierKind, Interaction
from socialcare.models.profile import NewIdentity, identity_key

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
# The characters of an address on either side of its '@', and how far each side may reach.
_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_DOMAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_MAX_LOCAL, _MAX_DOMAIN = 64, 255
_MAX_EMAILS = 20
_MAX_ATS = 500  # '@' examined per message: bounds the work on "a@a@a@..."


@dataclass(frozen=True)
class Rules:
    """The identity rules (``config/identity.yaml``, with the deployment's own reference
    formats) compiled, with the deployment's phone region."""

    references: References
    self_introductions: tuple[re.Pattern[str], ...]
    sign_offs: names.SignOffs | None
    email: re.Pattern[str]
    region: str

    @classmethod
    def compile(cls, rules: IdentityRules, region: str) -> Rules:
        return cls(
            references=References.compile(rules.references, rules.reference_words, region),
            self_introductions=tuple(re.compile(p, re.IGNORECASE) for p in rules.self_introductions),
            sign_offs=names.SignOffs.compile(rules.sign_offs),
            email=re.compile(rules.email),
            region=region,
        )


def find_emails(text: str, pattern: re.Pattern[str]) -> list[str]:
    """E-mail addresses typed in ``text``, in linear time.

    Searching the address pattern through the text rescans a long run of letters from every
    position (200,000 letters took minutes); instead each '@' is found first, the address is
    widened around it over the characters an address may hold (a bounded reach, never past
    another '@'), and only that window is matched.
    """
    found: list[str] = []
    at = text.find("@")
    examined = 0
    while at != -1 and len(found) < _MAX_EMAILS and examined < _MAX_ATS:
        examined += 1
        start = at
        while start > 0 and at - start < _MAX_LOCAL and text[start - 1] in _LOCAL:
            start -= 1
        end = at + 1
        while end < len(text) and end - at <= _MAX_DOMAIN and text[end] in _DOMAIN:
            end += 1
        match = pattern.match(text, start, end)
        if match is not None and match.group() not in found:
            found.append(match.group())
        at = text.find("@", at + 1)
    return found


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


def normalise(kind: str, value: str, rules: Rules) -> str | None:
    """The claim-key spelling of an identifier, or None when it is not a valid one."""
    value = (value or "").strip()
    if not value:
        return None
    if kind == IdentifierKind.PHONE:
        return phones.to_e164(value, rules.region)
    if kind == IdentifierKind.WHATSAPP:
        # The wa_id is WhatsApp's own id for the person: it keys the claim even when it is no
        # phone number we can read (a range newer than our metadata); a "+39 ..." spelling of
        # it (an agent's lookup) lands on the same digits.
        e164 = phones.from_wa_id(value) or phones.to_e164(value, rules.region)
        return phones.wa_id_of(e164) if e164 else (phones.wa_id_of(value) or None)
    if kind == IdentifierKind.EMAIL:
        return value.lower() if "@" in value else None
    if kind == IdentifierKind.REF:
        # "ordine 123456" and "ORD-123456" are one reference; "#ab/2024/00017" is AB-2024-00017.
        return rules.references.lookup_key(value)
    return value


def platform_identity(interaction: Interaction, rules: Rules) -> Clue | None:
    """The identity the author writes from: their id on this channel (always verified)."""
    author = interaction.author.id
    if interaction.channel is Channel.PHONE:
        e164 = phones.to_e164(author, rules.region)
        return Clue(IdentifierKind.PHONE.value, e164, True, "platform") if e164 else None
    if interaction.channel is Channel.EMAIL:
        email = normalise(IdentifierKind.EMAIL, author, rules)
        return Clue(IdentifierKind.EMAIL.value, email, True, "platform") if email else None
    kind = _CHANNEL_KINDS.get(interaction.channel)
    if kind is None:
        return None
    value = normalise(kind, author, rules)
    return Clue(kind.value, value, True, "platform") if value else None


def extract_refs(text: str | None, rules: Rules) -> list[str]:
    """The canonical references typed in ``text`` (``references.References.extract``)."""
    return rules.references.extract(text)


def gather(interaction: Interaction, rules: Rules) -> Evidence:
    """Everything the event says about who wrote it, normalised; no I/O."""
    platform = platform_identity(interaction, rules)
    collected: dict[str, Clue] = {}

    def add(kind: str, raw_value: str, verified: bool, source: str) -> None:
        value = normalise(kind, raw_value, rules)
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
    for e164 in phones.find_in_text(text, rules.region):
        add(IdentifierKind.PHONE.value, e164, False, "text")
    for email in find_emails(text, rules.email):
        add(IdentifierKind.EMAIL.value, email, False, "text")
    for ref in extract_refs(text, rules):
        add(IdentifierKind.REF.value, ref, False, "text")
    if platform is not None:
        collected.pop(platform.key, None)

    intro = names.self_introduction(text, rules.self_introductions)
    signed = names.signature(text, rules.sign_offs)
    event_names = [n for n in (intro, signed, interaction.author.name) if n and names.tokens(n)]
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


def via_key(interaction: Interaction, rules: Rules) -> str:
    """The identity an interaction arrived through (``x#123``, ``phone#+39...``): unmerge moves
    the interactions of the identities it splits off."""
    ident = platform_identity(interaction, rules)
    return ident.key if ident is not None else f"{interaction.channel.value}#{interaction.author.id}"
