"""Data rights on `socialcare local`, over HTTP only (docs/privacy.md): the story is replayed as
signed webhooks; Anna's export holds her messages; DELETE erases her (ErasureQueue ->
ErasureFunction); her phone finds nobody; no table or bucket of the stack's moto holds her phone,
name, handle, X id or other platform ids; redelivering her messages does not bring her back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from data_rights_scan import leftovers

from socialcare_infra import scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ADMIN = {"Authorization": "Bearer local-api-token"}
ANNA = scenario.ANNA
NEEDLES = ["3331112222", "bianchi", ANNA["x_id"], ANNA["messenger_psid"], ANNA["facebook_id"]]


@pytest.fixture(scope="module")
def stack(local_stack_factory: Callable[..., Any], wait_for: Callable[..., Any]) -> Iterator[Any]:
    with local_stack_factory() as local:
        secrets = scenario.Secrets.from_env({})
        steps = scenario.story(secrets)
        for step in steps:
            requests.request(step.method, f"{local.api_url}{step.path}", data=step.body, headers=step.headers,
                             timeout=10)
        local.story_steps = {s.name: s for s in steps}
        wait_for(lambda: customers(local, whatsapp=ANNA["wa_id"]))
        wait_for(lambda: customers(local, instagram=scenario.MARCO["instagram_id"]))
        yield local


def customers(stack: Any, **query: str) -> list[dict[str, Any]]:
    r = requests.get(f"{stack.api_url}/api/customers", params=query, headers=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json()["customers"])


def inbound_drained(stack: Any) -> bool:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.names["InboundQueue"])["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                    "ApproximateNumberOfMessagesNotVisible"])
    return all(v == "0" for v in attrs["Attributes"].values())


def test_export_erase_scan_and_redelivery(stack: Any, wait_for: Callable[..., Any]) -> None:
    (anna,) = customers(stack, phone=ANNA["phone"])

    # her export holds her messages
    export = requests.get(f"{stack.api_url}/api/customers/{anna['id']}/export", headers=ADMIN, timeout=30)
    assert export.status_code == 200, export.text
    messages = {m["id"]: m for m in export.json()["timeline"]}
    assert {"x:1860000000000000001", "messenger:m_AnnaMessenger0001"} <= set(messages)
    assert all(m.get("text") for m in messages.values() if m["channel"] in ("x", "messenger", "whatsapp"))
    assert leftovers(stack.client("dynamodb"), stack.client("s3"), NEEDLES)  # the scan sees her now

    # DELETE: a job, done by ErasureFunction
    erase = requests.delete(f"{stack.api_url}/api/customers/{anna['id']}", headers=ADMIN, timeout=10)
    assert erase.status_code == 202, erase.text
    status_url = erase.json()["status_url"]
    assert wait_for(lambda: requests.get(status_url, timeout=10).json()["status"] == "done", timeout=60)

    assert customers(stack, phone=ANNA["phone"]) == []
    assert customers(stack, x=ANNA["x_id"]) == []
    assert customers(stack, instagram=scenario.MARCO["instagram_id"])  # Marco stays
    assert leftovers(stack.client("dynamodb"), stack.client("s3"), NEEDLES) == []

    # the platforms redeliver her X mention and the Meta batch: she does not come back
    for name in ("X: redelivered mention", "Meta: redelivered batch", "WhatsApp: message"):
        step = stack.story_steps[name]
        r = requests.request(step.method, f"{stack.api_url}{step.path}", data=step.body, headers=step.headers,
                             timeout=10)
        assert r.status_code == 200, (name, r.text)
    assert wait_for(lambda: inbound_drained(stack), timeout=60)
    assert customers(stack, phone=ANNA["phone"]) == []
    assert customers(stack, x=ANNA["x_id"]) == []
    assert leftovers(stack.client("dynamodb"), stack.client("s3"), NEEDLES) == []
