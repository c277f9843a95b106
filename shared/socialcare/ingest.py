"""Make inbound events durable: one SendMessageBatch per 10 events onto inbound.fifo.

This is the whole of a webhook function's work after verification and splitting: the platform
gets its 200 as soon as SQS has the events, and a failure here is answered 5xx so the platform
retries (ARCHITECTURE.md §1).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger

from socialcare import aws
from socialcare.errors import EnqueueFailed
from socialcare.models.interaction import InboundEvent
from socialcare.settings import get_settings

logger = Logger(child=True)

_BATCH = 10  # SQS SendMessageBatch limit on entries
_BATCH_BYTES = 250 * 1024  # ... and on the whole request's payload (256 KiB), with headroom
# SQS accepts 256 KiB per message on every endpoint we run against; keep headroom for the
# envelope. Larger raw slices (WhatsApp media-heavy batches) travel compressed.
_INLINE_RAW_LIMIT = 200 * 1024


def encode(event: InboundEvent) -> str:
    body = event.model_dump_json()
    if len(body) <= _INLINE_RAW_LIMIT or event.raw is None:
        return body
    packed = base64.b64encode(zlib.compress(json.dumps(event.raw).encode(), 9)).decode()
    return event.model_copy(update={"raw": {"_zlib_b64": packed}}).model_dump_json()


def decode_raw(raw: Any) -> Any:
    if isinstance(raw, dict) and set(raw) == {"_zlib_b64"}:
        return json.loads(zlib.decompress(base64.b64decode(raw["_zlib_b64"])))
    return raw


def _batches(events: Sequence[InboundEvent]) -> list[list[dict[str, Any]]]:
    """SendMessageBatch entries, at most 10 and 250 KiB per batch."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for ev in events:
        body = encode(ev)
        if current and (len(current) == _BATCH or size + len(body) > _BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(
            {
                "Id": str(len(current)),
                "MessageBody": body,
                "MessageGroupId": ev.group_id,
                "MessageDeduplicationId": ev.dedupe_id,
            }
        )
        size += len(body)
    if current:
        batches.append(current)
    return batches


def enqueue(events: Sequence[InboundEvent], queue_url: str | None = None) -> int:
    """Send every event; raise EnqueueFailed unless all of them were accepted."""
    url = queue_url or get_settings().inbound_queue_url
    if not url:
        raise EnqueueFailed("inbound queue is not configured")
    sqs = aws.sqs()
    for entries in _batches(events):
        # One retry of just the failed entries: SendMessageBatch can partially fail on
        # throttling; a second failure is the platform's cue to redeliver the whole POST.
        for attempt in (1, 2):
            try:
                result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            except Exception as exc:
                if attempt == 2:
                    raise EnqueueFailed("inbound queue rejected the events") from exc
                continue
            failed = {f["Id"] for f in result.get("Failed", [])}
            if not failed:
                break
            logger.warning("enqueue partially failed", extra={"failed": sorted(failed), "attempt": attempt})
            if attempt == 2:
                raise EnqueueFailed("inbound queue rejected some events", failed=sorted(failed))
            entries = [e for e in entries if e["Id"] in failed]
    return len(events)
