"""``socialcare dlq list|show|redrive``: the stack's dead-letter queues, read and emptied safely.

A DLQ is any queue of the stack that another queue's ``RedrivePolicy`` names; that queue is its
source. Nothing here is a list kept by hand: a queue added to template.yaml with a redrive policy
shows up in ``dlq list`` the moment it is deployed.

* ``peek`` receives messages with a short visibility timeout and sets it back to 0 at once:
  nothing is consumed, every message is visible again when the command returns (a FIFO queue
  returns at most one batch per message group while the group is in flight: see docs/operations.md).
* ``redrive`` moves messages back to their source queue: SQS's own ``StartMessageMoveTask``
  when the whole queue goes to a deployed stack, else (``--limit``, the local stack, where moto
  lacks the API, or a refusal) receive / send / delete in batches, each message keeping its FIFO
  group and getting a fresh deduplication id (the original one may still sit in the source
  queue's five-minute window and would be dropped), derived from the DLQ message id so that a
  rerun after a crash between send and delete is deduplicated by SQS.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from socialcare_infra.ops import QUEUE, Target

PEEK_VISIBILITY_S = 30  # long enough to read a few batches; reset to 0 before returning
MOVE_VISIBILITY_S = 60  # a message being moved stays hidden this long if the move dies half-way
BATCH = 10  # SQS's receive/send/delete batch limit
_DEPTH = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")

Progress = Callable[[int, int | None], None]  # (done so far, total if known)


@dataclass
class DeadLetterQueue:
    logical_id: str
    url: str
    arn: str
    fifo: bool
    depth: int = 0
    in_flight: int = 0
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (logical id, url, arn)

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def dead_letter_queues(target: Target) -> list[DeadLetterQueue]:
    """Every DLQ of the stack with its depth and its source queue(s), by logical id."""
    sqs = target.client("sqs")
    attributes: dict[str, tuple[str, dict[str, str]]] = {}
    for res in target.of_type(QUEUE):
        got = sqs.get_queue_attributes(QueueUrl=res.physical_id, AttributeNames=["All"])["Attributes"]
        attributes[res.logical_id] = (res.physical_id, got)
    by_arn = {attrs["QueueArn"]: lid for lid, (_, attrs) in attributes.items()}
    dlqs: dict[str, DeadLetterQueue] = {}
    for lid, (url, attrs) in sorted(attributes.items()):
        if "RedrivePolicy" not in attrs:
            continue
        target_arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
        dlq_id = by_arn.get(target_arn)
        if dlq_id is None:
            continue  # a DLQ outside the stack: not ours to show
        dlq_url, dlq_attrs = attributes[dlq_id]
        dlq = dlqs.setdefault(dlq_id, DeadLetterQueue(
            dlq_id, dlq_url, dlq_attrs["QueueArn"], dlq_attrs.get("FifoQueue") == "true",
            int(dlq_attrs.get(_DEPTH[0], 0)), int(dlq_attrs.get(_DEPTH[1], 0))))
        dlq.sources.append((lid, url, attrs["QueueArn"]))
    return sorted(dlqs.values(), key=lambda d: d.logical_id)


def find(dlqs: list[DeadLetterQueue], wanted: str) -> DeadLetterQueue:
    """The DLQ named by its logical id (any case), its queue name, or its source queue's."""
    key = wanted.strip().lower()
    for dlq in dlqs:
        names = {dlq.logical_id.lower(), dlq.name.lower(), dlq.url.lower()}
        names |= {n.lower() for lid, url, _ in dlq.sources for n in (lid, url.rsplit("/", 1)[-1])}
        if key in names:
            return dlq
    known = ", ".join(d.logical_id for d in dlqs) or "none"
    raise LookupError(f"no dead-letter queue {wanted!r} in this stack (its DLQs: {known})")


# ---------------------------------------------------------------------------------- peek
@dataclass
class Peeked:
    message_id: str
    group: str | None
    receive_count: int
    sent_at: str | None
    attributes: dict[str, str]
    body: str


def peek(target: Target, dlq: DeadLetterQueue, limit: int) -> list[Peeked]:
    """Up to ``limit`` messages, read without consuming them: each is visible again on return."""
    sqs = target.client("sqs")
    seen: dict[str, Peeked] = {}
    receipts: list[str] = []
    try:
        while len(seen) < limit:
            got = _receive(sqs, dlq.url, min(BATCH, limit - len(seen)), PEEK_VISIBILITY_S)
            if not got:
                break
            for message in got:
                receipts.append(message["ReceiptHandle"])
                if message["MessageId"] not in seen and len(seen) < limit:
                    seen[message["MessageId"]] = _peeked(message)
    finally:
        _release(sqs, dlq.url, receipts)
    return list(seen.values())


def _receive(sqs: Any, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
    # A one-second long poll: a short poll samples a subset of SQS's servers and may answer
    # "empty" while messages remain, which would end a peek or a redrive early.
    return list(sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=count, VisibilityTimeout=visibility, WaitTimeSeconds=1,
        AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", []))


def _release(sqs: Any, url: str, receipts: list[str]) -> None:
    for start in range(0, len(receipts), BATCH):
        entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                   for i, r in enumerate(receipts[start:start + BATCH])]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def _peeked(message: dict[str, Any]) -> Peeked:
    system = message.get("Attributes") or {}
    attributes = {name: str(value.get("StringValue", value.get("BinaryValue", "")))
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    sent = system.get("SentTimestamp")
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(sent) / 1000)) if sent else None
    return Peeked(message["MessageId"], system.get("MessageGroupId"), int(system.get("ApproximateReceiveCount", 0)),
                  sent_at, attributes, message.get("Body", ""))


# ---------------------------------------------------------------------------------- redrive
@dataclass
class Moved:
    moved: int = 0
    failed: int = 0
    how: str = "receive/send/delete"
    note: str | None = None


def source_of(dlq: DeadLetterQueue) -> tuple[str, str, str]:
    if len(dlq.sources) != 1:
        names = ", ".join(lid for lid, _, _ in dlq.sources)
        raise LookupError(f"{dlq.logical_id} is the DLQ of several queues ({names}): redrive it by hand")
    return dlq.sources[0]


def redrive(target: Target, dlq: DeadLetterQueue, limit: int | None, progress: Progress) -> Moved:
    """Move up to ``limit`` messages (all when None) from ``dlq`` back to its source queue."""
    _, source_url, source_arn = source_of(dlq)
    sqs = target.client("sqs")
    note = None
    if limit is None and not target.local:
        try:
            return _move_task(sqs, dlq, source_arn, progress)
        except NotImplementedError as exc:  # an emulator without the API
            note = f"StartMessageMoveTask unavailable ({exc}): moved one batch at a time"
        except Exception as exc:  # botocore ClientError: no permission, an unsupported queue...
            note = f"StartMessageMoveTask refused ({_code(exc)}): moved one batch at a time"
    result = _move_by_hand(sqs, dlq, source_url, limit, progress)
    result.note = note
    return result


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or type(exc).__name__)


def _move_task(sqs: Any, dlq: DeadLetterQueue, source_arn: str, progress: Progress) -> Moved:
    handle = sqs.start_message_move_task(SourceArn=dlq.arn, DestinationArn=source_arn)["TaskHandle"]
    unseen = 0
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq.arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else None)
        if task is None:
            unseen += 1
            if unseen > 30:  # the task never showed up: say so rather than wait for ever
                return Moved(0, 0, "StartMessageMoveTask", f"task {handle} not listed: see the SQS console")
            time.sleep(1)
            continue
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        progress(moved, task.get("ApproximateNumberOfMessagesToMove"))
        status = task.get("Status", "RUNNING")
        if status in ("COMPLETED", "CANCELLED", "FAILED"):
            failed = 0 if status == "COMPLETED" else int(task.get("ApproximateNumberOfMessagesToMove", 0)) - moved
            note = None if status == "COMPLETED" else f"task {status.lower()}: {task.get('FailureReason', '')}"
            return Moved(moved, max(failed, 0), "StartMessageMoveTask", note)
        time.sleep(1)


def _move_by_hand(sqs: Any, dlq: DeadLetterQueue, source_url: str, limit: int | None, progress: Progress) -> Moved:
    total = dlq.depth if limit is None else min(limit, dlq.depth)
    result = Moved()
    progress(0, total)
    for batch in _batches(sqs, dlq.url, limit):
        entries = [_entry(str(i), message, dlq.fifo) for i, message in enumerate(batch)]
        sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
        ok = {s["Id"] for s in sent.get("Successful", [])}
        result.failed += len(entries) - len(ok)
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq.url, Entries=done)
        result.moved += len(done)
        progress(result.moved, max(total, result.moved))
        if len(done) < len(entries):
            break  # the source refuses: stop rather than cycle through the same messages
    return result


def _batches(sqs: Any, url: str, limit: int | None) -> Iterator[list[dict[str, Any]]]:
    taken = 0
    while limit is None or taken < limit:
        got = _receive(sqs, url, BATCH if limit is None else min(BATCH, limit - taken), MOVE_VISIBILITY_S)
        if not got:
            return
        taken += len(got)
        yield got


def _entry(entry_id: str, message: dict[str, Any], fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
    attributes = {name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    if attributes:
        entry["MessageAttributes"] = attributes  # the reason a consumer dead-lettered it stays with it
    if fifo:
        system = message.get("Attributes") or {}
        entry["MessageGroupId"] = system.get("MessageGroupId") or "redrive"
        entry["MessageDeduplicationId"] = hashlib.sha256(f"redrive|{message['MessageId']}".encode()).hexdigest()
    return entry
