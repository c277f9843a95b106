"""The benchmark's arithmetic (bench/stats.py, bench/calls.py): what `make bench` reports must be
right before it is compared with a goal."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root holds bench/

from bench import stats, viral  # noqa: E402
from bench.calls import _write_cost  # noqa: E402

PRICES = stats.load_prices()


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert stats.percentile(values, 50) == pytest.approx(50.5)
    assert stats.percentile(values, 99) == pytest.approx(99.01)
    assert stats.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_ratio_to_a_floor_and_goals() -> None:
    assert stats.ratio(3.0, 2.0) == 1.5
    assert stats.ratio(1.0, 0.0) is None
    assert stats.goal(1.5, 1.5)["met"] is True
    assert stats.goal(1.51, 1.5)["met"] is False
    assert stats.goal(None, 1.5)["met"] is False


def test_the_price_file_is_dated_and_names_its_sources() -> None:
    assert PRICES["region"] == "eu-west-1" and PRICES["as_of"].startswith("2026-12")
    assert all(url.startswith("https://aws.amazon.com/") for url in PRICES["sources"].values())


def test_a_million_interactions_cost_what_their_units_cost_at_list_prices() -> None:
    counts = {"dynamodb_write_units": 4, "dynamodb_read_units": 2, "sqs_requests": 2, "lambda_requests": 2,
              "lambda_gb_seconds": 0.1, "api_requests": 1, "log_bytes": 1024**3 / 1e6}
    cost = stats.cost_per_million(counts, PRICES)
    ddb = PRICES["dynamodb"]
    assert cost["breakdown"]["dynamodb_writes"] == pytest.approx(4 * ddb["write_request_units_per_million"])
    assert cost["breakdown"]["dynamodb_reads"] == pytest.approx(2 * ddb["read_request_units_per_million"])
    assert cost["breakdown"]["sqs"] == pytest.approx(2 * PRICES["sqs"]["fifo_requests_per_million"])
    assert cost["breakdown"]["lambda_compute"] == pytest.approx(0.1e6 * PRICES["lambda"]["arm64_gb_second"], rel=1e-3)
    assert cost["breakdown"]["cloudwatch_logs"] == pytest.approx(PRICES["cloudwatch_logs"]["ingestion_gb"])
    assert cost["total"] == pytest.approx(sum(cost["breakdown"].values()), abs=1e-3)
    assert stats.cost_per_million({}, PRICES)["total"] == 0


class _Index:
    def __init__(self, keys: list[str], projection: str) -> None:
        self.schema = [{"AttributeName": k, "KeyType": "HASH"} for k in keys]
        self.projection = {"ProjectionType": projection}


class _Table:
    hash_key_attr, range_key_attr = "pk", "sk"

    def __init__(self, *indexes: _Index) -> None:
        self.global_indexes = list(indexes)


def _item(**attrs: str) -> Item:
    wire = {name: {"S": value} for name, value in attrs.items()}
    return Item(DynamoType(wire["pk"]), DynamoType(wire["sk"]), wire)


def test_a_write_is_billed_by_the_larger_size_and_every_index_copy_it_changes() -> None:
    table = _Table(_Index(["queue_pk"], "ALL"), _Index(["crm_record_id"], "KEYS_ONLY"))
    old = _item(pk="CASE#1", sk="CASE", queue_pk="TEAM#social", body="x" * 1500)
    new = _item(pk="CASE#1", sk="CASE", queue_pk="TEAM#callcentre", body="x" * 3000)
    units, index_units, grown = _write_cost(table, old, new)
    assert units == math.ceil(new.size() / 1024) == 3
    # the ALL index: its key moved (a delete and a put), the 3 KB copy costs three units in all
    assert index_units == 2 + 2
    assert grown == (new.size() - old.size()) * 2  # the item and its ALL copy grew alike


def test_an_unchanged_index_copy_costs_nothing_and_a_first_write_costs_one_unit() -> None:
    table = _Table(_Index(["crm_record_id"], "KEYS_ONLY"))
    units, index_units, grown = _write_cost(table, None, _item(pk="IX#1", sk="GUARD"))
    assert (units, index_units) == (1, 0)
    assert grown == _item(pk="IX#1", sk="GUARD").size() + 100


def test_the_viral_peak_is_the_start_of_a_burst_that_sums_to_the_hour() -> None:
    peak = viral.peak_rate(100_000, 3600, 600)
    # integral of peak * exp(-t / 600) over the hour is the 100,000 mentions
    assert peak * 600 * (1 - math.exp(-6)) == pytest.approx(100_000)
    assert viral.peak_rate(100_000, 3600, 1e12) == pytest.approx(100_000 / 3600, rel=1e-3)
