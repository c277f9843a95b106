"""Customer satisfaction as data: the survey a resolved case asked (or why it did not) and the
rating the customer gave (docs/satisfaction.md).

Pure models (no I/O). ``domain.satisfaction.survey`` asks, ``domain.satisfaction.answers``
records the answer, ``domain.satisfaction.ratings`` reads a rating out of a message.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class SurveyStatus(StrEnum):
    QUEUED = "queued"  # the question is on outbound.fifo (the case's reply states say when it was sent)
    SKIPPED = "skipped"  # not asked: ``reason`` says why (window closed, quiet period, no private route...)
    ANSWERED = "answered"  # the customer rated: ``Case.csat``


class SurveyState(BaseModel):
    """The one satisfaction survey of a case (at most one per case)."""

    status: SurveyStatus
    at: datetime = Field(description="when it was queued or skipped")
    reply_id: str | None = Field(default=None, description="the question's outbound interaction id")
    channel: str | None = None
    route: str | None = None
    language: str | None = None
    reason: str | None = Field(default=None, description="why it was skipped")


class Csat(BaseModel):
    """A customer's rating of a resolved case, 1 (worst) to 5 (best)."""

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, description="what the customer wrote beside the rating")
    answered_at: datetime
    channel: str
    interaction_id: str | None = None


class Rating(BaseModel):
    """A rating read out of a message (``domain.satisfaction.ratings.parse_rating``)."""

    score: int = Field(ge=1, le=5)
    comment: str | None = None
    form: str = Field(description="how it was written: digit | fraction | stars | emoji | words")
