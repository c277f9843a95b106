"""Self-service suggestions: the FAQ knowledge base (``config/faq.yaml``, Italian and English)
matched offline against the customer's text with TF-IDF cosine similarity.

Both sides are reduced to crude stems (accents stripped, the first six letters), so
"rimborso"/"rimborsare" or "refund"/"refunded" meet, and stop words are dropped, so what is
left is what the message is about. No network, no model: the index is built once per
execution environment from the YAML.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from socialcare.config.rules import FaqBook
from socialcare.domain.sentiment.analyser import guess_language, tokens
from socialcare.models.triage import FaqMatch

_STOP = frozenset(
    [
        "il",
        "lo",
        "la",
        "i",
        "gli",
        "le",
        "un",
        "uno",
        "una",
        "di",
        "a",
        "da",
        "in",
        "con",
        "su",
        "per",
        "tra",
        "fra",
        "e",
        "o",
        "ma",
        "che",
        "non",
        "mi",
        "ti",
        "si",
        "ci",
        "vi",
        "del",
        "della",
        "dei",
        "delle",
        "al",
        "alla",
        "ai",
        "nel",
        "nella",
        "sono",
        "sei",
        "ho",
        "hai",
        "ha",
        "abbiamo",
        "avete",
        "hanno",
        "era",
        "mio",
        "mia",
        "miei",
        "vostro",
        "vostra",
        "come",
        "dove",
        "quando",
        "perche",
        "cosa",
        "chi",
        "questo",
        "questa",
        "quello",
        "ancora",
        "gia",
        "piu",
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "my",
        "your",
        "our",
        "you",
        "we",
        "i",
        "it",
        "this",
        "that",
        "these",
        "those",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "not",
        "no",
        "how",
        "what",
        "where",
        "when",
        "why",
        "can",
        "could",
        "will",
        "would",
        "please",
        "hi",
        "hello",
        "ciao",
        "salve",
        "buongiorno",
    ]
)
_STEM = 6


def _terms(text: str) -> list[str]:
    return [t[:_STEM] for t in tokens(text) if t.isalpha() and len(t) > 1 and t not in _STOP]


@dataclass(frozen=True)
class _Entry:
    id: str
    topic: str
    lang: str
    answer: str
    link: str | None
    vector: dict[str, float]


def _normalised(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


class FaqIndex:
    """The TF-IDF index of the FAQ, built once per execution environment."""

    def __init__(self, book: FaqBook) -> None:
        self.min_score = book.min_score
        documents = [Counter(_terms(f"{e.question} {' '.join(e.keywords)}")) for e in book.entries]
        df: Counter[str] = Counter()
        for doc in documents:
            df.update(set(doc))
        n = len(documents)
        self.idf = {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}
        self.entries = [
            _Entry(
                id=e.id,
                # Translations of one answer share a topic (explicit, else the id without "-<lang>").
                topic=e.topic or e.id.removesuffix(f"-{e.lang}"),
                lang=e.lang,
                answer=e.answer.strip(),
                link=e.link,
                vector=_normalised({t: c * self.idf[t] for t, c in doc.items()}),
            )
            for e, doc in zip(book.entries, documents, strict=True)
        ]

    def suggest(self, text: str | None, language: str | None = None) -> FaqMatch | None:
        """The best FAQ answer for ``text`` or None when nothing is close enough.

        Entries in the text's language win near-ties, and when the best match is in another
        language its translation is answered instead: an Italian customer who writes a loanword
        ("refund", "tracking") still gets the Italian answer.
        """
        if not text:
            return None
        query = _normalised({t: c * self.idf[t] for t, c in Counter(_terms(text)).items() if t in self.idf})
        if not query:
            return None
        lang = (language or "").split("-")[0].lower() or guess_language(text)
        best: tuple[float, _Entry] | None = None
        for entry in self.entries:
            score = sum(weight * entry.vector.get(term, 0.0) for term, weight in query.items())
            ranked = score * (1.15 if entry.lang == lang else 1.0)
            if best is None or ranked > best[0]:
                best = (ranked, entry)
        if best is None or best[0] < self.min_score:
            return None
        entry = best[1]
        if entry.lang != lang:
            entry = next((e for e in self.entries if e.topic == entry.topic and e.lang == lang), entry)
        return FaqMatch(id=entry.id, answer=entry.answer, link=entry.link, language=entry.lang,
                        score=round(best[0], 4))
