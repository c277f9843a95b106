"""Latency figures, each sample taken alternately with its floor's so load on the machine hits
both alike: ``webhook_ack`` (the three webhooks) and ``caller_lookup``."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

from bench import stats, traffic
from bench.embedded import Embedded
from bench.floors import floor_ack
from socialcare.store.profiles.items import claim_pk

SAMPLES = 150  # per webhook; p99 of 150 is the second slowest


def _unique_body(endpoint: str, n: int) -> bytes:
    """The endpoint's fixture with a fresh message id (each POST is a new event, never deduped)."""
    if endpoint == "meta":
        return traffic.whatsapp_message(n, "393331112222", "Anna Bianchi", "Ancora nessuna risposta sul rimborso.")
    payload = copy.deepcopy(traffic.fixture({"x": "x_tweet_create_events.json",
                                             "inbound": "gateway_email.json"}[endpoint]))
    if endpoint == "x":
        tweet = payload["tweet_create_events"][0]
        tweet["id_str"] = str(1_880_000_000_000_000_000 + n)
        tweet["timestamp_ms"] = str(int(time.time() * 1000))
        payload["tweet_create_events"] = [tweet]
    else:
        payload["message_id"] = f"<bench-{n}-{uuid.uuid4().hex}@mail.example.com>"
        payload["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return json.dumps(payload).encode()


def webhook_ack(emb: Embedded, samples: int = SAMPLES) -> dict[str, Any]:
    sqs = emb.client("sqs")
    with emb.recorder.paused():
        floor_queue = sqs.create_queue(QueueName="bench-floor-ack.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    ours: dict[str, list[float]] = {}
    floors: dict[str, list[float]] = {}
    for endpoint in ("x", "meta", "inbound"):
        secret = emb.stack.secret_values[traffic.SECRETS[endpoint]]
        function = traffic.FUNCTIONS[endpoint]
        emb.invoke(function, traffic.signed_post(endpoint, secret, _unique_body(endpoint, 0)))  # warm
        for n in range(1, samples + 1):
            if n % 25 == 0:  # moto's FIFO send slows down as a queue grows; SQS's does not
                for url in (emb.stack.provisioned.queue_urls["InboundQueue"], floor_queue):
                    emb.discard(url)
            body = _unique_body(endpoint, n)
            event = traffic.signed_post(endpoint, secret, body)
            started = time.perf_counter()
            response = emb.invoke(function, event)
            ours.setdefault(endpoint, []).append((time.perf_counter() - started) * 1000)
            if response["statusCode"] != 200:
                raise RuntimeError(f"{function} answered {response['statusCode']}: {response.get('body')}")
            floor_body = _unique_body(endpoint, 100_000 + n)
            headers = traffic.signature_headers(endpoint, secret, floor_body)
            emb.recorder.stage = "floor:webhook_ack"
            floors.setdefault(endpoint, []).append(floor_ack(emb, endpoint, floor_body, headers, secret, floor_queue))
    for url in (emb.stack.provisioned.queue_urls["InboundQueue"], floor_queue):
        emb.discard(url)
    return _summary(ours, floors)


def _summary(ours: dict[str, list[float]], floors: dict[str, list[float]]) -> dict[str, Any]:
    every = [v for values in ours.values() for v in values]
    every_floor = [v for values in floors.values() for v in values]
    out: dict[str, Any] = _figures(every, every_floor)
    out["by_webhook"] = {endpoint: _figures(ours[endpoint], floors[endpoint]) for endpoint in ours}
    return out


def _figures(ours: list[float], floor: list[float]) -> dict[str, Any]:
    p50, p99 = stats.percentile(ours, 50), stats.percentile(ours, 99)
    f50, f99 = stats.percentile(floor, 50), stats.percentile(floor, 99)
    return {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "floor_p50_ms": round(f50, 2),
            "floor_p99_ms": round(f99, 2), "ratio_to_floor": stats.ratio(p50, f50),
            "p99_ratio_to_floor": stats.ratio(p99, f99), "samples": len(ours)}


def caller_lookup(emb: Embedded, phone: str = "+393331112222", samples: int = 200) -> dict[str, Any]:
    """The CallerLookupFunction's handler for a known caller; floor: one GetItem of the phone's
    claim and one Query of the customer's partition above the timeline (profile, identities)."""
    event = traffic.fixture("connect_contact_flow.json")
    ddb = emb.client("dynamodb")
    table = emb.stack.provisioned.names["ProfilesTable"]
    ours: list[float] = []
    floor: list[float] = []
    found = 0
    emb.invoke("CallerLookupFunction", copy.deepcopy(event))  # warm
    for _ in range(samples):
        started = time.perf_counter()
        answer = emb.invoke("CallerLookupFunction", copy.deepcopy(event))
        ours.append((time.perf_counter() - started) * 1000)
        found += answer.get("customerKnown") == "true"
        emb.recorder.stage = "floor:caller_lookup"
        started = time.perf_counter()
        claim = ddb.get_item(TableName=table, Key={"pk": {"S": claim_pk("phone", phone)}, "sk": {"S": "CLAIM"}})
        customer = claim.get("Item", {}).get("customer_id", {}).get("S", "none")
        ddb.query(TableName=table, KeyConditionExpression="pk = :pk AND sk < :ts",
                  ExpressionAttributeValues={":pk": {"S": f"CUSTOMER#{customer}"}, ":ts": {"S": "TS#"}})
        floor.append((time.perf_counter() - started) * 1000)
    emb.discard(emb.stack.provisioned.queue_urls["InboundQueue"])
    p99, f99 = stats.percentile(ours, 99), stats.percentile(floor, 99)
    return {"p50_ms": round(stats.percentile(ours, 50), 2), "p99_ms": round(p99, 2),
            "floor_p99_ms": round(f99, 2), "ratio_to_floor": stats.ratio(p99, f99), "samples": samples,
            "known_caller_answers": found}
