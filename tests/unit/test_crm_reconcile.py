"""socialcare crm reconcile: cases whose CRM copy lags are found and re-enqueued (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from socialcare import aws
from socialcare.crm.reconcile import reconcile
from socialcare.crm.records import CrmRecords
from socialcare.settings import get_settings
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
        get_settings.cache_clear()
        aws.reset()
        client = boto3.client("dynamodb")
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
            if synced is not None:
                CrmRecords().record(case_id, provider=provider, record_id=f"r-{case_id}", version=synced)
        # not a case item: must be ignored
        client.put_item(
            TableName=made.names["CasesTable"],
            Item={"pk": {"S": "SEQ#2026"}, "sk": {"S": "CASE"}, "version": {"N": "9"}},
        )
        yield made
        get_settings.cache_clear()
        aws.reset()


def test_lagging_cases_are_re_enqueued_at_their_current_version(made: Any) -> None:
    report = reconcile()

    assert sorted(report.enqueued) == ["SC-2026-2", "SC-2026-3", "SC-2026-4"]  # -4 sits in the old CRM
    messages = boto3.client("sqs").receive_message(
        QueueUrl=made.queue_urls["CrmSyncQueue"], MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    bodies = {json.loads(m["Body"])["case_id"]: json.loads(m["Body"]) for m in messages}
    assert bodies["SC-2026-2"]["version"] == 5 and bodies["SC-2026-2"]["reason"] == "reconcile"
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == set(bodies)


def test_dry_run_lists_without_enqueueing(made: Any) -> None:
    report = reconcile(dry_run=True)
    assert {c.case_id: (c.version, c.synced_version) for c in report.lagging} == {
        "SC-2026-2": (5, 3),
        "SC-2026-3": (2, 0),
        "SC-2026-4": (2, 2),
    }
    assert report.enqueued == []
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=made.queue_urls["CrmSyncQueue"])


def test_one_failing_enqueue_does_not_stop_the_sweep(made: Any) -> None:
    def enqueue(case_id: str, version: int, **_: Any) -> str:
        if case_id == "SC-2026-3":
            raise RuntimeError("throttled")
        return "ok"

    report = reconcile(enqueue=enqueue)
    assert report.failed == {"SC-2026-3": "throttled"}
    assert sorted(report.enqueued) == ["SC-2026-2", "SC-2026-4"]
