"""The bench's arithmetic, kept pure (tests/unit/test_bench_stats.py): percentiles, ratios to a
floor, goals, and the price of one million interactions from per-interaction counts."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

GB = 1024**3
PRICES = Path(__file__).resolve().parent / "prices-2026-12.json"


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(measured: float, floor: float) -> float | None:
    """How many times the floor the measured figure is (None when the floor is zero)."""
    return round(measured / floor, 2) if floor else None


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def cost_per_million(counts: Mapping[str, float], prices: Mapping[str, Any]) -> dict[str, Any]:
    """USD per million interactions, by line, from what one interaction uses on average.

    ``counts`` keys (all per interaction): dynamodb_write_units, dynamodb_read_units,
    dynamodb_stored_bytes (kept one month), sqs_requests (billed 64 KiB chunks), sns_publishes,
    lambda_requests, lambda_gb_seconds, api_requests, log_bytes, s3_puts, s3_gets.
    """
    ddb, sqs, lam = prices["dynamodb"], prices["sqs"], prices["lambda"]
    per_interaction = {
        "dynamodb_writes": counts.get("dynamodb_write_units", 0) * ddb["write_request_units_per_million"] / 1e6,
        "dynamodb_reads": counts.get("dynamodb_read_units", 0) * ddb["read_request_units_per_million"] / 1e6,
        "dynamodb_storage_month": counts.get("dynamodb_stored_bytes", 0) / GB * ddb["storage_gb_month"],
        "sqs": counts.get("sqs_requests", 0) * sqs["fifo_requests_per_million"] / 1e6,
        "sns": counts.get("sns_publishes", 0) * prices["sns"]["publishes_per_million"] / 1e6,
        "lambda_requests": counts.get("lambda_requests", 0) * lam["requests_per_million"] / 1e6,
        "lambda_compute": counts.get("lambda_gb_seconds", 0) * lam["arm64_gb_second"],
        "api_gateway": counts.get("api_requests", 0) * prices["api_gateway"]["http_api_requests_per_million"] / 1e6,
        "cloudwatch_logs": counts.get("log_bytes", 0) / GB * prices["cloudwatch_logs"]["ingestion_gb"],
        "s3_requests": (counts.get("s3_puts", 0) * prices["s3"]["put_requests_per_thousand"]
                        + counts.get("s3_gets", 0) * prices["s3"]["get_requests_per_thousand"]) / 1e3,
    }
    breakdown = {line: round(usd * 1e6, 4) for line, usd in per_interaction.items()}
    return {"total": round(sum(per_interaction.values()) * 1e6, 4), "breakdown": breakdown}


def goal(value: float | None, limit: float) -> dict[str, Any]:
    """A figure held against an upper limit (a missing value misses)."""
    return {"value": value, "goal": limit, "met": value is not None and value <= limit}
