"""Listening on moto: sharded mention counters, one spike alert per episode, a flood of
mentions of one post grouped into one incident case, and spam that opens no case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from socialcare.config.loader import CONFIG_DIR
from socialcare.config.settings import Settings
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Author, Channel, Interaction, Kind, ThreadRef
from socialcare.models.triage import Sentiment

AwsStack = Any  # tests/integration/conftest.py's fixture type
NOW = datetime(2026, 11, 23, 10, 2, tzinfo=UTC)


@pytest.fixture
def wiring(aws: AwsStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Wiring:
    """conftest's ``wiring``, with a listening.yaml of small numbers in SOCIALCARE_CONFIG_DIR."""
    shipped = yaml.safe_load((CONFIG_DIR / "listening.yaml").read_text())
    shipped.update(shards=3)
    shipped["spike"].update(
        baseline_buckets=3, multiple=3.0, min_mentions=12, min_baseline=2.0, check_every=1, episode_minutes=30
    )
    shipped["incident"].update(threshold=6)
    (tmp_path / "listening.yaml").write_text(yaml.safe_dump(shipped))
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    return Wiring(Settings())


def analyse(wiring: Wiring, text: str) -> Sentiment:
    return wiring.analyser.analyse(text)


def mention(n: int, text: str, *, post: str | None = None, followers: int | None = 150, **meta: Any) -> Interaction:
    return Interaction(
        id=f"x:m{n}",
        channel=Channel.X,
        kind=Kind.PUBLIC_REPLY if post else Kind.PUBLIC_POST,
        account_id="brand-it",
        platform_message_id=f"m{n}",
        author=Author(id=f"fan{n}", handle=f"@fan{n}", followers=followers),
        text=text,
        occurred_at=NOW,
        thread=ThreadRef(post_id=post),
        metadata=meta,
    )


def test_counts_are_sharded_and_summed(aws: AwsStack, wiring: Wiring) -> None:
    listening = wiring.listening
    for n in range(7):
        text = "pessimo servizio, vergogna" if n < 3 else "ciao brand, una domanda sul modello nuovo"
        result = listening.record(mention(n, text), analyse(wiring, text), now=NOW)
        assert result.counted and not result.spam
    assert listening.mention_counts("brand-it", NOW) == (7, 3)
    items = boto3.client("dynamodb", region_name="eu-west-1").scan(TableName=aws.tables["StateTable"])["Items"]
    shards = {i["pk"]["S"] for i in items if i["pk"]["S"].startswith("MENTIONS#brand-it#")}
    assert 1 < len(shards) <= 3, "increments spread over several shard keys"


def test_spike_alerts_once_per_episode(aws: AwsStack, wiring: Wiring) -> None:
    url = aws.alerts_inbox()
    # a quiet baseline: 2 mentions per bucket in the previous 15 minutes
    for k in range(1, 4):
        for j in range(2):
            wiring.listening.record(
                mention(100 * k + j, "ciao"), analyse(wiring, "ciao"), now=NOW - timedelta(minutes=5 * k)
            )
    # baselines are cached per bucket and execution environment: start from the table in a new one
    listening = Wiring(Settings()).listening
    sent = [
        listening.record(mention(n, "non funziona!"), analyse(wiring, "non funziona!"), now=NOW).spike
        for n in range(20)
    ]
    assert sent.count(True) == 1 and sent.index(True) == 11, "alert when 12 >= 3 x baseline, then never again"
    messages = aws.drain(url)
    assert len(messages) == 1 and messages[0]["type"] == "mention_spike" and messages[0]["brand"] == "brand-it"
    assert messages[0]["mentions"] == 12 and messages[0]["negative"] == 12
    # still spiking in the next bucket: same episode, no new alert
    later = NOW + timedelta(minutes=5)
    assert not any(
        listening.record(mention(500 + n, "non funziona"), analyse(wiring, "non funziona"), now=later).spike
        for n in range(40)
    )
    assert aws.drain(url) == []


def test_flood_of_mentions_of_one_post_is_one_incident(wiring: Wiring) -> None:
    threading = wiring.threading
    outcomes = [
        threading.on_interaction(mention(n, "anche a me non funziona l'app!", post="viral-1"), f"fan-{n}", {}, now=NOW)
        for n in range(40)
    ]
    case_ids = {o.case.id for o in outcomes if o.case}
    incident_ids = {o.case.id for o in outcomes if o.incident and o.case}
    assert len(incident_ids) == 1
    assert len(case_ids) <= 7, "after the threshold every mention joins the incident instead of opening a case"
    incident = wiring.case_queries.get_case(incident_ids.pop())
    assert incident.kind == "incident" and incident.incident_post_id == "x:viral-1"
    assert incident.priority.value in ("high", "urgent")
    assert len(incident.interactions) >= 34
    assert sum(1 for o in outcomes if o.work_items and o.incident) == 1, "one incident item, not one per mention"
    # a customer with her own open case keeps her story in it, flood or not
    own = threading.on_interaction(mention(900, "il mio ordine è in ritardo"), "anna", {}, now=NOW)
    again = threading.on_interaction(mention(901, "anche per me non funziona!", post="viral-1"), "anna", {}, now=NOW)
    assert own.case is not None and again.case is not None
    assert again.case.id == own.case.id and not again.incident


def test_spam_opens_no_case_but_a_known_customer_is_never_dropped(wiring: Wiring) -> None:
    threading = wiring.threading
    bot = mention(1, "https://spam.example/win", followers=0, author_created_at=(NOW - timedelta(days=1)).isoformat())
    out = threading.on_interaction(bot, "stranger", {}, now=NOW)
    assert out.spam and out.case is None and "link_only" in out.spam_reasons
    copies = [
        threading.on_interaction(
            mention(10 + n, "Guadagna 500 euro al giorno, scrivimi!", followers=3), f"b{n}", {}, now=NOW
        )
        for n in range(4)
    ]
    assert copies[-1].spam and "repeated_text" in copies[-1].spam_reasons
    known = threading.on_interaction(
        mention(99, "https://imgur.example/foto-del-pacco-rotto", followers=0), "anna", {"returning": True}, now=NOW
    )
    assert not known.spam and known.case is not None


def test_direct_messages_write_no_listening_counter(aws: AwsStack, wiring: Wiring) -> None:
    """Listening counts public mentions; a DM (the same words, many customers) writes nothing to
    StateTable - it used to write a repeated-text counter per message - and is never called a bot
    for repeating what others wrote privately."""
    listening = wiring.listening
    text = "Buongiorno, il mio ordine non è ancora arrivato, potete aiutarmi?"
    results = [
        listening.record(mention(200 + n, text).model_copy(update={"kind": Kind.DIRECT_MESSAGE}),
                         analyse(wiring, text), now=NOW)
        for n in range(5)
    ]
    assert not any(r.spam or r.counted for r in results)
    assert boto3.client("dynamodb", region_name="eu-west-1").scan(TableName=aws.tables["StateTable"])["Items"] == []
