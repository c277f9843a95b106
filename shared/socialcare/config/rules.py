"""The rule files (``config/*.yaml``) as validated models: a typo in a reviewed YAML change fails
at cold start with the file and field named, not at the first message that needs the rule.

Each model names its file (``FILE``); ``socialcare.config.loader.load_rules`` reads it, from
``SOCIALCARE_CONFIG_DIR`` when that directory has a file of the same name.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from string import Formatter
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from socialcare.config import patterns
from socialcare.config.calendars import CalendarRules
from socialcare.config.listening_search import ListeningSearch
from socialcare.models.case import Priority, Team
from socialcare.models.reply import TemplateRef

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """``"30m"``, ``"4h"``, ``"2d"`` (a bare number is minutes)."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(minutes=float(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"bad duration {text!r}: use <n>m, <n>h or <n>d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _regex(value: Any, info: ValidationInfo) -> str:
    """A pattern run on whole messages: valid, free of exponential constructs, and, when it
    comes from the deployment (``context={"probe": True}``), fast on adversarial text."""
    if info.context and info.context.get("probe"):
        patterns.probe(str(value))
    else:
        patterns.check(str(value))
    return str(value)


def _windowed_regex(value: Any) -> str:
    """A reference format: searched only in a short window around each candidate token, so
    only exponential constructs must be refused."""
    patterns.check(str(value))
    return str(value)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Regex = Annotated[str, BeforeValidator(_regex)]
WindowedRegex = Annotated[str, BeforeValidator(_windowed_regex)]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleFile(_Rules):
    FILE: ClassVar[str]

    version: int = Field(description="recorded on every decision: bump it on every change")


# ---------------------------------------------------------------------------- routing.yaml
class RoutingConditions(_Rules):
    channel: list[str] | None = None
    kind: list[str] | None = None
    public: bool | None = None
    categories_any: list[str] | None = None
    sentiment: list[str] | None = None
    case_team: list[str] | None = None


class RoutingRule(_Rules):
    name: str = "default"
    when: RoutingConditions = Field(default_factory=RoutingConditions)
    team: Team
    item: str = "respond"
    assign: bool = False
    reason: str = ""


class RoutingRules(RuleFile):
    FILE: ClassVar[str] = "routing.yaml"

    default: RoutingRule = RoutingRule(team=Team.SOCIAL)
    rules: list[RoutingRule] = Field(default_factory=list)


# ---------------------------------------------------------------------------- sla.yaml, calendars.yaml
class SlaTarget(_Rules):
    first_response: Duration
    resolution: Duration


class SlaPolicies(RuleFile):
    FILE: ClassVar[str] = "sla.yaml"

    policies: dict[Literal["public", "private"], dict[Priority, SlaTarget]]


class Calendars(RuleFile):
    """calendars.yaml: one business calendar per team (the models live in config/calendars.py)."""

    FILE: ClassVar[str] = "calendars.yaml"

    calendars: dict[str, CalendarRules] = Field(default_factory=dict)


# ---------------------------------------------------------------------------- triage.yaml
class SentimentPoints(_Rules):
    negative: float = 2
    very_negative: float = 3
    very_negative_below: float = -0.6
    mixed: float = 1
    positive: float = -1


class ReachStep(_Rules):
    followers: int
    points: float


class Thresholds(_Rules):
    urgent: float = 7
    high: float = 4
    normal: float = 0


class PriorityScoring(_Rules):
    sentiment: SentimentPoints = SentimentPoints()
    cues: dict[str, float] = Field(default_factory=dict)
    public_negative: float = 1
    reach: list[ReachStep] = Field(default_factory=list)
    tier: dict[str, float] = Field(default_factory=dict)
    thresholds: Thresholds = Thresholds()


class TriageRules(RuleFile):
    FILE: ClassVar[str] = "triage.yaml"

    categories: dict[str, list[Regex]] = Field(default_factory=dict)
    priority: PriorityScoring = PriorityScoring()


# ---------------------------------------------------------------------------- identity.yaml
class ReferenceRule(_Rules):
    """One of the brand's reference formats (order, account, ticket, booking...)."""

    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    pattern: WindowedRegex = Field(description="captures the identifying part in named groups, (?P<ref>...)")
    canonical: str = Field(default="{ref}", description="rebuilds one spelling from the named groups")

    @model_validator(mode="after")
    def _groups_fill_the_canonical_form(self) -> ReferenceRule:
        groups = set(re.compile(self.pattern).groupindex)
        try:
            fields = {f for _, f, _, _ in Formatter().parse(self.canonical) if f is not None}
        except ValueError as exc:
            raise ValueError(f"reference {self.name!r}: canonical {self.canonical!r} is malformed: {exc}") from exc
        if not fields:
            raise ValueError(f"reference {self.name!r}: canonical {self.canonical!r} names no group")
        missing = sorted(f for f in fields if f not in groups)
        if missing:
            raise ValueError(
                f"reference {self.name!r}: the pattern lacks the named group(s) {missing} that canonical "
                f"{self.canonical!r} uses; capture the reference as (?P<{missing[0]}>...)"
            )
        return self


class ReferenceWords(_Rules):
    """The built-in recogniser: a reference-like token (letters, digits, dashes, slashes, with
    at least ``min_digits`` digits, or a random code of letters and digits) right after one of
    these words, and not a year, a date, a price, a postcode, a phone number or a quantity. The
    key depends on the token only: the kinds group the words, they do not change the key."""

    min_digits: int = Field(default=5, ge=1, le=20)
    words: dict[str, list[str]] = Field(description="kind of reference -> the words that introduce it")
    fillers: list[str] = Field(default_factory=list, description="words allowed between the words and the token")


class IdentityRules(RuleFile):
    FILE: ClassVar[str] = "identity.yaml"

    references: list[ReferenceRule] = Field(default_factory=list)
    reference_words: ReferenceWords | None = None
    self_introductions: list[Regex] = Field(default_factory=list)
    sign_offs: list[str] = Field(
        default_factory=list, description="closing words a name may be signed after, at the end of a message"
    )
    email: WindowedRegex = Field(description="matched around each '@' only, never searched through the text")


# ---------------------------------------------------------------------------- faq.yaml
class FaqEntry(_Rules):
    id: str
    lang: str = "en"
    topic: str | None = Field(default=None, description="translations of one answer share a topic")
    question: str = ""
    keywords: list[str] = Field(default_factory=list)
    answer: str
    link: str | None = None


class FaqBook(RuleFile):
    FILE: ClassVar[str] = "faq.yaml"

    min_score: float = 0.12
    entries: list[FaqEntry] = Field(default_factory=list)


# ---------------------------------------------------------------------------- listening.yaml
class SpikeRules(_Rules):
    baseline_buckets: int = Field(default=12, ge=1)
    multiple: float = 3.0
    min_mentions: int = 30
    min_baseline: float = 2.0
    check_every: int = Field(default=5, ge=1)
    episode_minutes: float = 60


class IncidentRules(_Rules):
    threshold: int = 25
    window_buckets: int = Field(default=3, ge=1)
    ttl_hours: float = 72


class SpamRules(_Rules):
    threshold: int = 3
    repeat_threshold: int = 3
    new_account_days: int = 7
    phrases: list[Regex] = Field(default_factory=list)


class ListeningRules(RuleFile):
    FILE: ClassVar[str] = "listening.yaml"

    bucket_minutes: int = Field(default=5, ge=1, le=60)
    shards: int = Field(default=10, ge=1)
    counter_ttl_days: float = 8
    spike: SpikeRules = SpikeRules()
    incident: IncidentRules = IncidentRules()
    spam: SpamRules = SpamRules()
    search: ListeningSearch = ListeningSearch()  # the ListeningFunction's X searches (config/listening_search.py)


# ---------------------------------------------------------------------------- replies.yaml
class ReplyWindows(_Rules):
    """How long each platform keeps a route open (docs/protocols.md section 4)."""

    messenger: Duration = timedelta(hours=24)
    instagram: Duration = timedelta(hours=24)
    whatsapp: Duration = timedelta(hours=24)
    human_agent_tag: Duration = timedelta(days=7)
    private_reply: Duration = timedelta(days=7)


class HumanAgentTag(_Rules):
    """Where a person's reply may use MESSAGE_TAG HUMAN_AGENT past the standard window (the app
    needs Meta's Human Agent permission for it)."""

    messenger: bool = True
    instagram: bool = True


class ConfiguredTemplate(TemplateRef):
    """A TemplateRef as replies.yaml spells it: unknown keys are typos, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WhatsAppTemplates(_Rules):
    """The template sent when a WhatsApp reply comes after the customer service window and the
    request names none: the account's own (phone-number id), else ``default``, else none."""

    default: ConfiguredTemplate | None = None
    by_account: dict[str, ConfiguredTemplate] = Field(default_factory=dict)


class XPrices(_Rules):
    """X API pay-per-use write prices, USD per request."""

    read_on: date
    source: str
    post_usd: float = Field(ge=0)
    post_with_link_usd: float = Field(ge=0)
    dm_usd: float = Field(ge=0)


class WhatsAppPrices(_Rules):
    """Meta's WhatsApp per-message rates for one market, USD per delivered message."""

    market: str
    read_on: date
    source: str
    estimate: bool = Field(default=True, description="not read from Meta's own rate card: update it")
    marketing_usd: float = Field(ge=0)
    utility_usd: float = Field(ge=0)
    authentication_usd: float = Field(ge=0)
    service_usd: float = Field(ge=0, description="a free-form reply inside the customer service window")
    utility_free_in_window: bool = True
    default_category: Literal["marketing", "utility", "authentication"] = "utility"

    def template_usd(self, category: str | None, *, in_window: bool) -> float:
        category = category or self.default_category
        if category == "utility" and in_window and self.utility_free_in_window:
            return 0.0
        return float(getattr(self, f"{category}_usd"))


class ReplyPrices(_Rules):
    x: XPrices
    whatsapp: WhatsAppPrices
    meta_usd: float = Field(default=0.0, ge=0, description="Messenger, Instagram and Facebook replies")


class ReplyRules(RuleFile):
    """replies.yaml: the platforms' reply rules (``domain.replies.policy``)."""

    FILE: ClassVar[str] = "replies.yaml"

    windows: ReplyWindows = ReplyWindows()
    human_agent_tag: HumanAgentTag = HumanAgentTag()
    whatsapp_templates: WhatsAppTemplates = WhatsAppTemplates()
    prices: ReplyPrices
    default_language: str = "en"
    disclosure: dict[str, str] = Field(description="language -> the automated-message disclosure")

    @model_validator(mode="after")
    def _disclosure_in_the_default_language(self) -> ReplyRules:
        if not self.disclosure.get(self.default_language, "").strip():
            raise ValueError(f"disclosure needs a text for the default language {self.default_language!r}")
        return self


RULE_FILES: tuple[type[RuleFile], ...] = (
    RoutingRules, SlaPolicies, Calendars, TriageRules, IdentityRules, FaqBook, ListeningRules, ReplyRules,
)
