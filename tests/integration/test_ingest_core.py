"""Making events durable on inbound.fifo (moto), and reading secrets fail-closed."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from socialcare import aws
from socialcare.config.settings import Settings
from socialcare.errors import PayloadTooLarge, PublishFailed, SecretUnavailable
from socialcare.models.interaction import Action, Author, Channel, InboundEvent, Interaction, Kind
from socialcare.publish import Publisher, dedupe_id
from socialcare.secrets import SecretStore


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        aws.reset()
        parameters.clear_caches()
        yield
    aws.reset()
    parameters.clear_caches()


def _event(n: int, author: str = "42", raw: object = None) -> InboundEvent:
    interaction = Interaction(
        id=f"x:{n}",
        channel=Channel.X,
        kind=Kind.PUBLIC_POST,
        platform_message_id=str(n),
        author=Author(id=author),
        text=f"message {n}",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return InboundEvent(action=Action.CREATE, source="x", event_id=str(n), interaction=interaction, raw=raw)


def enqueue(events: list[InboundEvent], queue_url: str) -> int:
    """What a webhook does with its parsed events: publish them on inbound.fifo."""
    return Publisher(aws.sqs(), inbound_url=queue_url).inbound(events)


def secrets() -> SecretStore:
    """The secrets a function may read, as its environment configures them now."""
    return SecretStore(Settings().secret_arns())


def _fifo(name: str = "inbound.fifo") -> str:
    sqs = boto3.client("sqs")
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]


def _drain(url: str) -> list[dict[str, object]]:
    sqs = boto3.client("sqs")
    got: list[dict[str, object]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not batch:
            return got
        for m in batch:
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_every_event_of_a_large_batch_is_enqueued_with_its_author_group(moto_env: None) -> None:
    url = _fifo()
    events = [_event(n, author=str(n % 3)) for n in range(23)]  # three SendMessageBatch calls
    assert enqueue(events, queue_url=url) == 23
    messages = _drain(url)
    assert sorted(json.loads(str(m["Body"]))["interaction"]["id"] for m in messages) == sorted(
        f"x:{n}" for n in range(23)
    )
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}  # type: ignore[index]
    assert groups == {"x:0", "x:1", "x:2"}
    by_id = {json.loads(str(m["Body"]))["interaction"]["id"]: m for m in messages}
    assert by_id["x:5"]["Attributes"]["MessageDeduplicationId"] == dedupe_id(_event(5))  # type: ignore[index]


def test_a_platform_redelivery_within_the_dedupe_window_is_not_enqueued_twice(moto_env: None) -> None:
    url = _fifo()
    enqueue([_event(1)], queue_url=url)
    enqueue([_event(1)], queue_url=url)
    assert len(_drain(url)) == 1


def test_an_oversized_raw_slice_travels_compressed_and_comes_back_intact(moto_env: None) -> None:
    url = _fifo()
    raw = {"entry": [{"text": "ciao " * 80_000}]}  # ~400 KB, over SQS's message limit
    enqueue([_event(7, raw=raw)], queue_url=url)
    (message,) = _drain(url)
    body = str(message["Body"])
    assert len(body) < 256 * 1024
    assert json.loads(body)["raw"] != raw  # compressed in transit...
    assert InboundEvent.model_validate_json(body).raw_payload() == raw  # ...and intact for the processor


def test_batches_stay_within_sqs_byte_limit_whatever_the_script(moto_env: None) -> None:
    """SQS limits a batch to 256 KiB of bytes, not characters (moto counts characters, so the
    test measures what leaves the process). Emoji are one character and four bytes."""
    url = _fifo()
    sent: list[int] = []

    def measure(params: dict[str, object], **_: object) -> None:
        entries = params["Entries"]
        assert isinstance(entries, list)
        sent.append(sum(len(e["MessageBody"].encode()) for e in entries))

    aws.sqs().meta.events.register("before-parameter-build.sqs.SendMessageBatch", measure)
    text = "😡 ordine in ritardo, رسالة, 注文が届かない " * 600  # ~15k characters, ~40 KB
    events = [_event(n, raw={"message": {"text": text}}) for n in range(8)]
    for event in events:
        assert event.interaction is not None
        event.interaction.text = text
    assert enqueue(events, queue_url=url) == 8
    assert len(_drain(url)) == 8
    assert len(sent) > 1 and max(sent) <= 256 * 1024, sent


def test_a_message_too_large_for_sqs_is_a_clear_413_without_a_bucket(moto_env: None) -> None:
    """Compression helps repetitive text; random CJK does not shrink below 256 KiB, and a
    publisher given no bucket for claim checks (tests/integration/test_large_messages.py) refuses it."""
    url = _fifo()
    event = _event(1)
    assert event.interaction is not None
    rng = random.Random(10)
    event.interaction.text = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(150_000))  # 450 KB
    with pytest.raises(PayloadTooLarge) as refused:
        enqueue([event], queue_url=url)
    assert refused.value.status == 413 and "256 KiB" in refused.value.reason
    assert _drain(url) == []


def test_a_missing_queue_is_an_enqueue_failure_so_the_platform_retries(moto_env: None) -> None:
    with pytest.raises(PublishFailed) as failed:
        enqueue([_event(1)], queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/nope.fifo")
    assert failed.value.status == 503


def test_secrets_fail_closed_when_unset_missing_or_empty(moto_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sm = boto3.client("secretsmanager")
    with pytest.raises(SecretUnavailable):
        secrets().value("inbound_secret")  # no ARN configured
    empty = sm.create_secret(Name="empty", SecretString=" ")["ARN"]
    monkeypatch.setenv("SOCIALCARE_INBOUND_SECRET_ARN", empty)
    with pytest.raises(SecretUnavailable):
        secrets().value("inbound_secret")
    monkeypatch.setenv("SOCIALCARE_INBOUND_SECRET_ARN", empty.replace("empty", "gone"))
    with pytest.raises(SecretUnavailable):
        secrets().value("inbound_secret")


def test_each_brand_account_gets_its_own_secret_with_a_default(moto_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="x", SecretString=json.dumps({"111": "s-111", "default": "s-default"}))["ARN"]
    monkeypatch.setenv("SOCIALCARE_X_CONSUMER_SECRET_ARN", arn)
    assert secrets().for_account("x_consumer_secret", "111") == "s-111"
    assert secrets().for_account("x_consumer_secret", "222") == "s-default"
    assert sorted(secrets().candidates("x_consumer_secret")) == ["s-111", "s-default"]


def test_a_batch_of_large_events_is_split_to_fit_sqs_batch_size_limit(moto_env: None) -> None:
    url = _fifo()
    raw = {"text": "x" * 150_000}  # each message ~150 KB: two never fit one 256 KiB batch
    events = [_event(n, raw=raw) for n in range(4)]
    assert enqueue(events, queue_url=url) == 4
    assert len(_drain(url)) == 4
