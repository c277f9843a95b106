"""satisfaction.yaml as a validated model (``load_rules(SatisfactionRules)``): the CSAT survey's
switch, quiet period, answer window, routes, WhatsApp template and questions (docs/satisfaction.md)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from socialcare.config.rules import ConfiguredTemplate, Duration, RuleFile
from socialcare.models.reply import ReplyRoute


class SatisfactionRules(RuleFile):
    FILE: ClassVar[str] = "satisfaction.yaml"

    enabled: bool = True
    quiet_period: Duration
    answer_window: Duration
    routes: list[ReplyRoute] = Field(default_factory=lambda: [ReplyRoute.MESSAGE, ReplyRoute.DIRECT_MESSAGE,
                                                               ReplyRoute.TEMPLATE])
    whatsapp_template: ConfiguredTemplate | None = None
    low_score: int = Field(default=2, ge=1, le=4)
    default_language: str = "en"
    questions: dict[str, str]

    @model_validator(mode="after")
    def _question_in_the_default_language(self) -> SatisfactionRules:
        if not self.questions.get(self.default_language, "").strip():
            raise ValueError(f"questions needs a text for the default language {self.default_language!r}")
        if ReplyRoute.PUBLIC_REPLY in self.routes:
            raise ValueError("routes: a survey is private; public_reply is not allowed")
        return self

    def question(self, language: str | None) -> tuple[str, str]:
        """(language, question): the customer's language when there is a question in it."""
        lang = (language or "").replace("_", "-").split("-")[0].lower()
        if lang in self.questions:
            return lang, self.questions[lang]
        return self.default_language, self.questions[self.default_language]
