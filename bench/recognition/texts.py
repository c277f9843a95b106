"""What customers write: complaints in Italian and English, with or without an order reference,
a self-introduction, a call-back number or an e-mail address.

Each builder returns the text and what it *says* (the ground truth the scorer reads), never what
a recogniser would extract from it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# How an order reference is introduced. ``{r}`` is the reference as the customer types it.
REF_INTROS = {
    "it": ["l'ordine {r}", "l'ordine n. {r}", "il mio ordine {r}", "l'ordine #{r}", "il numero d'ordine {r}",
           "la pratica {r}", "la spedizione {r}", "l'ordine nr. {r}", "n. ordine {r}", "ordine {r}"],
    "en": ["my order {r}", "order no. {r}", "order #{r}", "order {r}", "reference {r}", "ref. {r}",
           "booking {r}", "tracking number {r}", "order number {r}", "my order number is {r}"],
}
# A reference quoted with no word in front of it: people do it, and no rule can tell it from any
# other code in a message, so the scorer does not count it as evidence.
BARE = {"it": "{r}", "en": "{r}"}
COMPLAINTS = {
    "it": ["{ref} non è ancora arrivato.", "aspetto ancora il rimborso per {ref}.",
           "{ref}: il pacco è arrivato danneggiato.", "nessuna risposta su {ref}, pessimo servizio.",
           "vorrei sapere che fine ha fatto {ref}."],
    "en": ["{ref} still hasn't arrived.", "I'm still waiting for the refund on {ref}.",
           "{ref} arrived damaged.", "no answer about {ref}, terrible service.",
           "where is {ref}? Nobody replies."],
}
NO_REF = {
    "it": ["il pacco non è ancora arrivato.", "nessuno mi risponde, pessimo servizio.", "vorrei un rimborso.",
           "il prodotto è difettoso."],
    "en": ["my parcel still hasn't arrived.", "nobody answers, terrible service.", "I want a refund.",
           "the product is faulty."],
}
GREETINGS = {"it": ["Buongiorno,", "Salve,", "Ciao,", ""], "en": ["Hello,", "Hi,", "Good morning,", ""]}
INTROS = {"it": ["Sono {n}.", "Mi chiamo {n}.", "sono {n},"], "en": ["My name is {n}.", "I'm {n}.", "I am {n},"]}
# ... or the name signed at the end, as people sign e-mails and long messages
SIGNATURES = {"it": ["Grazie,\n{n}", "Cordiali saluti,\n{n}", "Saluti, {n}", "Grazie mille. {n}", "-- {n}"],
              "en": ["Thanks,\n{n}", "Kind regards,\n{n}", "Best, {n}", "Regards\n{n}", "— {n}"]}
CALL_BACK = {"it": ["Il mio numero è {p}.", "Richiamatemi al {p}.", "Potete chiamarmi al {p}?"],
             "en": ["My number is {p}.", "Please call me back on {p}.", "You can reach me at {p}."]}
WRITE_TO = {"it": ["Scrivetemi a {e}.", "La mia mail è {e}."], "en": ["Email me at {e}.", "My email is {e}."]}
ON_BEHALF = {"it": "Scrivo per conto di mia madre.", "en": "I'm writing on behalf of my mother."}


@dataclass
class Said:
    """What one message says about its author (ground truth)."""

    name: str | None = None  # the name a self-introduction gives
    full_name: bool = False  # ... and whether it has at least a first name and a surname
    refs: list[str] = field(default_factory=list)  # canonical references introduced by an order word
    phones: list[str] = field(default_factory=list)  # E.164 of numbers a reader can place
    emails: list[str] = field(default_factory=list)


def reference_phrase(ref: str, lang: str, rng: random.Random, *, bare_rate: float) -> tuple[str, bool]:
    """The reference in a phrase; True when an order/reference word introduces it."""
    if rng.random() < bare_rate:
        return BARE[lang].format(r=ref), False
    return rng.choice(REF_INTROS[lang]).format(r=ref).replace("##", "#"), True


def compose(lang: str, rng: random.Random, *, intro: str | None, ref: str | None, phone: str | None,
            email: str | None, note: str | None = None) -> str:
    parts = [rng.choice(GREETINGS[lang])]
    signed = intro is not None and rng.random() < 0.3
    if intro and not signed:
        parts.append(rng.choice(INTROS[lang]).format(n=intro))
    parts.append(rng.choice(COMPLAINTS[lang]).format(ref=ref) if ref else rng.choice(NO_REF[lang]))
    if phone:
        parts.append(rng.choice(CALL_BACK[lang]).format(p=phone))
    if email:
        parts.append(rng.choice(WRITE_TO[lang]).format(e=email))
    if note:
        parts.append(note)
    if intro and signed:
        parts.append(rng.choice(SIGNATURES[lang]).format(n=intro))
    text = " ".join(p for p in parts if p)
    return text[0].upper() + text[1:]
