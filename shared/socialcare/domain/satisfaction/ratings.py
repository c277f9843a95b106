"""Reading a 1-5 rating out of a customer's answer to the satisfaction survey, in Italian or
English: "5", "5/5", "4 su 5", "4 out of 5", "5 stelle", "⭐⭐⭐⭐⭐", "★★★☆☆", "😀", "😡", "👍",
"ottimo", "pessimo", "great", "terrible", "non male"... What the customer wrote beside the rating
is kept as the comment.

Pure functions (no I/O). Hand-written because no library reads survey answers in both languages
with emoji; the word and emoji tables are small and listed here so a reviewer sees every one.
A message is a rating only when it says so plainly: an explicit form (a fraction of 5, a number
of stars, star or face emoji, a number that opens the message) anywhere in a short message, or a
rating word in a message of at most ``WORD_LIMIT`` words. Anything else (a new question, an
order number, "I waited 3 days") is not a rating and goes through the normal case path.
"""

from __future__ import annotations

import re
import unicodedata

from socialcare.models.satisfaction import Rating

MAX_CHARS = 500  # a longer message is a new story, not an answer to "rate us 1 to 5"
WORD_LIMIT = 12  # rating words count only in a message this short

_NUMBER_WORDS = {
    "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
}
_N = r"([1-5]|uno|una|due|tre|quattro|cinque|one|two|three|four|five)"
# "4/5", "4 / 5", "4 su 5", "4 out of 5", "4 of 5", "4 di 5"
_FRACTION = re.compile(_N + r"\s*(?:/|su|di|out\s+of|of)\s*(?:5|cinque|five)\b", re.IGNORECASE)
# "5 stelle", "4 stars", "una stella", "1 star", "voto 4", "rating: 4", "score 3"
_STARS_WORD = re.compile(_N + r"\s*(?:stell[ae]|stars?)\b", re.IGNORECASE)
_LABELLED = re.compile(r"\b(?:voto|valutazione|punteggio|rating|score)\s*[:=]?\s*" + _N + r"\b", re.IGNORECASE)
# a digit that opens the message: "5", "5!", "4, ma...", "3 - lenti"; never "5000", "5.30" or a
# quantity ("3 giorni", "2 days", "4 €")
_UNITS = (r"giorn|ore\b|or[ae]\b|settiman|mes[ei]|ann[oi]|minut|pezz|articol|volt|euro|€|\$|days?\b|hours?\b|"
          r"weeks?\b|months?\b|years?\b|minutes?\b|times\b|items?\b|pieces?\b|pm\b|am\b")
_LEADING = re.compile(r"^\W*([1-5])(?![\w.,/:]\d)(?!\w)(?!\s*(?:" + _UNITS + r"))", re.IGNORECASE)
_FULL_STARS = "⭐★🌟"
_EMPTY_STARS = "☆"
# faces and hands: the score each one means
_EMOJI = {
    "😍": 5, "🤩": 5, "🥰": 5, "😁": 5, "😀": 5, "😃": 5, "😄": 5, "🥳": 5, "❤": 5, "💯": 5, "👏": 5,
    "😊": 4, "🙂": 4, "👍": 4, "👌": 4, "😉": 4,
    "😐": 3, "😶": 3, "🤷": 3, "😑": 3,
    "🙁": 2, "😕": 2, "😟": 2, "☹": 2, "👎": 2, "😒": 2,
    "😞": 1, "😢": 1, "😭": 1, "😠": 1, "😡": 1, "🤬": 1, "😤": 1, "💩": 1,
}
# rating words, lower case without accents; "*" ends a stem
_WORDS = {
    # Italian
    "ottim*": 5, "eccellent*": 5, "perfett*": 5, "fantastic*": 5, "eccezional*": 5, "stupend*": 5,
    "splendid*": 5, "magnific*": 5, "top": 5, "bravissim*": 5,
    "benissim*": 5, "buon*": 4, "bene": 4, "soddisfatt*": 4, "bravi": 4, "brava": 4, "bravo": 4, "gentilissim*": 4,
    "discret*": 3, "sufficient*": 3, "cosi cosi": 3, "nella media": 3, "normale": 3,
    "scars*": 2, "insufficient*": 2, "male": 2, "deludent*": 2, "delus*": 2, "mediocr*": 2, "lent*": 2,
    "pessim*": 1, "terribil*": 1, "orribil*": 1, "vergognos*": 1, "schifo": 1, "disastr*": 1, "inaccettabil*": 1,
    # English
    "excellent": 5, "great": 5, "perfect": 5, "amazing": 5, "awesome": 5, "fantastic": 5, "outstanding": 5,
    "brilliant": 5, "superb": 5, "wonderful": 5,
    "good": 4, "satisfied": 4, "helpful": 4, "nice": 4, "happy": 4,
    "ok": 3, "okay": 3, "fine": 3, "average": 3, "so so": 3, "meh": 3, "decent": 3,
    "poor": 2, "bad": 2, "disappointing": 2, "disappointed": 2, "slow": 2, "unhappy": 2, "mediocre": 2,
    "terrible": 1, "awful": 1, "horrible": 1, "worst": 1, "appalling": 1, "useless": 1, "disgraceful": 1,
}
_NEGATIONS = frozenset({"non", "not", "nt"})
NEGATION_REACH = 3  # "non e stato buono": a negation up to this many words before the rating word
_WORD = re.compile(r"[a-z]+")


def _plain(text: str) -> str:
    """Lower case, accents dropped ("così" -> "cosi"), emoji kept."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def _comment(text: str, span: tuple[int, int] | None = None, drop: str = "") -> str | None:
    """``text`` without the rating (the matched span, the emoji in ``drop``), or None when
    nothing but punctuation is left."""
    if span is not None:
        text = text[:span[0]] + " " + text[span[1]:]
    if drop:
        text = "".join(c for c in text if c not in drop and c != "\ufe0f")
    text = " ".join(text.split()).strip(" \t.,;:!?-–—()[]\"'")
    return text or None


def _stars(text: str) -> int | None:
    full = sum(text.count(c) for c in _FULL_STARS)
    if full == 0 or full > 5:
        return None
    return full  # empty stars (☆) only pad the line: "★★★☆☆" is 3


def _emoji(text: str) -> int | None:
    found = [score for char, score in _EMOJI.items() for _ in range(text.count(char))]
    if not found:
        return None
    return max(1, min(5, round(sum(found) / len(found))))


def _word_score(words: list[str], index: int) -> tuple[int | None, int]:
    """The score the word (or two-word phrase) at ``index`` gives, and how many words it used."""
    pair = " ".join(words[index:index + 2])
    if pair in _WORDS:
        return _WORDS[pair], 2
    word = words[index]
    if word in _WORDS:
        return _WORDS[word], 1
    best: tuple[int, int] | None = None  # (stem length, score): the longest stem wins
    for entry, score in _WORDS.items():
        if entry.endswith("*") and word.startswith(entry[:-1]) and (best is None or len(entry) > best[0]):
            best = (len(entry), score)
    return (best[1], 1) if best else (None, 1)


def _negated(score: int) -> int:
    """"not good" is poor, "non male" (not bad) is middling."""
    return 2 if score >= 4 else 3 if score <= 2 else score


def _words(text: str) -> int | None:
    words = _WORD.findall(_plain(text).replace("n't", " nt"))
    if not words or len(words) > WORD_LIMIT:
        return None
    scores: list[int] = []
    index = 0
    while index < len(words):
        score, used = _word_score(words, index)
        if score is not None:
            negated = any(w in _NEGATIONS for w in words[max(0, index - NEGATION_REACH):index])
            scores.append(_negated(score) if negated else score)
        index += used
    if not scores:
        return None
    # the strongest opinion decides ("good but slow" reads as poor: a complaint must not be lost)
    return min(scores) if min(scores) <= 2 else max(scores)


def parse_rating(text: str | None) -> Rating | None:
    """The rating ``text`` gives, with the rest as its comment; None when it gives none."""
    if not text or not text.strip() or len(text) > MAX_CHARS:
        return None
    stripped = text.strip()
    for pattern, form in ((_FRACTION, "fraction"), (_STARS_WORD, "stars"), (_LABELLED, "digit"),
                          (_LEADING, "digit")):
        match = pattern.search(stripped)
        if match:
            return Rating(score=_number(match.group(1)), comment=_comment(stripped, match.span()), form=form)
    stars = _stars(stripped)
    if stars is not None:
        return Rating(score=stars, comment=_comment(stripped, drop=_FULL_STARS + _EMPTY_STARS), form="stars")
    face = _emoji(stripped)
    if face is not None:
        return Rating(score=face, comment=_comment(stripped, drop="".join(_EMOJI)), form="emoji")
    score = _words(stripped)
    if score is not None:
        return Rating(score=score, comment=stripped, form="words")
    return None
