"""FAQ suggestions: offline TF-IDF matching in Italian and English."""

from __future__ import annotations

from typing import Any

import pytest

from socialcare import config, faq


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    config.reset()
    faq.reset()
    yield
    faq.reset()


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
def test_best_answer(text: str, expected: str) -> None:
    match = faq.suggest(text)
    assert match is not None and match.id == expected
    assert match.link and match.link.startswith("https://") and match.answer


def test_language_of_the_text_wins() -> None:
    italian = faq.suggest("refund tracking ordine", language="it")
    english = faq.suggest("refund tracking order", language="en")
    assert italian is not None and italian.language == "it"
    assert english is not None and english.language == "en"


def test_nothing_close_enough_gives_no_suggestion() -> None:
    assert faq.suggest("che tempo fa domani a Milano?") is None
    assert faq.suggest("") is None and faq.suggest(None) is None
