"""Every spelling of one phone number lands on one E.164 claim key."""

from __future__ import annotations

import pytest

from socialcare.config.loader import load_rules
from socialcare.config.rules import IdentityRules
from socialcare.config.settings import Settings
from socialcare.domain import phones
from socialcare.domain.identity.evidence import Rules, normalise

ANNA = "+393331112222"
REGION = "IT"


@pytest.mark.parametrize(
    "spelling",
    ["+39 333 111 2222", "0039 333 1112222", "393331112222", "3331112222", "+39-333-111-2222", "(+39) 333.111.2222"],
)
def test_every_spelling_of_an_italian_mobile_is_one_e164_number(spelling: str) -> None:
    # Given a number as customers, Connect or an agent write it / When normalised
    # Then it is the key the phone claim is stored under
    assert phones.to_e164(spelling, REGION) == ANNA


def test_national_numbers_are_read_in_the_configured_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALCARE_DEFAULT_REGION", raising=False)
    assert Settings().default_region == "IT"  # the shipped default
    monkeypatch.setenv("SOCIALCARE_DEFAULT_REGION", "GB")
    region = Settings().default_region
    assert phones.to_e164("020 7946 0018", region) == "+442079460018"
    assert phones.to_e164("3331112222", region="IT") == ANNA
    # the region is what the configured identity rules read national numbers in, too
    assert normalise("phone", "020 7946 0018", Rules.compile(load_rules(IdentityRules), region)) == "+442079460018"


@pytest.mark.parametrize("junk", ["", "   ", "hello", "123", "ORD-123456", "+39 1"])
def test_things_that_are_not_phone_numbers_are_refused(junk: str) -> None:
    assert phones.to_e164(junk, REGION) is None


def test_whatsapp_wa_id_is_the_number_without_its_plus() -> None:
    assert phones.from_wa_id("393331112222") == ANNA
    assert phones.wa_id_of("+39 333 111 2222") == "393331112222"


def test_numbers_typed_in_a_message_are_found_but_order_numbers_are_not() -> None:
    text = "Ordine 123456 del 12/10/2026: chiamatemi al 333 111 2222 oppure allo 06 1234 5678, grazie"
    assert phones.find_in_text(text, REGION) == [ANNA, "+390612345678"]


def test_the_same_number_typed_twice_is_reported_once() -> None:
    assert phones.find_in_text("+39 333 111 2222 ... ripeto 3331112222", REGION) == [ANNA]


def test_a_possible_number_in_international_form_is_kept_even_if_not_in_the_library_ranges() -> None:
    # UK 07700 900xxx is reserved for fiction: possible, never "valid". Customers (and test
    # stories) still write such numbers, and WhatsApp still sends them as wa_ids.
    for spelling in ("+44 7700 900123", "0044 7700 900123", "447700900123"):
        assert phones.to_e164(spelling, REGION) == "+447700900123", spelling
    assert phones.from_wa_id("447700900123") == "+447700900123"


def test_a_whatsapp_id_always_keys_its_claim() -> None:
    rules = Rules.compile(load_rules(IdentityRules), REGION)
    assert normalise("whatsapp", "447700900123", rules) == "447700900123"
    assert normalise("whatsapp", "+44 7700 900123", rules) == "447700900123"


def test_free_text_takes_numbers_written_with_a_country_code_but_never_order_numbers() -> None:
    text = "My phone is +44 7700 900123, order 4815162342, or 333 111 2222"
    assert phones.find_in_text(text, REGION) == ["+393331112222", "+447700900123"]
    assert phones.find_in_text("ordine 4815162342 del 12/11/2026", REGION) == []
    assert phones.to_e164("48213", REGION) is None
