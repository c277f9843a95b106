"""Triage: sentiment, categories and urgency cues, and the resulting priority.

Driven by ``config/triage.yaml`` (``TriageRules``): the category patterns and every point of the
priority score live there, so tuning triage is a reviewed config change, not a code change.
"""

from __future__ import annotations

import re

from socialcare.config.rules import PriorityScoring, TriageRules
from socialcare.domain.sentiment.analyser import SentimentAnalyser, normalise
from socialcare.models.case import Priority
from socialcare.models.interaction import Interaction
from socialcare.models.triage import Sentiment, Triage

# Categories that say "this needs attention now" rather than "this is about X".
URGENCY_CUES = frozenset({"legal_threat", "refund_demand", "cancel", "urgent", "callback"})


class Triager:
    def __init__(self, rules: TriageRules, analyser: SentimentAnalyser) -> None:
        self.rules = rules
        self.analyser = analyser
        self.scoring: PriorityScoring = rules.priority
        self.categories = {
            name: [re.compile(rf"(?<!\w){pattern}(?!\w)") for pattern in patterns]
            for name, patterns in rules.categories.items()
        }

    def categorise(self, text: str | None) -> list[str]:
        """Every category whose patterns match the text, in config order."""
        if not text:
            return []
        body = normalise(text)
        return [name for name, patterns in self.categories.items() if any(p.search(body) for p in patterns)]

    def triage(self, interaction: Interaction, *, tier: str | None = None,
               sentiment: Sentiment | None = None) -> Triage:
        """Triage one inbound interaction. ``tier`` is the customer's (from the profile context)."""
        text = interaction.text or ""
        sentiment = sentiment or self.analyser.analyse(text, interaction.language)
        categories = self.categorise(text)
        cues = [c for c in categories if c in URGENCY_CUES]
        negative = sentiment.label in ("negative", "mixed") or bool(cues)
        score, reasons = self._sentiment_points(sentiment)
        for category in categories:
            points = float(self.scoring.cues.get(category, 0))
            if points:
                score += points
                reasons.append(f"{category.replace('_', ' ')} (+{points:g})")
        if interaction.is_public and negative:
            score += self._public_points(interaction.author.followers, reasons)
        tier_points = float(self.scoring.tier.get((tier or "").lower(), 0))
        if tier_points and (negative or score > 0):
            score += tier_points
            reasons.append(f"{tier} customer (+{tier_points:g})")
        priority = self._priority(score)
        # Praise is an engage item, never a complaint, whatever the tier says.
        if "praise" in categories and sentiment.label == "positive" and not cues:
            priority = Priority.LOW
            reasons.append("praise: engage")
        return Triage(
            sentiment=sentiment, categories=categories, cues=cues, priority=priority, score=score, reasons=reasons,
            public=interaction.is_public, followers=interaction.author.followers, version=self.rules.version,
        )

    def _sentiment_points(self, sentiment: Sentiment) -> tuple[float, list[str]]:
        weights = self.scoring.sentiment
        if sentiment.label == "negative":
            very = sentiment.score <= weights.very_negative_below
            points, why = (weights.very_negative, "very negative") if very else (weights.negative, "negative")
        elif sentiment.label == "mixed":
            points, why = weights.mixed, "mixed sentiment"
        elif sentiment.label == "positive":
            points, why = weights.positive, "positive"
        else:
            return 0.0, []
        return float(points), [f"{why} ({sentiment.score:+.2f}, {sentiment.provider})"]

    def _public_points(self, followers: int | None, reasons: list[str]) -> float:
        points = float(self.scoring.public_negative)
        reasons.append(f"public complaint (+{points:g})")
        # Reach only matters for what others can read: a DM from a celebrity is still a DM.
        reach = max((float(s.points) for s in self.scoring.reach if followers is not None and followers >= s.followers),
                    default=0.0)
        if reach:
            reasons.append(f"reach {followers} followers (+{reach:g})")
        return points + reach

    def _priority(self, score: float) -> Priority:
        thresholds = self.scoring.thresholds
        priority = Priority.LOW
        for level, threshold in ((Priority.NORMAL, thresholds.normal), (Priority.HIGH, thresholds.high),
                                 (Priority.URGENT, thresholds.urgent)):
            if score >= threshold:
                priority = level
        return priority
