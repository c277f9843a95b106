"""Resolution rules (ARCHITECTURE.md §4) as pure decisions: no table, no network."""

from __future__ import annotations

from datetime import UTC, datetime

from socialcare.config.loader import load_rules
from socialcare.config.rules import IdentityRules
from socialcare.domain.identity.decision import decide
from socialcare.domain.identity.evidence import Evidence, Rules, extract_refs, gather, normalise
from socialcare.models.interaction import Author, Channel, Identifier, IdentifierKind, Interaction, Kind
from socialcare.models.profile import Claim, Profile

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
RULES = Rules.compile(load_rules(IdentityRules), "IT")


def message(
    channel: Channel, author: Author, text: str = "", identifiers: list[Identifier] | None = None
) -> Interaction:
    return Interaction(
        id=f"{channel.value}:m1", channel=channel, kind=Kind.DIRECT_MESSAGE, platform_message_id="m1",
        author=author, text=text, occurred_at=WHEN, identifiers=identifiers or [],
    )


def claims(*entries: tuple[str, str, str, bool]) -> dict[str, Claim]:
    found = [Claim(kind=k, value=v, customer_id=c, verified=ver) for k, v, c, ver in entries]
    return {c.key: c for c in found}


def profiles(*entries: tuple[str, str | None]) -> dict[str, Profile]:
    return {cid: Profile(id=cid, name=name) for cid, name in entries}


# ---------------------------------------------------------------------------------- gather
def test_order_numbers_in_any_spelling_become_one_reference() -> None:
    rules = RULES
    for text in ("ORD-123456", "il mio ordine 123456", "ordine n. 123456", "Order #123456", "ord 123456",
                 "numero d'ordine 123456", "order number: 123456", "ordine nr. 123456", "ORD123456"):
        assert extract_refs(text, rules) == ["123456"], text
    assert extract_refs("l'ordine 48213 non è arrivato", rules) == ["48213"]  # five digits are enough
    assert extract_refs("ordine ORD-2026-0042", rules) == ["2026-0042"]


def test_years_quantities_and_dates_are_not_order_numbers() -> None:
    rules = RULES
    for text in ("l'ordine 2026 è arrivato", "order 12 items", "ordine del 12/11", "ho ordinato 3 cose"):
        assert extract_refs(text, rules) == [], text


def test_text_clues_are_claimed_and_platform_assertions_verified() -> None:
    event = message(
        Channel.MESSENGER, Author(id="psid-1"),
        "Buongiorno, sono Anna Bianchi, ordine 123456. Numero +39 333 111 2222, mail Anna.B@Example.com",
    )
    evidence = gather(event, RULES)
    assert evidence.platform is not None and evidence.platform.key == "messenger#psid-1"
    assert [(c.key, c.verified) for c in evidence.strong] == [
        ("phone#+393331112222", False), ("email#anna.b@example.com", False),
    ]
    assert [c.key for c in evidence.refs] == ["ref#123456"]
    assert evidence.names == ["Anna Bianchi"]


def test_whatsapp_wa_id_also_asserts_the_phone_as_verified() -> None:
    event = message(
        Channel.WHATSAPP, Author(id="393331112222", name="Anna"), "ciao, il mio numero è 333 111 2222",
        [Identifier(kind=IdentifierKind.WHATSAPP, value="393331112222")],
    )
    evidence = gather(event, RULES)
    assert evidence.platform is not None and evidence.platform.key == "whatsapp#393331112222"
    # typed too, but the platform asserts it: verified wins
    assert [(c.key, c.verified) for c in evidence.strong] == [("phone#+393331112222", True)]
    assert evidence.others == []  # the platform identity is not repeated


def test_a_caller_id_is_the_phone_identity() -> None:
    evidence = gather(message(Channel.PHONE, Author(id="+39 333 111 2222")), RULES)
    assert evidence.platform is not None and evidence.platform.key == "phone#+393331112222"


# ---------------------------------------------------------------------------------- decide
def _evidence(text: str, name: str | None = None, channel: Channel = Channel.FACEBOOK) -> Evidence:
    return gather(message(channel, Author(id="fb-9", name=name), text), RULES)


def test_a_known_platform_identity_is_the_returning_customer() -> None:
    evidence = gather(message(Channel.X, Author(id="111", name="Anna Bianchi"), "ancora niente"), RULES)
    decision = decide(evidence, claims(("x", "111", "anna", True)), profiles(("anna", "Anna Bianchi")))
    assert (decision.customer_id, decision.matched_by) == ("anna", "platform")
    assert decision.attach == [] and decision.suggestions == []


def test_reference_with_agreeing_name_links_and_attaches_the_new_channel() -> None:
    evidence = _evidence("Ancora niente per l'ordine ORD-123456", name="Anna Bianchi")
    decision = decide(evidence, claims(("ref", "123456", "anna", False)), profiles(("anna", "Anna Bianchi")))
    assert (decision.customer_id, decision.matched_by) == ("anna", "ref+name")
    assert [c.key for c in decision.attach] == ["facebook#fb-9"]


def test_reference_without_name_agreement_is_a_suggestion_never_a_merge() -> None:
    evidence = _evidence("Il mio ordine ORD-123456?", name="Marco Verdi")
    decision = decide(evidence, claims(("ref", "123456", "anna", False)), profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id is None  # a new customer for Marco
    assert [c.key for c in decision.attach] == ["facebook#fb-9"]  # the reference stays Anna's
    assert [(s.other_customer_id, s.clue.key) for s in decision.suggestions] == [("anna", "ref#123456")]


def test_reference_without_any_name_is_a_suggestion() -> None:
    evidence = _evidence("ordine 123456")
    decision = decide(evidence, claims(("ref", "123456", "anna", False)), profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id is None and len(decision.suggestions) == 1


def test_a_verified_phone_links_on_its_own() -> None:
    evidence = gather(message(Channel.WHATSAPP, Author(id="393331112222", name="Mamma")), RULES)
    decision = decide(evidence, claims(("phone", "+393331112222", "anna", True)), profiles(("anna", "Anna Bianchi")))
    assert (decision.customer_id, decision.matched_by) == ("anna", "phone")


def test_a_verified_phone_upgrades_a_claimed_one_held_by_the_same_customer() -> None:
    evidence = gather(message(Channel.WHATSAPP, Author(id="393331112222", name="Anna Bianchi")), RULES)
    decision = decide(evidence, claims(("phone", "+393331112222", "anna", False)), profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id == "anna"
    assert [c.key for c in decision.upgrades] == ["phone#+393331112222"]


def test_a_verified_phone_does_not_follow_a_typed_claim_of_someone_clearly_else() -> None:
    evidence = gather(message(Channel.WHATSAPP, Author(id="393331112222", name="Marco Verdi")), RULES)
    decision = decide(evidence, claims(("phone", "+393331112222", "anna", False)), profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id is None
    assert [s.other_customer_id for s in decision.suggestions] == ["anna"]


def test_a_typed_phone_links_only_with_name_agreement() -> None:
    held = claims(("phone", "+393331112222", "anna", True))
    agreeing = _evidence("sono Anna Bianchi, il mio numero è 333 111 2222")
    assert decide(agreeing, held, profiles(("anna", "Anna Bianchi"))).customer_id == "anna"
    stranger = _evidence("sono Marco Verdi, chiamate il 333 111 2222")
    decision = decide(stranger, held, profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id is None
    assert [s.other_customer_id for s in decision.suggestions] == ["anna"]


def test_evidence_for_a_second_existing_customer_never_merges_them() -> None:
    # Anna (known by her X id) types the order number that Bruno holds: two customers, one
    # suggestion, nothing moved.
    evidence = gather(message(Channel.X, Author(id="111", name="Anna Bianchi"), "ordine ORD-654321"), RULES)
    decision = decide(
        evidence,
        claims(("x", "111", "anna", True), ("ref", "654321", "bruno", False)),
        profiles(("anna", "Anna Bianchi"), ("bruno", "Anna Bianchi")),
    )
    assert decision.customer_id == "anna"
    assert decision.attach == []
    assert [(s.other_customer_id, s.reason) for s in decision.suggestions] == [("bruno", "same reference and name")]


def test_a_typed_identifier_attaches_to_an_existing_customer_only_with_name_agreement() -> None:
    known = claims(("x", "111", "anna", True))
    agreeing = gather(message(Channel.X, Author(id="111", name="Anna Bianchi"), "scrivetemi a anna@example.com"), RULES)
    assert [c.key for c in decide(agreeing, known, profiles(("anna", "Anna Bianchi"))).attach] == [
        "email#anna@example.com"
    ]
    # WhatsApp's "Anna" joins the Anna Bianchi who once typed that number (compatible names), but
    # a number one side only typed says too little to hand her what this message types.
    typed = claims(("phone", "+393331112222", "anna", False))
    evidence = gather(message(
        Channel.WHATSAPP, Author(id="393331112222", name="Anna"), "scrivetemi a anna@example.com",
        [Identifier(kind=IdentifierKind.WHATSAPP, value="393331112222")]), RULES)
    decision = decide(evidence, typed, profiles(("anna", "Anna Bianchi")))
    assert decision.customer_id == "anna"
    assert "email#anna@example.com" not in [c.key for c in decision.attach]


def test_an_unnamed_message_from_the_customers_own_account_keeps_what_it_types() -> None:
    # A Messenger DM carries no name: from her own account, the order she quotes is hers, as it
    # would be on a first contact (otherwise it is lost, and nobody is ever told it is shared).
    known = claims(("messenger", "psid-1", "anna", True))
    evidence = gather(message(Channel.MESSENGER, Author(id="psid-1"), "l'ordine W123456789 non è arrivato"), RULES)
    decision = decide(evidence, known, profiles(("anna", "Anna Bianchi")))
    assert (decision.customer_id, [c.key for c in decision.attach]) == ("anna", ["ref#W123456789"])


def test_a_nameless_caller_takes_what_the_same_verified_number_types_on_whatsapp() -> None:
    known = claims(("phone", "+393331112222", "caller", True))
    evidence = gather(message(
        Channel.WHATSAPP, Author(id="393331112222", name="Anna"), "Sono Anna Bianchi, ordine W123456789",
        [Identifier(kind=IdentifierKind.WHATSAPP, value="393331112222")]), RULES)
    decision = decide(evidence, known, profiles(("caller", None)))
    assert decision.customer_id == "caller"
    assert "ref#W123456789" in [c.key for c in decision.attach]


def test_a_message_naming_someone_else_from_the_account_does_not_give_them_its_identifiers() -> None:
    # Luca's Messenger, his sister typing: her order is not Luca's.
    known = claims(("messenger", "psid-1", "luca", True))
    evidence = gather(message(Channel.MESSENGER, Author(id="psid-1"), "Sono Maria Ricci, ordine W123456789"), RULES)
    decision = decide(evidence, known, profiles(("luca", "Luca Ricci")))
    assert decision.customer_id == "luca"
    assert "ref#W123456789" not in [c.key for c in decision.attach]


def test_a_reference_is_looked_up_in_any_spelling() -> None:
    assert normalise("ref", "ordine 123456", RULES) == normalise("ref", "ord-123456", RULES) == "123456"
    assert normalise("ref", "ABC-1", RULES) == "ABC-1"  # not a configured reference: kept as typed
