"""DynamoDB stream event sources with Lambda's semantics, read through moto's dynamodbstreams API.

A poller per ``Type: DynamoDB`` event reads the stream shard by shard, skips the records no
``FilterCriteria`` pattern matches and invokes the function with batches of up to ``BatchSize``
records, in order within a shard. Success checkpoints past the batch; an error retries it
(halved with ``BisectBatchOnFunctionError``) until ``MaximumRetryAttempts`` skips it; with
``ReportBatchItemFailures`` the lowest failed sequence number is the checkpoint. The decisions
are pure functions (``settle``, ``take_batch``); only ``StreamReader`` talks to AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config

from socialcare_infra.esm import failed_message_ids, filter_patterns, flag, matches_any
from socialcare_infra.invoke import MAX_PAYLOAD_BYTES, FunctionRunner, InvokeResult
from socialcare_infra.provision import local_session, scale_seconds
from socialcare_infra.template import TemplateError

log = logging.getLogger(__name__)

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
# GetRecords returns at most this many records per call.
GET_RECORDS_LIMIT = 1000
# Lambda polls a shard four times a second; idle, we back off to once a second (every read takes
# a new shard iterator; moto_app bounds how many moto keeps).
_IDLE_MIN_S = 0.25
_IDLE_MAX_S = 1.0
# Not emulated (property -> the value that behaves the same): any other value is logged.
_NOT_EMULATED = {"DestinationConfig": None, "MaximumRecordAgeInSeconds": "-1", "ParallelizationFactor": "1",
                 "TumblingWindowInSeconds": "0"}


def streams_client(region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 ``dynamodbstreams`` client for moto: a server (``endpoint_url``) or ``mock_aws``.

    Without ``account_id_endpoint_mode="disabled"`` botocore sends DynamoDB Streams calls to
    ``https://<account>.streams-ddb.<region>.amazonaws.com``, a host mock_aws does not route.
    """
    config = Config(account_id_endpoint_mode="disabled")
    return local_session(region).client("dynamodbstreams", endpoint_url=endpoint_url, config=config)


@dataclass
class StreamSource:
    function: str
    event_name: str
    stream_arn: str
    starting_position: str = "LATEST"
    batch_size: int = 100
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: until the record expires, i.e. for ever locally
    filters: list[dict[str, Any]] | None = None
    enabled: bool = True


def stream_source(function: str, event_name: str, props: Mapping[str, Any], stream_arns: Collection[str]
                  ) -> StreamSource:
    """A StreamSource from a function's resolved ``Type: DynamoDB`` event properties."""
    where = f"{function}.{event_name}"
    arn = str(props.get("Stream", ""))
    if arn not in stream_arns:
        raise TemplateError(f"{where}: {arn or 'no Stream'} is not the stream of a table of this stack "
                            "(does the table have a StreamSpecification?)")
    position = str(props.get("StartingPosition", "")).upper()
    if position not in STARTING_POSITIONS:
        raise TemplateError(f"{where}: StartingPosition must be one of {', '.join(STARTING_POSITIONS)}")
    batch_size = int(props.get("BatchSize", 100))
    if batch_size < 1:
        raise TemplateError(f"{where}: BatchSize must be at least 1")
    for name, harmless in _NOT_EMULATED.items():
        if name in props and str(props[name]) != harmless:
            log.warning("%s: %s is not emulated locally", where, name)
    return StreamSource(
        function=function,
        event_name=event_name,
        stream_arn=arn,
        starting_position=position,
        batch_size=batch_size,
        batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        bisect_on_error=flag(props.get("BisectBatchOnFunctionError")),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        filters=filter_patterns(props.get("FilterCriteria")),
        enabled=flag(props.get("Enabled"), default=True),
    )


# ---------------------------------------------------------------------- reading the stream
class StreamReader:
    """Reads one DynamoDB stream with DescribeStream, GetShardIterator and GetRecords.

    ``read_shard`` returns a shard's next records in order; ``read`` does so for every shard
    whose parent has been read to its end. ``LATEST`` means "written after this constructor
    returned" (it lists the shards and skips what they hold).

    Per shard the reader keeps the last sequence number it returned and takes a fresh
    AFTER_SEQUENCE_NUMBER iterator on each read rather than following NextShardIterator: a
    moto iterator holds on to the shard object, which a cancelled TransactWriteItems replaces
    (the rollback swaps in a copy of the table), so a followed iterator would return the
    cancelled writes and then nothing, ever.
    """

    def __init__(self, client: Any, stream_arn: str, starting_position: str = "TRIM_HORIZON") -> None:
        position = starting_position.upper()
        if position not in STARTING_POSITIONS:
            raise ValueError(f"starting_position must be one of {STARTING_POSITIONS}, not {starting_position!r}")
        self.client = client
        self.stream_arn = stream_arn
        self._after: dict[str, str | None] = {}  # shard id -> last sequence number returned
        self._parents: dict[str, str | None] = {}
        self._ended: set[str] = set()
        self.refresh()
        if position == "LATEST":
            for shard_id in list(self._after):
                while self.read_shard(shard_id):
                    pass

    def refresh(self) -> None:
        """List the stream's shards (new ones are read from their start)."""
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.client.describe_stream(**request)["StreamDescription"]
            for shard in description.get("Shards") or []:
                if shard["ShardId"] not in self._after:
                    self._after[shard["ShardId"]] = None
                    self._parents[shard["ShardId"]] = shard.get("ParentShardId")
            if not description.get("LastEvaluatedShardId"):
                return
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def parent(self, shard_id: str) -> str | None:
        return self._parents.get(shard_id)

    def shard_ids(self) -> list[str]:
        """Shards that may have records to read: not read to their end, parent done."""
        return [
            shard_id for shard_id in self._after
            if shard_id not in self._ended
            and not ((parent := self._parents[shard_id]) in self._after and parent not in self._ended)
        ]

    def read_shard(self, shard_id: str, limit: int = GET_RECORDS_LIMIT) -> list[dict[str, Any]]:
        """The shard's next records (at most ``limit``), in order; [] when there is nothing new."""
        records: list[dict[str, Any]] = []
        while len(records) < limit and shard_id not in self._ended:
            wanted = min(GET_RECORDS_LIMIT, limit - len(records))
            response = self.client.get_records(ShardIterator=self._iterator(shard_id), Limit=wanted)
            got = response.get("Records") or []
            if got:
                records.extend(got)
                self._after[shard_id] = str(got[-1]["dynamodb"]["SequenceNumber"])
            if not response.get("NextShardIterator"):
                self._ended.add(shard_id)  # a closed shard, read to its end: its children may start
                self.refresh()
            if len(got) < wanted:
                break
        return records

    def read(self, limit: int = GET_RECORDS_LIMIT) -> list[dict[str, Any]]:
        """The next records of every readable shard (each shard's in order), at most ``limit``."""
        records: list[dict[str, Any]] = []
        for shard_id in self.shard_ids():
            if len(records) >= limit:
                break
            records.extend(self.read_shard(shard_id, limit - len(records)))
        return records

    def _iterator(self, shard_id: str) -> str:
        request = {"StreamArn": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
        after = self._after[shard_id]
        if after is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        return str(self.client.get_shard_iterator(**request)["ShardIterator"])


# ---------------------------------------------------------------------- Lambda's event
def _jsonable(value: Any) -> Any:
    # boto3 decodes binary attributes to bytes and timestamps to datetimes; Lambda's JSON event
    # carries base64 text and epoch seconds (a float, rounded down to the second as Streams does).
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return float(math.floor(value.timestamp()))
    return value


def lambda_stream_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """The record Lambda delivers for one GetRecords record."""
    out: dict[str, Any] = _jsonable(record)
    out["eventSourceARN"] = stream_arn
    out["awsRegion"] = region  # moto writes us-east-1 whatever the table's region
    return out


def lambda_stream_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda invokes a function with for a batch of GetRecords records."""
    return {"Records": [lambda_stream_record(r, stream_arn, region) for r in records]}


def sequence_number(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def take_batch(pending: list[dict[str, Any]], limit: int, max_bytes: int = MAX_PAYLOAD_BYTES) -> list[dict[str, Any]]:
    """The head of ``pending`` (Lambda records): at most ``limit`` records, within the payload limit."""
    size = len('{"Records": []}')
    batch: list[dict[str, Any]] = []
    for record in pending[:limit]:
        size += len(json.dumps(record)) + 2
        if batch and size > max_bytes:
            break
        batch.append(record)
    return batch


# ---------------------------------------------------------------------- checkpoints and retries
@dataclass(frozen=True)
class Settlement:
    """What an invocation's outcome means for the batch at the head of a shard."""

    checkpoint: int  # records from the head that are done (delivered, or given up on)
    outcome: str  # "ok", "partial", "error" or "invalid" (a bad batchItemFailures response)
    dropped: int = 0  # of those, records skipped because the retries were exhausted
    retry: tuple[int, ...] = ()  # sizes of the next batches: a retry, or the two halves of a bisect
    attempts: int = 0  # failed invocations so far of the batches to retry


def settle(source: StreamSource, sequence_numbers: list[str], failed: bool, response: Any, attempts: int) -> Settlement:
    """Decide checkpoint, retry or skip after invoking ``source``'s function on one batch.

    ``attempts``: failed invocations this batch went through before (as a whole, or as part of
    the batch it was bisected from); past ``MaximumRetryAttempts`` retries it is skipped.
    """
    size = len(sequence_numbers)
    if not failed:
        if not source.report_batch_item_failures:
            return Settlement(size, "ok")
        reported = failed_message_ids(response, sequence_numbers)
        if reported == set():
            return Settlement(size, "ok")
        if reported is not None:
            # Records are in order, so the first failed position holds the lowest sequence number.
            first = min(sequence_numbers.index(s) for s in reported)
            again = attempts + 1 if first == 0 else 1  # a later head is a batch tried once so far
            return _retry(source, first, size - first, again, "partial", bisect=False)
    return _retry(source, 0, size, attempts + 1, "error" if failed else "invalid", source.bisect_on_error)


def _retry(source: StreamSource, done: int, remaining: int, attempts: int, outcome: str, bisect: bool) -> Settlement:
    limit = source.maximum_retry_attempts
    if limit >= 0 and attempts > limit:
        return Settlement(done + remaining, outcome, dropped=remaining)
    if bisect and remaining > 1:
        half = (remaining + 1) // 2
        return Settlement(done, outcome, retry=(half, remaining - half), attempts=attempts)
    return Settlement(done, outcome, retry=(remaining,), attempts=attempts)


@dataclass
class ShardProgress:
    """A shard's records read but not yet checkpointed, and the plan for retrying them.

    ``plan`` holds the next batches as (size, failed attempts so far); both halves of a bisect
    inherit the failures of the batch they come from. Empty: a fresh batch of BatchSize.
    """

    pending: list[dict[str, Any]] = field(default_factory=list)
    plan: list[tuple[int, int]] = field(default_factory=list)

    def limit(self, batch_size: int) -> int:
        return self.plan[0][0] if self.plan else batch_size

    @property
    def attempts(self) -> int:
        return self.plan[0][1] if self.plan else 0

    def apply(self, settlement: Settlement) -> None:
        del self.pending[: settlement.checkpoint]
        self.plan = [*((size, settlement.attempts) for size in settlement.retry), *self.plan[1:]]


# ---------------------------------------------------------------------- the poller
class StreamPoller(threading.Thread):
    """Feeds one DynamoDB stream to one function, like a Lambda event source mapping."""

    retry_backoff_s = 0.1

    def __init__(self, source: StreamSource, runner: FunctionRunner, client: Any, region: str,
                 stop: threading.Event, time_scale: float = 1.0, reader: StreamReader | None = None) -> None:
        super().__init__(name=f"ddb-stream-{source.function}-{source.event_name}", daemon=True)
        self.source = source
        self.runner = runner
        self.region = region
        # Built now, not in the thread: LATEST means "after the stack started".
        self.reader = reader or StreamReader(client, source.stream_arn, source.starting_position)
        self.window_s = float(scale_seconds(source.batching_window_s, time_scale, minimum=0))
        self.shards: dict[str, ShardProgress] = {}
        self._stop_event = stop

    def run(self) -> None:
        idle = _IDLE_MIN_S
        while not self._stop_event.is_set():
            try:
                invoked = self.poll_once()
            except Exception:  # noqa: BLE001 - keep polling like the managed poller does
                log.exception("stream poller %s failed; retrying", self.name)
                invoked = 0
            idle = _IDLE_MIN_S if invoked else min(idle * 2, _IDLE_MAX_S)
            if not invoked:
                self._stop_event.wait(idle)

    def poll_once(self) -> int:
        """One batch for each shard that has records; returns how many invocations ran."""
        readable = self.reader.shard_ids()
        waiting = [shard_id for shard_id, progress in self.shards.items() if progress.pending]
        invoked = 0
        for shard_id in dict.fromkeys([*waiting, *readable]):
            parent = self.reader.parent(shard_id)
            if parent is not None and parent in self.shards and self.shards[parent].pending:
                continue  # a child shard waits until its parent's records are all delivered
            batch = self.gather(shard_id, shard_id in readable)
            if batch and not self._stop_event.is_set():
                self.deliver(shard_id, batch)
                invoked += 1
        return invoked

    def gather(self, shard_id: str, readable: bool) -> list[dict[str, Any]]:
        """The shard's next batch: a planned retry, else up to BatchSize within the batching window."""
        progress = self.shards.setdefault(shard_id, ShardProgress())
        limit = progress.limit(self.source.batch_size)
        deadline = time.monotonic() + self.window_s
        while readable and len(progress.pending) < limit and not self._stop_event.is_set():
            got = self.reader.read_shard(shard_id, limit - len(progress.pending))
            progress.pending.extend(self.passing(got))
            if got:
                continue  # more may be there already, or everything read was filtered out
            remaining = deadline - time.monotonic()
            if not progress.pending or remaining <= 0 or self._stop_event.wait(min(_IDLE_MIN_S, remaining)):
                break
        return take_batch(progress.pending, limit)

    def passing(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Lambda records for the records a filter lets through; the others are skipped, uninvoked."""
        converted = [lambda_stream_record(r, self.source.stream_arn, self.region) for r in records]
        kept = [r for r in converted if matches_any(r, self.source.filters)]
        if len(kept) < len(converted):
            log.debug("%s: %d stream records matched no filter", self.source.function, len(converted) - len(kept))
        return kept

    def deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> Settlement:
        progress = self.shards[shard_id]
        result = self.runner.invoke({"Records": batch})
        settlement = settle(self.source, [sequence_number(r) for r in batch], result.failed, result.payload,
                            progress.attempts)
        self._report(settlement, result, batch)
        progress.apply(settlement)
        if settlement.retry and self.retry_backoff_s:
            # Lambda retries at once; a short pause keeps a function that always fails from
            # spinning a core and flooding its log.
            self._stop_event.wait(min(1.0, self.retry_backoff_s * 2 ** min(settlement.attempts - 1, 10)))
        return settlement

    def _report(self, settlement: Settlement, result: InvokeResult, batch: list[dict[str, Any]]) -> None:
        function = self.source.function
        first_failed = settlement.checkpoint - settlement.dropped
        if settlement.outcome == "error":
            log.warning("%s failed on a batch of %d stream records: %s", function, len(batch),
                        (result.error or {}).get("errorMessage"))
        elif settlement.outcome == "invalid":
            log.warning("%s returned an invalid batchItemFailures response: the whole batch failed", function)
        elif settlement.outcome == "partial":
            log.info("%s reported stream record %s (%d of %d) as failed", function,
                     sequence_number(batch[first_failed]), first_failed + 1, len(batch))
        if settlement.dropped:
            log.warning("%s: skipped %d stream records of %s after %d retries (MaximumRetryAttempts)", function,
                        settlement.dropped, self.source.stream_arn, self.source.maximum_retry_attempts)

