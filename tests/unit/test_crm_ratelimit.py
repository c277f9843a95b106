"""The shared token bucket in StateTable (through StateRepository), and the CRM state of a case in
CasesTable (through CasesRepository) (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from socialcare.crm.ratelimit import TokenBucket
from socialcare.models.crm import CrmState
from socialcare.store.cases import CasesRepository
from socialcare.store.state import StateRepository
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tables() -> Iterator[dict[str, str]]:
    with mock_aws():
        made = Provisioner(Resolver(load_template(TEMPLATE), stack_name="t"), endpoint_url=None, environ={}).provision()  # type: ignore[arg-type]
        yield made.names


def _bucket(
    tables: dict[str, str], clock: Clock, *, rate: float = 2.0, burst: float = 3.0, client: Any = None
) -> TokenBucket:
    store = StateRepository(tables["StateTable"], client or boto3.client("dynamodb"))
    return TokenBucket("zendesk", store, rate_per_second=rate, burst=burst, clock=clock)


def test_burst_then_wait_then_refill(tables: dict[str, str]) -> None:
    clock = Clock()
    bucket = _bucket(tables, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # empty: one token per 0.5 s
    clock.now += 0.5
    assert bucket.take() == 0.0
    clock.now += 100  # never refills beyond the burst
    assert [bucket.take() for _ in range(4)][-1] > 0


def test_two_invocations_share_one_bucket(tables: dict[str, str]) -> None:
    clock = Clock()
    first, second = _bucket(tables, clock), _bucket(tables, clock)
    assert first.take() == 0.0 and second.take() == 0.0 and first.take() == 0.0
    assert second.take() > 0


class ReadHook:
    """A DynamoDB client that runs ``hook`` once, right after the next read: the other taker
    lands exactly between our read and our conditional write."""

    def __init__(self, client: Any, hook: Any) -> None:
        self.client, self.hook = client, hook

    def get_item(self, **kw: Any) -> Any:
        answer = self.client.get_item(**kw)
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_token_spent_between_read_and_write_is_not_spent_twice(tables: dict[str, str]) -> None:
    clock = Clock()
    _bucket(tables, clock, burst=2.0).take()  # one token left
    other = _bucket(tables, clock, burst=2.0)
    results: dict[str, float] = {}
    racing = _bucket(
        tables,
        clock,
        burst=2.0,
        client=ReadHook(boto3.client("dynamodb"), lambda: results.setdefault("other", other.take())),
    )

    results["racing"] = racing.take()

    assert results["other"] == 0.0  # the other invocation got the last token
    assert results["racing"] > 0  # our stale read lost the conditional write; we wait


def test_a_429_holds_everyone_until_retry_after(tables: dict[str, str]) -> None:
    clock = Clock()
    bucket, other = _bucket(tables, clock), _bucket(tables, clock)
    bucket.hold(30)
    assert other.take() == pytest.approx(30.5)
    bucket.hold(5)  # a shorter hold never shortens a longer one
    clock.now += 31
    assert other.take() == 0.0


def test_crm_state_only_moves_forward_and_needs_the_case(tables: dict[str, str]) -> None:
    client = boto3.client("dynamodb")
    client.put_item(
        TableName=tables["CasesTable"], Item={"pk": {"S": "CASE#SC-2026-1"}, "sk": {"S": "CASE"}, "version": {"N": "3"}}
    )
    records = CasesRepository(tables["CasesTable"], client)
    assert records.crm_state("SC-2026-1") == CrmState(case_version=3)
    assert records.record_crm_sync("SC-2026-1", provider="zendesk", record_id="77", version=3)
    # late, older sync
    assert not records.record_crm_sync("SC-2026-1", provider="zendesk", record_id="77", version=2)
    assert records.crm_state("SC-2026-1") == CrmState("77", "zendesk", 3, case_version=3)
    # The cases repository rewrites the case item whole: the CRM state must survive that.
    client.put_item(
        TableName=tables["CasesTable"], Item={"pk": {"S": "CASE#SC-2026-1"}, "sk": {"S": "CASE"}, "version": {"N": "4"}}
    )
    assert records.crm_state("SC-2026-1") == CrmState("77", "zendesk", 3, case_version=4)
    assert records.case_for_crm_record("77") == "SC-2026-1"
    assert records.crm_state("SC-2026-404") is None
    # no phantom case
    assert not records.record_crm_sync("SC-2026-404", provider="zendesk", record_id="1", version=1)
    stray = client.query(
        TableName=tables["CasesTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CASE#SC-2026-404"}},
    )
    assert stray["Items"] == []
