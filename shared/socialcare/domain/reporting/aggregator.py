"""ReportAggregator: a batch of stream records becomes a few ADDs on the day counters.

Per batch: the records' facts (``facts.record_work``), one BatchGetItem of their claims, and
one TransactWriteItems per run of records (claims of the new facts + one ADD per touched day
and family), plus one timeline Query per phone call for its touchpoints. Nothing is read from
the processor's hot path and nothing is written to the tables it uses.

Guarantee (docs/reports.md): every fact is counted exactly once. Its claim and its counters are
written in one transaction, conditional on the claim's absence, so a batch Lambda delivers
again (a retry, a bisected half, a record replayed after a crash) adds nothing it already
added, and a fact seen twice in a batch is counted once. A transaction that loses a race with
another writer is read again and retried; one that still fails reports its first record as
failed, so Lambda retries from there and the runs before it stay counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger

from socialcare.domain.reporting.facts import (
    CUSTOMERS,
    JOURNEY_DAYS,
    KEEP_CUSTOMER_DAYS,
    KEEP_FACT_DAYS,
    RecordWork,
    customer_day_key,
    customer_key,
    record_work,
    touchpoint_increments,
)
from socialcare.store.journeys import Journeys
from socialcare.store.reports import TRANSACTION_LIMIT, Claim, ClaimsRaced, Increments, ReportsRepository

logger = Logger(child=True)
ATTEMPTS = 3
# Counter items one record may touch beyond its claims (VOL, REACH, CUST, TP... of one day).
_FAMILIES_PER_RECORD = 6


@dataclass
class Run:
    """Consecutive records written together: their new claims and the sum of their ADDs."""

    first: int  # index of its first record in the batch
    claims: list[Claim] = field(default_factory=list)
    increments: Increments = field(default_factory=Increments)
    records: int = 0
    facts: set[str] = field(default_factory=set)

    def claim(self, claim: Claim) -> None:
        self.claims.append(claim)
        self.facts.add(claim.fact)

    @property
    def actions(self) -> int:
        return len(self.claims) + len(self.increments)


@dataclass
class Outcome:
    counted: int = 0  # records that added something
    written: int = 0  # records whose runs are written (from the batch's start)
    failed_sequence: str | None = None


class ReportAggregator:
    def __init__(self, reports: ReportsRepository, journeys: Journeys) -> None:
        self.reports = reports
        self.journeys = journeys

    def aggregate(self, records: Sequence[dict[str, Any]]) -> Outcome:
        """Count a batch of stream records (in order); ``failed_sequence`` names the first record
        not counted when a run could not be written."""
        works = [w for w in (record_work(r) for r in records) if w is not None]
        outcome = Outcome()
        for attempt in range(ATTEMPTS):
            try:
                self._count_from(works, outcome)
                return outcome
            except ClaimsRaced as raced:
                logger.warning("report counters raced another writer; reading again",
                               extra={"attempt": attempt + 1, "codes": str(raced)})
        outcome.failed_sequence = works[outcome.written].sequence
        return outcome

    def _count_from(self, works: list[RecordWork], outcome: Outcome) -> None:
        """Claim-check the records not yet written and write them run by run."""
        start = outcome.written
        if start >= len(works):
            return
        claimed = self.reports.claimed({k for w in works[start:] for k in w.fact_keys()})
        done = set(claimed)
        first_days = {k: str(v.get("first_day", "")) for k, v in claimed.items() if k.startswith("cust:")}
        run = Run(start)
        for index in range(start, len(works)):
            room = len(works[index].fact_keys()) + _FAMILIES_PER_RECORD
            if run.actions + room > TRANSACTION_LIMIT:
                self._write(run, index, outcome)
                done.update(run.facts)
                run = Run(index)
            self._add(works[index], run, done, first_days)
        self._write(run, len(works), outcome)

    def _write(self, run: Run, end: int, outcome: Outcome) -> None:
        self.reports.count(run.claims, run.increments)
        outcome.counted += run.records
        outcome.written = end

    def _add(self, work: RecordWork, run: Run, claimed: set[str], first_days: dict[str, str]) -> None:
        """Add the record's new facts to the run."""
        if work.gate is not None and (work.gate.key in claimed or work.gate.key in run.facts):
            return
        added = False
        for fact in ([work.gate] if work.gate else []) + work.facts:
            if fact.key in claimed or fact.key in run.facts:
                continue
            run.claim(Claim(fact.key, fact.keep_days))
            run.increments.merge(fact.increments)
            added = True
        if work.customer_day is not None:
            added = self._customer_day(work, run, claimed, first_days) or added
        if work.call is not None:
            call = work.call
            since = call.at - timedelta(days=JOURNEY_DAYS)
            channels = self.journeys.channels_before(call.customer_id, call.timeline_sk, since)
            run.increments.merge(touchpoint_increments(call, channels))
        run.records += 1 if added else 0

    def _customer_day(self, work: RecordWork, run: Run, claimed: set[str], first_days: dict[str, str]) -> bool:
        """The customer wrote on this day: counted once per day, as new (her first day) or returning."""
        assert work.customer_day is not None
        customer, day = work.customer_day.customer_id, work.customer_day.day
        day_key = customer_day_key(customer, day)
        if day_key in claimed or day_key in run.facts:
            return False
        run.claim(Claim(day_key, KEEP_FACT_DAYS))
        cust_key = customer_key(customer)
        first = first_days.get(cust_key)
        if not first:
            first_days[cust_key] = day
            run.claim(Claim(cust_key, KEEP_CUSTOMER_DAYS, {"first_day": day}))
        returning = bool(first) and str(first) < day
        run.increments.add(day, CUSTOMERS, "active")
        run.increments.add(day, CUSTOMERS, "returning" if returning else "new")
        return True
