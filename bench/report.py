"""``make bench``'s ``report`` figure: the stakeholder report over 100,000 interactions.

A seeded population writes 100,000 messages over 90 days (channels, public mentions with their
authors' followers, customers coming back, callers who wrote first; cases with categories,
first responses and resolutions against their SLA). Their stream records - shaped as the
processor's writes make them (ProfilesTable timeline items; CasesTable case versions and
case-timeline items) - go through the real ``ReportAggregator`` in batches of 100, against
template.yaml's tables in moto (in-process, ``fastmoto`` transactions); then the real report is
built from the counters and timed: reading the counters, the charts, the HTML and the CSVs.
StateTable gets a day's counters of survey answers, share of voice and listening reads for
every day too (as the features write them), so the satisfaction and listening sections are
drawn and read in the same time.

    python -m bench.report [--interactions 100000] [--days 90] [--out bench/results.json]
                           [--html report.html] [--csv DIR] [--no-results]

``make report-check`` uses it (smaller) for the page it renders with chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# timestamps formatted as ProfilesTable's timeline items and CasesTable's items are written
from socialcare.store.cases.items import iso as _iso
from socialcare.store.profiles.items import iso as _ts

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results.json"
GOAL_SECONDS = 60.0
CHANNELS = {"x": 30, "facebook": 14, "instagram": 14, "messenger": 10, "whatsapp": 16, "email": 8, "chat": 4,
            "web": 2}
PUBLIC = {"x": ("public_post", 0.7), "facebook": ("comment", 0.8), "instagram": ("comment", 0.6)}
PRIVATE_KIND = {"x": "direct_message", "facebook": "comment", "instagram": "direct_message",
                "messenger": "direct_message", "whatsapp": "direct_message", "email": "email", "chat": "chat",
                "web": "form"}
CATEGORIES = {"delivery": 30, "refund": 18, "billing": 12, "complaint": 14, "account": 8, "product_question": 10,
              "praise": 6, "outage": 2}
SENTIMENTS = {"negative": 35, "neutral": 35, "positive": 20, "mixed": 10}
CALL_SHARE = 0.06  # of a customer's episodes that end with a phone call


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class Population:
    """Seeded customers and their episodes: a few messages, maybe a call, one case each."""

    def __init__(self, interactions: int, days: int, seed: int = 14) -> None:
        self.rng = random.Random(seed)
        self.last = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        self.first = self.last - timedelta(days=days - 1)
        self.days = days
        self.target = interactions
        self.seq = 0
        self.timelines: dict[str, list[tuple[str, str]]] = {}  # callers' timelines (sk, channel) for the Query

    def _when(self) -> datetime:
        rng = self.rng
        day = int(rng.triangular(0, self.days - 2, self.days * 0.8))  # traffic grows over the period
        moment = self.first + timedelta(days=min(day, self.days - 2), hours=rng.uniform(7, 22))
        if moment.weekday() >= 5 and rng.random() < 0.4:  # quieter weekends
            moment -= timedelta(days=2)
        return max(moment, self.first)

    def records(self) -> list[dict[str, Any]]:
        """Stream records in the order the writes happened (the order a stream delivers them)."""
        timed: list[tuple[datetime, dict[str, Any]]] = []
        made, customer = 0, 0
        while made < self.target:
            customer += 1
            for _ in range(1 + (int(self.rng.paretovariate(1.5)) if self.rng.random() < 0.3 else 0)):
                episode = list(self._episode(f"c{customer}"))
                made += sum(1 for _, r in episode if r["dynamodb"]["Keys"]["sk"]["S"].startswith("TS#"))
                timed += episode
        timed.sort(key=lambda pair: pair[0])
        for number, (_, record) in enumerate(timed, start=1):
            record["dynamodb"]["SequenceNumber"] = str(10**20 + number)
        return [record for _, record in timed]

    @staticmethod
    def _record(at: datetime, image: dict[str, Any], event: str = "INSERT") -> tuple[datetime, dict[str, Any]]:
        keys = {"pk": image["pk"], "sk": image["sk"]}
        return at, {"eventName": event, "eventSource": "aws:dynamodb",
                    "dynamodb": {"Keys": keys, "NewImage": image, "StreamViewType": "NEW_IMAGE"}}

    def _episode(self, customer: str) -> Iterator[tuple[datetime, dict[str, Any]]]:
        rng = self.rng
        start = self._when()
        count = max(1, min(8, int(rng.lognormvariate(0.4, 0.6))))
        calls = rng.random() < CALL_SHARE
        moments = sorted(start + timedelta(hours=rng.uniform(0, 30)) for _ in range(count))
        case_id = f"SC-{customer}-{start:%m%d%H%M}"
        team = "callcentre" if calls else "social"
        for index, moment in enumerate(moments):
            channel = "phone" if calls and index == len(moments) - 1 else _pick(rng, CHANNELS)
            yield from self._interaction(customer, case_id, channel, moment, index, calls)
        yield from self._case(case_id, customer, team, start, moments[-1])

    def _interaction(self, customer: str, case_id: str, channel: str, moment: datetime, index: int,
                     calls: bool) -> Iterator[tuple[datetime, dict[str, Any]]]:
        rng = self.rng
        kind, share = PUBLIC.get(channel, (PRIVATE_KIND.get(channel, "call"), 0.0))
        public = rng.random() < share
        kind = kind if public or channel == "phone" else PRIVATE_KIND.get(channel, "call")
        self.seq += 1
        mid = f"{channel}:{customer}-{self.seq}"
        sk = f"TS#{_ts(moment)}#{mid}"
        image = {"pk": _s(f"CUSTOMER#{customer}"), "sk": _s(sk), "id": _s(mid), "channel": _s(channel),
                 "kind": _s(kind), "direction": _s("inbound"), "occurred_at": _s(_ts(moment))}
        if public:
            image["followers"] = {"N": str(int(rng.lognormvariate(5.0, 1.6)))}
        if calls:
            self.timelines.setdefault(customer, []).append((sk, channel))
        yield self._record(moment, image)
        ref = {"pk": _s(f"CASE#{case_id}"), "sk": _s(f"INT#{_iso(moment)}#{mid}"), "id": _s(mid),
               "channel": _s(channel), "direction": _s("inbound"), "occurred_at": _s(_iso(moment)),
               "sentiment": _s(_pick(rng, SENTIMENTS))}
        yield self._record(moment, ref)

    def _case(self, case_id: str, customer: str, team: str, opened: datetime, last: datetime) -> Iterator[
            tuple[datetime, dict[str, Any]]]:
        rng = self.rng
        target = timedelta(minutes=rng.choice((30, 60, 240, 480)))
        sla = {"M": {"started_at": _s(_iso(opened)), "first_response_due": _s(_iso(opened + target)),
                     "resolution_due": _s(_iso(opened + target * 12))}}
        cats = {_pick(rng, CATEGORIES) for _ in range(rng.choice((1, 1, 2)))}
        image = {"pk": _s(f"CASE#{case_id}"), "sk": _s("CASE"), "id": _s(case_id), "status": _s("new"),
                 "team": _s(team), "reopen_count": {"N": "0"}, "opened_at": _s(_iso(opened)),
                 "updated_at": _s(_iso(last)), "customer_id": _s(customer), "sla": sla,
                 "categories": {"L": [_s(c) for c in sorted(cats)]}}
        yield self._record(opened, image)
        answered = opened + target * rng.lognormvariate(-0.4, 0.7)
        image = {**image, "status": _s("open"), "first_response_at": _s(_iso(answered))}
        yield self._record(answered, image, "MODIFY")
        if rng.random() < 0.8:
            resolved = answered + target * rng.lognormvariate(1.2, 1.0)
            yield self._record(resolved, {**image, "status": _s("resolved"), "resolved_at": _s(_iso(resolved))},
                               "MODIFY")


def _tables() -> dict[str, str]:
    """template.yaml's ProfilesTable, ReportsTable and StateTable, created in the active moto mock."""
    import boto3

    from socialcare_infra.template import Resolver, load_template

    resolver = Resolver(load_template(ROOT / "template.yaml"), stack_name="bench-report", region="eu-west-1")
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    names = {}
    for logical_id in ("ProfilesTable", "ReportsTable", "StateTable"):
        props = resolver.resolve(resolver.resource(logical_id)["Properties"])
        names[logical_id] = resolver.name(logical_id)
        indexes = {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if props.get("GlobalSecondaryIndexes") \
            else {}
        ddb.create_table(TableName=names[logical_id], KeySchema=props["KeySchema"],
                         AttributeDefinitions=props["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST", **indexes)
    return names


def _write_timelines(table: str, timelines: dict[str, list[tuple[str, str]]]) -> None:
    import boto3

    from socialcare.store.batch import batch_write

    items = [{"PutRequest": {"Item": {"pk": _s(f"CUSTOMER#{customer}"), "sk": _s(sk), "channel": _s(channel),
                                      "direction": _s("inbound")}}}
             for customer, entries in timelines.items() for sk, channel in entries]
    batch_write(boto3.client("dynamodb", region_name="eu-west-1"), table, items)


def _search() -> Any:
    from socialcare.config.listening_search import Competitor, ListeningSearch

    return ListeningSearch(brand="acme", keywords=["Acme"], max_reads_per_day=1000, competitors=[
        Competitor(name="rivalco", terms=["RivalCo"]), Competitor(name="shopmax", terms=["ShopMax"])])


def _write_satisfaction(table: str, population: Population, search: Any) -> None:
    """StateTable's day counters of survey answers, share of voice and listening reads, written
    as ``answers.SurveyAnswers`` and ``flows.listening_search`` write them (``StateRepository.add``)."""
    import boto3

    from socialcare.domain.satisfaction.report import csat_key, listening_key, sov_key
    from socialcare.store.state import StateRepository

    state, rng, now = StateRepository(table, boto3.client("dynamodb", region_name="eu-west-1")), population.rng, \
        datetime.now(UTC)
    for n in range(population.days):
        day = (population.first + timedelta(days=n)).date()
        scores = rng.choices((5, 4, 3, 2, 1), weights=(48, 24, 10, 8, 10), k=rng.randint(5, 40))
        state.add(csat_key(day), {"answers": len(scores), "score_sum": sum(scores), "top_box": scores.count(5),
                                  "low": sum(1 for s in scores if s <= 2),
                                  **{f"s{s}": scores.count(s) for s in set(scores)}}, now=now, ttl_days=800)
        brand = 0
        for name, weight in ((search.brand, 60), ("rivalco", 45), ("shopmax", 25)):
            found = {m: rng.randint(0, weight // 3) for m in ("positive", "neutral", "negative")}
            brand = sum(found.values()) if name == search.brand else brand
            state.add(sov_key(name, day), {"mentions": sum(found.values()), **found}, now=now, ttl_days=400)
        reads = min(search.max_reads_per_day, brand * 3 + rng.randint(50, 400))
        state.add(listening_key(day), {"reads": reads, "users": reads // 2, "mentions": brand,
                                       "published": brand}, now=now, ttl_days=400)


def measure(interactions: int, days: int, html: Path | None = None, csv_dir: Path | None = None) -> dict[str, Any]:
    from moto import mock_aws

    from bench.recognition.fastmoto import cheap_transactions

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(), cheap_transactions():
        return _run(interactions, days, html, csv_dir)


def _run(interactions: int, days: int, html: Path | None, csv_dir: Path | None) -> dict[str, Any]:
    import boto3

    from socialcare.domain.reporting.aggregator import ReportAggregator
    from socialcare.flows.report import report_from, write_files
    from socialcare.store.journeys import Journeys
    from socialcare.store.reports import ReportsRepository
    from socialcare.store.state import StateRepository

    names = _tables()
    population = Population(interactions, days)
    records = population.records()
    _write_timelines(names["ProfilesTable"], population.timelines)
    client = boto3.client("dynamodb", region_name="eu-west-1")
    reports = ReportsRepository(names["ReportsTable"], client)
    aggregator = ReportAggregator(reports, Journeys(names["ProfilesTable"], client))
    began = time.monotonic()
    for start in range(0, len(records), 100):
        outcome = aggregator.aggregate(records[start:start + 100])
        assert outcome.failed_sequence is None, outcome
    aggregate_s = time.monotonic() - began
    search = _search()
    _write_satisfaction(names["StateTable"], population, search)
    state = StateRepository(names["StateTable"], client)
    began = time.monotonic()
    report = report_from(reports, state, search, population.first.date(), population.last.date())
    page = report.html()
    csvs = report.csv_files()
    build_s = time.monotonic() - began
    if html is not None:
        write_files(report, html, csv_dir)
    volume = sum(report.aggregates.totals("VOL", "in#").values())
    return {"interactions": volume, "days": days, "stream_records": len(records),
            "aggregate_seconds": round(aggregate_s, 1),
            "records_per_second": round(len(records) / aggregate_s) if aggregate_s else None,
            "build_seconds": round(build_s, 2), "charts": len(report.sections), "html_bytes": len(page.encode()),
            "csv_files": len(csvs), "counter_items": sum(len(f) for f in report.aggregates.data.values()),
            "date": date.today().isoformat()}


def merge(path: Path, figures: dict[str, Any]) -> None:
    from bench import stats

    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    current["report"] = figures
    current.setdefault("goals", {})["report.build_seconds"] = stats.goal(figures["build_seconds"], GOAL_SECONDS)
    path.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--html", type=Path, help="also write the report here")
    parser.add_argument("--csv", type=Path, help="and its CSV files here")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results.json")
    args = parser.parse_args(argv)
    figures = measure(args.interactions, args.days, args.html, args.csv)
    if not args.no_results:
        merge(args.out, figures)
    met = figures["build_seconds"] <= GOAL_SECONDS
    print(f"report: {figures['interactions']:,} interactions over {figures['days']} days "
          f"({figures['stream_records']:,} stream records) counted in {figures['aggregate_seconds']} s "
          f"({figures['records_per_second']}/s); report built in {figures['build_seconds']} s "
          f"(goal <= {GOAL_SECONDS:g} s: {'pass' if met else 'MISS'})", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
