"""Phone numbers as identity keys: everything becomes E.164 (``+393331112222``).

One person's number reaches us as a WhatsApp ``wa_id`` (digits, no ``+``), as Connect's caller
id (``+39...``), typed by hand ("0039 333 1112222", "333 111 2222") or looked up by an agent in
any of those forms. Claims are keyed by the E.164 form, so every spelling must land on it.
``phonenumberslite`` (not ``phonenumbers``: no 50 MB of geodata in the layer) does the parsing.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberMatcher

_DIGITS = re.compile(r"\d+")
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|00)[1-9][\d\s().-]{6,18}\d")
# Bounds on the work per message, so a long run of digits costs linear time: the matcher gives
# up after this many candidates that are no valid number, and nobody types more phones than
# this in one message about themselves.
_MAX_TRIES = 300
_MAX_FOUND = 10


def _valid_e164(text: str, region: str | None, *, strict: bool = True) -> str | None:
    """E.164 of ``text`` if it is a valid number (``strict``) or at least a possible one.

    Possible-but-not-valid numbers are real in practice: ranges newer than the library's
    metadata, and the fictional ranges (UK 07700 900xxx, US 555-01xx) that test stories use.
    """
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164) if ok else None


def to_e164(value: str, region: str) -> str | None:
    """The E.164 form of ``value``, or None when it is not a valid phone number.

    Numbers without an international prefix are read in ``region`` (the deployment's
    SOCIALCARE_DEFAULT_REGION, which services receive in their constructors). Bare digits that are
    not a valid national number are tried as international digits, which is what a WhatsApp
    ``wa_id`` is ("393331112222").
    """
    text = (value or "").strip()
    if not text:
        return None
    region = region.upper()
    found = _valid_e164(text, region)
    if found is not None:
        return found
    digits = "".join(_DIGITS.findall(text))
    international = text.startswith("+") or text.startswith("00")
    if digits and not text.startswith("+"):
        found = _valid_e164("+" + digits.removeprefix("00") if international else "+" + digits, None)
        if found is not None:
            return found
    if international:
        # Written with its country code: trust the writer on a number that is merely possible.
        return _valid_e164("+" + digits.removeprefix("00") if not text.startswith("+") else text, None, strict=False)
    if len(digits) >= 10:
        # Bare international digits (a wa_id, an agent pasting one) of a merely possible number.
        return _valid_e164("+" + digits, None, strict=False)
    return None


def from_wa_id(wa_id: str) -> str | None:
    """WhatsApp's ``wa_id`` is the E.164 number without its ``+``: WhatsApp has verified it, so
    a possible number is enough."""
    digits = "".join(_DIGITS.findall(wa_id or ""))
    return _valid_e164("+" + digits, None, strict=False) if digits else None


def wa_id_of(value: str) -> str:
    """The ``wa_id`` spelling of a number given in any E.164-ish form ("+39 333..." -> "39333...")."""
    return "".join(_DIGITS.findall(value or ""))


def find_in_text(text: str | None, region: str) -> list[str]:
    """Valid phone numbers typed in free text, E.164, in order of appearance, without repeats.

    The matcher's default leniency (VALID) keeps order numbers and dates from passing as phones.
    """
    if not text:
        return []
    region = region.upper()
    found: list[str] = []
    for seen, match in enumerate(PhoneNumberMatcher(text, region, max_tries=_MAX_TRIES), start=1):
        e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if e164 not in found:
            found.append(e164)
        if len(found) >= _MAX_FOUND or seen >= _MAX_TRIES:
            return found
    # A number typed with its country code ("+44 7700 900123") is one on purpose, even where the
    # matcher's VALID leniency rejects it; bare digits stay strict (order numbers, dates).
    for tried, written in enumerate(_INTERNATIONAL.finditer(text)):
        typed = to_e164(written.group(), region)
        if typed and typed not in found:
            found.append(typed)
        if len(found) >= _MAX_FOUND or tried >= _MAX_TRIES:
            break
    return found


def is_national_number(digits: str, region: str) -> bool:
    """True when ``digits`` is a valid phone number dialled in ``region`` ("3331234567" in IT):
    such a number is never taken for an order number."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, region.upper()))
    except NumberParseException:
        return False
