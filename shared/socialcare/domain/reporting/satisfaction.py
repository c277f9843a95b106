"""The report's satisfaction and listening sections (issue 15; docs/satisfaction.md, docs/reports.md).

Their counters are StateTable's, kept per UTC day by the features themselves: ``CSAT#<day>``
(``answers.SurveyAnswers``: answers, score_sum, top_box, low, s1..s5), ``SOV#<name>#<day>`` and
``LISTENING#<day>`` (``flows.listening_search``: mentions with their sentiment per brand and
competitor; posts and authors read, brand mentions found and published). ``SatisfactionSource``
reads a period's items with one BatchGetItem (per 100 keys; never a scan) into three
``Aggregates`` families - ``CSAT``, ``SOV`` (attributes ``<name>#mentions``, ``<name>#positive``...)
and ``LISTEN`` - so each section is one declarative ``Section`` and its chart, table and CSV come
from one ``Series``, like the built-in ones. The names (brand, competitors) and the prices come from
listening.yaml's ``search``: a competitor removed from it is no longer shown; spend is priced at
the prices configured when the report is built.

Spike episodes are not shown: the spike detector keeps only the episode running now (a
two-day ``SPIKE#<brand>`` item) and sends its alert to the alerts topic, so no history of them
exists to count; the listening volume per day is shown instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from socialcare.config.listening_search import ListeningSearch
from socialcare.domain.reporting.model import Aggregates, DayCounters, Number, Section, Series, share
from socialcare.domain.satisfaction.report import SENTIMENTS, csat_key, listening_key, sov_key
from socialcare.store.state import StateRepository

CSAT, SOV, LISTEN = "CSAT", "SOV", "LISTEN"
SCORES = (5, 4, 3, 2, 1)
SCORE_COLORS = {"5/5": "#007A5A", "4/5": "#0072B2", "3/5": "#6E6E6E", "2/5": "#9A6A00", "1/5": "#D55E00"}
SENTIMENT_COLORS = {"positive": "#007A5A", "neutral": "#6E6E6E", "negative": "#D55E00"}


def csat_trend(agg: Aggregates) -> Series:
    if not agg.total(CSAT, "answers"):
        return Series(agg.axis, [], {})
    answers = agg.per_period(CSAT, "answers")
    scores = agg.per_period(CSAT, "score_sum")
    mean: list[Number] = [round(s / n, 1) if n else None for s, n in zip(scores, answers, strict=True)]
    return Series(agg.axis, agg.labels(), {"mean score": mean, "answers": list(answers)}, unit="score (1 to 5)",
                  secondary=("answers",), extra={"low scores (1-2)": list(agg.per_period(CSAT, "low"))})


def csat_scores(agg: Aggregates) -> Series:
    if not agg.total(CSAT, "answers"):
        return Series(agg.axis, [], {})
    values: dict[str, list[Number]] = {f"{s}/5": list(agg.per_period(CSAT, f"s{s}")) for s in SCORES}
    answers = agg.per_period(CSAT, "answers")
    top_share: list[Number] = [share(top, n) for top, n in zip(agg.per_period(CSAT, "top_box"), answers, strict=True)]
    return Series(agg.axis, agg.labels(), values, unit="answers", extra={"top-box share (%)": top_share})


def share_of_voice(search: ListeningSearch, agg: Aggregates) -> Series:
    names = [search.brand, *(c.name for c in search.competitors)]
    mentions = [agg.total(SOV, f"{name}#mentions") for name in names]
    everyone = sum(mentions)
    if not everyone:
        return Series("brand", [], {})
    values: dict[str, list[Number]] = {s: [agg.total(SOV, f"{name}#{s}") for name in names] for s in SENTIMENTS}
    net: list[Number] = [share(int(p or 0) - int(n or 0), m)
                         for p, n, m in zip(values["positive"], values["negative"], mentions, strict=True)]
    labels = [f"{name} (brand)" if name == search.brand else name for name in names]
    return Series("brand", labels, values, unit="mentions", extra={
        "mentions": list(mentions), "share of voice (%)": [share(m, everyone) for m in mentions],
        "net sentiment (%)": net})


def listening_volume(search: ListeningSearch, agg: Aggregates) -> Series:
    names = [search.brand, *(c.name for c in search.competitors)]
    if not sum(agg.total(SOV, f"{name}#mentions") for name in names) and not agg.total(LISTEN, "reads"):
        return Series(agg.axis, [], {})
    values: dict[str, list[Number]] = {
        f"{name} (brand)" if name == search.brand else name: list(agg.per_period(SOV, f"{name}#mentions"))
        for name in names}
    return Series(agg.axis, agg.labels(), values, unit="mentions found",
                  extra={"brand mentions published": list(agg.per_period(LISTEN, "published"))})


def listening_spend(search: ListeningSearch, agg: Aggregates) -> Series:
    if not agg.total(LISTEN, "reads") and not agg.total(LISTEN, "users"):
        return Series(agg.axis, [], {})
    reads, users = agg.per_period(LISTEN, "reads"), agg.per_period(LISTEN, "users")
    usd: list[Number] = [round(r * search.price_per_read_usd + u * search.price_per_user_usd, 3)
                         for r, u in zip(reads, users, strict=True)]
    return Series(agg.axis, agg.labels(), {"spend (USD)": usd}, unit="USD", decimals=3,  # X bills half cents
                  extra={"posts read": list(reads), "authors read": list(users)})


def sections(search: ListeningSearch) -> tuple[Section, ...]:
    """The five sections; share of voice and listening need the configured names and prices."""
    brand = {f"{search.brand} (brand)": "#0072B2"}
    return (
        Section("csat", "Customer satisfaction (CSAT) trend",
                "The mean score (1 to 5) customers gave when asked after their case was resolved, and how many "
                "answered (right axis), on the day they answered.", "line", (CSAT,), csat_trend,
                {"mean score": "#0072B2", "answers": "#D55E00"}, empty="no survey answered in this period"),
        Section("csat_scores", "Top-box (5/5) share",
                "Survey answers by score: the 5/5 answers (at the bottom of each bar) are the top box, the "
                "customers most likely to come back; their share of all answers is in the table.",
                "stacked_bar", (CSAT,), csat_scores, SCORE_COLORS, empty="no survey answered in this period"),
        Section("share_of_voice", "Share of voice against competitors",
                "Posts on X naming the brand or a competitor, found by the listening searches, by sentiment; a "
                "post naming both counts for both. Share of voice is each one's share of all mentions found.",
                "stacked_bar", (SOV,), lambda agg: share_of_voice(search, agg), SENTIMENT_COLORS,
                empty="no listening search found a mention in this period"),
        Section("listening_volume", "Listening: mentions found on X",
                "Posts naming the brand or a competitor, per day, found by the listening searches (the brand's "
                "are triaged like any mention: published as interactions). Spike alerts go to the alerts topic "
                "when they happen; no history of them is kept to draw.", "line", (SOV, LISTEN),
                lambda agg: listening_volume(search, agg), brand,
                empty="no listening search ran in this period"),
        Section("listening_spend", "Listening spend",
                f"What X bills for the posts and authors the listening searches read (in the table), at the "
                f"configured prices: ${search.price_per_read_usd:g} a post, ${search.price_per_user_usd:g} an "
                f"author. The daily budget is {search.max_reads_per_day:,} posts.", "bar", (LISTEN,),
                lambda agg: listening_spend(search, agg), {"spend (USD)": "#D55E00"},
                empty="no listening search ran in this period"),
    )


class SatisfactionSource:
    """StateTable's CSAT, share-of-voice and listening day counters as the report's families."""

    families = frozenset({CSAT, SOV, LISTEN})

    def __init__(self, state: StateRepository, search: ListeningSearch) -> None:
        self.state = state
        self.search = search
        self.names = [search.brand, *(c.name for c in search.competitors)]
        self.sections: Sequence[Section] = sections(search)

    def days(self, first: date, last: date, families: Iterable[str]) -> DayCounters:
        wanted = set(families)
        where: dict[str, tuple[str, str, str]] = {}  # StateTable pk -> (day, family, attribute prefix)
        day = first
        while day <= last:
            iso = day.isoformat()
            if CSAT in wanted:
                where[csat_key(day)] = (iso, CSAT, "")
            if LISTEN in wanted:
                where[listening_key(day)] = (iso, LISTEN, "")
            if SOV in wanted:
                where.update({sov_key(name, day): (iso, SOV, f"{name}#") for name in self.names})
            day += timedelta(days=1)
        out: DayCounters = {}
        for pk, counters in self.state.counters(list(where)).items():
            iso, family, prefix = where[pk]
            target = out.setdefault(iso, {}).setdefault(family, {})
            target.update({prefix + name: value for name, value in counters.items()})
        return out

    def kpis(self, agg: Aggregates) -> list[tuple[str, str]]:
        answers = agg.total(CSAT, "answers")
        mentions = {name: agg.total(SOV, f"{name}#mentions") for name in self.names}
        voice = share(mentions[self.search.brand], sum(mentions.values()))
        return [
            ("CSAT (mean of 1 to 5)", f"{agg.total(CSAT, 'score_sum') / answers:.1f}" if answers else "-"),
            ("top-box (5/5) answers", f"{share(agg.total(CSAT, 'top_box'), answers)}%" if answers else "-"),
            ("share of voice", f"{voice}%" if voice is not None else "-"),
        ]
