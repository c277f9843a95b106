"""FAQ suggestions: offline TF-IDF matching in Italian and English."""

from __future__ import annotations

import pytest

from socialcare.config.loader import load_rules
from socialcare.config.rules import FaqBook
from socialcare.domain.faq import FaqIndex


@pytest.fixture(scope="module")
def faq() -> FaqIndex:
    # The shipped config/faq.yaml (no override directory).
    return FaqIndex(load_rules(FaqBook, ""))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vergogna, il pacco non è ancora arrivato, chiedo il rimborso", "refund-how-it"),
        ("Dov'è il mio pacco? Il corriere è in ritardo", "delivery-late-it"),
        ("My parcel never arrived, still waiting", "delivery-late-en"),
        ("I was charged twice on my invoice", "billing-en"),
        ("Mi avete addebitato due volte la bolletta", "billing-it"),
        ("voglio disdire il contratto", "cancel-it"),
        ("How can I cancel my subscription?", "cancel-en"),
        ("Where is my refund?", "refund-how-en"),
        ("grazie mille, fantastici!", "thanks-it"),
    ],
)
def test_best_answer(faq: FaqIndex, text: str, expected: str) -> None:
    match = faq.suggest(text)
    assert match is not None and match.id == expected
    assert match.link and match.link.startswith("https://") and match.answer


def test_language_of_the_text_wins(faq: FaqIndex) -> None:
    italian = faq.suggest("refund tracking ordine", language="it")
    english = faq.suggest("refund tracking order", language="en")
    assert italian is not None and italian.language == "it"
    assert english is not None and english.language == "en"


def test_nothing_close_enough_gives_no_suggestion(faq: FaqIndex) -> None:
    assert faq.suggest("che tempo fa domani a Milano?") is None
    assert faq.suggest("") is None and faq.suggest(None) is None
