"""A suggested reply for the agent, in the customer's language (Italian or English, else English)
and register: Italian "tu" or "Lei", English warm or formal, with emoji only if the customer
used some.

Built only from what is known: the customer's first name, their reference(s) (named as the
customer named them: "il tuo ordine LX-2026-004711"), the topic, the FAQ answer when there is one.
It never states a fact about the order (a date, a status, a refund) that the FAQ answer does not.
Deterministic and offline: marker words, not a model, so an agent sees why a draft sounds as it
does, and the same message always gets the same draft. The agent edits it before it is sent.
"""

from __future__ import annotations

import re
import warnings
from typing import Literal

from pydantic import BaseModel

from socialcare.domain.sentiment.analyser import analyse_offline, guess_language, normalise, tokens

Register = Literal["informal", "formal"]

with warnings.catch_warnings():
    # "register" shadows ABCMeta.register on the class, which nobody calls on a Draft; instances
    # read the field as usual.
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class Draft(BaseModel):
        text: str
        language: str
        register: Register
        emoji: bool


# ----------------------------------------------------------------------------- register markers
# Markers are matched on the accent-free lower-case tokens of the message (multi-word ones as a
# run of tokens). Formal ones weigh 2: the letter conventions and the courtesy forms people use
# when they address a company as "Lei" (or, in English, write a letter). Informal ones weigh 2
# when they address the brand as a friend ("ciao", the "tu" forms, "hey") and 1 for chat habits
# that also occur in hurried polite messages (emoji, "!!", "grazie mille", abbreviations).
# Formal wins ties: answering a "Buongiorno ... 😊" with "Gentile" is safe, with "Ciao" is not.
# Words both registers use are no marker: first persons ("ho", "vorrei"), the "voi" a customer
# uses for a company either way ("mi avete", "potete"), "grazie", "please". With no marker at
# all the draft is informal: the brands' own voice on social media.
_IT_FORMAL = ("buongiorno", "buonasera", "salve", "gentile", "gentili", "gentilissimi", "gentilissimo",
              "spettabile", "spett", "egregio", "egregi", "cordiali saluti", "distinti saluti", "cordialmente",
              "in fede", "vi scrivo", "le scrivo", "scrivo in merito", "la ringrazio", "vi ringrazio",
              "ringrazio anticipatamente", "resto in attesa", "in attesa di un riscontro", "cortesemente",
              "potrebbe", "mi faccia sapere", "la prego", "le chiedo")
_IT_INFORMAL = ("ciao", "ciaoo", "ehi", "hey", "raga", "ragazzi", "tu", "ti", "tuo", "tua", "tuoi", "puoi",
                "potresti", "hai", "sai", "fammi", "dimmi", "scrivimi", "aiutami")
_IT_CHAT = ("grazie mille", "cmq", "xke", "xche", "nn", "pls", "boh", "ahah", "ahahah", "haha", "tvb", "dai")
_EN_FORMAL = ("dear", "to whom it may concern", "sir", "madam", "kind regards", "best regards", "regards",
              "yours sincerely", "yours faithfully", "sincerely", "i am writing", "i would be grateful",
              "please advise", "good morning", "good afternoon", "good evening", "kindly", "i look forward")
_EN_INFORMAL = ("hi", "hey", "hiya", "heya", "yo", "guys", "folks")
_EN_CHAT = ("lol", "lmao", "omg", "thx", "ty", "pls", "plz", "u", "ur", "gonna", "wanna", "tbh", "btw", "haha")
# Capitalised courtesy pronouns inside a sentence ("Vi scrivo perché La...", "il Suo ordine"):
# the written mark of "Lei"; at a sentence start any word is capitalised, so those do not count.
_COURTESY = re.compile(r"\b(?:Lei|La|Le|Suo|Sua|Suoi|Sue|Vi|Vostro|Vostra|Vostri|Vostre)\b")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F]")
_REPEATED_PUNCT = re.compile(r"[!?]{2,}")


def _has(padded: str, markers: tuple[str, ...]) -> int:
    return sum(1 for m in markers if f" {m} " in padded)


def _courtesy_pronouns(text: str) -> int:
    found = 0
    for match in _COURTESY.finditer(text):
        before = text[:match.start()].rstrip()
        found += bool(before) and before[-1] not in ".!?:\n\"«"
    return found


def detect_register(text: str | None, language: str) -> Register:
    """The register the customer wrote in (see the markers above)."""
    if not text or not text.strip():
        return "informal"
    padded = f" {' '.join(tokens(text))} "
    chat = bool(_EMOJI.search(text)) + bool(_REPEATED_PUNCT.search(text))
    if language == "it":
        formal = 2 * (_has(padded, _IT_FORMAL) + min(_courtesy_pronouns(text), 2))
        informal = 2 * _has(padded, _IT_INFORMAL) + _has(padded, _IT_CHAT) + chat
    else:
        formal = 2 * _has(padded, _EN_FORMAL)
        informal = 2 * _has(padded, _EN_INFORMAL) + _has(padded, _EN_CHAT) + chat
    return "formal" if formal and formal >= informal else "informal"


# ----------------------------------------------------------------------------- what the draft names
# A reference is named with the word the customer put before it ("ordine LX-1", "order #LX-1"):
# concept -> (Italian singular, plural, gender; English singular, plural). Unknown: "riferimento".
_NOUNS = {
    "order": ("ordine", "ordini", "m", "order", "orders"),
    "case": ("pratica", "pratiche", "f", "case", "cases"),
    "ticket": ("ticket", "ticket", "m", "ticket", "tickets"),
    "invoice": ("fattura", "fatture", "f", "invoice", "invoices"),
    "bill": ("bolletta", "bollette", "f", "bill", "bills"),
    "booking": ("prenotazione", "prenotazioni", "f", "booking", "bookings"),
    "contract": ("contratto", "contratti", "m", "contract", "contracts"),
    "shipment": ("spedizione", "spedizioni", "f", "shipment", "shipments"),
    "parcel": ("pacco", "pacchi", "m", "parcel", "parcels"),
    "account": ("account", "account", "m", "account", "accounts"),
    "reference": ("riferimento", "riferimenti", "m", "reference", "references"),
}
_NOUN_WORDS = {"ordine": "order", "ordini": "order", "order": "order", "orders": "order", "ordinazione": "order",
               "pratica": "case", "case": "case", "ticket": "ticket", "fattura": "invoice", "invoice": "invoice",
               "bolletta": "bill", "bill": "bill", "prenotazione": "booking", "booking": "booking",
               "reservation": "booking", "contratto": "contract", "contract": "contract",
               "spedizione": "shipment", "shipment": "shipment", "pacco": "parcel", "parcel": "parcel",
               "package": "parcel", "account": "account"}
_FILLERS = frozenset({"n", "nr", "num", "numero", "number", "no", "il", "l", "mio", "mia", "my", "the", "di", "del",
                      "dell", "della", "of", "con", "with", "id", "codice", "code", "ref", "rif"})
# Topic words (the triage category or FAQ topic, e.g. "delivery-late") -> what to apologise for.
_TOPICS = (
    (("late", "ritardo", "delay", "delayed"), "il ritardo della consegna", "the delay with your delivery"),
    (("delivery", "consegna", "shipping", "spedizione", "parcel", "pacco"), "il problema con la consegna",
     "the problem with your delivery"),
    (("refund", "rimborso"), "il problema con il rimborso", "the trouble with your refund"),
    (("billing", "charge", "invoice", "addebito", "fattura", "bolletta"), "il problema con l'addebito",
     "the problem with the charge"),
    (("cancel", "disdetta", "recesso"), "il problema con la disdetta", "the trouble with your cancellation"),
)
_PROBLEM_TOPIC = frozenset({"late", "ritardo", "delay", "delayed", "problem", "problema", "broken", "rotto",
                            "damaged", "danneggiato", "wrong", "sbagliato", "missing", "mancante", "complaint",
                            "reclamo", "lost", "perso", "outage", "guasto"})
_PRAISE_TOPIC = frozenset({"thanks", "praise", "grazie", "complimenti", "compliment"})


def _concept_before(text: str, reference: str) -> str:
    """The concept the customer's word before ``reference`` names, else 'reference'."""
    folded = normalise(text)
    at = folded.find(reference.lower())
    if at < 0:
        return "reference"
    for word in reversed(re.findall(r"[a-z]+", folded[max(0, at - 40):at])[-4:]):
        if word in _NOUN_WORDS:
            return _NOUN_WORDS[word]
        if word not in _FILLERS:
            break
    return "reference"


def _join(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _references_sentence(refs: list[str], text: str, language: str, register: Register) -> str:
    concepts = {_concept_before(text, r) if text else "reference" for r in refs}
    concept = concepts.pop() if len(concepts) == 1 else "reference"
    it_one, it_many, gender, en_one, en_many = _NOUNS[concept]
    plural = len(refs) > 1
    if language == "it":
        listed = _join(refs, "e")
        noun = it_many if plural else it_one
        if concept == "reference":
            return f"Abbiamo preso nota {'dei' if plural else 'del'} {noun} {listed}."
        article = {("m", False): "del", ("f", False): "della", ("m", True): "dei", ("f", True): "delle"}[gender, plural]
        forms = {"m": ("tuo", "tuoi"), "f": ("tua", "tue")}[gender]
        possessive = forms[plural]
        if register == "formal":
            possessive = possessive.replace("tu", "Su")
        return f"Abbiamo preso nota {article} {possessive} {noun} {listed}."
    listed = _join(refs, "and")
    noun = en_many if plural else en_one
    owner = "the" if concept == "reference" else "your"
    return f"{'We have' if register == 'formal' else 'We’ve'} noted {owner} {noun} {listed}."


def _first_name(name: str | None) -> str | None:
    words = (name or "").split()
    if not words or words[0].startswith("@") or not words[0].replace("'", "").replace("-", "").isalpha():
        return None  # a handle or a login, not a name to greet
    first = words[0]
    return first[:1].upper() + first[1:].lower() if first.islower() or first.isupper() else first


# ----------------------------------------------------------------------------- wording
# (greeting with a name, without one, apology, default apology subject, thanks, neutral opening,
#  next step without an FAQ answer, closing after a problem, other closing)
_WORDS: dict[tuple[str, Register], tuple[str, ...]] = {
    ("it", "informal"): ("Ciao {name},", "Ciao,", "mi dispiace per {what}.", "il disagio",
                         "grazie di cuore per il tuo messaggio!", "grazie per averci scritto.",
                         "Ti aggiorniamo appena abbiamo novità.", "Grazie per la pazienza!", "A presto!"),
    ("it", "formal"): ("Gentile {name},", "Buongiorno,", "ci scusiamo per {what}.", "il disagio",
                       "La ringraziamo per il Suo messaggio.", "La ringraziamo per averci scritto.",
                       "La ricontatteremo appena avremo novità.", "Cordiali saluti.", "Cordiali saluti."),
    ("en", "informal"): ("Hi {name},", "Hi there,", "we’re so sorry about {what}.", "the trouble",
                         "thank you so much for your message!", "thanks for getting in touch.",
                         "We’ll get back to you as soon as we know more.", "Thanks for your patience!",
                         "Have a great day!"),
    ("en", "formal"): ("Dear {name},", "Hello,", "we apologise for {what}.", "the inconvenience",
                       "thank you for your message.", "thank you for contacting us.",
                       "We will contact you again as soon as we have an update.", "Kind regards.", "Kind regards."),
}
# The FAQ is written in the brands' social voice ("tu"); a formal draft turns the second-person
# forms it uses into "Lei" ones. A word not listed stays as written: the agent reviews the draft.
_LEI = {"puoi": "può", "scrivici": "ci scriva", "mandaci": "ci mandi", "contattaci": "ci contatti",
        "chiamaci": "ci chiami", "vai": "vada", "segui": "segua", "controlla": "controlli", "clicca": "clicchi",
        "scegli": "scelga", "accedi": "acceda", "ricevi": "riceve", "hai": "ha", "tuo": "Suo", "tua": "Sua",
        "tuoi": "Suoi", "tue": "Sue", "ti": "Le", "te": "Lei"}
_LEI_WORDS = re.compile(r"\b(" + "|".join(_LEI) + r")\b", re.IGNORECASE)
_LEADING_THANKS = re.compile(r"^\s*(?:grazie|thank|thanks)\b", re.IGNORECASE)
_LEADING_APOLOGY = re.compile(r"^\s*(?:ci dispiace|mi dispiace|siamo spiacenti|ci scusiamo|sorry|we['’]re sorry|"
                              r"we are sorry|apologies)\b[^.!?]*[.!?]\s*", re.IGNORECASE)


def _to_lei(text: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = _LEI[word.lower()]
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return _LEI_WORDS.sub(swap, text)


def _faq_body(answer: str, language: str, register: Register, apologised: bool, emoji: bool) -> str:
    body = _LEADING_APOLOGY.sub("", answer, count=1) if apologised else answer
    if language == "it" and register == "formal":
        body = _to_lei(body)
    if not emoji:
        body = re.sub(r"\s*" + _EMOJI.pattern + "+", "", body).strip()
        if body and body[-1] not in ".!?:)\"»":
            body += "."  # the emoji ended the sentence
    return body.strip()


def _tone(text: str | None, topic: str | None, language: str) -> tuple[str, int | None]:
    """('problem' | 'praise' | 'neutral', the index of the topic's apology subject, if known)."""
    words = set(re.findall(r"[a-z]+", normalise(topic or "")))
    subject = next((i for i, (keys, _, _) in enumerate(_TOPICS) if words & set(keys)), None)
    if words & _PRAISE_TOPIC:
        return "praise", None
    sentiment = analyse_offline(text, language) if text and text.strip() else None
    if words & _PROBLEM_TOPIC or (sentiment is not None and sentiment.label in ("negative", "mixed")):
        return "problem", subject
    if sentiment is not None and sentiment.label == "positive":
        return "praise", None
    return "neutral", subject


def _language(language: str | None, text: str | None) -> str:
    lang = (language or "").replace("_", "-").split("-")[0].lower()
    if not lang and text and text.strip():
        lang = guess_language(text)
        # The sentiment lexicon's hints miss a bare greeting ("ciao", "buongiorno"): the register
        # markers of one language only decide then.
        padded = f" {' '.join(tokens(text))} "
        italian = _has(padded, _IT_FORMAL + _IT_INFORMAL + _IT_CHAT)
        if lang == "en" and italian > _has(padded, _EN_FORMAL + _EN_INFORMAL + _EN_CHAT):
            lang = "it"
    return lang if lang in ("it", "en") else "en"


def draft_reply(*, customer_text: str | None, language: str | None, customer_name: str | None,
                references: list[str], faq_answer: str | None, topic: str | None = None) -> Draft:
    """A reply the agent can send after reading it (see the module docstring)."""
    lang = _language(language, customer_text)
    register = detect_register(customer_text, lang)
    emoji = register == "informal" and bool(customer_text and _EMOJI.search(customer_text))
    hello, hello_anonymous, sorry, sorry_default, thanks, neutral, next_step, close_problem, close = \
        _WORDS[lang, register]
    name = _first_name(customer_name)
    tone, subject = _tone(customer_text, topic, lang)
    if tone == "problem":
        what = sorry_default if subject is None else _TOPICS[subject][1 if lang == "it" else 2]
        opening = sorry.format(what=what)
    else:
        opening = thanks if tone == "praise" else neutral
    body = _faq_body(faq_answer, lang, register, tone == "problem", emoji) if faq_answer else ""
    if tone == "praise" and _LEADING_THANKS.match(body):
        opening, body = body[:1].lower() + body[1:], ""  # the FAQ's own thanks opens the reply
    parts = [hello.format(name=name) if name else hello_anonymous, opening]
    refs = list(dict.fromkeys(r.strip() for r in references if r and r.strip()))
    if refs:
        parts.append(_references_sentence(refs, customer_text or "", lang, register))
    if body:
        parts.append(body)
    elif tone != "praise":
        parts.append(next_step)
    ending = close_problem if tone == "problem" else close
    parts.append(f"{ending} {'🙏' if tone == 'problem' else '😊'}" if emoji else ending)
    return Draft(text=" ".join(p for p in parts if p), language=lang, register=register, emoji=emoji)
