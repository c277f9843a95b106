"""Event sources: SQS event source mappings and schedules, with Lambda's semantics.

SQS: a poller per ``Type: SQS`` event receives up to ``BatchSize`` messages, invokes the
function with a Lambda SQS event, then deletes what succeeded. With
``ReportBatchItemFailures`` only the reported ``itemIdentifier``s stay; an invocation error (or
an invalid partial-failure response) keeps the whole batch. What stays becomes visible again
after the queue's (scaled) visibility timeout, and moto's ReceiveMessage moves a message to
the queue's DLQ once it has been received ``maxReceiveCount`` times - the redrive Lambda users
rely on, done by the (emulated) service, not by us.

Each function has one warm worker that runs one invocation at a time, so one poller per event
source is all the concurrency there is; that is always within ``ScalingConfig.MaximumConcurrency``
(minimum 2 in AWS).

Schedules: ``Schedule``/``ScheduleV2`` events with ``rate(...)`` invoke the function with an
EventBridge scheduled event every (scaled) period; ``cron(...)`` is reported as unsupported.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from socialcare_infra.invoke import FunctionRunner

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# Long-poll briefly so a stop request is noticed within about a second.
_WAIT_SECONDS = 1


@dataclass
class SqsSource:
    function: str
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    enabled: bool = True
    filters: list[dict[str, Any]] | None = None  # FilterCriteria patterns, parsed


def sqs_source(function: str, event_name: str, props: Mapping[str, Any], queue_urls_by_arn: Mapping[str, str]
               ) -> SqsSource:
    """An SqsSource from a function's resolved ``Type: SQS`` event properties."""
    arn = str(props["Queue"])
    if arn not in queue_urls_by_arn:
        raise ValueError(f"{function}.{event_name}: queue {arn} is not a queue of this stack")
    scaling = props.get("ScalingConfig") or {}
    return SqsSource(
        function=function,
        event_name=event_name,
        queue_url=queue_urls_by_arn[arn],
        queue_arn=arn,
        batch_size=int(props.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
        enabled=flag(props.get("Enabled"), default=True),
        filters=filter_patterns(props.get("FilterCriteria")),
    )


def filter_patterns(criteria: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    if not criteria:
        return None
    patterns = []
    for item in criteria.get("Filters") or []:
        pattern = item.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else dict(pattern))
    return patterns or None


# ---------------------------------------------------------------------- event filtering
# Lambda event filtering (EventBridge pattern syntax) over the SQS record: a record passes when
# any pattern matches; a record that passes no pattern is deleted without an invocation.
_MISSING = object()


def flag(value: Any, default: bool = False) -> bool:
    """A CloudFormation boolean (true, "true", "True"); absent means ``default``."""
    return default if value is None else str(value).lower() == "true"


def record_passes(record: Mapping[str, Any], patterns: list[dict[str, Any]] | None) -> bool:
    data = dict(record)
    with contextlib.suppress(ValueError):  # a JSON body is matched as JSON, else as the string
        data["body"] = json.loads(record.get("body", ""))
    return matches_any(data, patterns)


def matches_any(data: Mapping[str, Any], patterns: list[dict[str, Any]] | None) -> bool:
    """Whether any pattern matches ``data`` as it is (no patterns: everything passes)."""
    return not patterns or any(_match(pattern, data) for pattern in patterns)


def _match(pattern: Mapping[str, Any], data: Any) -> bool:
    for key, rule in pattern.items():
        value = data.get(key, _MISSING) if isinstance(data, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not _match(rule, value):
                return False
        elif not isinstance(rule, list) or not _match_values(rule, value):
            return False
    return True


def _match_values(rules: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]  # an array matches if any element does
    for rule in rules:
        if isinstance(rule, Mapping) and len(rule) == 1:
            ((op, arg),) = rule.items()
            if op == "exists":
                if (value is not _MISSING) == bool(arg):
                    return True
            elif value is not _MISSING and any(_operator(op, arg, v) for v in values):
                return True
        elif value is not _MISSING and rule in values:
            return True
    return False


def _operator(op: str, arg: Any, value: Any) -> bool:
    if op == "prefix":
        return isinstance(value, str) and value.startswith(str(arg))
    if op == "suffix":
        return isinstance(value, str) and value.endswith(str(arg))
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(arg).lower()
    if op == "anything-but":
        if isinstance(arg, Mapping):
            return not _match_values([arg], value)
        excluded = arg if isinstance(arg, list) else [arg]
        return value not in excluded
    if op == "numeric":
        return _numeric(arg, value)
    log.warning("event filter operator %r is not emulated; treated as no match", op)
    return False


def _numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {"=": value.__eq__, "<": value.__lt__, "<=": value.__le__, ">": value.__gt__, ">=": value.__ge__}
    return all(checks[str(conditions[i])](conditions[i + 1]) for i in range(0, len(conditions) - 1, 2))


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A Lambda SQS event record for one message from ReceiveMessage."""
    attributes = dict(message.get("Attributes") or {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message.get("Body", "").encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda uses camelCase keys, always lists, and base64 text for binary values.
    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()

    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out


def failed_message_ids(response: Any, message_ids: list[str]) -> set[str] | None:
    """Message ids to keep per a ReportBatchItemFailures response; None means "the whole batch".

    Lambda treats null/empty responses and empty lists as full success, and an item without
    a known, non-empty ``itemIdentifier`` as a failure of the whole batch.
    """
    if response is None or response == "" or response == {}:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    keep: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return None
        keep.add(str(identifier))
    return keep


class SqsPoller(threading.Thread):
    """Polls one queue for one function, like a Lambda event source mapping."""

    def __init__(self, source: SqsSource, runner: FunctionRunner, sqs: Any, region: str,
                 stop: threading.Event) -> None:
        super().__init__(name=f"sqs-{source.function}-{source.event_name}", daemon=True)
        self.source = source
        self.runner = runner
        self.sqs = sqs
        self.region = region
        self._stop_event = stop

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - keep polling like the managed poller does
                log.exception("SQS poller %s failed; retrying", self.name)
                self._stop_event.wait(1.0)

    def receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        # SQS hands out at most 10 per call; Lambda gathers larger batches from several calls.
        while len(messages) < self.source.batch_size and not self._stop_event.is_set():
            response = self.sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else _WAIT_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages") or []
            messages.extend(received)
            if not received or len(received) < 10:
                break
        return messages

    def poll_once(self) -> int:
        """One receive-invoke-delete round; returns how many messages it deleted."""
        received = self.receive()
        if not received:
            return 0
        messages: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        filtered_out: list[dict[str, Any]] = []
        for message in received:
            record = lambda_sqs_record(message, self.source.queue_arn, self.region)
            if record_passes(record, self.source.filters):
                messages.append(message)
                records.append(record)
            else:
                filtered_out.append(message)
        self._delete_messages(filtered_out)  # Lambda drops what no filter pattern matches, uninvoked
        if not messages:
            return len(filtered_out)
        event = {"Records": records}
        result = self.runner.invoke(event)
        if result.failed:
            log.warning("%s failed on a batch of %d from %s: %s", self.source.function, len(messages),
                     self.source.queue_arn, (result.error or {}).get("errorMessage"))
            return 0  # visibility timeout brings them back; maxReceiveCount sends them to the DLQ
        ids = [m["MessageId"] for m in messages]
        keep: set[str] = set()
        if self.source.report_batch_item_failures:
            reported = failed_message_ids(result.payload, ids)
            if reported is None:
                log.warning("%s returned an invalid batchItemFailures response; the batch is retried",
                            self.source.function)
                return 0
            keep = reported
            if keep:
                log.info("%s reported %d of %d messages as failed; they will be retried",
                         self.source.function, len(keep), len(messages))
        done = [m for m in messages if m["MessageId"] not in keep]
        self._delete_messages(done)
        return len(done) + len(filtered_out)

    def _delete_messages(self, messages: list[dict[str, Any]]) -> None:
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


# ---------------------------------------------------------------------- schedules
@dataclass
class Schedule:
    function: str
    event_name: str
    expression: str
    period_s: float | None
    enabled: bool
    payload: Any


def rate_seconds(expression: str) -> int | None:
    """Seconds of a ``rate(...)`` expression; None for cron and anything else."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    return value * _UNIT_SECONDS[unit]


def scheduled_event(rule_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """The event EventBridge delivers for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def schedule_enabled(props: Mapping[str, Any]) -> bool:
    if "State" in props:
        return str(props["State"]).upper() == "ENABLED"
    return flag(props.get("Enabled"), default=True)


class Scheduler(threading.Thread):
    """Invokes one function every period (first run one period after start, as EventBridge)."""

    def __init__(self, schedule: Schedule, runner: FunctionRunner, stop: threading.Event,
                 region: str, account_id: str, rule_arn: str) -> None:
        super().__init__(name=f"schedule-{schedule.function}-{schedule.event_name}", daemon=True)
        self.schedule = schedule
        self.runner = runner
        self.region = region
        self.account_id = account_id
        self.rule_arn = rule_arn
        self._stop_event = stop

    def run(self) -> None:
        period = self.schedule.period_s
        assert period is not None
        while not self._stop_event.wait(period):
            payload = self.schedule.payload
            if payload is None:
                payload = scheduled_event(self.rule_arn, self.region, self.account_id)
            result = self.runner.invoke(payload)
            if result.failed:
                log.warning("scheduled %s failed: %s", self.schedule.function,
                            (result.error or {}).get("errorMessage"))


def schedule_payload(props: Mapping[str, Any]) -> Any:
    """The configured ``Input`` (JSON text in the template) or None for the default event."""
    raw = props.get("Input")
    if raw is None:
        return None
    return json.loads(raw) if isinstance(raw, str) else raw
