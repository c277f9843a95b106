"""Business references typed in a message (order, ticket, booking, invoice...), in linear time.

Two recognisers, both configured in ``config/identity.yaml`` (``IdentityRules``):

- the brand's **formats** (``references``, plus those a deployment declares in
  SOCIALCARE_REFERENCE_FORMATS or an SSM parameter): regexes with named groups and a canonical
  form. A format is searched only in a short window around each token that holds a digit, so
  even a pattern that backtracks costs a bounded amount per token;
- the built-in **reference words** (``reference_words``): a reference-like token (letters,
  digits, dashes, slashes) with enough digits, right after an order/reference word in Italian or
  English ("ordine", "n. ordine", "pratica", "order no.", "booking", "tracking number"...), and
  not a year, a date, a price, a postcode, a phone number or a quantity.

Hand-written rather than one big regex: the tests of a date, a price or a phone number are not
expressible as a safe regex, and a scan that visits each word once is linear by construction.
Canonical keys ignore how a reference was typed: upper case, no leading ``#``, each run of
separators written as one ``-`` ("#ab/2024/00017" -> "AB-2024-00017").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from socialcare.config.rules import ReferenceRule, ReferenceWords
from socialcare.domain import phones

# A reference-like token: letters and digits, single separators between them, an optional '#'.
# Linear: every repetition is led by a character class disjoint from the one before it.
_TOKEN = re.compile(r"#?[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*")
_MAX_TOKEN = 64  # longer runs are no reference (and bound the work per token)
_CONTEXT = 48  # characters before a token a format may read ("numero d'ordine: ...")
# Work per message is bounded: tokens and introducing words examined, references kept. A message
# past these is a data dump, not a customer quoting their order; what it holds before them counts.
_MAX_CANDIDATES = 500
_MAX_WORDS = 5_000  # introducing words tried ("n", "case", "code" are frequent)
_MAX_FOUND = 20
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/._#")
_DIGIT = re.compile(r"\d")
_SEPARATORS = re.compile(r"[-/._\s]+")
# Lower-cases ASCII letters only, so positions in the copy are positions in the text.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?|\d{1,2}[-/.]\d{4}")
_AMOUNT = re.compile(r"\d+[.,]\d{1,2}|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?")
_UNITS = (r"€|\$|£|eur|euro|euros|usd|gbp|chf|dollar[is]?|sterline|pz|pezzi|pcs|pieces|items?|articoli|units?|"
          r"unità|kg|km|gb|mb|tb|ml|cl|lt|gr|cm|mm|mah|%")
_UNIT_AFTER = re.compile(r"\s{0,2}(?:" + _UNITS + r")(?![^\W_])", re.IGNORECASE)
# A quantity glued to its unit or a size ("10000mAh", "500GB", "250grammi", "120x60x40", "1920x1080").
_GLUED_UNITS = (r"grammi|gramm?s?|litri|litres?|liters?|metri|metres?|meters?|ore|giorni|mesi|anni|hours?|days?|"
                r"weeks?|months?|years?|min|minuti|minutes?|pounds?|lbs?|oz|inch(?:es)?|pollici|watt|volt|hz|mhz|"
                r"ghz|mp|fps|rpm|cc|mq|sqm|pages?|pagine|pack|pezzo")
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?(?:" + _UNITS + "|" + _GLUED_UNITS + r"|(?:[x×]\d+){1,2}(?:cm|mm|m)?)",
                       re.IGNORECASE)
# A date with the month in letters ("12-Mar-2024", "5gen2025").
_MONTH_DATE = re.compile(
    r"\d{1,2}[-/.]?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|gen|mag|giu|lug|ago|set|ott|dic)[a-z]{0,7}"
    r"[-/.]?\d{2,4}",
    re.IGNORECASE,
)
# British and Canadian postcodes typed without their space ("EC1A1BB", "K1A0B1").
_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}|[A-Z]\d[A-Z]\d[A-Z]\d", re.IGNORECASE)
_CAPITALISED_AFTER = re.compile(r"\s{1,3}[A-Z][a-zà-ÿ]")  # "20121 Milano": a postcode
_MAX_FILLERS = 4
_MIN_CODE = 6  # letters and digits in a random code with fewer than ``min_digits`` digits


@dataclass(frozen=True)
class Format:
    name: str
    pattern: re.Pattern[str]
    canonical: str

    def canonical_of(self, match: re.Match[str]) -> str:
        values = {k: canonical_token(v or "") for k, v in match.groupdict().items()}
        return self.canonical.format(**values).upper()


def canonical_token(token: str) -> str:
    """One spelling of a typed reference: "#ab/2024/00017" -> "AB-2024-00017"."""
    return _SEPARATORS.sub("-", token.strip().lstrip("#").strip("-/._ ")).upper()


def _phrase(words: str) -> str:
    """A word list entry as a regex: spaces match a few spaces, apostrophes either kind."""
    parts = [re.escape(p).replace("'", "['’]\\s?") for p in words.split()]
    body = r"\s{1,3}".join(parts)
    return body + (r"(?![^\W_])" if re.match(r"\w", words[-1]) else "")


def _key(text: str) -> str:
    return " ".join(text.replace("’", "'").lower().split())


class WordRecogniser:
    """The built-in recogniser (``reference_words``)."""

    def __init__(self, rules: ReferenceWords, region: str) -> None:
        self.min_digits = rules.min_digits
        self.region = region
        words = {_key(w) for group in rules.words.values() for w in group}  # the kinds only document them
        first_words = sorted({k.split()[0].split("'")[0].rstrip(".#") for k in words}, key=len, reverse=True)
        # Searched (case-sensitively, on an ASCII-lower-cased copy) before the full phrases are
        # tried: an alternation of plain words is a fast scan, the phrases only run where one starts.
        self.starts = re.compile(r"\b(?:" + "|".join(map(re.escape, first_words)) + r")\b")
        phrases = sorted(words, key=len, reverse=True)
        self.intro = re.compile("|".join(_phrase(p) for p in phrases), re.IGNORECASE)
        fillers = sorted({_key(f) for f in rules.fillers}, key=len, reverse=True)
        self.filler = re.compile(r"\s{0,3}(?:" + "|".join(_phrase(f) for f in fillers) + ")", re.IGNORECASE) \
            if fillers else None
        self.token = re.compile(r"\s{0,3}(" + _TOKEN.pattern + r")(?![^\W_])")

    def find(self, text: str, taken: set[int]) -> list[tuple[int, str]]:
        """(position, canonical) of each reference introduced by a word; ``taken`` are the ends
        of the tokens a format already recognised (a '#' may start one and not the other)."""
        found: list[tuple[int, str]] = []
        examined = 0
        for tried, word in enumerate(self.starts.finditer(text.translate(_ASCII_LOWER))):
            if tried >= _MAX_WORDS or examined >= _MAX_CANDIDATES or len(found) >= _MAX_FOUND:
                break
            intro = self.intro.match(text, word.start())
            if intro is None or self._inside_token(text, word.start(), intro.end()):
                continue
            examined += 1
            token = self._token_after(text, intro.end())
            if token is None or token.end(1) in taken:
                continue
            canonical = self._canonical(token.group(1), text, token.end())
            if canonical:
                found.append((token.start(1), canonical))
        return found

    @staticmethod
    def _inside_token(text: str, start: int, end: int) -> bool:
        """"RMA" in "RMA-55120" is part of a reference, not a word introducing one."""
        if start > 0 and text[start - 1] in "-/._" and start > 1 and text[start - 2].isalnum():
            return True
        token = _TOKEN.match(text, start)
        return token is not None and token.end() > end

    def _token_after(self, text: str, pos: int) -> re.Match[str] | None:
        for _ in range(_MAX_FILLERS):
            filler = self.filler.match(text, pos) if self.filler else None
            if filler is None or filler.end() == pos:
                break
            pos = filler.end()
        token = self.token.match(text, pos)
        return token if token is not None and len(token.group(1)) <= _MAX_TOKEN else None

    def _canonical(self, token: str, text: str, end: int) -> str | None:
        body = token.lstrip("#")
        digits = sum(c.isdigit() for c in body)
        letters = any(c.isalpha() for c in body)
        enough = digits >= self.min_digits or (letters and _random_code(body))
        if not enough or _UNIT_AFTER.match(text, end):
            return None  # a year, a quantity ("ordine 3 pezzi"), a price ("order 12345 EUR")
        if letters:
            if _QUANTITY.fullmatch(body) or _MONTH_DATE.fullmatch(body) or _POSTCODE.fullmatch(body):
                return None
            return canonical_token(body)
        if _DATE.fullmatch(body) or _AMOUNT.fullmatch(body):
            return None  # "12/03/2024", "49.90", "1.250,00"
        if len(body) <= 5 and _CAPITALISED_AFTER.match(text, end):
            return None  # "spedizione 20121 Milano"
        if body.isdigit() and phones.is_national_number(body, self.region):
            return None  # "ordine 3331234567" is a phone number, not an order
        return canonical_token(body)


def _random_code(body: str) -> bool:
    """A code of letters and digits with fewer digits than ``min_digits`` that is still clearly
    an id: shops number orders with random alphanumeric codes ("N8B6K6XM4", "PNR-K7Q2X93").

    At least six letters and digits, two of them digits, and either letters and digits
    *interleaved* (three runs or more: "N8B6K6XM4") or a number of three digits or more followed
    by letters ("9655PXSVH"; a quantity with its unit, "250grammi", "1500mAh", is refused by the
    caller). A word followed by a number is a promo code or a product ("ESTATE2024", "iPhone15",
    "SUMMER10", "RTX4090"), shared by many people, and a short number with a word is a count
    ("3pezzi", "24ore"): never references. Fewer than six characters or one digit is too little
    to tell one customer's code from another's.
    """
    chars = [c for c in body if c.isalnum()]
    if len(chars) < _MIN_CODE or sum(c.isdigit() for c in chars) < 2:
        return False
    runs = 1 + sum(a.isdigit() != b.isdigit() for a, b in zip(chars, chars[1:], strict=False))
    leading = len(chars) - len("".join(chars).lstrip("0123456789"))
    return runs >= 3 or leading >= 3


def _digit_tokens(text: str) -> Iterator[re.Match[str]]:
    """The tokens of at most ``_MAX_TOKEN`` characters that hold a digit, found from their
    digits (a text of words without digits costs one scan in C)."""
    pos = 0
    while (digit := _DIGIT.search(text, pos)) is not None:
        floor = max(0, digit.start() - _MAX_TOKEN - 1)
        start = digit.start()
        while start > floor and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        token = _TOKEN.search(text, start)
        while token is not None and token.end() <= digit.start():
            token = _TOKEN.search(text, token.end())
        if token is None:
            return
        pos = token.end()
        too_long = start == floor and floor > 0 and text[floor - 1] in _TOKEN_CHARS
        if not too_long and token.end() - token.start() <= _MAX_TOKEN:
            yield token


class References:
    """Every recogniser of one deployment, compiled once per execution environment."""

    def __init__(self, formats: tuple[Format, ...], words: WordRecogniser | None) -> None:
        self.formats = formats
        self.words = words

    @classmethod
    def compile(cls, rules: list[ReferenceRule], words: ReferenceWords | None, region: str) -> References:
        return cls(
            tuple(Format(r.name, re.compile(r.pattern, re.IGNORECASE), r.canonical) for r in rules),
            WordRecogniser(words, region) if words is not None else None,
        )

    def extract(self, text: str | None) -> list[str]:
        """Canonical references in ``text``, in order of appearance, without repeats."""
        if not text:
            return []
        found, taken = self._formats(text)
        if self.words is not None:
            found += self.words.find(text, taken)
        return list(dict.fromkeys(canonical for _, canonical in sorted(found, key=lambda f: f[0])))

    def _formats(self, text: str) -> tuple[list[tuple[int, str]], set[int]]:
        found: list[tuple[int, str]] = []
        ends: set[int] = set()
        if not self.formats:
            return found, ends
        for candidates, token in enumerate(_digit_tokens(text), start=1):
            start, end = token.span()
            if candidates > _MAX_CANDIDATES or len(found) >= _MAX_FOUND:
                break
            canonical = self._format_at(text, start, end)
            if canonical:
                found.append((start, canonical))
                ends.add(end)
        return found, ends

    def _format_at(self, text: str, start: int, end: int) -> str | None:
        for fmt in self.formats:
            for match in fmt.pattern.finditer(text, max(0, start - _CONTEXT), end):
                spans = [match.span(g) for g in match.groupdict() if match.group(g) is not None]
                if spans and all(start <= a and b <= end for a, b in spans):
                    return fmt.canonical_of(match)
        return None

    def lookup_key(self, value: str) -> str:
        """The claim key of a reference an agent types ("ordine 123456", "#a7k3q9x25")."""
        found = self.extract(value)
        if len(found) == 1:
            return found[0]
        return canonical_token(value) if _TOKEN.fullmatch(value.strip()) else value.strip().upper()
