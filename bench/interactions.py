"""Requests, throughput and cost per interaction, for a returning and a new customer, beside the
floor (bench/floors.py), all measured in one run on one embedded stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench import stats, traffic
from bench.calls import Usage
from bench.embedded import Embedded
from bench.floors import FloorPipeline
from bench.pipeline import STREAM_STAGE, Pipeline, per_interaction

INTERACTIONS = 30  # three batches of ten
RETURNING = ("393331112222", "Anna Bianchi")
# The floor's stages run in the function whose work they stand for (its memory size).
FLOOR_FUNCTIONS = {"floor:webhook": "WebhookMetaFunction", "floor:processor": "ProcessorFunction",
                   "floor:dispatcher": "SocialTeamDispatcherFunction", "floor:crm": "CrmSyncFunction"}


def returning_bodies(count: int, offset: int) -> list[bytes]:
    wa_id, name = RETURNING
    return [traffic.whatsapp_message(offset + i, wa_id, name, f"Scrivo ancora per l'ordine ORD-123456 ({i}): "
                                     "il rimborso non è arrivato.") for i in range(count)]


def new_bodies(count: int, offset: int) -> list[bytes]:
    return [traffic.whatsapp_message(offset + i, traffic.italian_mobile(offset + i), f"Giulia Neri{i}",
                                     f"Buongiorno, l'ordine ORD-{200000 + offset + i} non è arrivato.")
            for i in range(count)]


def usage_counts(usages: Mapping[str, Usage], runtime: Mapping[str, Any], memory_mb: Mapping[str, int],
                 n: int, api_requests: int) -> dict[str, float]:
    """What one interaction used on average, in the units ``stats.cost_per_million`` prices."""
    requests: dict[tuple[str, str], int] = {}
    for usage in usages.values():
        for key, count in usage.requests.items():
            requests[key] = requests.get(key, 0) + count
    gb_s = sum(sum(ms) / 1000 * memory_mb[fn] / 1024 for fn, ms in runtime["durations_ms"].items())
    return {
        "dynamodb_write_units": sum(u.write_units + u.index_write_units for u in usages.values()) / n,
        "dynamodb_read_units": sum(u.read_units for u in usages.values()) / n,
        "dynamodb_stored_bytes": sum(u.stored_bytes for u in usages.values()) / n,
        "sqs_requests": sum(u.sqs_billed_requests for u in usages.values()) / n,
        "sns_publishes": sum(c for (svc, _), c in requests.items() if svc == "sns") / n,
        "s3_puts": sum(c for (svc, op), c in requests.items() if svc == "s3" and op in ("PutObject", "CopyObject")) / n,
        "s3_gets": sum(c for (svc, op), c in requests.items() if svc == "s3" and op in ("GetObject", "HeadObject")) / n,
        "lambda_requests": sum(runtime["invocations"].values()) / n,
        "lambda_gb_seconds": gb_s / n,
        "api_requests": api_requests / n,
        "log_bytes": sum(runtime["log_bytes"].values()) / n,
    }


def _phase(emb: Embedded, pipeline: Pipeline, bodies: list[bytes]) -> tuple[dict[str, Usage], dict[str, Any]]:
    emb.recorder.take()
    emb.take_runtime()
    pipeline.run(bodies)
    return emb.recorder.take(), emb.take_runtime()


def _floor_phase(emb: Embedded, floor: FloorPipeline, bodies: list[bytes]) -> tuple[dict[str, Usage], dict[str, Any]]:
    emb.recorder.take()
    floor.durations_ms.clear()
    floor.invocations.clear()
    floor.run(bodies)
    usages = emb.recorder.take()
    runtime = {"durations_ms": {FLOOR_FUNCTIONS[s]: list(v) for s, v in floor.durations_ms.items()},
               "log_bytes": {FLOOR_FUNCTIONS[s]: v for s, v in floor.log_bytes().items()},
               "invocations": {FLOOR_FUNCTIONS[s]: v for s, v in floor.invocations.items()}}
    return usages, runtime


def _billed(usages: Mapping[str, Usage]) -> dict[str, Usage]:
    """Without the stream's reads: a Lambda trigger reads DynamoDB Streams for free."""
    return {stage: usage for stage, usage in usages.items() if stage != STREAM_STAGE}


def measure(emb: Embedded, crm_url: str, prices: Mapping[str, Any], n: int = INTERACTIONS) -> dict[str, Any]:
    pipeline = Pipeline(emb)
    memory = {fid: spec.memory_mb for fid, spec in emb.functions.items()}
    pipeline.run(returning_bodies(1, 0))  # the customer and her case exist before the measure
    returning = _phase(emb, pipeline, returning_bodies(n, 1))
    new = _phase(emb, pipeline, new_bodies(n, 1000))
    floor = _floor_phase(emb, FloorPipeline(emb, crm_url), returning_bodies(n, 5000))
    bad = [s for s in pipeline.statuses if s != 200]
    floor_calls = per_interaction(floor[0], n)
    floor_counts = usage_counts(floor[0], floor[1], memory, n, api_requests=n)
    floor_cost = stats.cost_per_million(floor_counts, prices)
    floor_s = sum(floor[1]["durations_ms"].get("ProcessorFunction", [])) / 1000
    out: dict[str, Any] = {"interactions": n, "webhook_statuses_not_200": len(bad)}
    for label, (usages, runtime) in (("returning", returning), ("new", new)):
        calls = per_interaction(_billed(usages), n)
        calls["by_stage_op"] = per_interaction(usages, n)["by_stage_op"]
        counts = usage_counts(_billed(usages), runtime, memory, n, api_requests=runtime["invocations"].get(
            "WebhookMetaFunction", 0))
        cost = stats.cost_per_million(counts, prices)
        processor_s = sum(runtime["durations_ms"].get("ProcessorFunction", [])) / 1000
        floor_requests = floor_calls["dynamodb"] + floor_calls["sqs"]
        out[label] = {
            "dynamodb": {"processor": calls["processor"], "end_to_end": calls["dynamodb"],
                         "floor": floor_calls["dynamodb"], "ratio_to_floor": stats.ratio(calls["dynamodb"],
                                                                                         floor_calls["dynamodb"])},
            "sqs": {"end_to_end": calls["sqs"], "floor": floor_calls["sqs"],
                    "ratio_to_floor": stats.ratio(calls["sqs"], floor_calls["sqs"])},
            "whole_path": {"requests": round(calls["dynamodb"] + calls["sqs"], 3), "floor": round(floor_requests, 3),
                           "ratio_to_floor": stats.ratio(calls["dynamodb"] + calls["sqs"], floor_requests)},
            "by_stage_op": calls["by_stage_op"],
            "capacity_by_stage": calls["capacity_by_stage"],
            "per_interaction": {k: round(v, 4) for k, v in counts.items()},
            "cost": {**cost, "floor": floor_cost["total"], "ratio_to_floor": stats.ratio(cost["total"],
                                                                                         floor_cost["total"])},
            "throughput": {"interactions_per_s": round(n / processor_s, 2) if processor_s else None,
                           "floor_interactions_per_s": round(n / floor_s, 2) if floor_s else None,
                           "ratio_to_floor": stats.ratio(processor_s, floor_s)},
        }
    out["floor"] = {"by_stage_op": floor_calls["by_stage_op"], "per_interaction": {
        k: round(v, 4) for k, v in floor_counts.items()}, "cost": floor_cost}
    return out
