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

from socialcare.settings import get_settings

_DIGITS = re.compile(r"\d+")


def _valid_e164(text: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def to_e164(value: str, region: str | None = None) -> str | None:
    """The E.164 form of ``value``, or None when it is not a valid phone number.

    Numbers without an international prefix are read in ``region`` (default: the configured
    SOCIALCARE_DEFAULT_REGION). Bare digits that are not a valid national number are tried as
    international digits, which is what a WhatsApp ``wa_id`` is ("393331112222").
    """
    text = (value or "").strip()
    if not text:
        return None
    region = (region or get_settings().default_region).upper()
    found = _valid_e164(text, region)
    if found is not None:
        return found
    digits = "".join(_DIGITS.findall(text))
    if digits and not text.startswith("+"):
        return _valid_e164("+" + digits, None)
    return None


def from_wa_id(wa_id: str) -> str | None:
    """WhatsApp's ``wa_id`` is the E.164 number without its ``+``."""
    digits = "".join(_DIGITS.findall(wa_id or ""))
    return _valid_e164("+" + digits, None) if digits else None


def wa_id_of(value: str) -> str:
    """The ``wa_id`` spelling of a number given in any E.164-ish form ("+39 333..." -> "39333...")."""
    return "".join(_DIGITS.findall(value or ""))


def find_in_text(text: str | None, region: str | None = None) -> list[str]:
    """Valid phone numbers typed in free text, E.164, in order of appearance, without repeats.

    The matcher's default leniency (VALID) keeps order numbers and dates from passing as phones.
    """
    if not text:
        return []
    region = (region or get_settings().default_region).upper()
    found: list[str] = []
    for match in PhoneNumberMatcher(text, region):
        e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if e164 not in found:
            found.append(e164)
    return found
