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
    # forms people use that the first table missed
    ("Grazie, 5", 5, "digit"), ("Thanks! 5", 5, "digit"), ("direi 4", 4, "digit"), ("Direi un 4", 4, "digit"),
    ("I'd give it a 4", 4, "digit"), ("tutto ok, 5", 5, "digit"), ("il mio voto è 4", 4, "digit"),
    ("my rating is 2", 2, "digit"), ("5️⃣", 5, "digit"), ("1️⃣", 1, "digit"), ("5 servizio eccellente", 5, "digit"),
    ("10/10", 5, "fraction"), ("8/10", 4, "fraction"), ("10 out of 10", 5, "fraction"), ("1/10", 1, "fraction"),
    ("0/5", 1, "fraction"), ("5/5 servizio eccellente", 5, "fraction"),
    ("nessuna stella", 1, "stars"), ("zero stelle", 1, "stars"), ("no stars", 1, "stars"),
    ("👍🏻", 4, "emoji"), ("😍 grazie mille siete stati velocissimi", 5, "emoji"),
    ("insoddisfatto", 2, "words"), ("per niente soddisfatto", 2, "words"), ("poco soddisfatta", 2, "words"),
    ("dissatisfied", 2, "words"), ("Grazie mille, gentilissimi", 4, "words"), ("va bene grazie", 3, "words"),
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
    ("👍🏽 grazie", 4, "grazie"),  # the skin tone is part of the emoji, not a comment
    ("4️⃣ ok", 4, "ok"),
    ("5, ma quando arriva il rimborso?", 5, "ma quando arriva il rimborso"),
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
    # a number and the thing it counts, a time, a price, an order number, a date
    "ho 2 ordini", "2 ordini", "1 domanda", "3 pacchi mancanti", "2 su 3 pacchi", "2 orders missing",
    "1 more question", "1 problema", "3 prodotti", "2 paia", "5 kg", "5 gg fa", "2 x 3", "3 / 7", "2-3 giorni",
    "chiamatemi alle 5", "call me at 5", "alle 5", "sono le 5", "dalle 2 alle 5", "arriva alle 5.30",
    "€5", "$5", "mi mancano 5€", "ho pagato 4,99", "1,5 kg", "3°", "5° piano",
    "ordine 5", "order #5", "numero 5", "taglia 4", "#45123", "ORD-5",
    "1 of 5 items broken", "box 2 of 5 missing", "Salve, il pacco 5 di 5 non è arrivato", "4/5 giorni di ritardo",
    "ci vediamo il 4/5", "il 3/5 ho ordinato", "ordine del 2/5/2024", "4.5/5",
    # greetings, salutations and questions are no opinion
    "Buongiorno", "Buongiorno, il pacco non è arrivato", "buona giornata", "buonasera", "good morning",
    "Gentilissimi, il mio ordine 1234 non è arrivato", "Gentile servizio clienti, scrivo per il reso",
    "a fine mese mi serve la fattura", "Ok, ma il pacco?", "bene ma il pacco dov'è?", "fine, but where is my parcel?",
    "Ciao 😊 avrei bisogno di un'altra informazione sul mio ordine", "Ciao, dove è il mio ordine? 😊",
    "per cortesia mi mandate la fattura", "le lenti non sono arrivate",
])
def test_messages_that_give_no_rating_are_not_ratings(text: str | None) -> None:
    assert parse_rating(text) is None


_COUNTED = ["ordini", "pacchi", "articoli", "giorni", "ore", "settimane", "volte", "euro", "pezzi", "email",
            "chiamate", "resi", "orders", "parcels", "items", "days", "hours", "weeks", "emails", "calls", "times",
            "refunds", "minutes", "tickets"]
_SAID = ["{n} {noun}", "ho {n} {noun}", "{n} {noun} non arrivati", "{n} {noun} missing", "I have {n} {noun}",
         "sono {n} {noun} che aspetto", "{n} {noun}!", "after {n} {noun} still nothing", "chiamatemi alle {n}",
         "ordine {n}{n}{n}{n}{n}", "ORD-{n}{n}{n}", "alle {n} pm", "call me at {n}pm", "order no. {n}"]


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_a_small_number_in_an_ordinary_message_is_never_a_rating(score: int) -> None:
    said = [form.format(n=score, noun=noun) for form in _SAID for noun in _COUNTED]
    assert [text for text in said if parse_rating(text) is not None] == []
