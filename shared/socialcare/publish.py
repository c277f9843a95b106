"""The one publisher: every message socialcare sends goes through here.

| message | queue / topic | group | dedupe key |
|---|---|---|---|
| ``InboundEvent`` | inbound.fifo | the author | message id + action (+ edit marker / status) |
| ``WorkItem`` | social-team.fifo / callcentre-team.fifo | the case | the item id (its cause) |
| ``CrmSyncRequest`` | crm-sync.fifo | the case | case id + version |
| ``CrmSyncRequest`` put off | crm-retry (standard: delayed until due) | - | - |
| ``OutboundMessage`` | outbound.fifo | the case | the reply's interaction id |
| alerts | the alerts SNS topic | - | - |

One dedupe-id rule: the SQS ``MessageDeduplicationId`` is the SHA-256 of the message's
``dedupe_key``, so a redelivered cause gives the same id and SQS drops the copy.

One size policy (``transport_body``/``unwrap_body``): a body over 200 KiB travels compressed
(``{"socialcare_zlib_b64": ...}``); one still over SQS's 256 KiB is written to the media bucket
under ``inbound-events/`` (expired by the bucket's lifecycle) and the message carries only its
key (``{"socialcare_s3_key": ...}``, the claim-check pattern). Consumers read every body through
``unwrap_body``. A publisher given no bucket refuses such a message with 413.

One failure policy: every call is all-or-nothing. Entries SQS refuses are retried once (a
SendMessageBatch can partially fail on throttling); what still fails raises ``PublishFailed``
(503). In a request path that 503 tells the platform to redeliver; in a queue consumer it fails
the record, which SQS retries and then dead-letters. Nothing is ever acknowledged and dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger

from socialcare.errors import ConfigurationError, PayloadTooLarge, PublishFailed
from socialcare.models.teams import Team

# Annotations only: a webhook publishes inbound events, and building the work-item, case, CRM
# and reply models it never sends would add ~30 ms to its cold start.
if TYPE_CHECKING:
    from socialcare.models.crm import CrmSyncRequest
    from socialcare.models.interaction import InboundEvent
    from socialcare.models.reply import OutboundMessage
    from socialcare.models.workitem import WorkItem

MAX_DELAY_SECONDS = 900  # SQS delays a standard queue's message at most 15 minutes

logger = Logger(child=True)

SQS_BATCH = 10  # SendMessageBatch takes at most 10 entries...
_BATCH_BYTES = 250 * 1024  # ... and 256 KiB in all; keep headroom
_MESSAGE_BYTES = 256 * 1024
_INLINE_BYTES = 200 * 1024  # above this a body travels compressed
PACKED = "socialcare_zlib_b64"
CLAIM_CHECK = "socialcare_s3_key"
CLAIM_PREFIX = "inbound-events/"  # the template's lifecycle rule expires it; the webhooks may write only here


class ClaimChecks(Protocol):
    """Where bodies too large for SQS wait for their consumer (``store.media.MediaStore``)."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes | None: ...


class QueueMessage(Protocol):
    @property
    def group_id(self) -> str: ...

    @property
    def dedupe_key(self) -> str: ...

    def queue_body(self) -> str: ...


def dedupe_id(message: QueueMessage) -> str:
    """The SQS dedupe id of ``message`` (the one rule: SHA-256 of its dedupe key)."""
    return hashlib.sha256(message.dedupe_key.encode()).hexdigest()


def transport_body(message: QueueMessage, claims: ClaimChecks | None = None, *, pack: bool = True) -> str:
    """The SQS body of ``message``: as is, compressed, or a claim check on the bucket (only
    as is when not ``pack``: for queues whose consumers do not read through ``unwrap_body``).

    The claim's key is the message's dedupe id, so a platform's redelivery rewrites the same
    object. Raises ``PublishFailed`` (503: the platform retries) when the bucket refuses it,
    ``PayloadTooLarge`` (413) when it is needed and no bucket was given.
    """
    body = message.queue_body()
    data = body.encode()
    if len(data) <= (_INLINE_BYTES if pack else _MESSAGE_BYTES):
        return body
    packed = json.dumps({PACKED: base64.b64encode(zlib.compress(data, 9)).decode()}) if pack else body
    if len(packed) <= _MESSAGE_BYTES:
        return packed
    if claims is None or not pack:
        raise PayloadTooLarge(f"a message of {len(data)} bytes is over SQS's 256 KiB, even compressed",
                              dedupe_key=message.dedupe_key[:200])
    key = f"{CLAIM_PREFIX}{dedupe_id(message)}.json"
    try:
        claims.put_bytes(key, data, "application/json")
    except Exception as exc:
        raise PublishFailed("the media bucket refused a message too large for SQS",
                            dedupe_key=message.dedupe_key[:200]) from exc
    logger.info("message sent by claim check", extra={"key": key, "bytes": len(data)})
    return json.dumps({CLAIM_CHECK: key})


def unwrap_body(body: str, claims: ClaimChecks | None = None) -> str:
    """The JSON a publisher made (``transport_body`` undone): decompressed, or fetched from the
    bucket. A claim whose object is gone raises ``LookupError`` (the record is retried, then
    dead-lettered with its pointer)."""
    if body.startswith('{"' + PACKED + '"'):
        return zlib.decompress(base64.b64decode(json.loads(body)[PACKED])).decode()
    if body.startswith('{"' + CLAIM_CHECK + '"'):
        key = str(json.loads(body)[CLAIM_CHECK])
        if not key.startswith(CLAIM_PREFIX) or claims is None:
            raise LookupError(f"a claim check this consumer cannot follow: {key[:200]}")
        data = claims.get_bytes(key)
        if data is None:
            raise LookupError(f"the claim-checked message {key} is gone")
        return data.decode()
    return body


class Publisher:
    """SQS and SNS behind one interface (``ports.Publisher``); URLs come from the settings."""

    def __init__(
        self,
        sqs: Any,
        sns: Callable[[], Any] | None = None,
        *,
        inbound_url: str | None = None,
        team_urls: Mapping[Team, str | None] | None = None,
        crm_sync_url: str | None = None,
        crm_retry_url: str | None = None,
        outbound_url: str | None = None,
        alerts_topic: str | None = None,
        erasure_url: str | None = None,
    ) -> None:
        self.sqs = sqs
        self.sns = sns  # a factory: the SNS client is built on the first alert, not at cold start
        self.inbound_url = inbound_url
        self.team_urls = dict(team_urls or {})
        self.crm_sync_url = crm_sync_url
        self.crm_retry_url = crm_retry_url
        self.outbound_url = outbound_url
        self.erasure_url = erasure_url
        self.alerts_topic = alerts_topic

    # ------------------------------------------------------------------ messages
    def inbound(self, events: Sequence[InboundEvent], claims: ClaimChecks | None = None) -> int:
        """Publish inbound events; with ``claims``, one too large for SQS even compressed goes by
        claim check (see ``transport_body``)."""
        self._send("inbound", self.inbound_url, events, claims, pack=True)
        return len(events)

    def work_items(self, items: Sequence[WorkItem]) -> None:
        for team in Team:
            mine = [item for item in items if item.team is team]
            if mine:
                self._send(f"{team.value} team", self.team_urls.get(team), mine)

    def crm_syncs(self, requests: Sequence[CrmSyncRequest]) -> None:
        self._send("crm-sync", self.crm_sync_url, requests)

    def crm_retries(self, requests: Sequence[CrmSyncRequest]) -> None:
        """Put off CRM syncs on the retry queue (a standard queue: no group, no dedupe id), each
        delayed until it is due - at most SQS's 15 minutes; the relay re-delays longer waits."""
        self._send("crm-retry", self.crm_retry_url, requests,
                   delay=lambda message: min(MAX_DELAY_SECONDS, message.due_in()))

    def outbound(self, replies: Sequence[OutboundMessage]) -> None:
        self._send("outbound", self.outbound_url, replies)

    def erasures(self, requests: Sequence[Any]) -> None:
        """Erasure jobs for ErasureFunction (``models.privacy.ErasureRequest``; a standard queue)."""
        self._send("erasure", self.erasure_url, requests, delay=lambda message: 0)

    def alert(self, subject: str, message: Mapping[str, Any]) -> None:
        """Publish an alert on the alerts topic (on-call e-mail, chat, pager)."""
        if not self.alerts_topic or self.sns is None:
            raise ConfigurationError("the alerts topic is not configured for this function")
        try:
            self.sns().publish(TopicArn=self.alerts_topic, Subject=subject[:100],
                             Message=json.dumps(message, default=str))
        except Exception as exc:
            raise PublishFailed(f"alerts topic refused {subject!r}") from exc

    # ------------------------------------------------------------------ SQS
    def _send(self, queue: str, url: str | None, messages: Sequence[Any],
              claims: ClaimChecks | None = None, *, pack: bool = False,
              delay: Callable[[Any], int] | None = None) -> None:
        """``delay``: a standard queue's per-message delay (FIFO queues have none, and take a
        group and a dedupe id instead)."""
        if not messages:
            return
        if not url:
            raise ConfigurationError(f"the {queue} queue is not configured for this function")
        for entries in _batches(messages, claims, pack, delay):
            self._send_batch(queue, url, entries)

    def _send_batch(self, queue: str, url: str, entries: list[dict[str, Any]]) -> None:
        for attempt in (1, 2):
            try:
                result = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            except Exception as exc:
                if attempt == 2:
                    raise PublishFailed(f"the {queue} queue rejected {len(entries)} message(s)") from exc
                continue
            failed = {f["Id"]: f.get("Code") for f in result.get("Failed", [])}
            if not failed:
                return
            logger.warning("publish partially failed", extra={"queue": queue, "failed": failed, "attempt": attempt})
            if attempt == 2:
                raise PublishFailed(f"the {queue} queue rejected {len(failed)} message(s)", failed=sorted(failed))
            entries = [e for e in entries if e["Id"] in failed]


def _batches(messages: Sequence[Any], claims: ClaimChecks | None, pack: bool,
             delay: Callable[[Any], int] | None = None) -> list[list[dict[str, Any]]]:
    """SendMessageBatch entries, at most 10 and 250 KiB of UTF-8 per batch (SQS counts bytes:
    an emoji is one character and four bytes)."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        body = transport_body(message, claims, pack=pack)
        length = len(body.encode())
        if current and (len(current) == SQS_BATCH or size + length > _BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        entry: dict[str, Any] = {"Id": str(len(current)), "MessageBody": body}
        if delay is None:
            entry.update(MessageGroupId=message.group_id[:128], MessageDeduplicationId=dedupe_id(message))
        else:
            entry["DelaySeconds"] = delay(message)
        current.append(entry)
        size += length
    if current:
        batches.append(current)
    return batches


class RecordQueue:
    """The queue a consumer reads, for what Lambda's event source mapping does not do itself:
    delay a record's retry (visibility), and dead-letter a record at once with a readable reason
    instead of letting it fail ``maxReceiveCount`` times."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self._attributes: dict[str, str] | None = None

    def attributes(self) -> dict[str, str]:
        """RedrivePolicy and VisibilityTimeout, read once per execution environment: the template
        (and the local stack's time scale) stay the one source of both."""
        if self._attributes is None:
            answer = self.sqs.get_queue_attributes(QueueUrl=self.url,
                                                   AttributeNames=["RedrivePolicy", "VisibilityTimeout"])
            self._attributes = dict(answer.get("Attributes") or {})
        return self._attributes

    def visibility_timeout(self) -> float | None:
        try:
            return float(self.attributes().get("VisibilityTimeout", "0")) or None
        except Exception:  # no permission, no queue: the caller keeps its own cap
            return None

    def dlq_url(self) -> str:
        target = json.loads(self.attributes()["RedrivePolicy"])["deadLetterTargetArn"]
        return f"{self.url.rsplit('/', 1)[0]}/{target.rsplit(':', 1)[1]}"

    def defer(self, receipts: Sequence[tuple[str, int]]) -> None:
        """Make each (receipt handle, seconds) record visible again only after that delay. Best
        effort: a record whose delay is lost still comes back after the queue's own timeout."""
        entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": s} for i, (r, s) in enumerate(receipts)]
        for start in range(0, len(entries), SQS_BATCH):
            try:
                result = self.sqs.change_message_visibility_batch(QueueUrl=self.url,
                                                                  Entries=entries[start : start + SQS_BATCH])
            except Exception:
                logger.exception("could not delay the retry of records")
                continue
            if result.get("Failed"):
                logger.warning("could not delay the retry of some records",
                               extra={"failed": [(f.get("Id"), f.get("Code")) for f in result["Failed"]]})

    def dead_letter(self, body: str, *, group_id: str, source_message_id: str, reason: str) -> None:
        """Move a record to the queue's DLQ now, with its reason as a message attribute."""
        try:
            self.sqs.send_message(
                QueueUrl=self.dlq_url(), MessageBody=body, MessageGroupId=group_id,
                MessageDeduplicationId=source_message_id,
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                    "source_message_id": {"DataType": "String", "StringValue": source_message_id},
                },
            )
        except Exception as exc:
            raise PublishFailed(f"the dead-letter queue refused message {source_message_id}") from exc


class WorkItemOutbox:
    """A ``Publisher`` whose work items wait for ``flush``: a queue consumer publishes the work
    items of a whole SQS batch in one SendMessageBatch per team instead of one per record.

    Safe because a work item's id is its cause: a batch whose flush fails is failed whole, every
    record is redelivered as a duplicate and publishes the same ids again (SQS drops the copies
    within its dedupe window; the dispatcher delivers an id once). Everything else goes through.
    """

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher
        self.pending: list[WorkItem] | None = None  # None: not in a batch, items leave at once

    def work_items(self, items: Sequence[WorkItem]) -> None:
        if self.pending is None:
            self.publisher.work_items(items)
        else:
            self.pending.extend(items)

    def open(self) -> None:
        """Hold work items from now until ``flush``."""
        self.pending = []

    def flush(self) -> None:
        pending, self.pending = self.pending or [], None
        self.publisher.work_items(pending)

    def __getattr__(self, name: str) -> Any:  # inbound, crm_syncs, outbound, alert: unchanged
        return getattr(self.publisher, name)
