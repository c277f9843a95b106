"""One interaction end to end, as Lambda would run it: signed webhook -> inbound.fifo -> processor
-> team queues -> dispatchers, and CasesTable stream -> case stream -> crm-sync.fifo -> CRM sync
-> a loopback CRM; every AWS request counted by stage (``bench.calls``).

The event source mappings are the local stack's own pollers, one round at a time: each
ReceiveMessage (up to the template's BatchSize) and DeleteMessageBatch is counted as the
mapping's, as Lambda would make them. DynamoDB Streams reads by a Lambda trigger are free and
are reported apart (stage ``esm:stream``), not as DynamoDB requests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import traffic
from bench.calls import Usage
from bench.embedded import Embedded

BATCH = 10  # events per batch, as the inbound mapping's BatchSize delivers them
CONSUMERS = ("ProcessorFunction", "SocialTeamDispatcherFunction", "CallcentreTeamDispatcherFunction",
             "CrmSyncFunction")
STREAM_STAGE = "esm:stream"


class LoopbackCrm:
    """The CRM the signed-webhook adapter delivers to: ``http.server`` on loopback, 200 always."""

    def __init__(self) -> None:
        received: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                answer = json.dumps({"id": f"crm-{len(received)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm/cases"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Pipeline:
    """The mappings of one embedded stack, kept across batches (the stream reader's position)."""

    emb: Embedded
    pollers: dict[str, Any] = field(default_factory=dict)
    stream: Any = None
    streams: list[Any] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for function in CONSUMERS:
            self.pollers[function] = self.emb.sqs_poller(function)
        self.stream = self.emb.stream_poller("CaseStreamFunction")
        # the report's counters are kept as events arrive: their cost is part of the whole path
        self.streams = [self.stream, *self.emb.stream_pollers("ReportAggregatorFunction")]

    def post(self, endpoint: str, body: bytes) -> int:
        secret = self.emb.stack.secret_values[traffic.SECRETS[endpoint]]
        response = self.emb.invoke(traffic.FUNCTIONS[endpoint], traffic.signed_post(endpoint, secret, body))
        status = int(response["statusCode"])
        self.statuses.append(status)
        return status

    def _visible(self, function: str) -> int:
        poller = self.pollers[function]
        with self.emb.recorder.paused():
            attributes = self.emb.client("sqs").get_queue_attributes(
                QueueUrl=poller.source.queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def drain_queue(self, function: str) -> None:
        recorder = self.emb.recorder
        for _ in range(1000):
            if not self._visible(function):
                return
            recorder.stage = f"esm:{function}"
            self.pollers[function].poll_once()

    def drain_stream(self) -> None:
        self.emb.recorder.stage = STREAM_STAGE
        for _ in range(1000):
            if not any([stream.poll_once() for stream in self.streams]):  # every stream, each round
                return

    def settle(self) -> None:
        """Run every stage after the webhooks until nothing is left anywhere."""
        for _ in range(20):
            self.drain_queue("ProcessorFunction")
            self.drain_stream()
            for function in CONSUMERS[1:]:
                self.drain_queue(function)
            if not any(self._visible(f) for f in CONSUMERS):
                return

    def run(self, bodies: list[bytes], endpoint: str = "meta") -> None:
        """Post ``bodies`` in batches of ten and settle the pipeline after each batch."""
        for start in range(0, len(bodies), BATCH):
            self.emb.recorder.stage = "webhook"
            for body in bodies[start:start + BATCH]:
                self.post(endpoint, body)
            self.settle()


def per_interaction(usages: dict[str, Usage], interactions: int) -> dict[str, Any]:
    """Requests per interaction: the processor's DynamoDB, every stage's DynamoDB and SQS, by
    stage and operation."""
    by_stage: dict[str, dict[str, float]] = {}
    dynamodb = sqs = processor = 0
    for stage, usage in sorted(usages.items()):
        ops = {f"{svc}.{op}": round(n / interactions, 3) for (svc, op), n in sorted(usage.requests.items())}
        if ops:
            by_stage[stage] = ops
        for (svc, _op), n in usage.requests.items():
            if svc == "dynamodb":
                dynamodb += n
                processor += n if stage == "ProcessorFunction" else 0
            elif svc == "sqs":
                sqs += n
    units = {stage: {"write_units": round(u.write_units / interactions, 2),
                     "index_write_units": round(u.index_write_units / interactions, 2),
                     "read_units": round(u.read_units / interactions, 2)}
             for stage, u in sorted(usages.items()) if u.write_units or u.index_write_units or u.read_units}
    return {"processor": round(processor / interactions, 3), "dynamodb": round(dynamodb / interactions, 3),
            "sqs": round(sqs / interactions, 3), "by_stage_op": by_stage, "capacity_by_stage": units}
