"""The floors: the unavoidable work of each measured figure, done as plainly as possible against
the same moto endpoint, in the same run, through the same counting hooks.

The pipeline's floor per interaction (``FloorPipeline``), by stage, with why it is unavoidable:

* webhook: verify the HMAC, parse the JSON, one SendMessage (the platform needs its 200 only
  once the event is safe in SQS);
* processor, per batch of ten: one ReceiveMessage and one DeleteMessageBatch (Lambda's event
  source mapping); per interaction one GetItem of the identity claim (who is this?) and one
  conditional TransactWriteItems writing the interaction (conditional on its id: dedupe) and
  the case (conditional on its version, keyed into the team queue index); per batch one
  SendMessageBatch to the team queue and one to the CRM queue;
* dispatcher, per batch: one ReceiveMessage and one DeleteMessageBatch (pull destination: the
  case is already in its team's queue index);
* CRM sync, per batch: one ReceiveMessage and one DeleteMessageBatch; per interaction the POST
  to the CRM and one conditional UpdateItem storing the acknowledged version (at most once).

The interaction item carries the whole signed body (the raw event is kept for audit); the case
item the fields a case cannot lack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench import traffic
from bench.embedded import PLATFORM_LOG_BYTES, Embedded

FLOOR_STAGES = ("floor:webhook", "floor:processor", "floor:dispatcher", "floor:crm")


@dataclass
class FloorPipeline:
    emb: Embedded
    crm_url: str
    durations_ms: dict[str, list[float]] = field(default_factory=dict)
    invocations: dict[str, int] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sqs = self.emb.client("sqs")
        self.ddb = self.emb.client("dynamodb")
        names = self.emb.stack.provisioned.names
        self.profiles, self.cases = names["ProfilesTable"], names["CasesTable"]
        with self.emb.recorder.paused():
            for name in ("inbound", "team", "crm"):
                self.queues[name] = self.sqs.create_queue(
                    QueueName=f"bench-floor-{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            self.ddb.put_item(TableName=self.profiles, Item={
                "pk": {"S": "ID#phone#+393330000000"}, "sk": {"S": "CLAIM"},
                "customer_id": {"S": "C-floor"}, "verified": {"BOOL": True}})

    def _timed(self, stage: str, work: Any) -> Any:
        self.emb.recorder.stage = stage
        started = time.perf_counter()
        result = work()
        self.durations_ms.setdefault(stage, []).append((time.perf_counter() - started) * 1000)
        self.invocations[stage] = self.invocations.get(stage, 0) + 1
        return result

    def webhook(self, body: bytes, signature: str, secret: str) -> None:
        def work() -> None:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signature, expected):
                raise ValueError("floor: bad signature")
            json.loads(body)
            self.sqs.send_message(QueueUrl=self.queues["inbound"], MessageBody=body.decode(),
                                  MessageGroupId="author", MessageDeduplicationId=hashlib.sha256(body).hexdigest())
        self._timed("floor:webhook", work)

    def _receive(self, queue: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queues[queue], MaxNumberOfMessages=10).get("Messages", [])
        return messages

    def _delete(self, queue: str, messages: list[dict[str, Any]]) -> None:
        self.sqs.delete_message_batch(QueueUrl=self.queues[queue], Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def _send_batch(self, queue: str, bodies: list[str]) -> None:
        self.sqs.send_message_batch(QueueUrl=self.queues[queue], Entries=[
            {"Id": str(i), "MessageBody": b, "MessageGroupId": "case", "MessageDeduplicationId": uuid.uuid4().hex}
            for i, b in enumerate(bodies)])

    def _store(self, body: str, version: int) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.ddb.get_item(TableName=self.profiles, Key={"pk": {"S": "ID#phone#+393330000000"}, "sk": {"S": "CLAIM"}})
        interaction_id = uuid.uuid4().hex
        self.ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.profiles, "ConditionExpression": "attribute_not_exists(pk)", "Item": {
                "pk": {"S": "CUSTOMER#C-floor"}, "sk": {"S": f"TS#{now}#{interaction_id}"},
                "case_id": {"S": "SC-floor"}, "raw": {"S": body}}}},
            {"Put": {"TableName": self.cases, "Item": {
                "pk": {"S": "FLOOR#SC-floor"}, "sk": {"S": "CASE"}, "customer_id": {"S": "C-floor"},
                "status": {"S": "open"}, "team": {"S": "social"}, "priority": {"S": "high"},
                "version": {"N": str(version)}, "updated_at": {"S": now}, "sla_due": {"S": now},
                "queue_pk": {"S": "TEAM#bench-floor#STATUS#open"}, "queue_sk": {"S": f"{now}#SC-floor"}},
                "ConditionExpression": "attribute_not_exists(version) OR version < :v",
                "ExpressionAttributeValues": {":v": {"N": str(version)}}}},
        ])

    def settle(self) -> None:
        """One round of each consumer stage over what the webhooks queued."""
        self.emb.recorder.stage = "floor:processor"
        while messages := self._receive("inbound"):
            def process(batch: list[dict[str, Any]] = messages) -> None:
                for message in batch:
                    self._store(message["Body"], int(time.time() * 1e6))
                self._send_batch("team", [m["MessageId"] for m in batch])
                self._send_batch("crm", [m["MessageId"] for m in batch])
            self.emb.recorder.stage = "floor:processor"
            self._timed("floor:processor", process)
            self._delete("inbound", messages)
        self.emb.recorder.stage = "floor:dispatcher"
        while messages := self._receive("team"):
            self._timed("floor:dispatcher", lambda: None)
            self._delete("team", messages)
        self.emb.recorder.stage = "floor:crm"
        while messages := self._receive("crm"):
            def deliver(batch: list[dict[str, Any]] = messages) -> None:
                for message in batch:
                    request = urllib.request.Request(self.crm_url, data=message["Body"].encode(), method="POST")
                    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback CRM
                        answer.read()
                    self.ddb.update_item(
                        TableName=self.cases, Key={"pk": {"S": "FLOOR#SC-floor"}, "sk": {"S": "CRM"}},
                        UpdateExpression="SET synced_version = :v",
                        ConditionExpression="attribute_not_exists(synced_version) OR synced_version < :v",
                        ExpressionAttributeValues={":v": {"N": str(time.time_ns())}})
            self._timed("floor:crm", deliver)
            self._delete("crm", messages)

    def run(self, bodies: list[bytes], endpoint: str = "meta") -> None:
        secret = self.emb.stack.secret_values[traffic.SECRETS[endpoint]]
        for start in range(0, len(bodies), 10):
            for body in bodies[start:start + 10]:
                signature = traffic.signature_headers(endpoint, secret, body)["x-hub-signature-256"]
                self.webhook(body, signature, secret)
            self.settle()

    def log_bytes(self) -> dict[str, int]:
        """Only what Lambda itself writes per invocation: a floor logs nothing of its own."""
        return {stage: n * PLATFORM_LOG_BYTES for stage, n in self.invocations.items()}


def floor_ack(emb: Embedded, endpoint: str, body: bytes, headers: dict[str, str], secret: str, queue_url: str) -> float:
    """Milliseconds for a webhook's floor: HMAC verify, JSON parse, one SQS send."""
    started = time.perf_counter()
    if endpoint == "inbound":
        signed = headers["x-socialcare-timestamp"].encode() + b"." + body
        given = headers["x-socialcare-signature"]
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    elif endpoint == "x":
        given = headers["x-twitter-webhooks-signature"]
        expected = traffic.signature_headers("x", secret, body)["x-twitter-webhooks-signature"]
    else:
        given = headers["x-hub-signature-256"]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given, expected):
        raise ValueError("floor: bad signature")
    json.loads(body)
    emb.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body.decode(), MessageGroupId="author",
                                         MessageDeduplicationId=hashlib.sha256(body).hexdigest())
    return (time.perf_counter() - started) * 1000
