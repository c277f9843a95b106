"""Sentiment of a customer's text: an offline lexicon analyser (Italian, English) by default,
Amazon Comprehend ``detect_sentiment`` when ``SOCIALCARE_SENTIMENT_PROVIDER=comprehend``.

The offline analyser is a small VADER-style scorer: a lexicon of words and multi-word phrases
with weights, negation that flips (and dampens) the next few sentiment words, intensifiers that
amplify them, emoji, shouting (all caps) and exclamation marks. It needs no network and no
model files, so triage works locally, in tests and if Comprehend is unavailable (the
Comprehend path falls back to it on any error: triage must never fail an event).
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from aws_lambda_powertools import Logger

from socialcare import aws
from socialcare.config import case_settings
from socialcare.models.triage import Label, Sentiment

logger = Logger(child=True)

# ---------------------------------------------------------------- lexicon
# Weights in -3..+3. A trailing "*" matches any word starting with the stem, so inflections
# ("vergogna", "vergognoso", "vergognatevi") share one entry.
_WORDS: dict[str, float] = {
    # Italian, negative
    "vergogn*": -3,
    "pessim*": -3,
    "schif*": -3,
    "truff*": -3,
    "ladr*": -3,
    "incompetent*": -2.5,
    "vergognoso": -3,
    "inaccettabil*": -2.5,
    "scandal*": -2.5,
    "disgust*": -2.5,
    "orribil*": -2.5,
    "terribil*": -2.5,
    "delus*": -2,
    "deludent*": -2,
    "arrabbiat*": -2,
    "furios*": -2.5,
    "rott*": -1.5,
    "guast*": -1.5,
    "difettos*": -1.5,
    "ritard*": -1.5,
    "problem*": -1,
    "lament*": -1,
    "reclam*": -1.5,
    "inutil*": -2,
    "assurd*": -2,
    "mai piu": -2.5,
    "brutt*": -1.5,
    "male": -1.5,
    "peggio*": -2.5,
    "sbagliat*": -1.5,
    "errore": -1,
    "errori": -1,
    "persi": -1,
    "perso": -1,
    "smarrit*": -1.5,
    "danneggiat*": -2,
    "bloccat*": -1.5,
    "ignorat*": -2,
    "attesa": -0.5,
    "aspett*": -0.5,
    "disastr*": -2.5,
    "pazzesc*": -1.5,
    "basta": -1.5,
    "stufo": -2,
    "stufa": -2,
    "stanc*": -1.5,
    # Topic words ("rimborso", "refund") carry no sentiment of their own: negating them
    # ("non ricevo il rimborso") must not read as praise. Triage cues handle them.
    "rimborsatemi": -2,
    # A legal threat is hostile whatever else the message says.
    "avvocat*": -2,
    "denunc*": -2.5,
    "querel*": -2.5,
    "diffid*": -2,
    "mancat*": -1,
    "incredibil*": -1,
    "ridicol*": -2.5,
    # Italian, positive
    "grazie": 2,
    "fantastic*": 3,
    "ottim*": 2.5,
    "perfett*": 2.5,
    "bravissim*": 3,
    "bravi": 2,
    "brav*": 1.5,
    "gentil*": 2,
    "eccellent*": 3,
    "meraviglios*": 3,
    "splendid*": 3,
    "felic*": 2,
    "content*": 2,
    "soddisfatt*": 2,
    "veloc*": 1,
    "rapid*": 1,
    "top": 2,
    "consiglio": 1,
    "consigliat*": 1.5,
    "adoro": 3,
    "amo": 2.5,
    "complimenti": 2.5,
    "buono": 1.5,
    "buona": 1.5,
    "buoni": 1.5,
    "buone": 1.5,
    "buonissim*": 2.5,
    "bello": 1.5,
    "bella": 1.5,
    "belli": 1.5,
    "belle": 1.5,
    "bellissim*": 2.5,
    "funziona": 1,
    "funzionano": 1,
    "risolt*": 1.5,
    "cortes*": 2,
    "disponibil*": 1,
    # English, negative
    "terrible": -3,
    "awful": -3,
    "horrible": -3,
    "worst": -3,
    "disgusting": -3,
    "scam*": -3,
    "shame*": -2.5,
    "disgrace*": -3,
    "useless": -2.5,
    "pathetic": -3,
    "ridiculous": -2.5,
    "unacceptable": -2.5,
    "disappoint*": -2,
    "angry": -2,
    "furious": -2.5,
    "annoy*": -1.5,
    "frustrat*": -2,
    "broken": -1.5,
    "damaged": -2,
    "late": -1,
    "delay*": -1.5,
    "lost": -1,
    "bad": -2,
    "poor": -2,
    "rude": -2.5,
    "incompetent": -2.5,
    "waiting": -0.5,
    "wait": -0.5,
    "ignored": -2,
    "ignoring": -2,
    "complain*": -1.5,
    "fail*": -1.5,
    "wrong": -1.5,
    "never again": -2.5,
    "hate": -3,
    "sucks": -2.5,
    "garbage": -3,
    "joke": -1.5,
    "fraud*": -3,
    "lawyer*": -2,
    "attorney": -2,
    "sue": -2,
    "lawsuit": -2.5,
    "issue*": -0.5,
    "stolen": -2.5,
    "nightmare": -3,
    # English, positive
    "thanks": 2,
    "thank": 2,
    "great": 2.5,
    "amazing": 3,
    "awesome": 3,
    "fantastic": 3,
    "excellent": 3,
    "perfect": 2.5,
    "love": 3,
    "loved": 3,
    "lovely": 2.5,
    "happy": 2,
    "helpful": 2,
    "quick": 1,
    "fast": 1,
    "good": 1.5,
    "nice": 1.5,
    "best": 2.5,
    "recommend*": 1.5,
    "brilliant": 3,
    "wonderful": 3,
    "kind": 1.5,
    "works": 1,
    "working": 0.5,
    "solved": 1.5,
    "resolved": 1.5,
    "pleased": 2,
    "impressed": 2.5,
}

# Phrases are matched on the token sequence before single words, and consume their tokens.
_PHRASES: dict[str, float] = {
    "non funziona": -2.5,
    "non funzionano": -2.5,
    "non va": -1.5,
    "non arriva": -2,
    "non e arrivato": -2,
    "non e mai arrivato": -2.5,
    "non risponde": -2,
    "non rispondete": -2.5,
    "nessuno risponde": -2.5,
    "pessimo servizio": -3.5,
    "servizio clienti pessimo": -3.5,
    "chiedo il rimborso": -2.5,
    "voglio il rimborso": -2.5,
    "voglio i miei soldi": -3,
    "ancora in attesa": -2,
    "non ho ricevuto": -1.5,
    "non ho ancora ricevuto": -2,
    "non ricevo": -1.5,
    "sto ancora aspettando": -2,
    "ancora niente": -2,
    "mai piu": -2.5,
    "presa in giro": -2.5,
    "fate schifo": -3.5,
    "grazie mille": 3,
    "grazie di cuore": 3,
    "servizio eccellente": 3,
    "ottimo servizio": 3,
    "still waiting": -2.5,
    "not received": -1.5,
    "have not received": -1.5,
    "never received": -2,
    "still not": -1.5,
    "doesn't work": -2.5,
    "does not work": -2.5,
    "not working": -2.5,
    "no one": -1,
    "nobody answers": -2.5,
    "never arrived": -2.5,
    "waste of money": -3,
    "waste of time": -3,
    "rip off": -3,
    "ripped off": -3,
    "customer service is a joke": -3.5,
    "love it": 3,
    "love you": 3,
    "well done": 2.5,
    "thank you": 2.5,
    "thank you so much": 3.5,
    "great service": 3,
    "five stars": 3,
    "grazie a voi": 2.5,
    "never again": -2.5,
}

_NEGATORS = frozenset(
    {
        "non",
        "mai",
        "nessun",
        "nessuno",
        "nessuna",
        "niente",
        "nulla",
        "ne",
        "senza",
        "neanche",
        "nemmeno",
        "not",
        "no",
        "never",
        "nothing",
        "nobody",
        "none",
        "neither",
        "nor",
        "without",
        "hardly",
        "cannot",
    }
)
_INTENSIFIERS = {
    "molto": 1.5,
    "troppo": 1.5,
    "davvero": 1.5,
    "veramente": 1.5,
    "proprio": 1.3,
    "super": 1.5,
    "estremamente": 1.8,
    "assolutamente": 1.8,
    "tanto": 1.3,
    "tantissimo": 1.8,
    "completamente": 1.5,
    "very": 1.5,
    "really": 1.5,
    "so": 1.4,
    "extremely": 1.8,
    "totally": 1.5,
    "absolutely": 1.8,
    "completely": 1.5,
    "too": 1.3,
    "incredibly": 1.8,
    "such": 1.3,
}
_DAMPENERS = {"poco": 0.5, "abbastanza": 0.7, "slightly": 0.5, "somewhat": 0.6, "bit": 0.6, "quite": 0.8}
# Negation flips a word and weakens it: "not good" is milder than "bad" (VADER's 0.74).
_NEGATION_FACTOR = -0.74
# After a contrast word the writer's point follows: "arrivato, grazie, ma era rotto" is a
# complaint. Words before it count half, words after it one and a half (as VADER does).
_CONTRAST = frozenset({"ma", "pero", "tuttavia", "but", "however", "though"})
_NEGATION_SCOPE = 3

_EMOJI: dict[str, float] = {
    "😡": -3,
    "🤬": -3.5,
    "😠": -2.5,
    "👎": -2,
    "😤": -2,
    "😞": -2,
    "😢": -2,
    "😭": -2,
    "💩": -3,
    "🙄": -1.5,
    "😒": -1.5,
    "😩": -2,
    "😍": 3,
    "❤": 3,
    "💙": 3,
    "🙏": 1.5,
    "👍": 2,
    "😊": 2,
    "😀": 2,
    "😃": 2,
    "🥰": 3,
    "🎉": 2,
    "👏": 2,
    "🔥": 1,
    "⭐": 1.5,
}

_IT_HINTS = frozenset(
    {
        "il",
        "lo",
        "la",
        "che",
        "di",
        "non",
        "per",
        "con",
        "sono",
        "ho",
        "una",
        "del",
        "della",
        "mi",
        "ancora",
        "grazie",
        "vostro",
        "vostra",
        "perche",
        "e",
        "ma",
        "anche",
        "da",
        "ordine",
        "servizio",
    }
)
_EN_HINTS = frozenset(
    {
        "the",
        "and",
        "is",
        "are",
        "my",
        "you",
        "your",
        "not",
        "with",
        "for",
        "this",
        "have",
        "was",
        "it",
        "still",
        "thanks",
        "order",
        "what",
        "why",
        "i",
        "to",
        "of",
        "service",
    }
)

_TOKEN = re.compile(r"[a-z0-9]+|[.!?;]")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"[@#]\w+")


def normalise(text: str) -> str:
    """Lower case without accents: the lexicon and the triage rules match on this form."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.lower()


def tokens(text: str) -> list[str]:
    body = _MENTION.sub(" ", _URL.sub(" ", normalise(text)))
    # Expand English contractions into a negator, then drop apostrophes so Italian elisions
    # ("l'ordine", "dov'e") split into words.
    body = re.sub(r"n['’]t\b", " not", body).replace("'", " ").replace("’", " ")
    return _TOKEN.findall(body)


def guess_language(text: str) -> str:
    words = [t for t in tokens(text) if t.isalpha()]
    it_hits = sum(1 for w in words if w in _IT_HINTS)
    en_hits = sum(1 for w in words if w in _EN_HINTS)
    return "it" if it_hits > en_hits else "en"


def _word_score(word: str) -> float | None:
    if word in _WORDS:
        return _WORDS[word]
    # Longest matching stem wins, so "vergognoso" uses its own weight before "vergogn*".
    best: tuple[int, float] | None = None
    for entry, weight in _STEMS:
        if word.startswith(entry) and (best is None or len(entry) > best[0]):
            best = (len(entry), weight)
    return None if best is None else best[1]


_STEMS = [(k[:-1], v) for k, v in _WORDS.items() if k.endswith("*")]
_PHRASE_TOKENS = sorted(
    ((tuple(p.split()), w) for p, w in {**_PHRASES, **{k: v for k, v in _WORDS.items() if " " in k}}.items()),
    key=lambda item: -len(item[0]),
)


def _caps_words(text: str) -> set[str]:
    return {normalise(w) for w in re.findall(r"\b[A-ZÀ-Ý]{3,}\b", text)}


def _phrase_at(toks: list[str], i: int) -> tuple[float, int] | None:
    for phrase, weight in _PHRASE_TOKENS:
        if tuple(toks[i : i + len(phrase)]) == phrase:
            return weight, len(phrase)
    return None


class _Scorer:
    """One left-to-right pass over the tokens, collecting (token index, signed weight)."""

    def __init__(self, text: str) -> None:
        self.toks = tokens(text)
        self.shouted = _caps_words(text)
        self.values: list[tuple[int, float]] = []
        self.contrast_at = -1
        self.negate_left = 0
        self.boost = 1.0

    def _modifier(self, tok: str, i: int) -> bool:
        """Consume a negator, intensifier or dampener (True), remembering contrast words."""
        if tok in _CONTRAST:
            self.contrast_at = i
        if tok in _NEGATORS:
            self.negate_left = _NEGATION_SCOPE
        elif tok in _INTENSIFIERS:
            self.boost *= _INTENSIFIERS[tok]
        elif tok in _DAMPENERS:
            self.boost *= _DAMPENERS[tok]
        else:
            return False
        return True

    def _score(self, i: int, tok: str, weight: float, width: int) -> None:
        value = weight * self.boost * (1.3 if tok in self.shouted else 1.0)
        # A phrase that carries its own negation ("non funziona") is not negated again, which
        # would turn a complaint into praise; "not love it" still is.
        carries_negation = any(t in _NEGATORS for t in self.toks[i : i + width])
        if self.negate_left > 0 and not carries_negation:
            value *= _NEGATION_FACTOR
        self.values.append((i, value))
        self.boost, self.negate_left = 1.0, 0

    def run(self) -> tuple[float, float]:
        i = 0
        while i < len(self.toks):
            tok = self.toks[i]
            if tok in ".!?;":  # a sentence boundary ends negation and intensifiers
                self.negate_left, self.boost = 0, 1.0
                i += 1
                continue
            phrase = _phrase_at(self.toks, i)
            if phrase is None and self._modifier(tok, i):
                i += 1
                continue
            weight, width = phrase if phrase else (_word_score(tok), 1)
            if weight is not None:
                self._score(i, tok, weight, width)
            elif self.negate_left > 0:
                self.negate_left -= 1
            i += width
        positive = negative = 0.0
        for index, value in self.values:
            if self.contrast_at >= 0:
                value *= 0.5 if index < self.contrast_at else 1.5
            if value > 0:
                positive += value
            else:
                negative += value
        return positive, negative


def _emoji(text: str) -> tuple[float, float]:
    positive = negative = 0.0
    for symbol, weight in _EMOJI.items():
        count = min(text.count(symbol), 3)
        if weight > 0:
            positive += weight * count
        else:
            negative += weight * count
    return positive, negative


def analyse_offline(text: str, language: str | None = None) -> Sentiment:
    lang = (language or "").split("-")[0].lower() or guess_language(text)
    positive, negative = _Scorer(text).run()
    emoji_pos, emoji_neg = _emoji(text)
    positive, negative = positive + emoji_pos, negative + emoji_neg
    raw = positive + negative
    # Exclamation marks amplify whatever the text already says (not a sentiment of their own).
    raw *= 1 + 0.1 * min(text.count("!"), 4)
    score = raw / math.sqrt(raw * raw + 15) if raw else 0.0
    label: Label
    if positive >= 1.5 and negative <= -1.5 and abs(score) < 0.5:
        label = "mixed"
    elif score >= 0.2:
        label = "positive"
    elif score <= -0.2:
        label = "negative"
    else:
        label = "neutral"
    return Sentiment(label=label, score=round(score, 4), language=lang, provider="offline")


# Languages Comprehend's detect_sentiment accepts.
_COMPREHEND_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})


def analyse_comprehend(text: str, language: str | None = None) -> Sentiment:
    lang = (language or "").split("-")[0].lower() or guess_language(text)
    if lang not in _COMPREHEND_LANGUAGES:
        return analyse_offline(text, lang)
    # detect_sentiment takes at most 5,000 bytes of UTF-8.
    clipped = text.encode("utf-8")[:4900].decode("utf-8", errors="ignore")
    result: dict[str, Any] = aws.client("comprehend").detect_sentiment(Text=clipped, LanguageCode=lang)
    scores = result.get("SentimentScore", {})
    score = float(scores.get("Positive", 0.0)) - float(scores.get("Negative", 0.0))
    named = str(result.get("Sentiment", "NEUTRAL")).lower()
    label: Label = named if named in ("positive", "negative", "neutral", "mixed") else "neutral"
    return Sentiment(label=label, score=round(score, 4), language=lang, provider="comprehend")


def analyse(text: str | None, language: str | None = None) -> Sentiment:
    """The sentiment of ``text`` with the configured provider (never raises for bad input)."""
    if not text or not text.strip():
        return Sentiment(label="neutral", score=0.0, language=(language or "und"), provider="none")
    if case_settings().sentiment_provider.lower() == "comprehend":
        try:
            return analyse_comprehend(text, language)
        except Exception:  # throttling, no permission, outage: triage degrades, never fails
            logger.warning("comprehend failed; using the offline analyser", exc_info=True)
    return analyse_offline(text, language)
