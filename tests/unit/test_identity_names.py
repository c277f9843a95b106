"""Name agreement is what keeps a typed reference from gluing two strangers together."""

from __future__ import annotations

import pytest

from socialcare.config.loader import load_rules
from socialcare.config.rules import IdentityRules
from socialcare.domain import names
from socialcare.domain.identity.evidence import Rules

RULES = Rules.compile(load_rules(IdentityRules), "IT")


@pytest.mark.parametrize(
    ("event", "known"),
    [
        ("Anna Bianchi", "anna bianchi"),
        ("Bianchi Anna", "Anna Bianchi"),
        ("Anna Bianchì", "ANNA BIANCHI"),
        ("Anna Maria Bianchi", "Anna Bianchi"),
        ("Dott.ssa Anna Bianchi", "Anna Bianchi 🌸"),
    ],
)
def test_the_same_person_written_differently_agrees(event: str, known: str) -> None:
    assert names.agree([event], [known])


@pytest.mark.parametrize(
    ("event", "known"),
    [
        ("Marco Verdi", "Anna Bianchi"),
        ("Anna Rossi", "Anna Bianchi"),
        # one shared first name is not enough: every Anna would match the same order number
        ("Anna", "Anna Bianchi"),
        ("Anna", "Anna"),
        ("", "Anna Bianchi"),
        ("Anna Bianchi", ""),
    ],
)
def test_different_or_insufficient_names_do_not_agree(event: str, known: str) -> None:
    assert not names.agree([event], [known])


def test_any_known_name_of_the_customer_may_agree() -> None:
    assert names.agree(["A. Bianchi", "Anna Bianchi"], ["AnnaB", "Anna Bianchi"])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Buongiorno, sono Anna Bianchi e il mio ordine non arriva", "Anna Bianchi"),
        ("mi chiamo Anna Bianchi, ordine 123456", "Anna Bianchi"),
        ("Hi, my name is Anna Bianchi. Order 123456", "Anna Bianchi"),
        ("I'm Anna Bianchi and I'm waiting", "Anna Bianchi"),
        ("Sono la signora Bianchi", "Bianchi"),
    ],
)
def test_self_introductions_give_the_writers_name(text: str, name: str) -> None:
    assert names.self_introduction(text, RULES.self_introductions) == name


@pytest.mark.parametrize(
    "text",
    ["sono arrabbiata, il pacco non arriva", "I'm very upset", "sono stato chiaro?", "", "my name is"],
)
def test_feelings_are_not_names(text: str) -> None:
    assert names.self_introduction(text, RULES.self_introductions) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Il pacco non è mai arrivato. Grazie, Giulia Verdi", "Giulia Verdi"),
        ("Still nothing about my parcel.\n\nKind regards,\nSofía Martínez Ruiz", "Sofía Martínez Ruiz"),
        ("Attendo un rimborso.\nCordiali saluti\nPietro De Santis.", "Pietro De Santis"),
        ("where is my refund?\n-- Olivia Brown", "Olivia Brown"),
        ("Thanks in advance. Best, Ana Souza!", "Ana Souza"),
    ],
)
def test_a_message_signed_with_a_full_name_gives_the_writers_name(text: str, name: str) -> None:
    assert names.signature(text, RULES.sign_offs) == name


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, Mario!",  # a first name alone: perhaps the agent's
        "Grazie Mario Rossi per la pazienza, ma il pacco non arriva",  # not at the end
        "Attendo risposta.\nDistinti Saluti",  # a closing, not a person
        "grazie a tutti voi del servizio clienti",
        "Kind regards",
        "Grazie, Giulia Verdi ha già scritto ieri e nessuno risponde",
        "",
    ],
)
def test_closings_that_sign_nobody_give_no_name(text: str) -> None:
    assert names.signature(text, RULES.sign_offs) is None


def test_a_signed_name_is_evidence_like_a_self_introduction() -> None:
    from datetime import UTC, datetime

    from socialcare.domain.identity.evidence import gather
    from socialcare.models.interaction import Author, Channel, Interaction, Kind

    dm = Interaction(id="messenger:m1", channel=Channel.MESSENGER, kind=Kind.DIRECT_MESSAGE, platform_message_id="m1",
                     author=Author(id="psid-1"), occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
                     text="Order AB-2024-00017 never arrived, I want a refund.\nRegards,\nGiulia Verdi")
    evidence = gather(dm, RULES)
    assert evidence.names == ["Giulia Verdi"]
    assert [c.value for c in evidence.refs] == ["AB-2024-00017"]
