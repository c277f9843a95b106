"""socialcare crm reconcile: cases whose CRM copy lags are found and re-enqueued (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from socialcare import aws
from socialcare.config.settings import ReconcileSettings, Settings, load
from socialcare.errors import ConfigurationError
from socialcare.flows.reconcile import reconcile
from socialcare.flows.wiring import Wiring
from socialcare.models.crm import CrmSyncRequest
from socialcare.models.interaction import InboundEvent
from socialcare.models.reply import OutboundMessage
from socialcare.models.workitem import WorkItem
from socialcare.publish import PublishFailed, dedupe_id
from socialcare.store.cases import CasesRepository
from socialcare_infra.provision import Provisioner
from socialcare_infra.template import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mock_aws():
        made = Provisioner(Resolver(load_template(TEMPLATE), stack_name="t"), endpoint_url=None, environ={}).provision()  # type: ignore[arg-type]
        monkeypatch.setenv("SOCIALCARE_CASES_TABLE", made.names["CasesTable"])
        monkeypatch.setenv("SOCIALCARE_CRM_SYNC_QUEUE_URL", made.queue_urls["CrmSyncQueue"])
        monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "zendesk")
        aws.reset()
        client = boto3.client("dynamodb")
        records = CasesRepository(made.names["CasesTable"], client)
        rows = [
            ("SC-2026-1", 4, 4, "zendesk"),
            ("SC-2026-2", 5, 3, "zendesk"),
            ("SC-2026-3", 2, None, None),
            ("SC-2026-4", 2, 2, "hubspot"),
        ]
        for case_id, version, synced, provider in rows:
            client.put_item(
                TableName=made.names["CasesTable"],
                Item={"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": "CASE"}, "version": {"N": str(version)}},
            )
            if synced is not None and provider is not None:
                assert records.record_crm_sync(case_id, provider=provider, record_id=f"r-{case_id}", version=synced)
        # not a case item: must be ignored
        client.put_item(
            TableName=made.names["CasesTable"],
            Item={"pk": {"S": "SEQ#2026"}, "sk": {"S": "CASE"}, "version": {"N": "9"}},
        )
        yield made
        aws.reset()


def _wiring() -> Wiring:
    # What `socialcare crm reconcile` builds: the reconcile settings, from the environment.
    return Wiring(load(ReconcileSettings))


def test_lagging_cases_are_re_enqueued_at_their_current_version(made: Any) -> None:
    report = reconcile(_wiring())

    assert sorted(report.enqueued) == ["SC-2026-2", "SC-2026-3", "SC-2026-4"]  # -4 sits in the old CRM
    messages = boto3.client("sqs").receive_message(
        QueueUrl=made.queue_urls["CrmSyncQueue"], MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    bodies = {json.loads(m["Body"])["case_id"]: json.loads(m["Body"]) for m in messages}
    assert bodies["SC-2026-2"]["version"] == 5 and bodies["SC-2026-2"]["reason"] == "reconcile"
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == set(bodies)
    # Deduped per case version, like every other sync of that version (the stream relay's too).
    assert {m["Attributes"]["MessageDeduplicationId"] for m in messages} == {
        dedupe_id(CrmSyncRequest(case_id=case_id, version=body["version"])) for case_id, body in bodies.items()
    }


def test_dry_run_lists_without_enqueueing(made: Any) -> None:
    report = reconcile(_wiring(), dry_run=True)
    assert {c.case_id: (c.version, c.synced_version) for c in report.lagging} == {
        "SC-2026-2": (5, 3),
        "SC-2026-3": (2, 0),
        "SC-2026-4": (2, 2),
    }
    assert report.enqueued == []
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=made.queue_urls["CrmSyncQueue"])


def test_limit_bounds_the_sweep(made: Any) -> None:
    report = reconcile(_wiring(), dry_run=True, limit=2)
    assert [c.case_id for c in report.lagging] == ["SC-2026-2", "SC-2026-3"]


def test_without_a_crm_sync_queue_reconcile_does_not_start(made: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcare.errors import ConfigurationError

    monkeypatch.delenv("SOCIALCARE_CRM_SYNC_QUEUE_URL")
    with pytest.raises(ConfigurationError, match="SOCIALCARE_CRM_SYNC_QUEUE_URL is required"):
        reconcile()


class FlakyPublisher:
    """An in-memory ``ports.Publisher`` whose crm-sync queue refuses one case."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.syncs: list[CrmSyncRequest] = []

    def inbound(self, events: Sequence[InboundEvent]) -> int:
        raise AssertionError("reconcile publishes crm syncs only")

    def work_items(self, items: Sequence[WorkItem]) -> None:
        raise AssertionError("reconcile publishes crm syncs only")

    def crm_syncs(self, requests: Sequence[CrmSyncRequest]) -> None:
        if any(r.case_id == self.refuse for r in requests):
            raise PublishFailed("throttled")
        self.syncs.extend(requests)

    def outbound(self, replies: Sequence[OutboundMessage]) -> None:
        raise AssertionError("reconcile publishes crm syncs only")

    def alert(self, subject: str, message: Mapping[str, Any]) -> None:
        raise AssertionError("reconcile publishes crm syncs only")


class FlakyWiring(Wiring):
    def __init__(self, settings: Settings, publisher: FlakyPublisher) -> None:
        super().__init__(settings)
        self._publisher = publisher

    @cached_property
    def publisher(self) -> Any:
        return self._publisher


def test_one_failing_enqueue_does_not_stop_the_sweep(made: Any) -> None:
    publisher = FlakyPublisher(refuse="SC-2026-3")

    report = reconcile(FlakyWiring(load(ReconcileSettings), publisher))

    assert report.failed == {"SC-2026-3": "throttled"}
    assert sorted(report.enqueued) == ["SC-2026-2", "SC-2026-4"]
    assert sorted((r.case_id, r.version, r.reason) for r in publisher.syncs) == [
        ("SC-2026-2", 5, "reconcile"),
        ("SC-2026-4", 2, "reconcile"),
    ]


def test_without_a_crm_reconcile_lists_but_refuses_to_enqueue(made: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_CRM_PROVIDER", "none")
    wiring = Wiring(load(ReconcileSettings))
    listed = reconcile(wiring, dry_run=True)
    # No provider to compare with: only versions the CRM never acknowledged lag.
    assert [c.case_id for c in listed.lagging] == ["SC-2026-2", "SC-2026-3"]
    with pytest.raises(ConfigurationError, match="SOCIALCARE_CRM_PROVIDER is none"):
        reconcile(wiring)
    queue = boto3.client("sqs").receive_message(QueueUrl=made.queue_urls["CrmSyncQueue"]).get("Messages", [])
    assert queue == []
