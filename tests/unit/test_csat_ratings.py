"""Reading the customer's answer to the satisfaction survey (``domain.satisfaction.ratings``): every
form people use, in Italian and English, the comment kept beside the score, and the messages that
are NOT a rating (they must go on to the case as ordinary messages)."""

from __future__ import annotations

import pytest

from socialcare.domain.satisfaction.ratings import parse_rating


@pytest.mark.parametrize(("text", "score", "form"), [
    ("5", 5, "digit"), (" 1 ", 1, "digit"), ("3!", 3, "digit"), ("voto: 4", 4, "digit"), ("rating 2", 2, "digit"),
    ("5/5", 5, "fraction"), ("4 / 5", 4, "fraction"), ("4 su 5", 4, "fraction"), ("due su cinque", 2, "fraction"),
    ("4 out of 5", 4, "fraction"), ("three out of five", 3, "fraction"), ("1 of 5", 1, "fraction"),
    ("5 stelle", 5, "stars"), ("una stella", 1, "stars"), ("4 stars", 4, "stars"), ("one star", 1, "stars"),
    ("⭐⭐⭐⭐⭐", 5, "stars"), ("⭐️⭐️⭐️", 3, "stars"), ("★★★☆☆", 3, "stars"), ("★", 1, "stars"),
    ("🌟🌟🌟🌟", 4, "stars"),
    ("😀", 5, "emoji"), ("😍😍", 5, "emoji"), ("🙂", 4, "emoji"), ("👍", 4, "emoji"), ("😐", 3, "emoji"),
    ("👎", 2, "emoji"), ("😡", 1, "emoji"), ("😡😡😡", 1, "emoji"), ("❤️", 5, "emoji"),
    ("ottimo", 5, "words"), ("Ottimo servizio!", 5, "words"), ("eccellente", 5, "words"),
    ("perfetto grazie", 5, "words"),
    ("bene", 4, "words"), ("molto buono", 4, "words"), ("così così", 3, "words"), ("discreto", 3, "words"),
    ("deludente", 2, "words"), ("non buono", 2, "words"), ("non male", 3, "words"), ("pessimo", 1, "words"),
    ("Pessima esperienza", 1, "words"), ("una vergogna, vergognoso", 1, "words"),
    ("great", 5, "words"), ("Excellent support, thanks", 5, "words"), ("good", 4, "words"), ("ok", 3, "words"),
    ("not good", 2, "words"), ("not bad", 3, "words"), ("poor", 2, "words"), ("terrible", 1, "words"),
    ("awful, really", 1, "words"), ("wasn't good", 2, "words"),
])
def test_every_form_gives_its_score(text: str, score: int, form: str) -> None:
    rating = parse_rating(text)
    assert rating is not None, text
    assert (rating.score, rating.form) == (score, form)


@pytest.mark.parametrize(("text", "score", "comment"), [
    ("5 grazie mille!", 5, "grazie mille"),
    ("4, ma potevate essere più veloci", 4, "ma potevate essere più veloci"),
    ("1 - il pacco è arrivato rotto", 1, "il pacco è arrivato rotto"),
    ("4/5 slow but fine", 4, "slow but fine"),
    ("⭐⭐⭐⭐⭐ bravissimi", 5, "bravissimi"),
    ("😡 nessuno mi ha richiamato", 1, "nessuno mi ha richiamato"),
    ("5/5", 5, None),
    ("pessimo, nessuno mi ha risposto", 1, "pessimo, nessuno mi ha risposto"),
])
def test_the_free_text_beside_the_rating_is_kept_as_the_comment(text: str, score: int, comment: str | None) -> None:
    rating = parse_rating(text)
    assert rating is not None
    assert (rating.score, rating.comment) == (score, comment)


def test_a_mixed_opinion_with_a_complaint_reads_as_poor() -> None:
    rating = parse_rating("prodotto buono ma consegna lenta")
    assert rating is not None and rating.score == 2


@pytest.mark.parametrize("text", [
    None, "", "   ", "grazie", "thank you!", "Scusate, potete mandarmi la fattura?",
    "Il mio ordine 12345 non è ancora arrivato", "3 giorni fa ho ordinato e non è arrivato niente",
    "2 days later still nothing", "5000", "5.30 di ieri", "una domanda: dove è il pacco?",
    "ordine ORD-123456", "alle 4 pm chiamatemi",
    "ciao " * 20,  # a long message without a rating form
    "Buongiorno, vi scrivo perché il rimborso che mi avevate promesso la settimana scorsa non è ancora arrivato "
    "sul conto e nessuno risponde al telefono: pessimo",  # a new story, too long for rating words
    "x" * 600 + " 5/5",  # longer than any answer
])
def test_messages_that_give_no_rating_are_not_ratings(text: str | None) -> None:
    assert parse_rating(text) is None
