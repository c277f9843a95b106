"""Who the generated customers are: names with a realistic frequency, phones, e-mails, brands.

Name lists are ordered by how common each name is in its country (national statistics' rankings,
rounded); a name's weight follows Zipf's law over its rank, so many people share "Giulia",
"Rossi" or "García", as in a real customer base. Phones are drawn from real mobile (and Italian
landline) ranges and kept only when ``phonenumbers`` says they are valid for their country.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate

import phonenumbers
from phonenumbers import PhoneNumberFormat

NAMES: dict[str, dict[str, list[str]]] = {
    "IT": {
        "female": ["Giulia", "Sofia", "Francesca", "Maria", "Anna", "Chiara", "Sara", "Martina", "Alessia",
                   "Valentina", "Elena", "Federica", "Laura", "Silvia", "Paola", "Roberta", "Giorgia", "Elisa",
                   "Alice", "Aurora", "Noemi", "Ilaria", "Beatrice", "Marta", "Simona"],
        "male": ["Marco", "Luca", "Andrea", "Francesco", "Alessandro", "Giuseppe", "Matteo", "Lorenzo", "Davide",
                 "Simone", "Stefano", "Roberto", "Paolo", "Giovanni", "Antonio", "Nicolò", "Riccardo", "Fabio",
                 "Daniele", "Gabriele", "Mattia", "Federico", "Emanuele", "Niccolò", "Salvatore"],
        "middle": ["Maria", "Teresa", "Grazia", "Giuseppe", "Antonio", "Luigi"],
        "last": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
                 "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
                 "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso",
                 "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo",
                 "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti", "Parisi", "Villa", "Conte", "Ferraro",
                 "Fabbri", "Bianco", "Marini", "Grasso", "Valentini", "Messina"],
    },
    "GB": {
        "female": ["Olivia", "Amelia", "Emily", "Sophie", "Jessica", "Charlotte", "Hannah", "Grace", "Lucy", "Chloe"],
        "male": ["Oliver", "Jack", "Harry", "James", "Thomas", "George", "William", "Daniel", "Samuel", "Joseph"],
        "middle": ["Rose", "Louise", "James", "Edward"],
        "last": ["Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
                 "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards"],
    },
    "DE": {
        "female": ["Sophie", "Marie", "Anna", "Laura", "Lena", "Hannah", "Julia", "Emilia", "Katharina", "Lea"],
        "male": ["Lukas", "Leon", "Jonas", "Felix", "Maximilian", "Jörg", "Jürgen", "Paul", "Tobias", "Stefan"],
        "middle": ["Maria", "Johann", "Sophie"],
        "last": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
                 "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann"],
    },
    "FR": {
        "female": ["Léa", "Chloé", "Manon", "Camille", "Inès", "Zoé", "Hélène", "Emma", "Sarah", "Océane"],
        "male": ["Lucas", "Hugo", "Louis", "Théo", "Nathan", "Jérôme", "François", "Thomas", "Julien", "Nicolas"],
        "middle": ["Marie", "Anne", "Pierre"],
        "last": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
                 "Lefèvre", "Mercier", "Girard", "Faure", "Rousseau", "Fournier", "Lambert", "Bonnet"],
    },
    "ES": {
        "female": ["María", "Lucía", "Carmen", "Ana", "Laura", "Paula", "Sofía", "Marta", "Elena", "Inés"],
        "male": ["José", "Antonio", "Manuel", "Javier", "David", "Daniel", "Jesús", "Álvaro", "Pablo", "Sergio"],
        "middle": ["José", "Luisa", "Isabel"],
        "last": ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
                 "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero"],
    },
    "US": {
        "female": ["Mary", "Jennifer", "Emily", "Jessica", "Ashley", "Sarah", "Elizabeth", "Linda", "Megan", "Emma"],
        "male": ["James", "John", "Robert", "Michael", "David", "William", "Richard", "Joseph", "Chris", "Daniel"],
        "middle": ["Lee", "Ann", "Lynn", "Ray"],
        "last": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
                 "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson"],
    },
}
# Where the customers of an Italian deployment live (SOCIALCARE_DEFAULT_REGION=IT).
COUNTRIES = {"IT": 70, "GB": 8, "DE": 6, "FR": 6, "ES": 6, "US": 4}
LANGUAGE = {"IT": "it", "GB": "en", "DE": "en", "FR": "en", "ES": "en", "US": "en"}

# National mobile prefixes (and Italian landline area codes) the numbers are drawn from.
_MOBILE = {
    "IT": ["320", "328", "329", "331", "333", "334", "335", "338", "339", "340", "347", "348", "349", "366",
           "380", "388", "389", "392", "393"],
    "GB": ["074", "075", "077", "078", "079"],
    "DE": ["0151", "0152", "0160", "0162", "0170", "0171", "0176"],
    "FR": ["06", "07"],
    "ES": ["6"],
    "US": ["212", "305", "312", "415", "617", "713", "206", "404"],
}
_LENGTH = {"IT": 10, "GB": 11, "DE": 11, "FR": 10, "ES": 9, "US": 10}
_LANDLINE_IT = ["02", "06", "011", "051", "055", "081"]
MAIL_DOMAINS = ["gmail.com", "libero.it", "hotmail.it", "yahoo.it", "outlook.com", "icloud.com", "virgilio.it"]


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (rank ** s) for rank in range(1, n + 1)]


class Picker:
    """Weighted choice over a list ordered by frequency rank (Zipf), with cumulative weights
    computed once."""

    def __init__(self, items: list[str], s: float = 1.0) -> None:
        self.items = items
        self.cum = list(accumulate(zipf_weights(len(items), s)))

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cum)[0]


@dataclass(frozen=True)
class Phone:
    country: str
    number: phonenumbers.PhoneNumber

    @property
    def e164(self) -> str:
        return phonenumbers.format_number(self.number, PhoneNumberFormat.E164)

    def spelled(self, rng: random.Random) -> tuple[str, bool]:
        """One way a person types the number, and whether it carries its country code."""
        intl = phonenumbers.format_number(self.number, PhoneNumberFormat.INTERNATIONAL)
        national = phonenumbers.format_number(self.number, PhoneNumberFormat.NATIONAL)
        home = self.country == "IT"
        choices = [
            (intl, True), (self.e164, True), ("00" + intl[1:], True), ("00" + self.e164[1:], True),
            (national, False), (national.replace(" ", ""), False),
        ]
        weights = [3, 2, 1, 1, 4, 2] if home else [5, 2, 2, 1, 1, 1]
        return rng.choices(choices, weights=weights)[0]


def _draw(rng: random.Random, country: str, prefixes: list[str], length: int) -> Phone:
    while True:
        prefix = rng.choice(prefixes)
        digits = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        parsed = phonenumbers.parse(digits, country)
        if phonenumbers.is_valid_number(parsed):
            return Phone(country, parsed)


def mobile(rng: random.Random, country: str) -> Phone:
    return _draw(rng, country, _MOBILE[country], _LENGTH[country])


def landline_it(rng: random.Random) -> Phone:
    return _draw(rng, "IT", _LANDLINE_IT, 10)


@dataclass(frozen=True)
class Brand:
    """A shop and the one reference scheme it numbers its orders with."""

    name: str
    scheme: str

    def reference(self, rng: random.Random) -> str:
        digits = "0123456789"
        if self.scheme == "letters-year-serial":  # LUX-2026-004711
            return f"LX-{rng.choice(['2024', '2025', '2026'])}-{rng.randrange(10**6):06d}"
        if self.scheme == "letter-digits":  # W123456789
            return "W" + "".join(rng.choice(digits) for _ in range(9))
        if self.scheme == "hash-alnum":  # #A7K3Q9X25 (quoted with or without '#')
            alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            body = [rng.choice(alnum) for _ in range(9)]
            body[1], body[3] = rng.choice("23456789"), rng.choice("23456789")  # always some digits
            return "".join(body)
        if self.scheme == "year-slash-serial":  # 2024/000431
            return f"{rng.choice(['2024', '2025', '2026'])}/{rng.randrange(10**6):06d}"
        return f"ORD-{rng.randrange(10**5, 10**6)}"  # ORD-123456


BRANDS = [
    Brand("Luxe Atelier", "letters-year-serial"),
    Brand("Wander Shoes", "letter-digits"),
    Brand("Pixel Store", "hash-alnum"),
    Brand("Assicura Casa", "year-slash-serial"),
    Brand("Mercato Verde", "ord-digits"),
]


def typo(reference: str, rng: random.Random) -> str:
    """The reference mistyped: two neighbouring digits swapped, or one digit changed."""
    spots = [i for i, c in enumerate(reference) if c.isdigit()]
    pairs = [i for i in spots if i + 1 in spots and reference[i] != reference[i + 1]]
    chars = list(reference)
    if pairs and rng.random() < 0.6:
        i = rng.choice(pairs)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        i = rng.choice(spots)
        chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
    return "".join(chars)
