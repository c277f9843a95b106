"""The local stack's DynamoDB stream event sources, offline: configuration, Lambda's record
shape, filtering, batching, and the checkpoint / retry / bisect decisions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from socialcare_infra.esm import matches_any
from socialcare_infra.invoke import InvokeResult
from socialcare_infra.streams import (
    Settlement,
    ShardProgress,
    StreamPoller,
    StreamReader,
    StreamSource,
    lambda_stream_event,
    lambda_stream_record,
    settle,
    stream_source,
    take_batch,
)
from socialcare_infra.template import TemplateError

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2025-01-01T00:00:00.000"
CASE_FILTER = '{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["CASE"]}}}}'


def raw_record(seq: int, event: str = "INSERT", sk: str = "CASE", **image: Any) -> dict[str, Any]:
    """A record as boto3's GetRecords returns it."""
    keys = {"pk": {"S": f"item#{seq}"}, "sk": {"S": sk}}
    return {
        "eventID": f"id-{seq}",
        "eventName": event,
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2025, 3, 1, 12, 0, 7, 900000, tzinfo=UTC),
            "Keys": keys,
            "NewImage": {**keys, **image},
            "SequenceNumber": str(1000 + seq),
            "SizeBytes": 42,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def record(seq: int, **kwargs: Any) -> dict[str, Any]:
    return lambda_stream_record(raw_record(seq, **kwargs), ARN, "eu-west-1")


def seqs(*numbers: int) -> list[str]:
    return [str(1000 + n) for n in numbers]


def failures(*numbers: int) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": str(1000 + n)} for n in numbers]}


# ---------------------------------------------------------------------- configuration
def test_source_from_minimal_properties_has_lambdas_defaults() -> None:
    source = stream_source("Fn", "Changes", {"Stream": ARN, "StartingPosition": "TRIM_HORIZON"}, [ARN])
    assert source == StreamSource(function="Fn", event_name="Changes", stream_arn=ARN,
                                  starting_position="TRIM_HORIZON", batch_size=100)
    assert source.maximum_retry_attempts == -1
    assert (source.report_batch_item_failures, source.bisect_on_error, source.enabled) == (False, False, True)


def test_source_from_every_property() -> None:
    props = {
        "Stream": ARN,
        "StartingPosition": "LATEST",
        "BatchSize": 25,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": "true",  # intrinsics may leave strings
        "MaximumRetryAttempts": 3,
        "FilterCriteria": {"Filters": [{"Pattern": CASE_FILTER}, {"Pattern": {"eventName": ["REMOVE"]}}]},
        "Enabled": False,
    }
    source = stream_source("Fn", "Changes", props, [ARN])
    assert (source.starting_position, source.batch_size, source.batching_window_s) == ("LATEST", 25, 5.0)
    assert source.report_batch_item_failures and source.bisect_on_error
    assert source.maximum_retry_attempts == 3
    assert source.filters == [
        {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["CASE"]}}}},
        {"eventName": ["REMOVE"]},
    ]
    assert source.enabled is False


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"Stream": ARN.replace("table/t", "table/other"), "StartingPosition": "LATEST"}, "not the stream"),
        ({"StartingPosition": "LATEST"}, "no Stream"),
        ({"Stream": ARN}, "StartingPosition"),
        ({"Stream": ARN, "StartingPosition": "AT_TIMESTAMP"}, "StartingPosition"),
        ({"Stream": ARN, "StartingPosition": "LATEST", "BatchSize": 0}, "BatchSize"),
    ],
)
def test_source_refuses_what_lambda_would(props: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        stream_source("Fn", "Changes", props, [ARN])


def test_properties_that_are_not_emulated_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    props = {"Stream": ARN, "StartingPosition": "LATEST", "ParallelizationFactor": 1, "MaximumRecordAgeInSeconds": 60}
    stream_source("Fn", "Changes", props, [ARN])
    assert "MaximumRecordAgeInSeconds is not emulated" in caplog.text
    assert "ParallelizationFactor" not in caplog.text  # 1 is what one poller per shard does anyway


# ---------------------------------------------------------------------- Lambda's record
def test_lambda_record_is_the_stream_record_with_source_and_region() -> None:
    raw = raw_record(1, blob={"B": b"\x00\xff"}, tags={"BS": [b"a", b"b"]})
    converted = lambda_stream_record(raw, ARN, "eu-west-1")
    assert converted["eventSourceARN"] == ARN
    assert converted["awsRegion"] == "eu-west-1"
    assert {k: converted[k] for k in ("eventID", "eventName", "eventVersion", "eventSource")} == {
        "eventID": "id-1", "eventName": "INSERT", "eventVersion": "1.0", "eventSource": "aws:dynamodb"}
    dynamodb = converted["dynamodb"]
    # epoch seconds as a float, rounded down to the second as Streams does
    assert dynamodb["ApproximateCreationDateTime"] == 1740830407.0
    assert dynamodb["NewImage"]["blob"] == {"B": "AP8="}  # base64 text, as in Lambda's JSON
    assert dynamodb["NewImage"]["tags"] == {"BS": ["YQ==", "Yg=="]}
    assert dynamodb["SequenceNumber"] == "1001"
    assert isinstance(raw["dynamodb"]["ApproximateCreationDateTime"], datetime)  # input untouched


def test_lambda_event_wraps_the_converted_records() -> None:
    event = lambda_stream_event([raw_record(1), raw_record(2, event="MODIFY")], ARN, "eu-west-1")
    assert event == {"Records": [record(1), record(2, event="MODIFY")]}


# ---------------------------------------------------------------------- filtering
@pytest.mark.parametrize(
    ("raw", "passes"),
    [
        (raw_record(1), True),
        (raw_record(1, event="MODIFY"), True),
        (raw_record(1, event="REMOVE"), False),
        (raw_record(1, sk="NOTE"), False),
    ],
)
def test_filters_match_the_stream_record_itself(raw: dict[str, Any], passes: bool) -> None:
    source = stream_source("Fn", "E", {"Stream": ARN, "StartingPosition": "LATEST",
                                       "FilterCriteria": {"Filters": [{"Pattern": CASE_FILTER}]}}, [ARN])
    assert matches_any(lambda_stream_record(raw, ARN, "eu-west-1"), source.filters) is passes


def test_filter_operators_apply_to_images() -> None:
    converted = record(1, status={"S": "open-urgent"})
    assert matches_any(converted, [{"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "open"}]}}}}])
    assert not matches_any(converted, [{"dynamodb": {"OldImage": {"status": {"S": [{"exists": True}]}}}}])
    assert matches_any(converted, None)


# ---------------------------------------------------------------------- batches
def test_take_batch_respects_the_limit_and_the_payload_limit() -> None:
    pending = [record(n, text={"S": "x" * 1000}) for n in range(10)]
    assert take_batch(pending, 4) == pending[:4]
    assert len(take_batch(pending, 10, max_bytes=3500)) == 2
    assert take_batch(pending, 10, max_bytes=10) == pending[:1]  # never an empty batch
    assert take_batch([], 10) == []


# ---------------------------------------------------------------------- checkpoint decisions
def make_source(**kwargs: Any) -> StreamSource:
    return StreamSource(function="Fn", event_name="E", stream_arn=ARN, **kwargs)


def test_success_checkpoints_the_whole_batch_and_the_response_is_ignored_without_rbif() -> None:
    assert settle(make_source(), seqs(1, 2, 3), False, failures(2), 0) == Settlement(3, "ok")


@pytest.mark.parametrize("response", [None, "", {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_empty_partial_responses_are_success(response: Any) -> None:
    source = make_source(report_batch_item_failures=True)
    assert settle(source, seqs(1, 2, 3), False, response, 2) == Settlement(3, "ok")


def test_partial_failure_checkpoints_before_the_lowest_failed_sequence_number() -> None:
    source = make_source(report_batch_item_failures=True)
    outcome = settle(source, seqs(1, 2, 3, 4, 5), False, failures(4, 3), 0)
    assert outcome == Settlement(2, "partial", retry=(3,), attempts=1)


def test_partial_failure_at_the_head_counts_as_another_attempt() -> None:
    source = make_source(report_batch_item_failures=True)
    assert settle(source, seqs(3, 4, 5), False, failures(3), 1) == Settlement(0, "partial", retry=(3,), attempts=2)
    # a later record failing means the head moved on: that batch has been tried once
    assert settle(source, seqs(3, 4, 5), False, failures(4), 1) == Settlement(1, "partial", retry=(2,), attempts=1)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifier": "999"}]},  # not in the batch
        {"batchItemFailures": [{"sequenceNumber": "1001"}]},
        {"batchItemFailures": "1001"},
        ["1001"],
    ],
)
def test_invalid_partial_response_fails_the_whole_batch(response: Any) -> None:
    source = make_source(report_batch_item_failures=True)
    assert settle(source, seqs(1, 2, 3), False, response, 0) == Settlement(0, "invalid", retry=(3,), attempts=1)


def test_function_error_retries_the_same_batch() -> None:
    assert settle(make_source(), seqs(1, 2, 3), True, None, 0) == Settlement(0, "error", retry=(3,), attempts=1)
    assert settle(make_source(), seqs(1, 2, 3), True, None, 4) == Settlement(0, "error", retry=(3,), attempts=5)


def test_bisect_splits_a_failed_batch_in_two_halves() -> None:
    source = make_source(bisect_on_error=True)
    assert settle(source, seqs(1, 2, 3, 4, 5), True, None, 0) == Settlement(0, "error", retry=(3, 2), attempts=1)
    assert settle(source, seqs(1), True, None, 1) == Settlement(0, "error", retry=(1,), attempts=2)


def test_bisect_with_partial_failure_retries_only_the_remaining_records() -> None:
    source = make_source(bisect_on_error=True, report_batch_item_failures=True)
    assert settle(source, seqs(1, 2, 3, 4), False, failures(2), 0) == Settlement(1, "partial", retry=(3,), attempts=1)


def test_exhausted_retries_skip_the_batch() -> None:
    source = make_source(maximum_retry_attempts=2)
    assert settle(source, seqs(1, 2), True, None, 1) == Settlement(0, "error", retry=(2,), attempts=2)
    assert settle(source, seqs(1, 2), True, None, 2) == Settlement(2, "error", dropped=2)
    partial = make_source(maximum_retry_attempts=0, report_batch_item_failures=True)
    assert settle(partial, seqs(1, 2, 3), False, failures(2), 0) == Settlement(3, "partial", dropped=2)


def test_minus_one_retries_for_ever() -> None:
    assert settle(make_source(), seqs(1), True, None, 10_000).retry == (1,)


def test_progress_follows_the_plan_of_a_bisect() -> None:
    progress = ShardProgress(pending=[record(n) for n in range(1, 6)])
    progress.apply(Settlement(0, "error", retry=(3, 2), attempts=1))
    assert (progress.limit(100), progress.attempts) == (3, 1)
    progress.apply(Settlement(3, "ok"))  # the first half went through: the second half is next,
    assert (progress.limit(100), progress.attempts, len(progress.pending)) == (2, 1, 2)  # failed once
    progress.apply(Settlement(2, "ok"))
    assert (progress.limit(100), progress.pending) == (100, [])


# ---------------------------------------------------------------------- the poller, driven by hand
class ListReader(StreamReader):
    """StreamReader's interface over a list of raw records of one shard (no AWS involved)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.position = 0

    def shard_ids(self) -> list[str]:
        return ["shard-1"]

    def parent(self, shard_id: str) -> str | None:
        return None

    def read_shard(self, shard_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        got = self.records[self.position:self.position + limit]
        self.position += len(got)
        return got


class ScriptedRunner:
    """Answers each invocation with ``answer(records)`` and keeps the batches it was given."""

    def __init__(self, answer: Callable[[list[dict[str, Any]]], InvokeResult]) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []

    def invoke(self, event: Any) -> InvokeResult:
        self.batches.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        return self.answer(event["Records"])


def drive(source: StreamSource, raw: list[dict[str, Any]], runner: ScriptedRunner, rounds: int = 20) -> None:
    poller = StreamPoller(source, runner, None, "eu-west-1", threading.Event(),  # type: ignore[arg-type]
                          reader=ListReader(raw))
    poller.retry_backoff_s = 0
    for _ in range(rounds):
        poller.poll_once()


def test_poller_redelivers_from_the_failed_record_and_keeps_order() -> None:
    seen: dict[str, int] = {}

    def answer(records: list[dict[str, Any]]) -> InvokeResult:
        for r in records:
            pk = r["dynamodb"]["Keys"]["pk"]["S"]
            seen[pk] = seen.get(pk, 0) + 1
            if pk == "item#3" and seen[pk] == 1:
                failed = {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                return InvokeResult("r", payload={"batchItemFailures": [failed]})
        return InvokeResult("r", payload={"batchItemFailures": []})

    runner = ScriptedRunner(answer)
    raw = [raw_record(n) for n in range(1, 6)] + [raw_record(6, sk="NOTE"), raw_record(7)]
    source = make_source(batch_size=5, report_batch_item_failures=True,
                         filters=[{"dynamodb": {"Keys": {"sk": {"S": ["CASE"]}}}}])
    drive(source, raw, runner)
    assert runner.batches == [
        ["item#1", "item#2", "item#3", "item#4", "item#5"],
        ["item#3", "item#4", "item#5"],
        ["item#7"],  # item#6 matched no filter: skipped, never invoked
    ]


def test_poller_bisects_down_to_the_poison_record_and_skips_it() -> None:
    def answer(records: list[dict[str, Any]]) -> InvokeResult:
        poisoned = any(r["dynamodb"]["NewImage"].get("poison") for r in records)
        return InvokeResult("r", error={"errorMessage": "poison"} if poisoned else None)

    runner = ScriptedRunner(answer)
    raw = [raw_record(n, **({"poison": {"BOOL": True}} if n == 2 else {})) for n in range(1, 5)]
    drive(make_source(batch_size=4, bisect_on_error=True, maximum_retry_attempts=2), raw, runner)
    assert runner.batches == [
        ["item#1", "item#2", "item#3", "item#4"],  # fails
        ["item#1", "item#2"],  # first half, retry 1: fails
        ["item#1"],  # retry 2: passes
        ["item#2"],  # retry 3 > MaximumRetryAttempts: skipped after this
        ["item#3", "item#4"],  # the second half of the first split
    ]


def test_moto_answers_dynamodb_one_request_at_a_time_and_other_services_concurrently() -> None:
    """moto's DynamoDB is not thread-safe (a cancelled transaction writes, then swaps the table
    back): the local stack lets one DynamoDB or stream request in at a time, never an SQS one."""
    from socialcare_infra.moto_app import SerialDynamoDB

    targets = ("DynamoDB_20120810.TransactWriteItems", "DynamoDBStreams_20120810.GetRecords",
               "AmazonSQS.ReceiveMessage")
    entered = {target: threading.Event() for target in targets}
    release = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        entered[environ["HTTP_X_AMZ_TARGET"]].set()
        if environ["HTTP_X_AMZ_TARGET"] == "DynamoDB_20120810.TransactWriteItems":
            release.wait(5)
        return [b"{}"]

    serial = SerialDynamoDB(app)

    def call(target: str) -> threading.Thread:
        thread = threading.Thread(target=serial, args=({"HTTP_X_AMZ_TARGET": target}, lambda *a: None))
        thread.start()
        return thread

    threads = [call("DynamoDB_20120810.TransactWriteItems")]
    assert entered["DynamoDB_20120810.TransactWriteItems"].wait(5)
    threads += [call("DynamoDBStreams_20120810.GetRecords"), call("AmazonSQS.ReceiveMessage")]
    assert entered["AmazonSQS.ReceiveMessage"].wait(5), "SQS waited for DynamoDB"
    assert not entered["DynamoDBStreams_20120810.GetRecords"].wait(0.5), "a stream read ran inside a transaction"
    release.set()
    assert entered["DynamoDBStreams_20120810.GetRecords"].wait(5)
    for thread in threads:
        thread.join(5)
