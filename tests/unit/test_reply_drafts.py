"""Suggested replies matched to the customer's language and register (domain.replies.drafts)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from socialcare.domain.replies.drafts import detect_register, draft_reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ORDER = "LX-2026-004711"


def fixture_text(name: str, starts: str) -> str:
    """The customer's text in a bundled webhook fixture that starts with ``starts``."""

    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [t for v in node.values() for t in walk(v)]
        if isinstance(node, list):
            return [t for v in node for t in walk(v)]
        return [node] if isinstance(node, str) and node.startswith(starts) else []

    found = walk(json.loads((FIXTURES / name).read_text(encoding="utf-8")))
    assert found, f"{starts!r} not in {name}"
    return found[0]


def draft(text: str | None, *, language: str | None = None, name: str | None = "Anna Bianchi",
          refs: list[str] | None = None, faq: str | None = None, topic: str | None = None) -> Any:
    return draft_reply(customer_text=text, language=language, customer_name=name, references=refs or [],
                       faq_answer=faq, topic=topic)


# ----------------------------------------------------------------------------- register
@pytest.mark.parametrize("text", [
    "Ciao, mi avete mandato la taglia sbagliata 😩",
    "ho aspettato 3 settimane e ancora niente!! ma come funziona?",
    "Ehi, puoi dirmi quando arriva il mio pacco?",
    "grazie mille per la risposta, siete stati velocissimi",
    "Il pacco è arrivato rotto, mi avete rovinato il regalo",  # no marker at all: the social default
])
def test_italian_written_informally(text: str) -> None:
    assert detect_register(text, "it") == "informal"


@pytest.mark.parametrize("text", [
    "Buongiorno, vi scrivo perché l'ordine non è ancora arrivato.",
    "Gentili signori, desidero segnalare un addebito errato. Cordiali saluti, Mario Verdi",
    "Salve, potrebbe cortesemente dirmi dove si trova il mio pacco?",
    "Spett.le azienda, resto in attesa di un riscontro. Distinti saluti",
    "Mi scusi, ho ricevuto la Sua e-mail ma il problema resta: La prego di richiamarmi.",
    "Buongiorno, ho un problema con l'ordine 😕 grazie mille",  # a formal greeting outweighs chat habits
])
def test_italian_written_formally(text: str) -> None:
    assert detect_register(text, "it") == "formal"


@pytest.mark.parametrize(("text", "expected"), [
    ("hey guys, my parcel never showed up lol", "informal"),
    ("omg thx!! u saved my day 😍", "informal"),
    ("Where is my order? It is a week late.", "informal"),
    ("Dear Sir or Madam, I am writing regarding a double charge. Kind regards, John Smith", "formal"),
    ("Good morning, could you kindly confirm the delivery date? Best regards", "formal"),
])
def test_english_warm_or_formal(text: str, expected: str) -> None:
    assert detect_register(text, "en") == expected


@pytest.mark.parametrize(("name", "starts", "language", "expected"), [
    ("corpus/gateway/email-verified-with-attachment.json", "Buongiorno,", "it", "formal"),
    ("corpus/gateway/chat-curl-example.json", "ciao", "it", "informal"),
    ("channels/meta_page_batch.json", "Ciao, sono Anna", "it", "informal"),
    ("channels/meta_instagram.json", "Adoro i vostri prodotti", "it", "informal"),
    ("channels/gateway_batch.json", "Richiamatemi", "it", "informal"),
    ("corpus/x/xaa-dm-sent.json", "Thanks for the update", "en", "informal"),
])
def test_register_of_the_bundled_fixtures(name: str, starts: str, language: str, expected: str) -> None:
    assert detect_register(fixture_text(name, starts), language) == expected


# ----------------------------------------------------------------------------- drafts
def test_italian_informal_with_emoji() -> None:
    text = f"Ciao, l'ordine {ORDER} non è mai arrivato, mi avete rovinato il weekend 😡"
    reply = draft(text, language="it", refs=[ORDER], topic="delivery late")
    assert (reply.language, reply.register, reply.emoji) == ("it", "informal", True)
    assert reply.text.startswith("Ciao Anna, mi dispiace per il ritardo della consegna.")
    assert f"del tuo ordine {ORDER}" in reply.text and reply.text.endswith("🙏")
    assert "Lei" not in reply.text and "Gentile" not in reply.text


def test_italian_formal() -> None:
    text = f"Buongiorno, scrivo ancora per l'ordine {ORDER}. Vi chiedo cortesemente una risposta. Cordiali saluti"
    reply = draft(text, refs=[ORDER], topic="delivery late")
    assert (reply.language, reply.register, reply.emoji) == ("it", "formal", False)
    assert reply.text.startswith("Gentile Anna, ci scusiamo per il ritardo della consegna.")
    assert f"del Suo ordine {ORDER}" in reply.text and "La ricontatteremo" in reply.text
    assert reply.text.endswith("Cordiali saluti.") and not re.search(r"\b(tu|tuo|ti|Ciao)\b", reply.text)


def test_a_formal_customer_gets_no_emoji_even_after_using_one() -> None:
    reply = draft("Buongiorno, l'ordine non è arrivato 😕", language="it")
    assert reply.register == "formal" and not reply.emoji and "😕" not in reply.text


def test_english_warm_and_formal() -> None:
    warm = draft("hey, my order A12345 still hasn't arrived!! 😤", refs=["A12345"], topic="delivery-late",
                 name="john smith")
    assert (warm.language, warm.register, warm.emoji) == ("en", "informal", True)
    assert warm.text.startswith("Hi John, we’re so sorry about the delay with your delivery.")
    assert "your order A12345" in warm.text
    formal = draft("Dear Sir or Madam, I am writing about invoice INV-99812, charged twice. Kind regards",
                   language="en-GB", name="John Smith", refs=["INV-99812"], topic="billing")
    assert (formal.register, formal.emoji) == ("formal", False)
    assert formal.text.startswith("Dear John,") and "your invoice INV-99812" in formal.text
    assert formal.text.endswith("Kind regards.") and "!" not in formal.text


@pytest.mark.parametrize(("text", "language", "greeting"), [
    ("ciao, il pacco è rotto", "it", "Ciao, "),
    ("Buongiorno, il pacco è rotto", "it", "Buongiorno, "),
    ("my parcel is broken", "en", "Hi there, "),
    ("Dear team, my parcel is broken. Regards", "en", "Hello, "),
])
def test_no_name(text: str, language: str, greeting: str) -> None:
    for name in (None, "", "@anna_b_88"):  # a handle is not a name to greet
        assert draft(text, language=language, name=name).text.startswith(greeting)


def test_no_reference_means_none_is_named() -> None:
    reply = draft("ciao, il mio pacco non è arrivato", language="it", refs=[])
    assert "ordine" not in reply.text and "riferimento" not in reply.text
    assert not re.search(r"\d", reply.text)  # no number (a date, an amount, a code) is made up


def test_references_are_named_as_the_customer_named_them() -> None:
    invoice = draft("ciao, la fattura FT-88123 è sbagliata", language="it", refs=["FT-88123"])
    assert "della tua fattura FT-88123" in invoice.text
    orders = draft("ciao, gli ordini n. A-11111 e ordine A-22222 non arrivano", language="it",
                   refs=["A-11111", "A-22222", "A-11111"])
    assert "dei tuoi ordini A-11111 e A-22222" in orders.text
    unknown = draft("Buongiorno, vi scrivo per XK-55555", language="it", refs=["XK-55555"])
    assert "del riferimento XK-55555" in unknown.text  # never assumed to be an order


def test_the_faq_answer_is_used_in_the_customers_register() -> None:
    faq = ("Ci dispiace per il disagio. Puoi chiedere il rimborso da \"I miei ordini\". Scrivici in privato "
           "il numero d'ordine e verifichiamo subito.")
    informal = draft("ciao, voglio il rimborso, è una vergogna", language="it", faq=faq, topic="refund")
    assert "Puoi chiedere il rimborso" in informal.text and "Scrivici in privato" in informal.text
    assert informal.text.count("dispiace") == 1  # one apology, not the draft's and the FAQ's
    assert "Ti aggiorniamo" not in informal.text  # the FAQ answer is the next step
    formal = draft("Buongiorno, vorrei il rimborso dell'ordine. Distinti saluti", language="it", faq=faq,
                   topic="refund")
    assert "Può chiedere il rimborso" in formal.text and "Ci scriva in privato" in formal.text
    assert "Puoi" not in formal.text


def test_praise_is_thanked_with_the_faq_answer_and_emoji_only_if_the_customer_used_some() -> None:
    faq = "Grazie a te! Ci fa davvero piacere: lo giriamo subito al team 💙"
    text = fixture_text("channels/meta_instagram.json", "Adoro i vostri prodotti")
    happy = draft(text, language="it", name="Marco Rossi", faq=faq, topic="praise")
    assert happy.text.startswith("Ciao Marco, grazie a te!") and "💙" in happy.text and happy.emoji
    plain = draft("Servizio fantastico, bravi", language="it", name="Marco Rossi", faq=faq, topic="praise")
    assert not plain.emoji and not re.search("[\U0001F300-\U0001FAFF\u2600-\u27BF]", plain.text)
    assert "al team." in plain.text and "dispiace" not in plain.text


@pytest.mark.parametrize(("text", "language", "expected"), [
    (None, None, "en"),
    ("", None, "en"),
    ("ciao", None, "it"),
    ("Buongiorno", None, "it"),
    ("Das Paket ist beschädigt", "de", "en"),
    ("Where is my parcel?", None, "en"),
    ("Dov'è il mio pacco?", "it-IT", "it"),
])
def test_the_language_is_the_customers_italian_or_english(text: str | None, language: str | None,
                                                          expected: str) -> None:
    assert draft(text, language=language).language == expected


def test_the_same_message_gets_the_same_draft() -> None:
    text = fixture_text("channels/meta_page_batch.json", "Ciao, sono Anna")
    first = draft(text, language="it", refs=["ORD-123456"], topic="refund")
    assert draft(text, language="it", refs=["ORD-123456"], topic="refund") == first
    assert "del tuo ordine ORD-123456" in first.text
