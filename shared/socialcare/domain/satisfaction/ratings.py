"""Reading a 1-5 rating out of a customer's answer to the satisfaction survey, in Italian or
English: "5", "5/5", "4 su 5", "4 out of 5", "8/10", "grazie, 5", "5 stelle", "⭐⭐⭐⭐⭐", "★★★☆☆",
"5️⃣", "😀", "😡", "👍", "ottimo", "pessimo", "great", "terrible", "non male"... What the customer
wrote beside the rating is kept as the comment.

Pure functions (no I/O). Hand-written because no library reads survey answers in both languages
with emoji; the word and emoji tables are small and listed here so a reviewer sees every one.
A message is a rating only when it says so plainly: an explicit form (a fraction of 5 or 10, a
number of stars, star or face emoji, a score that opens the message or stands alone among
thanks) anywhere in a short message, or a rating word in a message of at most ``WORD_LIMIT``
words. A number followed by the thing it counts ("2 ordini", "3 items missing", "4/5 giorni") is
a quantity, not a score; a greeting ("buongiorno", "good morning") is no opinion; a message that
asks something ("?") is a rating only in an explicit form. Anything else (a new question, an
order number, "I waited 3 days") is not a rating and goes through the normal case path.
"""

from __future__ import annotations

import re
import unicodedata

from socialcare.models.satisfaction import Rating

MAX_CHARS = 500  # a longer message is a new story, not an answer to "rate us 1 to 5"
WORD_LIMIT = 12  # rating words count only in a message this short

_NUMBER_WORDS = {
    "zero": 0, "nessuna": 0, "no": 0, "dieci": 10, "ten": 10,
    "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
}
_SMALL = r"[1-5]|uno|una|due|tre|quattro|cinque|one|two|three|four|five"
_START = r"(?<![\w.,/:])"  # not the tail of a longer number or word: "15", "4.5/5", "nessuna"
_END = r"(?!\w|[.,/:-]\d)"  # not the head of one: "5000", "5.30", "5/6", "5gg", "3/5/2024", "2-3"
# "4/5", "4 / 5", "4 su 5", "4 out of 5", "4 of 5", "4 di 5", "8/10", "0/5"
_FRACTION = re.compile(_START + r"(10|[0-9]|zero|dieci|ten|" + _SMALL + r")\s*(?:/|su|di|out\s+of|of)\s*"
                       r"(5|10|cinque|five|dieci|ten)" + _END, re.IGNORECASE)
# "5 stelle", "4 stars", "una stella", "1 star", "nessuna stella", "no stars"
_STARS_WORD = re.compile(_START + r"(0|zero|nessuna|no|" + _SMALL + r")\s*(?:stell[ae]|stars?)\b", re.IGNORECASE)
# "voto 4", "rating: 4", "score 3"
_LABELLED = re.compile(r"\b(?:voto|valutazione|punteggio|rating|score)\s*(?:[:=]|\b(?:è|e'|is)(?=\s))?\s*("
                       + _SMALL + r")" + _END, re.IGNORECASE)
# "il 4/5", "by 3/5": a date, not a fraction
_DATE_WORDS = frozenset({"il", "l", "dal", "al", "del", "nel", "entro", "fino", "prima", "dopo", "da", "on", "by",
                         "from", "since", "until", "till", "before", "after"})
_KEYCAP = "\ufe0f?\u20e3"  # "5️⃣": the digit as an emoji
# a digit that opens the message: "5", "5!", "4, ma...", "*5*", "1️⃣"; never "5000", "5.30", "€5"
_LEADING = re.compile(r"^[\s\"'“«(*_]*([1-5])(?:" + _KEYCAP + r")?" + _END)
# a digit standing alone between spaces or punctuation, anywhere: "grazie, 5", "direi un 4"
_LONE = re.compile(r"(?<![^\s,;:.!(\-–—])([1-5])(?:" + _KEYCAP + r")?(?![^\s,;:.!)\-–—…])")
_NUMBER = re.compile(r"\d+")
# What may follow a score and open a comment ("5 grazie", "4, ma...", "1 il pacco è rotto", "5 ⭐"): a
# separator, an emoji or one of these words. Any other word is the thing the number counts ("2
# ordini", "1 more question"), unless the rest holds a rating word ("5 servizio eccellente").
_SEPARATORS = ",;:.!)(-–—…"
_JOINERS = frozenset({
    "grazie", "ma", "pero", "perche", "e", "ed", "anche", "molto", "tutto", "tutti", "il", "lo", "la", "i", "gli",
    "le", "l", "un", "una", "uno", "siete", "sei", "era", "stato", "stata", "stati", "davvero", "proprio",
    "veramente", "comunque", "purtroppo", "sempre", "direi", "per", "ok", "si", "assolutamente", "decisamente",
    "thanks", "thank", "thx", "ty", "but", "and", "because", "as", "the", "a", "an", "very", "really", "so", "all",
    "overall", "it", "was", "you", "your", "just", "though", "although", "however", "definitely", "absolutely",
})
# Words that may stand beside a score written anywhere ("grazie, 5", "direi un 4", "I'd give it a 4")
_FILLERS = frozenset({
    "grazie", "mille", "tante", "direi", "darei", "do", "ti", "vi", "metto", "un", "una", "ok", "si", "tutto", "allora",
    "beh", "ecco", "ciao", "salve", "thanks", "thank", "you", "thx", "ty", "i", "d", "would", "give", "it", "a",
    "say", "yes", "well", "hi", "hello",
})
_FULL_STARS = "⭐★🌟"
_EMPTY_STARS = "☆"
_EMOJI_PARTS = "\ufe0f\u200d\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"  # variation, joiner, skin tones
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
    "benissim*": 5, "buonissim*": 5, "buono": 4, "buona": 4, "buoni": 4, "buone": 4, "bene": 4, "soddisfatt*": 4,
    "bravi": 4, "brava": 4, "bravo": 4, "gentilissim*": 4, "veloc*": 4, "velocissim*": 5, "rapid*": 4,
    "rapidissim*": 5, "efficien*": 4, "inefficien*": 2, "scortes*": 1, "maleducat*": 1,
    "discret*": 3, "sufficient*": 3, "cosi cosi": 3, "nella media": 3, "normale": 3, "va bene": 3,
    "scars*": 2, "insufficient*": 2, "insoddisfatt*": 2, "male": 2, "deludent*": 2, "delus*": 2, "mediocr*": 2,
    "lento": 2, "lenta": 2, "lenti": 2, "lentissim*": 2, "lentezza": 2,
    "pessim*": 1, "terribil*": 1, "orribil*": 1, "vergognos*": 1, "schifo": 1, "disastr*": 1, "inaccettabil*": 1,
    # English
    "excellent": 5, "great": 5, "perfect": 5, "amazing": 5, "awesome": 5, "fantastic": 5, "outstanding": 5,
    "brilliant": 5, "superb": 5, "wonderful": 5,
    "good": 4, "satisfied": 4, "helpful": 4, "nice": 4, "happy": 4, "fast": 4, "quick": 4, "friendly": 4,
    "ok": 3, "okay": 3, "fine": 3, "average": 3, "so so": 3, "meh": 3, "decent": 3,
    "poor": 2, "bad": 2, "disappointing": 2, "disappointed": 2, "slow": 2, "unhappy": 2, "mediocre": 2,
    "dissatisfied": 2, "unsatisfied": 2,
    "terrible": 1, "awful": 1, "horrible": 1, "worst": 1, "appalling": 1, "useless": 1, "disgraceful": 1, "rude": 1,
}
# two-word phrases holding a rating word that give no opinion: greetings, "fine" meaning "end"...
_NOT_OPINIONS = frozenset({
    "buon giorno", "buona giornata", "buona sera", "buona serata", "buona notte", "buon pomeriggio", "buon lavoro",
    "buona domenica", "buon weekend", "buona fortuna", "good morning", "good afternoon", "good evening",
    "good night", "good day", "good luck", "alla fine", "a fine", "la fine", "fine settimana", "fine mese",
    "le lenti", "lenti a",  # lenses
})
# a salutation opening a message ("Gentilissimi, il mio ordine...") is no opinion either
_SALUTATIONS = frozenset({"gentile", "gentili", "gentilissimo", "gentilissima", "gentilissimi", "gentilissime",
                          "caro", "cara", "cari", "care", "egregio", "egregi", "spettabile", "dear"})
_NEGATIONS = frozenset({"non", "not", "nt", "poco", "niente", "nulla"})  # "per niente soddisfatto": poor
NEGATION_REACH = 3  # "non e stato buono": a negation up to this many words before the rating word
_WORD = re.compile(r"[a-z]+")


def _plain(text: str) -> str:
    """Lower case, accents dropped ("così" -> "cosi"), emoji kept."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token.lower()]


def _fraction_score(value: int, scale: int) -> int | None:
    """``value`` out of ``scale`` (5 or 10) on the 1-5 scale: 0/5 is 1, 8/10 is 4."""
    if value > scale:
        return None
    return max(1, value) if scale == 5 else 1 + round(value * 4 / 10)


def _comment(text: str, span: tuple[int, int] | None = None, drop: str = "") -> str | None:
    """``text`` without the rating (the matched span, the emoji in ``drop``), or None when
    nothing but punctuation is left."""
    if span is not None:
        text = text[:span[0]] + " " + text[span[1]:]
    if drop:
        drop += _EMOJI_PARTS
        text = "".join(c for c in text if c not in drop)
    text = " ".join(text.split()).strip(" \t.,;:!?-–—()[]\"'")
    return text or None


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" and ord(char) >= 0x2000  # not "°", "©"


def _opens_comment(rest: str) -> bool:
    """What follows a score opens a comment, rather than naming the thing the number counts."""
    rest = rest.lstrip()
    if not rest or rest[0] in _SEPARATORS or _is_emoji(rest[0]):
        return True
    words = _WORD.findall(_plain(rest))
    return bool(words) and (words[0] in _JOINERS or bool(_scores(words)))


def _explicit(text: str) -> Rating | None:
    """A fraction, a number of stars, a labelled score or a score opening the message."""
    for match in _FRACTION.finditer(text):
        score = _fraction_score(_number(match.group(1)), _number(match.group(2)))
        before = _WORD.findall(_plain(text[:match.start()]))[-1:]
        if score is not None and not _DATE_WORDS.intersection(before) and _opens_comment(text[match.end():]):
            return Rating(score=score, comment=_comment(text, match.span()), form="fraction")
    stars = _STARS_WORD.search(text)
    if stars:
        return Rating(score=max(1, _number(stars.group(1))), comment=_comment(text, stars.span()), form="stars")
    digit = _LABELLED.search(text)
    if digit is None:
        digit = _LEADING.search(text)
        if digit is not None and not _opens_comment(text[digit.end():]):
            digit = None
    if digit is not None:
        return Rating(score=_number(digit.group(1)), comment=_comment(text, digit.span()), form="digit")
    return None


def _lone_score(text: str) -> Rating | None:
    """The only number of a message whose other words are thanks and the like: "grazie, 5",
    "direi un 4", "I'd give it a 4" (never "ordine 5", "chiamatemi alle 5", "€5")."""
    if "?" in text or len(_NUMBER.findall(text)) != 1:
        return None
    match = _LONE.search(text)
    if match is None:
        return None
    words = _WORD.findall(_plain(text[:match.start()] + " " + text[match.end():]))
    if any(w not in _FILLERS and _word_score([w], 0)[0] is None for w in words):
        return None
    return Rating(score=int(match.group(1)), comment=_comment(text, match.span()), form="digit")


def _about_us(text: str) -> bool:
    """Every word of ``text`` is thanks or filler, or it holds a rating word: an opinion."""
    words = _WORD.findall(_plain(text))
    return all(w in _FILLERS or w in _JOINERS for w in words) or bool(_scores(words))


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
    if pair in _NOT_OPINIONS:
        return None, 2
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


def _scores(words: list[str]) -> list[int]:
    """The score of every rating word in ``words``, each flipped by a negation shortly before it."""
    if len(words) > 1 and words[0] in _SALUTATIONS:
        words = words[1:]
    scores: list[int] = []
    index = 0
    while index < len(words):
        score, used = _word_score(words, index)
        if score is not None:
            negated = any(w in _NEGATIONS for w in words[max(0, index - NEGATION_REACH):index])
            scores.append(_negated(score) if negated else score)
        index += used
    return scores


def _words(text: str) -> int | None:
    plain = _plain(text).replace("n't", " nt").replace("per niente", "niente").replace("per nulla", "nulla")
    words = _WORD.findall(plain)
    if not words or len(words) > WORD_LIMIT:
        return None
    scores = _scores(words)
    if not scores:
        return None
    # the strongest opinion decides ("good but slow" reads as poor: a complaint must not be lost)
    return min(scores) if min(scores) <= 2 else max(scores)


def parse_rating(text: str | None) -> Rating | None:
    """The rating ``text`` gives, with the rest as its comment; None when it gives none."""
    if not text or not text.strip() or len(text) > MAX_CHARS:
        return None
    stripped = text.strip()
    rating = _explicit(stripped) or _lone_score(stripped)
    if rating is not None:
        return rating
    stars = _stars(stripped)
    if stars is not None:
        return Rating(score=stars, comment=_comment(stripped, drop=_FULL_STARS + _EMPTY_STARS), form="stars")
    if "?" in stripped:
        return None  # a question, and no explicit score: an ordinary message for the team
    face = _emoji(stripped)
    if face is not None and (face <= 2 or _about_us(stripped)):  # "Ciao 😊 avrei bisogno di..." is no rating
        return Rating(score=face, comment=_comment(stripped, drop="".join(_EMOJI)), form="emoji")
    score = _words(stripped)
    if score is not None:
        return Rating(score=score, comment=stripped, form="words")
    return None
