"""The satisfaction and listening series a report shows and the weekly digest sends
(docs/satisfaction.md): the CSAT trend by day and its top-box (5/5) share, share of voice per brand
and competitor with sentiment, listening volume and the money its reads cost.

Plain functions over StateTable's daily counters (written by ``answers.SurveyAnswers`` and
``flows.listening_search``), or over cases (``csat_by_day_from_cases``), so any report can call
them: each day is a handful of items, read with one BatchGetItem per field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from socialcare.config.listening_search import ListeningSearch
from socialcare.models.case import Case
from socialcare.store.state import StateRepository

SENTIMENTS = ("positive", "neutral", "negative")


def last_days(today: date, days: int = 7) -> list[date]:
    """``days`` days ending with ``today``, oldest first."""
    return [today - timedelta(days=k) for k in range(days - 1, -1, -1)]


def csat_key(day: date) -> str:
    return f"CSAT#{day.isoformat()}"


def listening_key(day: date) -> str:
    return f"LISTENING#{day.isoformat()}"


def sov_key(name: str, day: date) -> str:
    return f"SOV#{name}#{day.isoformat()}"


def _fields(state: StateRepository, keys: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, int]]:
    found = state.counters(keys)  # one BatchGetItem per 100 days, every field at once
    return {k: {name: found.get(k, {}).get(name, 0) for name in fields} for k in keys}


def _csat_row(day: date, answers: int, score_sum: int, top_box: int, low: int) -> dict[str, Any]:
    return {"day": day.isoformat(), "answers": answers,
            "mean": round(score_sum / answers, 2) if answers else None,
            "top_box_share": round(top_box / answers, 3) if answers else None, "low": low}


def csat_by_day(state: StateRepository, days: Sequence[date]) -> list[dict[str, Any]]:
    """Per day: answers, mean score, top-box (5/5) share, low scores."""
    rows = _fields(state, [csat_key(d) for d in days], ("answers", "score_sum", "top_box", "low"))
    return [_csat_row(d, **{k: rows[csat_key(d)].get(k, 0) for k in ("answers", "score_sum", "top_box", "low")})
            for d in days]


def csat_by_day_from_cases(cases: Iterable[Case], days: Sequence[date], low_score: int = 2) -> list[dict[str, Any]]:
    """The same series from cases a report already read (their ``csat``)."""
    totals = {d: [0, 0, 0, 0] for d in days}
    for case in cases:
        if case.csat is None:
            continue
        row = totals.get(case.csat.answered_at.date())
        if row is not None:
            row[0] += 1
            row[1] += case.csat.score
            row[2] += int(case.csat.score == 5)
            row[3] += int(case.csat.score <= low_score)
    return [_csat_row(d, *totals[d]) for d in days]


def csat_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The period's answers, mean and top-box share from daily rows."""
    answers = sum(r["answers"] for r in rows)
    score_sum = sum((r["mean"] or 0) * r["answers"] for r in rows)
    top_box = sum((r["top_box_share"] or 0) * r["answers"] for r in rows)
    return {"answers": answers, "mean": round(score_sum / answers, 2) if answers else None,
            "top_box_share": round(top_box / answers, 3) if answers else None,
            "low": sum(r["low"] for r in rows)}


def share_of_voice(state: StateRepository, search: ListeningSearch, days: Sequence[date]) -> list[dict[str, Any]]:
    """Per brand and competitor over ``days``: mentions found by the searches, their sentiment,
    and the share of all mentions found (the brand first)."""
    names = [search.brand, *(c.name for c in search.competitors)]
    keys = [sov_key(n, d) for n in names for d in days]
    rows = _fields(state, keys, ("mentions", *SENTIMENTS))
    out = []
    for name in names:
        totals = {f: sum(rows[sov_key(name, d)].get(f, 0) for d in days) for f in ("mentions", *SENTIMENTS)}
        out.append({"name": name, "brand": name == search.brand, **totals})
    everyone = sum(r["mentions"] for r in out)
    for row in out:
        row["share"] = round(row["mentions"] / everyone, 3) if everyone else None
    return out


def listening_by_day(state: StateRepository, search: ListeningSearch, days: Sequence[date]) -> list[dict[str, Any]]:
    """Per day: posts read, authors expanded, what that cost, brand mentions found and published."""
    rows = _fields(state, [listening_key(d) for d in days], ("reads", "users", "mentions", "published"))
    out = []
    for day in days:
        row = rows[listening_key(day)]
        reads, users = row.get("reads", 0), row.get("users", 0)
        out.append({"day": day.isoformat(), "reads": reads, "users": users,
                    "spend_usd": round(reads * search.price_per_read_usd + users * search.price_per_user_usd, 4),
                    "mentions": row.get("mentions", 0), "published": row.get("published", 0)})
    return out


def weekly_digest(state: StateRepository, search: ListeningSearch, today: date) -> dict[str, Any]:
    """The week ending ``today``: CSAT, share of voice, listening volume and spend."""
    days = last_days(today, 7)
    csat = csat_by_day(state, days)
    listening = listening_by_day(state, search, days)
    return {
        "type": "weekly_digest", "from": days[0].isoformat(), "to": days[-1].isoformat(),
        "csat": {**csat_summary(csat), "by_day": csat},
        "share_of_voice": share_of_voice(state, search, days),
        "listening": {"reads": sum(r["reads"] for r in listening), "mentions": sum(r["mentions"] for r in listening),
                      "spend_usd": round(sum(r["spend_usd"] for r in listening), 4),
                      "budget_reads_per_day": search.max_reads_per_day, "by_day": listening},
    }
