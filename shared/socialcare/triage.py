"""Triage: sentiment, categories and urgency cues, and the resulting priority.

Written once and driven by ``config/triage.yaml``: the category patterns and every point of the
priority score live there, so tuning triage is a reviewed config change, not a code change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from socialcare import config
from socialcare.models.case import Priority
from socialcare.models.interaction import Interaction
from socialcare.models.triage import Sentiment, Triage
from socialcare.sentiment import analyse, normalise

# Categories that say "this needs attention now" rather than "this is about X".
URGENCY_CUES = frozenset({"legal_threat", "refund_demand", "cancel", "urgent", "callback"})


@lru_cache(maxsize=1)
def _rules() -> tuple[int, dict[str, list[re.Pattern[str]]], dict[str, Any]]:
    data = config.load("triage.yaml")
    categories = {
        name: [re.compile(rf"(?<!\w){pattern}(?!\w)") for pattern in patterns]
        for name, patterns in (data.get("categories") or {}).items()
    }
    return int(data.get("version", 0)), categories, dict(data.get("priority") or {})


def reset() -> None:
    _rules.cache_clear()


def categorise(text: str | None) -> list[str]:
    """Every category whose patterns match the text, in config order."""
    if not text:
        return []
    body = normalise(text)
    _, categories, _ = _rules()
    return [name for name, patterns in categories.items() if any(p.search(body) for p in patterns)]


def _tier_points(rules: dict[str, Any], tier: str | None) -> float:
    return float((rules.get("tier") or {}).get((tier or "").lower(), 0))


def _reach_points(rules: dict[str, Any], followers: int | None) -> float:
    points = 0.0
    for step in rules.get("reach") or []:
        if followers is not None and followers >= int(step["followers"]):
            points = max(points, float(step["points"]))
    return points


def _sentiment_points(rules: dict[str, Any], sentiment: Sentiment) -> tuple[float, str | None]:
    weights = rules.get("sentiment") or {}
    if sentiment.label == "negative":
        if sentiment.score <= float(weights.get("very_negative_below", -0.6)):
            return float(weights.get("very_negative", 3)), "very negative"
        return float(weights.get("negative", 2)), "negative"
    if sentiment.label == "mixed":
        return float(weights.get("mixed", 1)), "mixed sentiment"
    if sentiment.label == "positive":
        return float(weights.get("positive", -1)), "positive"
    return 0.0, None


def triage(interaction: Interaction, *, tier: str | None = None, sentiment: Sentiment | None = None) -> Triage:
    """Triage one inbound interaction. ``tier`` is the customer's (from the profile context)."""
    version, _, rules = _rules()
    text = interaction.text or ""
    sentiment = sentiment or analyse(text, interaction.language)
    categories = categorise(text)
    cues = [c for c in categories if c in URGENCY_CUES]
    public = interaction.is_public
    followers = interaction.author.followers
    reasons: list[str] = []

    score, why = _sentiment_points(rules, sentiment)
    if why:
        reasons.append(f"{why} ({sentiment.score:+.2f}, {sentiment.provider})")
    cue_points = rules.get("cues") or {}
    for category in categories:
        points = float(cue_points.get(category, 0))
        if points:
            score += points
            reasons.append(f"{category.replace('_', ' ')} (+{points:g})")
    negative = sentiment.label in ("negative", "mixed") or bool(cues)
    if public and negative:
        points = float(rules.get("public_negative", 1))
        score += points
        reasons.append(f"public complaint (+{points:g})")
        # Reach only matters for what others can read: a DM from a celebrity is still a DM.
        reach = _reach_points(rules, followers)
        if reach:
            score += reach
            reasons.append(f"reach {followers} followers (+{reach:g})")
    tier_points = _tier_points(rules, tier)
    if tier_points and (negative or score > 0):
        score += tier_points
        reasons.append(f"{tier} customer (+{tier_points:g})")

    thresholds = rules.get("thresholds") or {}
    priority = Priority.LOW
    for level in (Priority.NORMAL, Priority.HIGH, Priority.URGENT):
        if score >= float(thresholds.get(level.value, {"normal": 0, "high": 4, "urgent": 7}[level.value])):
            priority = level
    # Praise is an engage item, never a complaint, whatever the tier says.
    if "praise" in categories and sentiment.label == "positive" and not cues:
        priority = Priority.LOW
        reasons.append("praise: engage")
    return Triage(
        sentiment=sentiment,
        categories=categories,
        cues=cues,
        priority=priority,
        score=score,
        reasons=reasons,
        public=public,
        followers=followers,
        version=version,
    )
