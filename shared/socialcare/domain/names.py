"""Person names as evidence: token normalisation, agreement, and self-introductions.

Names are weak evidence on their own (two Anna Bianchi exist) but they are what keeps a typed
order number or phone from gluing two strangers together (docs/identity.md). Comparison is
accent- and case-insensitive and token-based, so "Bianchi Anna", "anna bianchi" and
"Anna Bianchì" agree, while "Anna Rossi" does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
# Tokens that decorate names without identifying anyone.
# The name follows its trigger within this many characters (three words): reading only that
# window keeps a message of many triggers linear.
_NAME_WINDOW = 120
_NOISE = frozenset({"dr", "dott", "dottssa", "dottoressa", "sig", "sigra", "signora", "signor", "mr", "mrs",
                    "ms", "miss", "ing", "avv", "prof", "official", "the"})


def fold(text: str) -> str:
    """Lower-case and strip accents ("Bianchì" -> "bianchi")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(name: str | None) -> frozenset[str]:
    """The identifying tokens of a name; initials and titles are dropped."""
    if not name:
        return frozenset()
    found = (t.replace("’", "'") for t in _WORD.findall(fold(name)))
    return frozenset(t for t in found if len(t) > 1 and t.replace("'", "") not in _NOISE)


def _pair_agrees(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    smaller, larger = (a, b) if len(a) <= len(b) else (b, a)
    if not smaller <= larger:
        return False
    # A single shared name ("Anna" vs "Anna Bianchi", or even "Anna" vs "Anna") is not agreement:
    # it would link every Anna who types the same order number. Two shared tokens are.
    return len(smaller) >= 2


def agree(candidates: Iterable[str | None], known: Iterable[str | None]) -> bool:
    """True when some name the event gives agrees with some name the customer is known by."""
    known_tokens = [t for t in (tokens(k) for k in known) if t]
    return any(_pair_agrees(tokens(c), k) for c in candidates for k in known_tokens)


def self_introduction(text: str | None, triggers: Iterable[re.Pattern[str]], max_words: int = 3) -> str | None:
    """The name in "sono Anna Bianchi", "my name is Anna Bianchi"..., or None.

    A trigger pattern matches the words before the name; the name is the run of capitalised
    words right after it. Requiring capitals is what tells "sono Anna" from "sono arrabbiata".
    """
    if not text:
        return None
    for trigger in triggers:
        for match in trigger.finditer(text):
            words: list[str] = []
            for word in text[match.end():match.end() + _NAME_WINDOW].split()[:max_words]:
                clean = word.strip(".,;:!?()\"'“”")
                if not clean or not clean[0].isupper() or not _WORD.fullmatch(clean):
                    break
                words.append(clean)
                if clean != word:  # punctuation closes the name
                    break
            if words:
                return " ".join(words)
    return None



# A signature is read from the message's last characters only: linear in any text.
_SIGNATURE_TAIL = 160


@dataclass(frozen=True)
class SignOffs:
    """The closings ("Grazie,", "Kind regards", a dash) a signed name follows at the very end of
    a message, compiled from plain phrases (escaped, so the pattern cannot backtrack)."""

    pattern: re.Pattern[str]
    words: frozenset[str]  # no name is made of them: "Distinti Saluti" signs nobody

    @classmethod
    def compile(cls, phrases: Iterable[str]) -> SignOffs | None:
        cleaned = sorted({" ".join(p.split()) for p in phrases if p.strip()}, key=len, reverse=True)
        if not cleaned:
            return None
        alternatives = "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in cleaned)
        name = r"[^\W\d_][^\s\d]*(?:[ \t]+[^\W\d_][^\s\d]*){1,3}"
        closing = rf"(?:^|[\s.!?,;])(?:{alternatives})[ \t]*[,.!:;]?|(?:^|[\s.!?])[-–—~]+"
        pattern = re.compile(rf"(?:{closing})\s*(?P<name>{name})[ \t]*[.!]?\s*$", re.IGNORECASE)
        return cls(pattern, frozenset(fold(w) for p in cleaned for w in p.split()))


def signature(text: str | None, sign_offs: SignOffs | None) -> str | None:
    """The full name a message is signed with ("... Grazie, Giulia Verdi", "Kind regards,\nSofia
    Martinez", "-- Anna Bianchi"), or None.

    Only at the very end, and only two to four capitalised words that are no closing: "Thanks,
    Mario!" (perhaps the agent's first name) or "Distinti Saluti" sign nobody.
    """
    if not text or sign_offs is None:
        return None
    match = sign_offs.pattern.search(text[-_SIGNATURE_TAIL:])
    if match is None:
        return None
    words = [w.strip(".,;:!?()\"'“”") for w in match.group("name").split()]
    if not all(w and w[0].isupper() and _WORD.fullmatch(w) and fold(w) not in sign_offs.words for w in words):
        return None
    name = " ".join(words)
    return name if len(tokens(name)) >= 2 else None
