"""A seeded population of customers writing on two to six channels, with the ground truth.

``generate(n, seed)`` returns people, their accounts (one per platform identity: an X account
serves both public posts and DMs) and every message as an ``Interaction`` shaped as the channel
parser makes it: X carries the display name and handle, Facebook the profile name, Messenger and
Instagram DMs no name at all, WhatsApp the ``wa_id`` and profile name (and the phone it asserts),
a call only its caller id, e-mail and web forms go through the gateway's own parser.

Adversarial people are added on purpose: namesakes (same name, same or another brand), relatives
quoting someone else's order under their own name, families sharing one landline, typos in
references, and lone first names (which Zipf-weighted names make common).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.recognition import people, texts
from bench.recognition.people import BRANDS, LANGUAGE, NAMES, Brand, Phone, Picker
from socialcare.domain import names
from socialcare.domain.channels import gateway
from socialcare.models.interaction import Author, Channel, Identifier, IdentifierKind, Interaction, Kind

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CHANNELS = {"x_public": 14, "x_dm": 10, "facebook": 12, "messenger": 14, "instagram": 10, "whatsapp": 16,
            "phone": 12, "email": 8, "web": 6}
ACCOUNT_OF = {"x_public": "x", "x_dm": "x"}
REGION = "IT"


@dataclass
class Person:
    pid: int
    first: str
    middle: str | None
    last: str
    country: str
    brand: Brand
    order: str
    mobile: Phone
    email: str
    role: str = "customer"  # customer | namesake | relative | family
    of: int | None = None  # the person a namesake/relative/family member relates to
    landline: Phone | None = None  # a household line: the person calls from it
    quotes: str | None = None  # a relative: the order they write about
    types_landline: Phone | None = None  # a family member: the shared line they give as call-back

    @property
    def lang(self) -> str:
        return LANGUAGE[self.country]

    def full_name(self, rng: random.Random) -> str:
        """The name spelled one of the ways people spell their own name."""
        name = f"{self.first} {self.last}"
        roll = rng.random()
        if self.middle and roll < 0.15:
            name = f"{self.first} {self.middle} {self.last}"
        elif roll < 0.25:
            name = f"{self.last} {self.first}"
        elif roll < 0.35 and " " in self.last and self.country == "ES":
            name = f"{self.first} {self.last.split()[0]}"
        case = rng.random()
        if case < 0.12:
            name = _strip_accents(name)
        elif case < 0.2:
            name = name.lower()
        elif case < 0.24:
            name = name.upper()
        return name

    def nickname(self, rng: random.Random) -> str:
        first = self.first
        return rng.choice([f"{first[:4].lower()}y", f"{first} {self.last[0]}.", f"{first} ✨",
                           f"{_strip_accents(first).lower()}_{rng.randrange(70, 100)}", f"La {first[:3]}"])


@dataclass
class Account:
    aid: int
    pid: int
    channel: str  # x | facebook | messenger | instagram | whatsapp | phone | email | web
    platform_id: str
    display_name: str | None = None
    handle: str | None = None
    named: bool = False  # some name on it (platform or introduction) has a first name and surname
    verified: set[tuple[str, str]] = field(default_factory=set)  # (kind, value) a platform asserts
    typed: set[tuple[str, str]] = field(default_factory=set)  # (kind, value) its messages state readably
    messages: list[Interaction] = field(default_factory=list)
    # per message (same order): the identifiers it states readably, and whether it names the person
    facts: list[tuple[frozenset[tuple[str, str]], bool]] = field(default_factory=list)


@dataclass
class Population:
    people: list[Person]
    accounts: list[Account]

    def interactions(self) -> list[tuple[Interaction, Account]]:
        """Every message, in the order they reach the system."""
        found = [(m, a) for a in self.accounts for m in a.messages]
        return sorted(found, key=lambda pair: (pair[0].occurred_at, pair[0].id))


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.pickers = {(c, part): Picker(names) for c, parts in NAMES.items() for part, names in parts.items()}
        self.people: list[Person] = []
        self.accounts: list[Account] = []
        self.emails: set[str] = set()
        self.serial = 0

    def next_id(self, digits: int = 16) -> str:
        self.serial += 1
        return f"{self.serial:0{digits}d}"

    # ---------------------------------------------------------------- people
    def person(self, role: str = "customer", like: Person | None = None) -> Person:
        rng = self.rng
        country = like.country if like is not None and rng.random() < 0.8 else rng.choices(
            list(people.COUNTRIES), weights=list(people.COUNTRIES.values()))[0]
        gender = rng.choice(["female", "male"])
        first = self.pickers[(country, gender)](rng)
        middle = self.pickers[(country, "middle")](rng) if rng.random() < 0.12 else None
        last = self.pickers[(country, "last")](rng)
        if country == "ES":
            last = f"{last} {self.pickers[(country, 'last')](rng)}"
        brand = rng.choice(BRANDS)
        if like is not None and role == "namesake":
            first, middle, last, country = like.first, like.middle, like.last, like.country
            brand = like.brand if rng.random() < 0.5 else brand
        if like is not None and role in ("relative", "family"):
            last, brand = like.last if rng.random() < 0.7 else last, like.brand
            while first == like.first:
                first = self.pickers[(country, rng.choice(["female", "male"]))](rng)
        mail_user = _strip_accents(f"{first}.{last}").lower().replace(" ", "").replace("'", "")
        email = f"{mail_user}{rng.choice(['', '', str(rng.randrange(10, 99))])}@{rng.choice(people.MAIL_DOMAINS)}"
        while email in self.emails:  # an address is one person's, however common the name
            email = f"{mail_user}{rng.randrange(100, 9999)}@{rng.choice(people.MAIL_DOMAINS)}"
        self.emails.add(email)
        person = Person(len(self.people), first, middle, last, country, brand, brand.reference(rng),
                        people.mobile(rng, country), email, role, like.pid if like is not None else None)
        self.people.append(person)
        return person

    def population(self, n: int) -> None:
        rng = self.rng
        while len(self.people) < n:
            roll = rng.random()
            target = rng.choice(self.people) if self.people else None
            if target is None or roll > 0.10:
                self.write(self.person())
            elif roll < 0.04:
                self.write(self.person("namesake", target))
            elif roll < 0.07:
                relative = self.person("relative", target)
                relative.quotes = target.order
                self.write(relative)
            else:
                self.family(target)

    def family(self, target: Person) -> None:
        """Two people share a landline: one calls from it, the other gives it as call-back number."""
        line = people.landline_it(self.rng)
        caller = self.person("family", target)
        caller.landline = line
        self.write(caller, must=("phone",))
        member = self.person("family", caller)
        member.types_landline = line
        self.write(member)

    # ---------------------------------------------------------------- accounts and messages
    def write(self, person: Person, must: tuple[str, ...] = ()) -> None:
        rng = self.rng
        k = rng.choices([2, 3, 4, 5, 6], weights=[25, 30, 25, 12, 8])[0]
        channels = set(must)
        while len(channels) < k:
            channels.add(rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0])
        start = START + timedelta(minutes=rng.randrange(60 * 24 * 60))
        by_account: dict[str, Account] = {}
        for channel in sorted(channels):
            kind = ACCOUNT_OF.get(channel, channel)
            account = by_account.get(kind) or self.account(person, kind)
            by_account[kind] = account
            for _ in range(rng.choice([1, 1, 2, 2, 3] if kind in ("messenger", "whatsapp") else [1, 1, 2])):
                when = start + timedelta(minutes=rng.randrange(60 * 24 * 10))
                account.messages.append(self.message(person, account, channel, when))

    def account(self, person: Person, kind: str) -> Account:
        rng = self.rng
        account = Account(len(self.accounts), person.pid, kind, self.next_id())
        roll = rng.random()
        if kind == "x":
            account.display_name = (person.full_name(rng) if roll < 0.5 else person.first if roll < 0.7
                                    else person.nickname(rng))
            account.handle = f"{_strip_accents(person.first).lower()}{rng.randrange(1000)}"
        elif kind == "facebook":
            account.display_name = person.full_name(rng)
        elif kind == "whatsapp":
            account.platform_id = person.mobile.e164[1:]
            account.display_name = (person.full_name(rng) if roll < 0.55 else person.first if roll < 0.8
                                    else person.nickname(rng))
            account.verified.add(("phone", person.mobile.e164))
        elif kind == "phone":
            line = person.landline or person.mobile
            account.platform_id = line.e164
            account.verified.add(("phone", line.e164))
        elif kind == "email":
            account.platform_id = person.email
            account.display_name = person.full_name(rng) if roll < 0.85 else None
            account.verified.add(("email", person.email))
        elif kind == "web":
            account.display_name = person.full_name(rng) if roll < 0.9 else person.first
        account.named = account.display_name is not None and _is_full(account.display_name, person)
        self.accounts.append(account)
        return account

    def said(self, person: Person, account: Account) -> tuple[str, texts.Said]:
        rng, lang, said = self.rng, person.lang, texts.Said()
        intro = None
        if rng.random() < 0.35 or person.role == "relative":
            intro = person.full_name(rng) if rng.random() < 0.75 or person.role == "relative" else person.first
            # The documented rules read only the capitalised words after "sono", "my name is"...
            # ("sono arrabbiata" introduces nobody), so a lower-case introduction names no one.
            readable = all(word[:1].isupper() for word in intro.split())
            said.name, said.full_name = intro, readable and _is_full(intro, person)
        ref = None
        order = person.quotes or person.order
        if rng.random() < (0.9 if person.quotes else 0.65):
            quoted = people.typo(order, rng) if rng.random() < 0.04 else order
            shown = quoted
            if person.brand.scheme == "hash-alnum" and rng.random() < 0.5:
                shown = "#" + quoted
            elif person.brand.scheme == "ord-digits" and rng.random() < 0.3:
                shown = quoted.removeprefix("ORD-")
            ref, introduced = texts.reference_phrase(shown, lang, rng, bare_rate=0.1)
            if introduced:
                said.refs.append(quoted.upper())
        phone = None
        line = person.types_landline
        if line is not None or rng.random() < 0.15:
            number = line or person.mobile
            phone, international = number.spelled(rng)
            if international or number.country == REGION:
                said.phones.append(number.e164)
        email = None
        if rng.random() < 0.08:
            email = rng.choice([person.email, person.email.title(), person.email.upper()])
            said.emails.append(person.email)
        note = texts.ON_BEHALF[lang] if person.role == "relative" else None
        return texts.compose(lang, rng, intro=intro, ref=ref, phone=phone, email=email, note=note), said

    def message(self, person: Person, account: Account, channel: str, when: datetime) -> Interaction:
        mid = self.next_id(12)
        if account.channel == "phone":
            account.facts.append((frozenset(account.verified), False))
            return Interaction(
                id=f"phone:{mid}", channel=Channel.PHONE, kind=Kind.CALL, platform_message_id=mid,
                author=Author(id=account.platform_id), occurred_at=when,
                identifiers=[Identifier(kind=IdentifierKind.PHONE, value=account.platform_id, verified=True)],
            )
        text, said = self.said(person, account)
        stated = {("ref", r) for r in said.refs} | {("phone", p) for p in said.phones} | {
            ("email", e) for e in said.emails}
        named = said.full_name or (account.display_name is not None and _is_full(account.display_name, person))
        account.named = account.named or named
        account.typed.update(stated)
        if account.channel in ("email", "web"):
            interaction = self.gateway(person, account, text, mid, when)
            stated |= account.typed if account.channel == "web" else set()  # the form's own fields
        else:
            interaction = _platform_message(account, channel, text, mid, when)
        account.facts.append((frozenset(stated | account.verified), named))
        return interaction

    def gateway(self, person: Person, account: Account, text: str, mid: str, when: datetime) -> Interaction:
        sender: dict[str, object] = {"name": account.display_name}
        if account.channel == "email":
            sender.update(email=person.email, email_verified=self.rng.random() < 0.7)
        else:
            sender.update(email=person.email, phone=person.mobile.spelled(self.rng)[0])
            account.typed.add(("email", person.email))
            spelled = sender["phone"]
            if person.country == REGION or str(spelled).startswith(("+", "00")):
                account.typed.add(("phone", person.mobile.e164))
        message = gateway.GatewayMessage.model_validate({
            "channel": account.channel, "message_id": mid, "occurred_at": when.isoformat(), "sender": sender,
            "text": text, "subject": "Reclamo" if person.lang == "it" else "Complaint", "language": person.lang,
        })
        return gateway.message_interaction(message, REGION)


def _is_full(name: str, person: Person) -> bool:
    """A first name and a surname of the person, in any case or accents."""
    tokens = names.tokens(name)
    return names.tokens(person.first) <= tokens and bool(names.tokens(person.last) & tokens)


def _platform_message(account: Account, channel: str, text: str, mid: str, when: datetime) -> Interaction:
    author = Author(id=account.platform_id)
    kind, identifiers = Kind.DIRECT_MESSAGE, [Identifier(kind=IdentifierKind(account.channel),
                                                         value=account.platform_id, verified=True)]
    if account.channel == "x":
        author = Author(id=account.platform_id, handle=account.handle, name=account.display_name, followers=150)
        kind = Kind.PUBLIC_POST if channel == "x_public" else Kind.DIRECT_MESSAGE
        if kind is Kind.PUBLIC_POST:
            text = "@brand " + text
    elif account.channel == "facebook":
        author, kind = Author(id=account.platform_id, name=account.display_name), Kind.COMMENT
    elif account.channel == "whatsapp":
        author = Author(id=account.platform_id, name=account.display_name)
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value="+" + account.platform_id, verified=True))
    return Interaction(
        id=Interaction.make_id(Channel(account.channel), mid), channel=Channel(account.channel), kind=kind,
        platform_message_id=mid, author=author, text=text, occurred_at=when, identifiers=identifiers,
    )


def generate(n: int, seed: int = 10) -> Population:
    """``n`` people (adversarial ones included), their accounts and messages; same seed, same data."""
    generator = _Generator(seed)
    generator.population(n)
    return Population(generator.people, generator.accounts)
