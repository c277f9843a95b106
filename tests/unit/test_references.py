"""Business references in customers' texts: the built-in recogniser on the formats shops really use
(none of them the demo's), what is never a reference, one key however a reference is typed, and
the formats a deployment declares (SOCIALCARE_REFERENCE_FORMATS) validated at cold start."""

from __future__ import annotations

import json

import pytest

from socialcare.config.loader import load_rules, reference_formats
from socialcare.config.rules import IdentityRules
from socialcare.config.settings import Settings
from socialcare.domain.identity.evidence import Rules, extract_refs, normalise
from socialcare.errors import ConfigurationError
from socialcare.flows.wiring import Wiring

RULES = Rules.compile(load_rules(IdentityRules), "IT")

POSITIVE = [
    # Italian
    ("Il mio ordine AB-2024-00017 non è ancora arrivato", "AB-2024-00017"),
    ("numero d'ordine: W123456789", "W123456789"),
    ("n. ordine #A7K3Q9X25, grazie", "A7K3Q9X25"),
    ("la pratica 2024/000431 è ferma da una settimana", "2024-000431"),
    ("rif. MX/2025/00412", "MX-2025-00412"),
    ("la fattura INV-88231 è sbagliata", "INV-88231"),
    ("codice di tracciamento 1Z999AA10123456784", "1Z999AA10123456784"),
    ("spedizione n° BRT-0045-778812 bloccata", "BRT-0045-778812"),
    ("la mia prenotazione è la HTL-558213", "HTL-558213"),
    ("riferimento: SR-77812-IT", "SR-77812-IT"),
    ("il numero di tracciamento è 3SABCD1234567", "3SABCD1234567"),
    ("ticket #CS-2025-009912 ancora aperto", "CS-2025-009912"),
    ("il reso RMA-55120 non è stato rimborsato", "RMA-55120"),
    ("codice cliente CL-1234567", "CL-1234567"),
    ("ordine 123456", "123456"),
    ("ordine nr. 48213 mai arrivato", "48213"),
    ("ordine A5Y3ANMQG", "A5Y3ANMQG"),  # a random code: letters and digits interleaved, two digits
    ("il mio ordine #N8B6K6XM4 non è arrivato", "N8B6K6XM4"),
    ("prenotazione PNR-K7Q2X93", "PNR-K7Q2X93"),
    # English
    ("my order W-88-77120 never arrived", "W-88-77120"),
    ("Order no. 4500012345", "4500012345"),
    ("order #N8B6K6XM4", "N8B6K6XM4"),
    ("my booking code is 7HX2KQ", "7HX2KQ"),
    ("order number is: 2025-NL-004431", "2025-NL-004431"),
    ("booking ref: XK7P2Q9381", "XK7P2Q9381"),
    ("Booking reference #HX-7781-22", "HX-7781-22"),
    ("tracking number 9400111899223197428490", "9400111899223197428490"),
    ("case 00412893 is still open", "00412893"),
    ("invoice INV/2024/7781", "INV-2024-7781"),
    ("my reference is T-2024-118832", "T-2024-118832"),
    ("ref. 44-00981-Q", "44-00981-Q"),
    ("ticket number: 7788-1122-33", "7788-1122-33"),
    ("shipment JD014600006281234567 lost", "JD014600006281234567"),
    ("I'm writing about ORD-2026-0042", "2026-0042"),  # the shop's own format needs no word
]

NEGATIVE = [
    "ordine del 2024",  # a year
    "il mio ordine del 12/03/2024 non è arrivato",  # a date
    "order 2024-03-12",
    "order 49.90",  # a price
    "ordine 1.250,00 euro",
    "order 12345 EUR",
    "order €12345",
    "spedizione a 20121 Milano",  # a postcode
    "spedizione 20121 Milano",
    "ordine 3 pezzi",  # a quantity
    "ordine 10000 pezzi",
    "order 12 items",
    "order, call me on +39 333 1234567",  # a phone number
    "ordine 3331234567",
    "riferimento 0212345678",  # a landline is a phone, not a reference
    "ho ordinato 3 cose",
    "codice fiscale RSSMRA85T10A562S",  # words between: no reference
    "il codice sconto ESTATE2024",  # too few digits
    "order ABCDEF",
    "booking for 2 people on 12/08",
    "ordine annullato, 1234 euro persi",
    "AB-2024-00017",  # no word introduces it (and no format declares it)
    "ref. AZ 44-00981",  # a word that is no filler stands between
    # Italian, letters and digits: quantities, units, sizes, promo codes, product names
    "ordine 100ml",
    "ordine 2kg di caffè",
    "il codice ESTATE2024 non funziona",  # a word with a year: a promo code many people share
    "ordine x2",
    "ordine 3pezzi",
    "ordine 120x60x40",
    "ordine 10000mAh",
    "ordine del 5gen2025",
    "ordine 5-gen-2025",
    "codice A1B2",  # too short to tell one customer's code from another's
    "pratica AB1CDEFG",  # one digit
    # English
    "order 500GB",
    "order 1920x1080",
    "order 12-Mar-2024",  # a date with the month in letters
    "order 12Mar2024",
    "order 2kg",
    "order x2",
    "order iPhone15",
    "order 64GB",
    "code SUMMER10",
    "tracking EC1A1BB",  # a British postcode without its space
    "parcel K1A0B1",  # a Canadian one
    "ref. 1500mAh",
    "order 12345 ml",
]


@pytest.mark.parametrize(("text", "reference"), POSITIVE)
def test_reference_like_tokens_after_order_words_are_references(text: str, reference: str) -> None:
    assert extract_refs(text, RULES) == [reference]


@pytest.mark.parametrize("text", NEGATIVE)
def test_years_dates_prices_postcodes_phones_and_quantities_are_never_references(text: str) -> None:
    assert extract_refs(text, RULES) == []


@pytest.mark.parametrize(
    "text",
    ["ordine AB-2024-00017", "ordine ab-2024-00017", "order #AB-2024-00017", "rif. AB/2024/00017",
     "my order is: ab.2024.00017", "order AB-2024-00017."],
)
def test_a_reference_is_one_key_however_it_is_typed(text: str) -> None:
    assert extract_refs(text, RULES) == ["AB-2024-00017"]


@pytest.mark.parametrize(
    ("texts", "reference"),
    [
        (["order 2024/000431", "la pratica 2024/000431", "booking 2024/000431", "ref. 2024-000431"], "2024-000431"),
        (["ordine 325757", "ref. 325757", "la spedizione 325757", "tracking number 325757", "ORD-325757",
          "l'ordine ORD325757", "fattura n. 325757"], "325757"),
        (["order #A7K3Q9X25", "ordine A7K3Q9X25", "booking ref: #a7k3q9x25", "la spedizione a7k3q9x25"], "A7K3Q9X25"),
    ],
    ids=["year-serial", "digits", "random-code"],
)
def test_a_reference_has_one_key_whatever_word_introduces_it(texts: list[str], reference: str) -> None:
    assert {t: extract_refs(t, RULES) for t in texts} == {t: [reference] for t in texts}


def test_an_agent_looks_a_reference_up_in_any_spelling() -> None:
    assert normalise("ref", "#ab/2024/00017", RULES) == "AB-2024-00017"
    assert normalise("ref", "ordine n. 123456", RULES) == normalise("ref", "ORD123456", RULES) == "123456"
    assert normalise("ref", "#n8b6k6xm4", RULES) == "N8B6K6XM4"


def test_several_references_come_in_order_of_appearance_once_each() -> None:
    text = "ordine AB-2024-00017 e fattura INV-88231; di nuovo l'ordine ab-2024-00017"
    assert extract_refs(text, RULES) == ["AB-2024-00017", "INV-88231"]


# ---------------------------------------------------------------------------------- a brand's formats
BRAND = json.dumps([
    {"name": "order", "pattern": r"\b(?P<ref>[A-Z]{2}\d{2}-\d{6})\b"},
    {"name": "member", "pattern": r"\bTESSERA\s*(?P<num>\d{4})\b", "canonical": "MEMBER-{num}"},
])


def test_a_deployment_declares_its_formats_and_they_are_recognised_anywhere() -> None:
    wiring = Wiring(Settings(reference_formats=BRAND))
    rules = wiring.identity_rules
    assert extract_refs("Buongiorno, KT25-004417 non è arrivato", rules) == ["KT25-004417"]
    assert extract_refs("tessera 4481, ordine kt25-004417", rules) == ["MEMBER-4481", "KT25-004417"]
    assert extract_refs("ordine 123456", rules) == ["123456"]  # the shipped rules still apply
    assert extract_refs("Buongiorno, KT25-004417 non è arrivato", RULES) == []  # not without the format


def test_formats_may_come_wrapped_in_an_object() -> None:
    formats = reference_formats(json.dumps({"formats": json.loads(BRAND)}), "test")
    assert [f.name for f in formats] == ["order", "member"]


@pytest.mark.parametrize(
    ("formats", "complaint"),
    [
        ("not json", "are not JSON"),
        ('[{"name": "order", "pattern": "(?P<ref>[A-Z"}]', "not a valid regular expression"),
        ('[{"name": "order", "pattern": "[A-Z]{2}-\\\\d{6}"}]', "lacks the named group"),
        ('[{"name": "order", "pattern": "(?P<id>\\\\d+)", "canonical": "X-{ref}"}]', "lacks the named group"),
        ('[{"name": "order", "pattern": "(?P<ref>(\\\\d+)+X)"}]', "unsafe regular expression"),
        ('[{"name": "order", "pattern": "(?P<ref>(a|ab)*c)"}]', "unsafe regular expression"),
        ('[{"name": "order", "pattern": "(?P<ref>\\\\d+)\\\\1"}]', "unsafe regular expression"),
        ('[{"pattern": "(?P<ref>\\\\d+)"}]', "name"),
        ('[{"name": "order", "pattern": "(?P<ref>\\\\d+)", "colour": "red"}]', "colour"),
    ],
    ids=["json", "compile", "no-group", "canonical-group", "nested", "alternation", "backreference", "no-name",
         "unknown-field"],
)
def test_a_bad_format_fails_the_cold_start_naming_the_variable_and_the_problem(formats: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Wiring(Settings(reference_formats=formats)).check_rules()
    assert "SOCIALCARE_REFERENCE_FORMATS" in str(caught.value)
    assert complaint in str(caught.value)
