"""The reliability suite's view of one moto stack: the real functions (``functions/*/app.py``
loaded with ``load_app``, as a cold start), driven the way API Gateway, Amazon Connect, SQS's
event source mapping and the CasesTable stream drive them, and a count of everything that
landed - every item in every table and every message on every queue downstream of the
processor.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from event_source import run_event_source  # tests/integration/event_source.py
from webhook_calls import FUNCTIONS, SECRETS, Context, drain_messages, post_signed  # tests/integration/

from socialcare import aws as aws_clients
from socialcare_infra.esm import matches_any
from socialcare_infra.handlers import load_app
from socialcare_infra.streams import lambda_stream_event

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
CHANNELS = ROOT / "tests" / "fixtures" / "channels"

# What the processor and the case stream feed, by the template's logical ids.
DOWNSTREAM = ("SocialTeamQueue", "CallcentreTeamQueue", "CrmSyncQueue", "OutboundQueue")
DLQS = ("InboundDLQ", "SocialTeamDLQ", "CallcentreTeamDLQ", "CrmSyncDLQ", "OutboundDLQ")


def corpus(name: str) -> dict[str, Any]:
    """One documented request (tests/fixtures/corpus/<name>.json; each file names its source)."""
    return dict(json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8")))


def as_bytes(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def whole_batch_failure(handler: Callable[[dict[str, Any], Any], Any], context: Any) -> Callable[..., Any]:
    """``handler`` as Lambda's event source sees it: an exception (Powertools raises when every
    record of a batch failed) is a failure of the whole batch, which stays on the queue."""

    def invoke(event: dict[str, Any]) -> Any:
        try:
            return handler(event, context)
        except Exception:  # Lambda reports it and leaves every record to its visibility timeout
            return "the invocation failed"

    return invoke


@dataclass
class Stack:
    """The functions of one moto stack (the ``aws`` fixture) and what they made."""

    aws: Any  # tests/integration/conftest.py AwsStack
    case_versions: Any  # tests/integration/conftest.py CaseVersions
    apps: dict[str, ModuleType] = field(default_factory=dict)
    landed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dead: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)

    def app(self, function_dir: str) -> ModuleType:
        if function_dir not in self.apps:
            self.apps[function_dir] = load_app(function_dir)
        return self.apps[function_dir]

    # ------------------------------------------------------------------ callers
    def post(self, endpoint: str, body: bytes) -> tuple[int, Any]:
        """A platform's signed POST to ``/webhooks/<endpoint>``."""
        secret = self.aws.secret_values[SECRETS[endpoint]]
        return post_signed(self.app(FUNCTIONS[endpoint]), endpoint, secret, body)

    def call_connect(self, event: dict[str, Any]) -> dict[str, str]:
        """Amazon Connect invoking CallerLookupFunction from a contact flow."""
        context = Context(7_000, function_name="CallerLookupFunction", memory_limit_in_mb=256)
        return dict(self.app("caller_lookup").handler(event, context))

    # ------------------------------------------------------------------ event sources
    def processor(self) -> Callable[[dict[str, Any]], Any]:
        return whole_batch_failure(self.app("processor").handler,
                                   Context(function_name="ProcessorFunction", memory_limit_in_mb=1024))

    def process(self, *, timeout_elapses: bool = False) -> int:
        """Run ProcessorFunction on inbound.fifo, as its event source mapping does, until the
        queue is empty; every batch handed over is kept in ``batches``. Returns the number of
        invocations."""
        processor = self.processor()

        def handler(event: dict[str, Any]) -> Any:
            self.batches.append(event)
            return processor(event)

        return run_event_source(handler, self.aws.queue_urls["InboundQueue"], timeout_elapses=timeout_elapses)

    def redrive(self) -> None:
        """Hand every batch the processor already took to it once more - SQS delivering the same
        messages again (at least once; a visibility timeout ran out before the delete)."""
        processor = self.processor()
        for event in self.batches:
            assert processor(event) == {"batchItemFailures": []}

    def settle(self) -> None:
        """Relay the CasesTable stream to crm-sync.fifo, then take every message downstream of
        the processor (team, CRM sync, outbound queues and every DLQ) into ``landed``/``dead``."""
        while self._relay():
            pass
        for queues, into in ((DOWNSTREAM, self.landed), (DLQS, self.dead)):
            for queue in queues:
                got = drain_messages(self.aws.queue_urls[queue])
                into.setdefault(queue, []).extend({"id": m["MessageId"], **m.get("Attributes", {}),
                                                   "body": m["Body"]} for m in got)

    def _relay(self) -> bool:
        records = self.case_versions.reader.read()
        if not records:
            return False
        wanted = [r for r in records if matches_any(r, self.case_versions.filters)]
        if wanted:
            answer = self.case_versions.flow.handle_batch(
                lambda_stream_event(wanted, self.case_versions.arn, self.aws_region))
            assert answer == {"batchItemFailures": []}, answer
        return True

    @property
    def aws_region(self) -> str:
        return str(self.case_versions.arn.split(":")[3])

    # ------------------------------------------------------------------ what landed
    def items(self) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
        """Every item of every table, by (pk, sk)."""
        ddb = boto3.client("dynamodb")
        out: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        for lid, table in self.aws.tables.items():
            if table not in self.keys:
                schema = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
                self.keys[table] = [k["AttributeName"] for k in schema]
            keys = self.keys[table]
            rows = [i for page in ddb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
            out[lid] = {tuple(next(iter(row[k].values())) for k in keys): row for row in rows}  # type: ignore[misc]
        return out

    def counts(self, items: dict[str, dict[tuple[str, str], dict[str, Any]]] | None = None) -> dict[str, int]:
        """What a user would call duplicates if they doubled: interactions, customers, cases and
        their timelines, delivery receipts, work items, CRM sync requests, replies, dead letters.

        A work item is counted once per item id and a CRM sync request once per case version:
        both are at-least-once by design (the processor republishes a redelivered interaction's
        work item under the same id, the stream may relay a version twice), and their consumers
        act once per id (the dispatcher's and the CRM delivery's idempotency records)."""
        items = self.items() if items is None else items
        profiles, cases = items["ProfilesTable"], items["CasesTable"]
        kinds: Counter[str] = Counter()
        for _pk, sk in profiles:
            kinds["interactions" if sk.startswith("TS#") else "customers" if sk == "PROFILE"
                  else "receipts" if sk.startswith("STATUS#") else "guards" if sk == "GUARD" else "other"] += 1
        for pk, sk in cases:
            if pk.startswith("CASE#") and sk == "CASE":
                kinds["cases"] += 1
            elif sk.startswith("INT#"):
                kinds["case_interactions"] += 1
        work = [m for queue in ("SocialTeamQueue", "CallcentreTeamQueue") for m in self.landed.get(queue, [])]
        kinds["work_items"] = len({json.loads(m["body"])["item_id"] for m in work})
        kinds["crm_sync_requests"] = len({(r["case_id"], r["version"]) for r in map(
            json.loads, (m["body"] for m in self.landed.get("CrmSyncQueue", [])))})
        kinds["replies"] = len({m["MessageDeduplicationId"] for m in self.landed.get("OutboundQueue", [])})
        kinds["dead_letters"] = sum(len(v) for v in self.dead.values())
        return dict(kinds)

    def interaction_ids(self) -> list[str]:
        """The interaction id of every timeline item (duplicates kept)."""
        profiles = self.items()["ProfilesTable"]
        return sorted(str(sk).split("#", 2)[2] for _, sk in profiles if str(sk).startswith("TS#"))


class Fault:
    """An AWS error injected on the client the functions share (``socialcare.aws.client`` caches
    one per service per execution environment): a botocore ``before-call`` hook answers with the
    error instead of sending the request, for the calls ``fails(n, operation)`` picks (``n``
    counts the service's calls from 1). The answer is what the SDK raises once its own retries
    are spent; nothing of ours is patched. ``calls`` records every call seen, ``injected`` the
    failed ones."""

    def __init__(self, service: str, code: str, fails: Callable[[int, str], bool], *, status: int = 400,
                 mentioning: str | None = None) -> None:
        self.service, self.code, self.fails, self.status = service, code, fails, status
        self.mentioning = mentioning  # only requests whose body contains this text
        self.calls: list[str] = []
        self.injected: list[str] = []
        self.client = aws_clients.client(service)

    def __enter__(self) -> Fault:
        self.client.meta.events.register(f"before-call.{self.service}", self._before_call)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister(f"before-call.{self.service}", self._before_call)

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body") or b""
        if self.mentioning is not None and self.mentioning.encode() not in (
                body if isinstance(body, bytes) else str(body).encode()):
            return None
        self.calls.append(model.name)
        if not self.fails(len(self.calls), model.name):
            return None
        self.injected.append(model.name)
        error = {"Code": self.code, "Message": f"injected by the reliability suite ({model.name})"}
        return AWSResponse("https://fault.invalid/", self.status, {}, None), {
            "Error": error, "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": {}}}


class Enqueued:
    """Every entry the functions send to inbound.fifo, read off the wire (a botocore hook on the
    shared SQS client that only looks): the webhooks' side of the accounting."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        self.entries: list[dict[str, Any]] = []
        self.client = aws_clients.client("sqs")

    def __enter__(self) -> Enqueued:
        self.client.meta.events.register("before-call.sqs.SendMessageBatch", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister("before-call.sqs.SendMessageBatch", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        request = json.loads(params["body"])
        if request["QueueUrl"] == self.queue_url:
            self.entries.extend(request["Entries"])
