"""What the domain concludes about one message: sentiment, triage, the routing decision and the
FAQ answer it suggests. Pure models; the analysers that produce them live in the domain."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from socialcare.models.case import Priority, Team

Label = Literal["positive", "negative", "neutral", "mixed"]


class Sentiment(BaseModel):
    label: Label
    score: float  # -1 (most negative) .. +1 (most positive)
    language: str
    provider: str

    @property
    def is_negative(self) -> bool:
        return self.label in ("negative", "mixed") and self.score < 0


class Triage(BaseModel):
    sentiment: Sentiment
    categories: list[str] = Field(default_factory=list)
    cues: list[str] = Field(default_factory=list, description="urgency cues among the categories")
    priority: Priority
    score: float
    reasons: list[str] = Field(default_factory=list, description="why this priority, for agents")
    public: bool
    followers: int | None = None
    version: int

    @property
    def is_praise(self) -> bool:
        return "praise" in self.categories and self.sentiment.label == "positive"


class Route(BaseModel):
    rule: str
    version: int
    team: Team
    item: str  # work item kind: respond | engage | call_followup | callback ...
    assign: bool  # the case itself moves to `team`
    reason: str


class FaqMatch(BaseModel):
    id: str
    answer: str
    link: str | None = None
    language: str
    score: float
