"""The report's built-in sections: what stakeholders asked for, each one declarative entry.

The counters they read are described in ``facts`` (and docs/reports.md). Colours are fixed per
channel, sentiment and SLA outcome, so a channel looks the same in every chart, and each has at
least 3:1 contrast against the white page (WCAG's non-text contrast).
"""

from __future__ import annotations

from socialcare.domain.reporting.facts import (
    CASES,
    CUSTOMERS,
    MAX_STEPS,
    REACH,
    RESPONSE,
    RESPONSE_BUCKETS,
    SENTIMENT,
    SENTIMENT_LABELS,
    TOUCHPOINTS,
    VOLUME,
)
from socialcare.domain.reporting.model import Aggregates, Number, Section, Series, share

CHANNEL_COLORS = {
    "x": "#222222", "facebook": "#0072B2", "messenger": "#6A3D9A", "instagram": "#B8488F",
    "whatsapp": "#007A5A", "phone": "#D55E00", "email": "#8C564B", "chat": "#7F7F00", "web": "#757575",
}
SENTIMENT_COLORS = {"positive": "#007A5A", "neutral": "#6E6E6E", "mixed": "#9A6A00", "negative": "#D55E00"}
MET, BREACHED = "within the SLA", "after the SLA"
OUTCOME_COLORS = {MET: "#007A5A", BREACHED: "#D55E00"}
TOP_CATEGORIES = 10
TOP_JOURNEYS = 8
CALL = "phone call"


def _ranked(totals: dict[str, int]) -> list[str]:
    return [name for name, value in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])) if value]


def volume(agg: Aggregates) -> Series:
    channels = _ranked(agg.totals(VOLUME, "in#"))
    values: dict[str, list[Number]] = {c: list(agg.per_period(VOLUME, f"in#{c}")) for c in channels}
    return Series(agg.axis, agg.labels(), values, unit="messages")


def reach(agg: Aggregates) -> Series:
    return Series(agg.axis, agg.labels(), {
        "people reached (followers)": list(agg.per_period(REACH, "reach")),
        "public mentions": list(agg.per_period(REACH, "mentions")),
    }, unit="followers", secondary=("public mentions",))


def sentiment(agg: Aggregates) -> Series:
    values: dict[str, list[Number]] = {label: list(agg.per_period(SENTIMENT, label)) for label in SENTIMENT_LABELS}
    totals = [sum(int(v or 0) for v in column) for column in zip(*values.values(), strict=True)]
    net: list[Number] = [share((p or 0) - (n or 0), t)
                         for p, n, t in zip(values["positive"], values["negative"], totals, strict=True)]
    return Series(agg.axis, agg.labels(), values, unit="messages", extra={"net sentiment (%)": net})


def _teams(agg: Aggregates) -> list[str]:
    names = set(agg.totals(RESPONSE, "n#")) | set(agg.totals(RESPONSE, "res_met#")) \
        | set(agg.totals(RESPONSE, "res_breached#")) | set(agg.totals(CASES, "opened#"))
    return sorted(names)


def first_response(agg: Aggregates) -> Series:
    teams = _teams(agg)
    mean: list[Number] = []
    target: list[Number] = []
    answered: list[Number] = []
    for _, days in agg.periods():
        n = sum(agg.value(RESPONSE, f"n#{t}", days) for t in teams)
        secs = sum(agg.value(RESPONSE, f"secs#{t}", days) for t in teams)
        goal = sum(agg.value(RESPONSE, f"target#{t}", days) for t in teams)
        answered.append(n)
        mean.append(round(secs / n / 60, 1) if n else None)
        target.append(round(goal / n / 60, 1) if n else None)
    return Series(agg.axis, agg.labels(), {"mean first response": mean, "mean SLA target": target},
                  unit="minutes", extra={"first responses": answered})


def response_histogram(agg: Aggregates) -> Series:
    labels = [name for name, _ in RESPONSE_BUCKETS]
    counts = [agg.total(RESPONSE, f"bucket#{name}") for name in labels]
    within = [c if bound <= 1.0 else None for c, (_, bound) in zip(counts, RESPONSE_BUCKETS, strict=True)]
    after = [c if bound > 1.0 else None for c, (_, bound) in zip(counts, RESPONSE_BUCKETS, strict=True)]
    return Series("share of the SLA target", labels, {MET: list(within), BREACHED: list(after)},
                  unit="cases")


def sla_by_team(agg: Aggregates) -> Series:
    labels: list[str] = []
    met: list[Number] = []
    breached: list[Number] = []
    attainment: list[Number] = []
    for team in _teams(agg):
        for clock, ok, late in (("first response", f"met#{team}", f"breached#{team}"),
                                ("resolution", f"res_met#{team}", f"res_breached#{team}")):
            good, bad = agg.total(RESPONSE, ok), agg.total(RESPONSE, late)
            labels.append(f"{team} · {clock}")
            met.append(good)
            breached.append(bad)
            attainment.append(share(good, good + bad))
    return Series("team · clock", labels, {MET: met, BREACHED: breached}, unit="cases",
                  extra={"attainment (%)": attainment})


def returning(agg: Aggregates) -> Series:
    new = agg.per_period(CUSTOMERS, "new")
    back = agg.per_period(CUSTOMERS, "returning")
    back_share: list[Number] = [share(b, n + b) for n, b in zip(new, back, strict=True)]
    return Series(agg.axis, agg.labels(), {"new customers": list(new), "returning customers": list(back)},
                  unit="customers", extra={"returning share (%)": back_share})


def categories(agg: Aggregates) -> Series:
    totals = agg.totals(CASES, "cat#")
    top = _ranked(totals)[:TOP_CATEGORIES]
    return Series("category", top, {"cases": [totals[c] for c in top]}, unit="cases")


def touchpoint_map(agg: Aggregates) -> Series:
    positions = agg.totals(TOUCHPOINTS, "pos#")  # "<distance>#<channel>" -> calls
    channels = _ranked({c: sum(v for k, v in positions.items() if k.endswith(f"#{c}")) for c in
                        {k.split("#", 1)[1] for k in positions}})
    labels = [_distance(d) for d in range(MAX_STEPS, 0, -1)]
    values: dict[str, list[Number]] = {
        c: [positions.get(f"{d}#{c}") for d in range(MAX_STEPS, 0, -1)] for c in channels
    }
    return Series("touchpoint before the call", labels, values, unit="calls")


def _distance(distance: int) -> str:
    return "last before the call" if distance == 1 else f"{distance} steps before"


def journeys(agg: Aggregates) -> Series:
    sequences = agg.totals(TOUCHPOINTS, "seq#")
    top = _ranked(sequences)[:TOP_JOURNEYS]
    labels = [" → ".join([*s.split(">"), CALL]) for s in top]
    counts: list[Number] = [sequences[s] for s in top]
    direct = agg.total(TOUCHPOINTS, "direct")
    if direct:
        labels.append(f"straight to a {CALL}")
        counts.append(direct)
    return Series("journey", labels, {"calls": counts}, unit="calls")


BUILT_IN = (
    Section("volume", "Messages received by channel",
            "Every message customers sent us, by the channel it came on (spam included).",
            "stacked_bar", (VOLUME,), volume, CHANNEL_COLORS),
    Section("reach", "Reach of public mentions",
            "Public posts, replies and comments about the brand, and how many people could see them: the sum "
            "of their authors' followers (right axis: the number of mentions).",
            "line", (REACH,), reach, {"people reached (followers)": "#0072B2", "public mentions": "#D55E00"}),
    Section("sentiment", "Sentiment trend",
            "The sentiment of each customer message that joined a case. Net sentiment is positive minus "
            "negative, as a share of all.", "stacked_bar", (SENTIMENT,), sentiment, SENTIMENT_COLORS),
    Section("first_response", "First-response time against the SLA target",
            "How long customers waited for our first answer, against the target their case's SLA set, "
            "on the day we answered (business-hours targets count the wall-clock time to their due time).",
            "line", (RESPONSE,), first_response, {"mean first response": "#0072B2", "mean SLA target": "#D55E00"}),
    Section("response_histogram", "First responses by share of the SLA target",
            "Each first response, as a share of the time its SLA allowed: up to 100% met the target.",
            "stacked_bar", (RESPONSE,), response_histogram, OUTCOME_COLORS),
    Section("sla_by_team", "SLA attainment by team",
            "Cases whose first response and resolution came within the SLA, per team.",
            "stacked_bar", (RESPONSE, CASES), sla_by_team, OUTCOME_COLORS),
    Section("returning", "New and returning customers",
            "Customers who wrote or called each day: returning ones had first contacted us on an earlier day.",
            "stacked_bar", (CUSTOMERS,), returning, {"new customers": "#0072B2", "returning customers": "#D55E00"}),
    Section("categories", "Top categories", "What cases were about (a case counts once per category).",
            "horizontal_bar", (CASES,), categories, {"cases": "#0072B2"}),
    Section("touchpoints", "Touchpoint map before a phone call",
            "Which channels callers used, and in what order, in the 30 days before they phoned: each dot is the "
            "number of calls with that channel at that step.", "dot", (TOUCHPOINTS,), touchpoint_map,
            CHANNEL_COLORS),
    Section("journeys", "Most common journeys to a phone call",
            "The sequence of channels before a call (repeats on one channel counted once).",
            "horizontal_bar", (TOUCHPOINTS,), journeys, {"calls": "#D55E00"}),
)
