"""``cold_start``: each function's first call in a fresh interpreter, beside a floor that creates
the same boto3 clients and makes the same first AWS call (bench/coldstart_child.py), against the
embedded stack's moto. Runs alternate (function, floor, function, ...); the median is reported."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import stats, traffic
from bench.embedded import Embedded, repo_root
from socialcare_infra import esm

CHILD = Path(__file__).resolve().parent / "coldstart_child.py"
RUNS = 3


def events(emb: Embedded, captured: dict[str, Any]) -> dict[str, Any]:
    """A first event for every function the bench can feed; SQS and stream consumers get one the
    pipeline delivered (``captured``), the processor a new message each run (see ``fresh``)."""
    secrets = emb.stack.secret_values
    found: dict[str, Any] = {
        fn: traffic.signed_post(ep, secrets[traffic.SECRETS[ep]], traffic.fixture_body(ep))
        for ep, fn in traffic.FUNCTIONS.items()
    }
    found["ApiFunction"] = traffic.http_event("GET", "/api/customers", headers={
        "authorization": f"Bearer {secrets['ApiToken']}"}, query={"phone": "+393331112222"})
    found["CallerLookupFunction"] = traffic.fixture("connect_contact_flow.json")
    found["ProcessorFunction"] = None  # a fresh message per run (fresh_processor_event)
    found["SlaMonitorFunction"] = esm.scheduled_event(
        f"arn:aws:events:eu-west-1:{emb.stack.account_id}:rule/bench-sla", "eu-west-1", emb.stack.account_id)
    for function in ("SocialTeamDispatcherFunction", "CaseStreamFunction", "CrmSyncFunction"):
        if function in captured:
            found[function] = captured[function]
    return found


def fresh_processor_event(emb: Embedded, n: int) -> dict[str, Any]:
    """An inbound.fifo record of a message nobody processed yet (the webhook queued it)."""
    secret = emb.stack.secret_values["MetaAppSecret"]
    body = traffic.whatsapp_message(90_000 + n, traffic.italian_mobile(90_000 + n), "Paola Verdi",
                                    "Il pacco ORD-777777 non è arrivato.")
    # The webhooks' own cold starts (measured before this) queued their events on inbound.fifo:
    # dropped first, so the processor's first batch is this one message, not up to ten.
    emb.discard(emb.stack.provisioned.queue_urls["InboundQueue"])
    with emb.recorder.paused():
        emb.invoke("WebhookMetaFunction", traffic.signed_post("meta", secret, body))
        poller = emb.sqs_poller("ProcessorFunction")
        messages = poller.receive()
        poller._delete_messages(messages)  # the cold start below is its only delivery
    return {"Records": [esm.lambda_sqs_record(m, poller.source.queue_arn, "eu-west-1") for m in messages]}


def _run(mode: str, job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(job, handle)
    try:
        done = subprocess.run([sys.executable, str(CHILD), mode, handle.name], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    finally:
        os.unlink(handle.name)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("COLDSTART ")), None)
    if line is None:
        raise RuntimeError(f"cold start of {job['name']} ({mode}) failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line[len("COLDSTART "):])
    return result


def measure(emb: Embedded, captured: dict[str, Any], runs: int = RUNS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for function, event in events(emb, captured).items():
        spec = emb.functions[function]
        env = dict(spec.environment)
        env["PYTHONPATH"] = str(repo_root() / "shared")  # the layer, as Lambda puts it on sys.path
        job = {"name": spec.name, "arn": spec.arn, "memory_mb": spec.memory_mb,
               "app": str(spec.code_dir / "app.py"), "event": event}
        ours: list[float] = []
        floors: list[float] = []
        first: dict[str, Any] = {}
        for n in range(runs):
            if function == "ProcessorFunction":
                job["event"] = fresh_processor_event(emb, n)
            first = _run("function", job, env)
            ours.append(first["ms"])
            floor_job = {"clients": sorted(set(first["clients"])), "first_call": first["first_call"]}
            floors.append(_run("floor", floor_job, env)["ms"])
        ms, floor_ms = statistics.median(ours), statistics.median(floors)
        out[function] = {"ms": round(ms, 1), "import_ms": round(first["import_ms"], 1),
                         "floor_ms": round(floor_ms, 1), "ratio_to_floor": stats.ratio(ms, floor_ms),
                         "clients": sorted(set(first["clients"])), "first_call_aws_requests": len(first["calls"])}
    emb.discard(emb.stack.provisioned.queue_urls["InboundQueue"])
    return out
