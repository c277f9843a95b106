"""What one stream record adds to the report's counters (pure: record in, facts out).

Two streams feed the report (docs/reports.md):

* ProfilesTable's, filtered to inserted timeline items (``TS#``): every interaction stored,
  spam included - volume by channel, reach of public mentions, the customers active each day
  (new or returning) and, for a phone call, the channels the caller used before it;
* CasesTable's, filtered to case items and inserted case-timeline items (``INT#``): the
  sentiment of each interaction that joined a case, and each case's facts - opened (team),
  categories, its first response against the SLA target, its resolution against the SLA.

Every counted fact has a key (``ix:<interaction id>``, ``fr:<case>:<reopen count>``...) that the
aggregator claims in the same transaction as the counters it adds (``store.reports``), so a
fact is counted once however often its record is delivered, and an interaction copied by a
merge is not counted again. The counters' families and attribute names are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socialcare.store.codec import from_item
from socialcare.store.reports import Increments

# ---- counter families (ReportsTable sk) and their attributes
VOLUME = "VOL"  # in#<channel>, out#<channel>: messages received / sent
REACH = "REACH"  # mentions, reach, mentions#<channel>, reach#<channel>: public mentions, followers reached
CUSTOMERS = "CUST"  # active, new, returning: distinct customers who wrote that day
SENTIMENT = "SENT"  # positive, neutral, mixed, negative: interactions that joined a case
CASES = "CASES"  # opened#<team>, cat#<category>
RESPONSE = "FR"  # n#, met#, breached#, secs#, target#<team>; bucket#<name>; res_met#, res_breached#<team>
TOUCHPOINTS = "TP"  # calls, direct, seq#<a>b>c>, pos#<k>#<channel>

SENTIMENT_LABELS = ("positive", "neutral", "mixed", "negative")
PUBLIC_KINDS = frozenset({"public_post", "public_reply", "comment"})
# First response as a share of the SLA target: the histogram's buckets (upper bounds).
RESPONSE_BUCKETS = (("≤25%", 0.25), ("25–50%", 0.5), ("50–75%", 0.75), ("75–100%", 1.0),
                    ("100–150%", 1.5), ("150–200%", 2.0), (">200%", float("inf")))
MAX_STEPS = 4  # touchpoints kept before a call (the last ones)
MAX_CATEGORIES = 20  # per case: a record's claims must fit one transaction with room to spare
JOURNEY_DAYS = 30  # how far back a caller's touchpoints are looked for
# How long a claim outlives its fact: a stream keeps records 24 hours, but a merge copies a
# customer's timeline (and a case's) into another partition at any time later.
KEEP_FACT_DAYS = 400
KEEP_CUSTOMER_DAYS = 800  # a customer is "returning" within this long of her first day


@dataclass
class Fact:
    key: str
    increments: Increments = field(default_factory=Increments)
    keep_days: int = KEEP_FACT_DAYS


@dataclass
class CustomerDay:
    customer_id: str
    day: str


@dataclass
class Call:
    customer_id: str
    timeline_sk: str
    at: datetime
    day: str


@dataclass
class RecordWork:
    """A record's contribution. ``gate``: when its fact was already counted, nothing of the
    record is (an interaction delivered again, or copied by a merge)."""

    sequence: str
    gate: Fact | None = None
    facts: list[Fact] = field(default_factory=list)
    customer_day: CustomerDay | None = None
    call: Call | None = None

    def fact_keys(self) -> list[str]:
        keys = [f.key for f in ([self.gate] if self.gate else []) + self.facts]
        if self.customer_day is not None:
            c = self.customer_day
            keys += [customer_day_key(c.customer_id, c.day), customer_key(c.customer_id)]
        return keys


def customer_key(customer_id: str) -> str:
    return f"cust:{customer_id}"


def customer_day_key(customer_id: str, day: str) -> str:
    return f"day:{customer_id}:{day}"


# ---------------------------------------------------------------------- images
_COUNTED = frozenset({  # the attributes of the items counted that the facts read
    "pk", "sk", "id", "channel", "kind", "direction", "occurred_at", "followers", "sentiment",  # interactions
    "status", "team", "reopen_count", "opened_at", "updated_at", "categories", "sla", "first_response_at",
    "resolved_at",  # cases
})


def _text(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name)
    return value if isinstance(value, str) and value else None


def _time(value: str | None) -> datetime | None:
    """An ISO timestamp of an image in UTC, whose date is the day it counts on (a case's times
    keep the offset they were given). One without an offset is UTC: a naive datetime compared
    with an aware one would fail its batch on every retry."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------- records
def record_work(record: dict[str, Any]) -> RecordWork | None:
    """The work of one Lambda stream record of either stream; None for a record that counts nothing."""
    change = record.get("dynamodb") or {}
    event = record.get("eventName")
    if event == "REMOVE" or not change.get("NewImage"):
        return None
    # only what is counted is decoded: a Lambda event carries binary attributes (the raw slice)
    # as base64 text, which boto3's deserializer refuses
    image = from_item({name: value for name, value in change["NewImage"].items() if name in _COUNTED})
    sequence = str(change.get("SequenceNumber", ""))
    pk, sk = _text(image, "pk") or "", _text(image, "sk") or ""
    if pk.startswith("CUSTOMER#") and sk.startswith("TS#") and event == "INSERT":
        return timeline_work(sequence, pk.removeprefix("CUSTOMER#"), sk, image)
    if pk.startswith("CASE#") and sk.startswith("INT#") and event == "INSERT":
        return case_interaction_work(sequence, image)
    if pk.startswith("CASE#") and sk == "CASE":
        return case_work(sequence, pk.removeprefix("CASE#"), image)
    return None


def timeline_work(sequence: str, customer_id: str, sk: str, image: dict[str, Any]) -> RecordWork | None:
    """An interaction stored on a customer's timeline (ProfilesTable)."""
    interaction_id, channel = _text(image, "id"), _text(image, "channel")
    at = _time(_text(image, "occurred_at"))
    if not interaction_id or not channel or at is None:
        return None
    day = at.date().isoformat()
    gate = Fact(f"ix:{interaction_id}")
    inbound = (_text(image, "direction") or "inbound") == "inbound"
    gate.increments.add(day, VOLUME, f"{'in' if inbound else 'out'}#{channel}")
    if inbound and (_text(image, "kind") or "") in PUBLIC_KINDS:
        followers = int(image.get("followers") or 0)
        for suffix in ("", f"#{channel}"):
            gate.increments.add(day, REACH, f"mentions{suffix}")
            gate.increments.add(day, REACH, f"reach{suffix}", followers)
    work = RecordWork(sequence, gate=gate)
    if inbound:
        work.customer_day = CustomerDay(customer_id, day)
        if channel == "phone":
            work.call = Call(customer_id, sk, at, day)
    return work


def case_interaction_work(sequence: str, image: dict[str, Any]) -> RecordWork | None:
    """An interaction that joined a case (CasesTable ``INT#`` item): its sentiment."""
    interaction_id, label = _text(image, "id"), _text(image, "sentiment")
    at = _time(_text(image, "occurred_at"))
    if not interaction_id or at is None or label not in SENTIMENT_LABELS or _text(image, "direction") == "outbound":
        return None
    gate = Fact(f"sent:{interaction_id}")
    gate.increments.add(at.date().isoformat(), SENTIMENT, str(label))
    return RecordWork(sequence, gate=gate)


def case_work(sequence: str, case_id: str, image: dict[str, Any]) -> RecordWork | None:
    """A saved case version: the facts it shows for the first time are counted."""
    if image.get("status") == "merged":
        return None  # its facts were counted while it lived; the survivor carries on
    team = _text(image, "team") or "social"
    reopens = int(image.get("reopen_count") or 0)
    facts: list[Fact] = []
    opened = _time(_text(image, "opened_at"))
    if opened is not None:
        fact = Fact(f"open:{case_id}")
        fact.increments.add(opened.date().isoformat(), CASES, f"opened#{team}")
        facts.append(fact)
    updated = _time(_text(image, "updated_at")) or opened
    if updated is not None:
        for category in [c for c in image.get("categories") or [] if isinstance(c, str)][:MAX_CATEGORIES]:
            fact = Fact(f"cat:{case_id}:{category}")
            fact.increments.add(updated.date().isoformat(), CASES, f"cat#{category}")
            facts.append(fact)
    sla = image.get("sla") or {}
    facts += [f for f in (first_response_fact(case_id, team, reopens, image, sla),
                          resolution_fact(case_id, team, reopens, image, sla)) if f is not None]
    return RecordWork(sequence, facts=facts) if facts else None


def response_bucket(ratio: float) -> str:
    return next(name for name, bound in RESPONSE_BUCKETS if ratio <= bound)


def first_response_fact(case_id: str, team: str, reopens: int, image: dict[str, Any],
                        sla: dict[str, Any]) -> Fact | None:
    answered = _time(_text(image, "first_response_at"))
    started, due = _time(_text(sla, "started_at")), _time(_text(sla, "first_response_due"))
    if answered is None or started is None or due is None:
        return None
    fact = Fact(f"fr:{case_id}:{reopens}")
    day = answered.date().isoformat()
    seconds = max(0, round((answered - started).total_seconds()))
    target = max(0, round((due - started).total_seconds()))
    met = answered <= due
    add = fact.increments.add
    add(day, RESPONSE, f"n#{team}")
    add(day, RESPONSE, f"{'met' if met else 'breached'}#{team}")
    add(day, RESPONSE, f"secs#{team}", seconds)
    add(day, RESPONSE, f"target#{team}", target)
    ratio = seconds / target if target else (0.0 if met else float("inf"))
    add(day, RESPONSE, f"bucket#{response_bucket(ratio)}")
    return fact


def resolution_fact(case_id: str, team: str, reopens: int, image: dict[str, Any],
                    sla: dict[str, Any]) -> Fact | None:
    resolved, due = _time(_text(image, "resolved_at")), _time(_text(sla, "resolution_due"))
    if _text(image, "status") != "resolved" or resolved is None or due is None:
        return None
    fact = Fact(f"res:{case_id}:{reopens}")
    fact.increments.add(resolved.date().isoformat(), RESPONSE, f"res_{'met' if resolved <= due else 'breached'}#{team}")
    return fact


def journey(channels: list[str]) -> list[str]:
    """The touchpoints before a call: consecutive repeats collapsed, the last ``MAX_STEPS``."""
    steps: list[str] = []
    for channel in channels:
        if not steps or steps[-1] != channel:
            steps.append(channel)
    return steps[-MAX_STEPS:]


def touchpoint_increments(call: Call, channels: list[str]) -> Increments:
    """The touchpoint map's counters for one call preceded by ``channels`` (oldest first)."""
    increments = Increments()
    steps = journey(channels)
    increments.add(call.day, TOUCHPOINTS, "calls")
    if not steps:
        increments.add(call.day, TOUCHPOINTS, "direct")
        return increments
    increments.add(call.day, TOUCHPOINTS, "seq#" + ">".join(steps))
    for distance, channel in enumerate(reversed(steps), start=1):
        increments.add(call.day, TOUCHPOINTS, f"pos#{distance}#{channel}")
    return increments
