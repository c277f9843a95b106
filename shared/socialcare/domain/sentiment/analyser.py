"""Sentiment of a customer's text: an offline lexicon analyser (Italian, English) by default,
Amazon Comprehend ``detect_sentiment`` when ``SOCIALCARE_SENTIMENT_PROVIDER=comprehend``
(``SentimentAnalyser``).

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

from socialcare.domain.sentiment import lexicon
from socialcare.models.triage import Label, Sentiment

logger = Logger(child=True)

_TOKEN = re.compile(r"[a-z0-9]+|[.!?;]")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"[@#]\w+")


# Triage, listening and the offline analyser read at most READ_CHARS characters of a message
# (Comprehend reads its first 5,000 bytes): its beginning and its end, since what a message is
# about is said early and a threat ("...or my lawyer will contact you") often closes a long
# complaint; a hundred patterns over a 200,000-character text would cost seconds. The message
# itself is stored whole.
READ_CHARS = 20_000


def readable(text: str) -> str:
    """The part of ``text`` the rules read: all of it, or its first and last READ_CHARS / 2."""
    if len(text) <= READ_CHARS:
        return text
    half = READ_CHARS // 2
    return f"{text[:half]}\n\n{text[-half:]}"


def normalise(text: str) -> str:
    """Lower case without accents, at most READ_CHARS long (``readable``): the lexicon and the
    triage rules match on this form."""
    decomposed = unicodedata.normalize("NFKD", readable(text))
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
    it_hits = sum(1 for w in words if w in lexicon.IT_HINTS)
    en_hits = sum(1 for w in words if w in lexicon.EN_HINTS)
    return "it" if it_hits > en_hits else "en"


def _word_score(word: str) -> float | None:
    if word in lexicon.WORDS:
        return lexicon.WORDS[word]
    # Longest matching stem wins, so "vergognoso" uses its own weight before "vergogn*".
    best: tuple[int, float] | None = None
    for entry, weight in _STEMS:
        if word.startswith(entry) and (best is None or len(entry) > best[0]):
            best = (len(entry), weight)
    return None if best is None else best[1]


_STEMS = [(k[:-1], v) for k, v in lexicon.WORDS.items() if k.endswith("*")]
_PHRASE_TOKENS = sorted(
    ((tuple(p.split()), w) for p, w in {**lexicon.PHRASES, **{k: v for k, v in lexicon.WORDS.items()
                                                                if " " in k}}.items()),
    key=lambda item: -len(item[0]),
)


# Phrases by their first token, longest first: a token that starts no phrase costs one lookup.
_PHRASES_BY_FIRST: dict[str, list[tuple[tuple[str, ...], float]]] = {}
for _phrase, _weight in _PHRASE_TOKENS:
    _PHRASES_BY_FIRST.setdefault(_phrase[0], []).append((_phrase, _weight))


def _caps_words(text: str) -> set[str]:
    return {normalise(w) for w in re.findall(r"\b[A-ZÀ-Ý]{3,}\b", readable(text))}


def _phrase_at(toks: list[str], i: int) -> tuple[float, int] | None:
    for phrase, weight in _PHRASES_BY_FIRST.get(toks[i], ()):
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
        if tok in lexicon.CONTRAST:
            self.contrast_at = i
        if tok in lexicon.NEGATORS:
            self.negate_left = lexicon.NEGATION_SCOPE
        elif tok in lexicon.INTENSIFIERS:
            self.boost *= lexicon.INTENSIFIERS[tok]
        elif tok in lexicon.DAMPENERS:
            self.boost *= lexicon.DAMPENERS[tok]
        else:
            return False
        return True

    def _score(self, i: int, tok: str, weight: float, width: int) -> None:
        value = weight * self.boost * (1.3 if tok in self.shouted else 1.0)
        # A phrase that carries its own negation ("non funziona") is not negated again, which
        # would turn a complaint into praise; "not love it" still is.
        carries_negation = any(t in lexicon.NEGATORS for t in self.toks[i : i + width])
        if self.negate_left > 0 and not carries_negation:
            value *= lexicon.NEGATION_FACTOR
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
    text = readable(text)
    positive = negative = 0.0
    for symbol, weight in lexicon.EMOJI.items():
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
    raw *= 1 + 0.1 * min(readable(text).count("!"), 4)
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


class SentimentAnalyser:
    """The configured provider: the offline analyser, or Amazon Comprehend with the offline one
    as the fallback (throttling, no permission, an outage: triage degrades, never fails)."""

    def __init__(self, provider: str = "offline", comprehend: Any = None) -> None:
        if provider not in ("offline", "comprehend"):
            raise ValueError(f"unknown sentiment provider {provider!r}")
        if provider == "comprehend" and comprehend is None:
            raise ValueError("the comprehend provider needs a Comprehend client")
        self.provider = provider
        self.comprehend = comprehend

    def analyse(self, text: str | None, language: str | None = None) -> Sentiment:
        """The sentiment of ``text`` (never raises for bad input)."""
        if not text or not text.strip():
            return Sentiment(label="neutral", score=0.0, language=(language or "und"), provider="none")
        if self.provider == "comprehend":
            try:
                return self._comprehend(text, language)
            except Exception:  # throttling, no permission, outage: triage degrades, never fails
                logger.warning("comprehend failed; using the offline analyser", exc_info=True)
        return analyse_offline(text, language)

    def _comprehend(self, text: str, language: str | None) -> Sentiment:
        lang = (language or "").split("-")[0].lower() or guess_language(text)
        if lang not in _COMPREHEND_LANGUAGES:
            return analyse_offline(text, lang)
        # detect_sentiment takes at most 5,000 bytes of UTF-8.
        clipped = text.encode("utf-8")[:4900].decode("utf-8", errors="ignore")
        result: dict[str, Any] = self.comprehend.detect_sentiment(Text=clipped, LanguageCode=lang)
        scores = result.get("SentimentScore", {})
        score = float(scores.get("Positive", 0.0)) - float(scores.get("Negative", 0.0))
        named = str(result.get("Sentiment", "NEUTRAL")).lower()
        label: Label = named if named in ("positive", "negative", "neutral", "mixed") else "neutral"
        return Sentiment(label=label, score=round(score, 4), language=lang, provider="comprehend")
