"""CrmSyncFunction: consume crm-sync.fifo and upsert each case into the CRM.

Per message (``CrmSyncRequest``, a trigger - never a snapshot):

1. read the CRM state on the case (record id, acknowledged version); a message for a version
   the CRM already acknowledged is *stale* and dropped;
2. read the case's *current* view (``domain.crm_view``) - a retry therefore sends the latest
   version, never an old one - and drop it if that version was acknowledged meanwhile;
3. deliver ``case.upserted`` for that version through the adapter, at most once per delivery id
   (OnceGuard), then store the record id and acknowledged version on the case.

Failures never sleep. A ``Retryable`` (or ``Busy``) *puts the trigger off*: it is acknowledged
here and sent to the CRM retry queue (``crm/retry.py``) with the backoff or the CRM's
Retry-After, so waiting never spends crm-sync.fifo's receives; every trigger of that case later
in the batch rides on the same retry (the sync sends the case's current version anyway). Only
failures that are not rate limits count against ``CrmTuning.retry_attempts``; when those are
spent the trigger goes to the DLQ - unless the CRM already holds its version (stale) or a newer
version of the case has its own trigger (superseded), which are dropped. Without a retry queue
(or when it refuses) the record's visibility timeout is changed instead, as before. A
``Permanent`` failure is sent straight to the DLQ with its reason as a message attribute and
deleted from the queue, so it neither hammers the CRM with a request that cannot succeed nor
blocks its case's FIFO group. Anything unexpected (a bug, DynamoDB down) is simply re-raised: SQS
retries it and redrives it to the DLQ after maxReceiveCount.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from socialcare.config.settings import CrmSyncSettings, load
from socialcare.crm.base import CrmAdapter, CrmTuning, Permanent, Retryable
from socialcare.crm.factory import build_adapter
from socialcare.crm.ratelimit import TokenBucket
from socialcare.crm.retry import put_off
from socialcare.domain.crm_view import CaseSource
from socialcare.errors import Busy, PublishFailed, SecretUnavailable
from socialcare.flows.wiring import Wiring, required
from socialcare.models.crm import CaseUpserted, CrmSyncRequest
from socialcare.observability import erase_for_log, logger, metrics
from socialcare.ports import OnceGuard, Publisher
from socialcare.publish import RecordQueue
from socialcare.store.cases import CasesRepository

_MAX_VISIBILITY = 43_200  # SQS: 12 hours


Outcome = Literal["synced", "stale", "up_to_date", "missing", "merged_unsynced"]


@dataclass(frozen=True)
class SyncResult:
    outcome: Outcome
    case_id: str
    version: int | None = None
    record_id: str | None = None
    delivery_id: str | None = None


class CrmSync:
    def __init__(self, adapter: CrmAdapter, cases: CaseSource, records: CasesRepository, guard: OnceGuard) -> None:
        self.adapter = adapter
        self.cases = cases
        self.records = records
        self.guard = guard

    def sync(self, request: CrmSyncRequest) -> SyncResult:
        provider = self.adapter.provider
        state = self.records.crm_state(request.case_id)
        if state is None:
            # Erased (GDPR) or never written: nothing to send, and nothing will change that.
            return SyncResult("missing", request.case_id)
        same_crm = state.provider in (None, provider)
        if same_crm and request.version <= state.synced_version:
            return SyncResult("stale", request.case_id, request.version, state.record_id)
        if same_crm and state.case_version is not None and state.case_version <= state.synced_version:
            # A newer message already carried the current version there: skip the view read.
            return SyncResult("up_to_date", request.case_id, state.case_version, state.record_id)
        view = self.cases.get_case_view(request.case_id)
        if view is None:
            return SyncResult("missing", request.case_id)
        version = view.case.version
        if same_crm and version <= state.synced_version:
            return SyncResult("up_to_date", request.case_id, version, state.record_id)
        known = state.record_for(provider)
        if view.case.status == "merged" and known is None and not (same_crm and state.synced_version):
            # The CRM never saw this case: there is no record to close, and creating one only to
            # close it would show the customer's story twice (the survivor carries its timeline).
            self.records.record_crm_sync(request.case_id, provider=provider, record_id=None, version=version)
            return SyncResult("merged_unsynced", request.case_id, version)
        event = CaseUpserted.from_view(view)

        def deliver() -> str:
            return self.adapter.upsert_case(event, record_id=known).record_id

        record_id = self.guard.once(f"{provider}:deliver:{event.delivery_id}", deliver)
        self.records.record_crm_sync(request.case_id, provider=provider, record_id=record_id, version=version)
        return SyncResult("synced", request.case_id, version, record_id, event.delivery_id)


def retry_delay(
    receive_count: int, retry_after: float | None, tuning: CrmTuning, *, rng: random.Random | None = None
) -> int:
    """Seconds until the next attempt: the CRM's Retry-After when it gave one, else exponential
    backoff with jitter (half fixed, half random, so a burst of failures spreads out)."""
    if retry_after is not None:
        delay = retry_after
    else:
        ceiling = min(tuning.retry_max_seconds, tuning.retry_base_seconds * 2 ** max(0, receive_count - 1))
        ceiling *= tuning.time_scale
        delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    return int(min(_MAX_VISIBILITY, max(1, math.ceil(delay))))


@dataclass
class _PutOff:
    """One case's retry in this batch, and the records it carries (kept in case the send fails)."""

    request: CrmSyncRequest
    delay: int
    records: list[SQSRecord] = field(default_factory=list)

    def absorb(self, request: CrmSyncRequest, record: SQSRecord) -> None:
        if request.version > self.request.version:
            self.request = self.request.model_copy(update={"version": request.version})
        self.records.append(record)


class SyncConsumer:
    """The SQS side: one record -> one ``CrmSync.sync``, with retries through the CRM retry
    queue (or, without one, the visibility timeout) and the DLQ for permanent failures."""

    def __init__(self, service_factory: Callable[[], CrmSync], queue: RecordQueue, tuning: CrmTuning, *,
                 configured: bool = True, retries: Publisher | None = None) -> None:
        self._service_factory = service_factory
        # No CRM yet (provider "none"): versions are acknowledged to SQS but not recorded as synced,
        # so `socialcare crm reconcile` backfills them once a CRM is configured.
        self.configured = configured
        self._service: CrmSync | None = None
        self._context: Any = None
        self._deferred: dict[str, int] = {}  # message group -> delay given to its failed record
        self._deferred_ids: set[str] = set()
        self._put_offs: dict[str, _PutOff] = {}  # case id -> its retry, sent when the batch ends
        self.queue = queue
        self.retries = retries
        self.tuning = tuning
        # skip_group_on_error: a failing case holds back only its own later messages.
        self.processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A CRM outage fails every record of a batch; each already carries its own backoff, so
        # report them as item failures rather than raising a function error per invocation.
        self.processor.raise_on_entire_batch_failure = False

    @property
    def service(self) -> CrmSync:
        # Built on first use, not at cold start: a missing secret or credential must fail a
        # record (retried until someone fixes the configuration), never dead-letter good messages.
        if self._service is None:
            try:
                self._service = self._service_factory()
            except (Permanent, SecretUnavailable) as exc:
                raise Retryable(f"CRM is not configured: {exc.reason}") from exc
        return self._service

    def backoff_tuning(self) -> CrmTuning:
        """Our own backoff never exceeds the queue's visibility timeout: that is how long SQS itself
        would wait, and the local stack scales it down, so local retries take seconds too."""
        visibility = self.queue.visibility_timeout()
        if visibility is not None and 0 < visibility < self.tuning.retry_max_seconds:
            return self.tuning.model_copy(update={"retry_max_seconds": visibility})
        return self.tuning

    def handle_batch(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._context = context
        self._deferred = {}
        self._deferred_ids = set()
        self._put_offs = {}
        response = process_partial_response(
            event=event, record_handler=self.handle_record, processor=self.processor, context=context
        )
        failures = [dict(f) for f in response["batchItemFailures"]] + self._send_put_offs()
        self._defer_held_back(event, failures)
        return {**response, "batchItemFailures": failures}

    def _defer_held_back(self, event: dict[str, Any], failures: list[Any]) -> None:
        """Give the later records of a deferred case the same delay.

        The FIFO processor fails them unprocessed to keep the case's order. Left alone they would
        stay in flight for the queue's whole visibility timeout (180 s) - and SQS serves nothing
        of a message group while any of its messages is in flight, so the case's own retry
        would wait that long too, whatever backoff it was given.
        """
        failed = {f["itemIdentifier"] for f in failures}
        held: list[tuple[str, int]] = []
        for raw in event.get("Records", []):
            group = (raw.get("attributes") or {}).get("MessageGroupId", "")
            if raw["messageId"] in failed and group in self._deferred and raw["messageId"] not in self._deferred_ids:
                held.append((raw["receiptHandle"], self._deferred[group]))
        self.queue.defer(held)

    def _send_put_offs(self) -> list[dict[str, str]]:
        """Send this batch's retries (one per case); the records of a retry the queue refused fall
        back to a visibility-timeout retry and are reported failed (kept, never dropped)."""
        if not self._put_offs or self.retries is None:
            return []
        try:
            self.retries.crm_retries([p.request for p in self._put_offs.values()])
            return []
        except PublishFailed:
            logger.warning("the CRM retry queue refused this batch's retries", exc_info=True)
            refused = set(self._put_offs)
        failures: list[dict[str, str]] = []
        for case_id in refused:
            put = self._put_offs[case_id]
            for record in put.records:
                self.defer(record, "the CRM retry queue refused the retry", put.delay)
                failures.append({"itemIdentifier": record.message_id})
        return failures

    def handle_record(self, record: SQSRecord) -> str:
        try:
            request = CrmSyncRequest.model_validate_json(record.body)
        except ValidationError as exc:
            self.dead_letter(record, f"malformed crm-sync message: {exc.errors()[0]['msg']}")
            return "dead-lettered"
        logger.append_keys(case_id=request.case_id)
        if not self.configured:
            metrics.add_metric(name="CrmSync_not_configured", unit=MetricUnit.Count, value=1)
            return "not_configured"
        put = self._put_offs.get(request.case_id)
        if put is not None:
            # The case is already put off in this batch: its one retry syncs the newest version.
            put.absorb(request, record)
            return "coalesced"
        try:
            service = self.service
            register = getattr(service.guard, "register", None)
            if callable(register) and self._context is not None:
                register(self._context)
            result = service.sync(request)
        except (Retryable, Busy, SecretUnavailable) as exc:
            # SecretUnavailable: fail closed but keep the message - someone will fill the secret.
            rate_limited = isinstance(exc, Busy) or getattr(exc, "rate_limited", False)
            retry_after = getattr(exc, "retry_after", None)
            if self.retries is not None:
                return self.put_off(record, request, exc.reason, retry_after, rate_limited=rate_limited)
            self.defer(record, exc.reason, retry_after)
            raise Retryable(exc.reason) from exc
        except Permanent as exc:
            self.dead_letter(record, exc.reason)
            return "dead-lettered"
        return self._count(result.outcome, version=result.version, record_id=result.record_id,
                           delivery_id=result.delivery_id)

    @staticmethod
    def _count(outcome: str, **extra: Any) -> str:
        metrics.add_metric(name=f"CrmSync_{outcome}", unit=MetricUnit.Count, value=1)
        logger.info("crm sync", extra=erase_for_log({"outcome": outcome, **extra}, personal=["reason"]))
        return outcome

    def put_off(self, record: SQSRecord, request: CrmSyncRequest, reason: str, retry_after: float | None, *,
                rate_limited: bool) -> str:
        """Acknowledge the record and retry its case from the retry queue; only a failure that
        is not a rate limit spends one of ``retry_attempts``."""
        now = datetime.now(UTC)
        if not rate_limited and request.attempt + 1 >= self.tuning.retry_attempts:
            return self.give_up(record, request, f"{request.attempt + 1} failed tries, the last: {reason}")
        first = request.first_deferred_at
        if first is not None and (now - first).total_seconds() > self.tuning.retry_horizon_seconds:
            # Put off for longer than the horizon (a CRM rate-limiting for hours): stop circulating;
            # the scheduled reconcile re-publishes the case while its CRM copy lags.
            return self._count("retry_expired", reason=reason)
        tries = request.attempt + (0 if rate_limited else 1)
        delay = retry_delay(max(1, tries), retry_after, self.tuning)
        retry = put_off(request, delay=delay, rate_limited=rate_limited, now=now)
        self._put_offs[request.case_id] = _PutOff(retry, delay, [record])
        metrics.add_metric(name="CrmSyncRetries", unit=MetricUnit.Count, value=1)
        logged = {"reason": reason, "retry_in": delay, "attempt": retry.attempt, "rate_limited": rate_limited}
        logger.warning("crm sync put off", extra=erase_for_log(logged, personal=["reason"]))
        return "put_off"

    def give_up(self, record: SQSRecord, request: CrmSyncRequest, reason: str) -> str:
        """The retry budget is spent: dead-letter the trigger only if its version still matters."""
        state = self.service.records.crm_state(request.case_id)
        if state is None:
            return self._count("missing")
        if state.synced_version >= request.version:
            return self._count("stale", version=request.version)
        if state.case_version is not None and state.case_version > request.version:
            # A newer version was saved: its own trigger (the stream relays every version) carries
            # the sync, so this one is not worth an alarm.
            return self._count("superseded", version=request.version)
        self.dead_letter(record, reason)
        return "dead-lettered"

    def defer(self, record: SQSRecord, reason: str, retry_after: float | None) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        delay = retry_delay(receives, retry_after, self.backoff_tuning())
        metrics.add_metric(name="CrmSyncRetries", unit=MetricUnit.Count, value=1)
        logger.warning("crm sync deferred", extra=erase_for_log({"reason": reason, "retry_in": delay,
                                                                 "receive_count": receives}, personal=["reason"]))
        self._deferred[record.attributes.message_group_id or ""] = delay
        self._deferred_ids.add(record.message_id)
        self.queue.defer([(record.receipt_handle, delay)])

    def dead_letter(self, record: SQSRecord, reason: str) -> None:
        """Move the record to the DLQ now, with a readable reason; the batch then deletes it."""
        metrics.add_metric(name="CrmSyncFailures", unit=MetricUnit.Count, value=1)
        # A CRM's refusal may quote the record (the customer's e-mail, phone): erased from the log
        # line; the DLQ message keeps the whole reason for whoever redrives it.
        logger.error("crm sync failed permanently",
                     extra=erase_for_log({"reason": reason, "message_id": record.message_id}, personal=["reason"]))
        self.queue.dead_letter(record.body, group_id=record.attributes.message_group_id or "crm-sync",
                               source_message_id=record.message_id, reason=reason)


def crm_sync(wiring: Wiring) -> CrmSync:
    """The production CrmSync: adapter per SOCIALCARE_CRM_PROVIDER, the StateTable token bucket,
    the Powertools idempotency guard, the cases read model and CRM state."""
    s, tuning = wiring.settings, wiring.crm_tuning
    limiter = TokenBucket(s.crm_provider, wiring.state, rate_per_second=tuning.rate_per_second, burst=tuning.burst)
    adapter = build_adapter(s.crm_provider, wiring.secrets, webhook_url=s.crm_webhook_url, limiter=limiter,
                            guard=wiring.guard, tuning=tuning)
    return CrmSync(adapter, wiring.crm_views, wiring.cases_repo, wiring.guard)


def build(wiring: Wiring | None = None) -> SyncConsumer:
    """CrmSyncFunction's flow, its settings validated at cold start."""
    w = wiring or Wiring(load(CrmSyncSettings))
    queue = RecordQueue(w.client("sqs"), required(w.settings, "crm_sync_queue_url"))
    retry_url = w.settings.crm_retry_queue_url
    return SyncConsumer(lambda: crm_sync(w), queue, w.crm_tuning, configured=w.settings.crm_configured,
                        retries=w.publisher if retry_url else None)
