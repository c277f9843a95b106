"""`socialcare report --local` against a running `socialcare local` after the story was replayed.

The story's webhooks and Anna's phone call go to the stack over HTTP and Lambda Invoke only; the
stack's own ReportAggregatorFunction counts them from the tables' streams; then the admin command,
run as a user would, writes the HTML and the CSVs, and the page holds at least four charts with
the volume broken down by the story's channels.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from socialcare_infra import scenario

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# the story's genuine inbound messages, and Anna's call: by channel
EXPECTED = {"x": 2, "facebook": 1, "messenger": 1, "whatsapp": 1, "instagram": 1, "phone": 1}


def counted(stack: Any) -> dict[str, int]:
    """The VOL counters of every day, summed by channel (what the aggregator has counted so far)."""
    table = stack.names["ReportsTable"]
    items = stack.client("dynamodb").scan(TableName=table)["Items"]
    out: dict[str, int] = {}
    for item in items:
        if item["sk"]["S"] == "VOL":
            for name, value in item.items():
                if name.startswith("in#"):
                    out[name[3:]] = out.get(name[3:], 0) + int(value["N"])
    return out


def test_the_report_command_draws_the_replayed_story(local_stack_factory: Callable[..., Any], tmp_path: Path) -> None:
    with local_stack_factory() as stack:
        secrets = scenario.Secrets.from_env({})
        for step in scenario.story(secrets):
            requests.request(step.method, f"{stack.api_url}{step.path}", data=step.body, headers=step.headers,
                             timeout=10)
        time.sleep(1)  # her call comes after her messages, as in the demo
        answer = stack.lambda_client().invoke(FunctionName="CallerLookupFunction",
                                              Payload=json.dumps(scenario.connect_call(scenario.ANNA["phone"])))
        assert "FunctionError" not in answer
        deadline = time.monotonic() + 90
        while counted(stack) != EXPECTED and time.monotonic() < deadline:
            time.sleep(0.5)
        assert counted(stack) == EXPECTED

        moto_port = stack.moto_url.rsplit(":", 1)[1]
        out, csv_dir = tmp_path / "report.html", tmp_path / "csv"
        env = {**os.environ, "SOCIALCARE_LOCAL_MOTO_PORT": moto_port}
        done = subprocess.run([*_socialcare(), "report", "--local", "--since", "2020-01-01", "--out", str(out),
                               "--csv", str(csv_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") >= 4 and "<script" not in page
    with open(csv_dir / "volume.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    totals = {channel: sum(int(r[channel]) for r in rows) for channel in rows[0] if channel != "day"}
    assert totals == EXPECTED
    volume = page.split('<section id="volume"')[1].split("</section>")[0]
    assert all(f">{channel}<" in volume for channel in EXPECTED)  # the legend names every channel
    journeys = (csv_dir / "journeys.csv").read_text(encoding="utf-8")
    assert "→ phone call" in journeys  # her channels before the call


def _socialcare() -> list[str]:
    from conftest import socialcare_command  # tests/e2e/conftest.py

    return socialcare_command()
