"""``make bench``: the recognition-quality benchmark (bench/README.md).

Every generated message goes, in time order, through the real ``IdentityService.recognise`` that
``Wiring`` builds with the built-in default rules, against the ProfilesTable of template.yaml
created in moto (in-process ``mock_aws``). The outcome and the baseline are scored against the
ground truth and merged into ``bench/results.json`` under ``recognition``.

    python -m bench.recognition.run [--customers 1000] [--seed 10] [--out bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bench.recognition import score
from bench.recognition.fastmoto import cheap_transactions
from bench.recognition.population import REGION, Population, generate
from socialcare import aws as aws_clients
from socialcare.config.settings import Settings
from socialcare.flows.wiring import Wiring
from socialcare.observability import metrics
from socialcare_infra.template import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RESULTS = ROOT / "bench" / "results.json"
GOALS = {"false_merges": 0, "recall_of_allowed": 0.95, "suggestion_rate": 0.90}


@contextmanager
def profiles_stack() -> Iterator[Wiring]:
    """The template's ProfilesTable in moto, and a Wiring pointed at it (nothing else is used)."""
    saved = dict(os.environ)
    os.environ.update({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_SERVICE_NAME": "socialcare",
                       "POWERTOOLS_METRICS_NAMESPACE": "SocialCare"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws(), cheap_transactions():
            aws_clients.reset()
            resolver = Resolver(load_template(TEMPLATE), stack_name="socialcare-bench", region="eu-west-1")
            props = resolver.resolve(resolver.resource("ProfilesTable")["Properties"])
            name = resolver.name("ProfilesTable")
            boto3.client("dynamodb", region_name="eu-west-1").create_table(
                TableName=name, KeySchema=props["KeySchema"], AttributeDefinitions=props["AttributeDefinitions"],
                BillingMode="PAY_PER_REQUEST",
                **({"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]}
                   if props.get("GlobalSecondaryIndexes") else {}),
            )
            yield Wiring(Settings(profiles_table=name, default_region=REGION))
            aws_clients.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def recognise_all(population: Population, wiring: Wiring) -> tuple[dict[int, str], dict[str, set[str]], int]:
    """Run every message through recognition; (account -> customer, suggestion pairs, split accounts)."""
    identity = wiring.identity
    seen: dict[int, set[str]] = defaultdict(set)
    suggested: dict[str, set[str]] = defaultdict(set)
    for interaction, account in population.interactions():
        recognition = identity.recognise(interaction)
        metrics.clear_metrics()  # no EMF flush to stdout every hundred metrics
        seen[account.aid].add(recognition.customer_id)
        for other in recognition.suggestions:
            suggested[recognition.customer_id].add(other)
            suggested[other].add(recognition.customer_id)
    # The customer an account ends on: where its platform identity is claimed.
    customer_of = {a.aid: identity.find_customer(a.channel, a.platform_id)
                   or sorted(seen[a.aid])[0] for a in population.accounts}
    split = sum(1 for ids in seen.values() if len(ids) > 1)
    return customer_of, suggested, split


def describe(population: Population) -> dict[str, Any]:
    roles: dict[str, int] = defaultdict(int)
    for person in population.people:
        roles[person.role] += 1
    channels: dict[str, int] = defaultdict(int)
    for account in population.accounts:
        channels[account.channel] += 1
    return {
        "people": len(population.people), "accounts": len(population.accounts),
        "messages": sum(len(a.messages) for a in population.accounts),
        "roles": dict(sorted(roles.items())), "accounts_by_channel": dict(sorted(channels.items())),
    }


def run(customers: int, seed: int) -> dict[str, Any]:
    started = time.monotonic()
    population = generate(customers, seed)
    with profiles_stack() as wiring:
        customer_of, suggested, split = recognise_all(population, wiring)
    ours = score.evaluate(population, customer_of, suggested)
    ours["split_accounts"] = split
    ours["missed"] = score.missed(population, customer_of, suggested)
    base = score.evaluate(population, score.baseline(population))
    goals = {
        "false_merges": {"goal": GOALS["false_merges"], "value": ours["false_merges"],
                         "met": ours["false_merges"] <= GOALS["false_merges"]},
        "recall_of_allowed": {"goal": GOALS["recall_of_allowed"], "value": ours["recall_of_allowed"],
                              "met": ours["recall_of_allowed"] >= GOALS["recall_of_allowed"]},
        "suggestion_rate": {"goal": GOALS["suggestion_rate"], "value": ours["suggestion_rate"],
                            "met": (ours["suggestion_rate"] or 0) >= GOALS["suggestion_rate"]},
    }
    return {
        "seed": seed, "population": describe(population), "socialcare": ours, "baseline": base,
        "goals": goals, "seconds": round(time.monotonic() - started, 1),
    }


def merge_results(path: Path, recognition: dict[str, Any]) -> None:
    """Write ``recognition`` into the results file, keeping every other top-level key."""
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    current["recognition"] = recognition
    path.write_text(json.dumps(current, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args.customers, args.seed)
    merge_results(args.out, result)
    ours, base = result["socialcare"], result["baseline"]
    print(f"recognition: {result['population']['people']} people, {result['population']['accounts']} accounts, "
          f"{result['population']['messages']} messages in {result['seconds']} s")
    for label, r in (("socialcare", ours), ("baseline", base)):
        print(f"  {label:10} precision {r['precision']:.4f}  recall {r['recall']:.4f}  "
              f"recall of allowed {r['recall_of_allowed']:.4f}  false merges {r['false_merges']}  "
              f"suggested {r['suggestion_rate']}")
    for kind, parts in ours["missed"].items():
        print(f"  {kind}: by role {parts['by_role']}, by format {parts['by_reference_scheme']}")
    failed = [name for name, goal in result["goals"].items() if not goal["met"]]
    print("goals met" if not failed else f"goals missed: {', '.join(failed)}")
    print(f"written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
