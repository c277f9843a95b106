"""``make bench``: speed, requests and cost on the embedded AWS, each beside its floor
(bench/README.md). Merges its figures into ``bench/results.json`` (keeping ``recognition``),
prints a table with goal and pass/miss per figure, and exits 1 when a goal is missed.

    python -m bench.run [--out bench/results.json] [--quick] [--only cold_start]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench.calls import Recorder, install

RESULTS = Path(__file__).resolve().parent / "results.json"


def measure_cold_start(quick: bool) -> dict[str, Any]:
    """Only the ``cold_start`` figures (and their goals): a returning and a new customer's message through
    the pipeline first, so every consumer has a delivered event to start cold on."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    recorder = Recorder("eu-west-1")
    install(recorder)
    from bench import coldstart, interactions, stats
    from bench.embedded import Embedded
    from bench.pipeline import LoopbackCrm, Pipeline

    crm = LoopbackCrm()
    started = time.monotonic()
    try:
        with Embedded(recorder, {"CrmProvider": "webhook", "CrmWebhookUrl": crm.url}) as emb:
            # a returning customer's case goes to the call centre, a new one's to the social team
            Pipeline(emb).run(interactions.returning_bodies(1, 0) + interactions.new_bodies(1, 1000))
            cold = coldstart.measure(emb, emb.first_events, runs=1 if quick else coldstart.RUNS)
    finally:
        crm.stop()
    print(f"bench: cold_start measured in {round(time.monotonic() - started, 1)} s", file=sys.stderr, flush=True)
    return {"cold_start": cold, "goals": {f"cold_start.{fn}.ratio_to_floor": stats.goal(v["ratio_to_floor"], 1.3)
                                          for fn, v in cold.items()}}


def measure(quick: bool) -> dict[str, Any]:
    # Powertools warns on every handler that published no metric: noise in the bench's output
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    recorder = Recorder("eu-west-1")
    install(recorder)  # before any botocore session exists: every client carries the hooks
    from bench import coldstart, interactions, latency, stats, viral
    from bench.embedded import Embedded
    from bench.pipeline import LoopbackCrm

    prices = stats.load_prices()
    crm = LoopbackCrm()
    started = time.monotonic()
    phases: dict[str, float] = {}

    def timed(name: str, work: Any) -> Any:
        began = time.monotonic()
        result = work()
        phases[name] = round(time.monotonic() - began, 1)
        print(f"bench: {name} measured in {phases[name]} s", file=sys.stderr, flush=True)
        return result

    try:
        with Embedded(recorder, {"CrmProvider": "webhook", "CrmWebhookUrl": crm.url}) as emb:
            calls = timed("interactions", lambda: interactions.measure(
                emb, crm.url, prices, n=10 if quick else interactions.INTERACTIONS))
            webhook = timed("webhook_ack", lambda: latency.webhook_ack(emb, samples=30 if quick else latency.SAMPLES))
            lookup = timed("caller_lookup", lambda: latency.caller_lookup(emb, samples=40 if quick else 200))
            cold = timed("cold_start", lambda: coldstart.measure(
                emb, emb.first_events, runs=1 if quick else coldstart.RUNS))
            spike = timed("viral_spike", lambda: viral.measure(emb, sample=20 if quick else viral.SAMPLE))
    finally:
        crm.stop()
    figures = assemble(calls, webhook, lookup, cold, spike, prices, time.monotonic() - started)
    figures["run"]["phases_s"] = phases
    return figures


def _calls(calls: dict[str, Any], service: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in ("returning", "new"):
        figures = calls[label]
        by_stage = {stage: {op: n for op, n in ops.items() if op.startswith(f"{service}.")}
                    for stage, ops in figures["by_stage_op"].items()}
        processor = sum(by_stage.get("ProcessorFunction", {}).values())
        out[label] = {"processor": round(processor, 3), "end_to_end": figures[service]["end_to_end"],
                      "floor": figures[service]["floor"], "ratio_to_floor": figures[service]["ratio_to_floor"],
                      "whole_path": figures["whole_path"],
                      "by_stage_op": {stage: ops for stage, ops in by_stage.items() if ops}}
        if service == "dynamodb":
            out[label]["capacity_by_stage"] = figures["capacity_by_stage"]
    return out


def assemble(calls: dict[str, Any], webhook: dict[str, Any], lookup: dict[str, Any], cold: dict[str, Any],
             spike: dict[str, Any], prices: dict[str, Any], seconds: float) -> dict[str, Any]:
    from bench import stats

    returning = calls["returning"]
    figures: dict[str, Any] = {
        "webhook_ack": webhook,
        "cold_start": cold,
        "dynamodb_calls_per_interaction": _calls(calls, "dynamodb"),
        "sqs_calls_per_interaction": _calls(calls, "sqs"),
        "processor_throughput": {label: calls[label]["throughput"] for label in ("returning", "new")},
        "caller_lookup": lookup,
        "cost_per_million_usd": {**returning["cost"], "new": calls["new"]["cost"], "floor_breakdown":
                                 calls["floor"]["cost"]["breakdown"], "per_interaction": {
                                     "returning": returning["per_interaction"],
                                     "floor": calls["floor"]["per_interaction"]},
                                 "prices": f"bench/prices-{prices['as_of'][:7]}.json"},
        "viral_spike": spike,
    }
    figures["processor_throughput"].update(returning["throughput"])
    goals = {
        "webhook_ack.ratio_to_floor": stats.goal(webhook["ratio_to_floor"], 1.5),
        **{f"cold_start.{fn}.ratio_to_floor": stats.goal(v["ratio_to_floor"], 1.3) for fn, v in cold.items()},
        "dynamodb.returning.processor": stats.goal(
            figures["dynamodb_calls_per_interaction"]["returning"]["processor"], 5),
        "sqs.returning.end_to_end": stats.goal(returning["sqs"]["end_to_end"], 2),
        "whole_path.returning.ratio_to_floor": stats.goal(returning["whole_path"]["ratio_to_floor"], 1.5),
        "caller_lookup.p99_ms": stats.goal(lookup["p99_ms"], 50),
        "caller_lookup.ratio_to_floor": stats.goal(lookup["ratio_to_floor"], 1.5),
        "cost_per_million_usd.total": stats.goal(returning["cost"]["total"], 5.0),
        "cost_per_million_usd.ratio_to_floor": stats.goal(returning["cost"]["ratio_to_floor"], 1.3),
        "viral_spike.max_writes_per_s_per_key": stats.goal(spike["max_writes_per_s_per_key"], 100),
    }
    figures["goals"] = goals
    figures["run"] = {"seconds": round(seconds, 1), "interactions_per_phase": calls["interactions"],
                      "webhook_statuses_not_200": calls["webhook_statuses_not_200"],
                      "date": time.strftime("%Y-%m-%d", time.gmtime())}
    return figures


def merge(path: Path, figures: dict[str, Any], only: str | None = None) -> None:
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if only:  # one phase: its figure and its goals replace theirs, everything else is kept
        goals = {k: v for k, v in current.get("goals", {}).items() if not k.startswith(f"{only}.")}
        figures = {**figures, "goals": {**goals, **figures["goals"]}}
    current.update(figures)
    path.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def table(results: dict[str, Any]) -> list[str]:
    rows = [(name, g["value"], f"<= {g['goal']}", "pass" if g["met"] else "MISS")
            for name, g in results.get("goals", {}).items()]
    for name, g in (results.get("recognition", {}).get("goals") or {}).items():
        sign = "<=" if name == "false_merges" else ">="
        rows.append((f"recognition.{name}", g["value"], f"{sign} {g['goal']}", "pass" if g["met"] else "MISS"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}}  {'measured':>10}  {'goal':>8}  result"]
    lines += [f"{name:<{width}}  {value!s:>10}  {limit:>8}  {verdict}" for name, value, limit, verdict in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="small samples (a smoke run, not a measure)")
    parser.add_argument("--only", choices=["cold_start"], help="measure one phase; the other figures in --out are kept")
    args = parser.parse_args(argv)
    figures = measure_cold_start(args.quick) if args.only else measure(args.quick)
    merge(args.out, figures, args.only)
    results = json.loads(args.out.read_text(encoding="utf-8"))
    print("\n".join(table(results)))
    print(f"written to {args.out}" + (f" ({figures['run']['seconds']} s)" if "run" in figures else ""))
    return 0 if all(g["met"] for g in figures["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
