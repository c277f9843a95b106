"""Correctly signed but malformed bodies on every webhook: a 400 with a JSON reason and nothing
enqueued, never a 5xx the platform would retry forever (issue 11). The well-formed bodies the
bad values are planted in are documented payloads from tests/fixtures/corpus (each file names
its source: the X docs, pywa's WhatsApp update fixtures, our gateway's contract)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from webhook_calls import drain_messages, post_signed  # tests/integration/webhook_calls.py

from socialcare_infra.handlers import load_app

if TYPE_CHECKING:
    from conftest import AwsStack  # tests/integration/conftest.py (the moto stack fixture)

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "corpus"
SECRETS = {"x": "XConsumerSecret", "meta": "MetaAppSecret", "inbound": "InboundSecret"}
FUNCTIONS = {"x": "webhook_x", "meta": "webhook_meta", "inbound": "webhook_inbound"}
LONE = "\ud800"  # a lone UTF-16 surrogate: json.dumps writes it as the escape \ud800
DEEP = 100_000
pytestmark = pytest.mark.integration

Doc = dict[str, Any]


def _body(name: str) -> Doc:
    doc: Doc = json.loads((CORPUS / name).read_text())["body"]
    return doc


def _x() -> Doc:
    return _body("x/aaa-tweet-create-mention.json")


def _meta() -> Doc:
    return _body("meta/whatsapp/wa-text.json")


def _interactive_reply() -> Doc:
    return _body("meta/whatsapp/wa-list-reply-callback.json")


def _inbound() -> Doc:
    return _body("gateway/email-verified-with-attachment.json")


def _x_item(doc: Doc) -> Doc:
    item: Doc = doc["tweet_create_events"][0]
    return item


def _wa_message(doc: Doc) -> Doc:
    message: Doc = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def _interactive_as_string(doc: Doc) -> None:
    """The list reply of wa-list-reply-callback.json, its ``interactive`` object a string."""
    doc.clear()
    doc.update(_interactive_reply())
    _wa_message(doc)["interactive"] = "list_reply"


# endpoint -> (base document, {case: how to spoil it})
Spoil = Callable[[Doc], None]
CASES: dict[str, tuple[Callable[[], Doc], dict[str, Spoil]]] = {
    "x": (_x, {
        "text_surrogate": lambda d: _x_item(d).update(text="ciao " + LONE),
        "metadata_surrogate": lambda d: _x_item(d)["user"].update(name="Anna " + LONE),
        "timestamp": lambda d: _x_item(d).update(timestamp_ms=str(-10**20)),
        "wrong_type": lambda d: _x_item(d).update(user="anna_bianchi"),
    }),
    "meta": (_meta, {
        "text_surrogate": lambda d: _wa_message(d)["text"].update(body="ciao " + LONE),
        "metadata_surrogate": lambda d: d["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"].update(
            name="Anna " + LONE),
        "timestamp": lambda d: _wa_message(d).update(timestamp=str(-10**20)),
        "wrong_type": _interactive_as_string,
    }),
    "inbound": (_inbound, {
        "text_surrogate": lambda d: d.update(text="ciao " + LONE),
        "metadata_surrogate": lambda d: d.update(metadata={"ticket": "T-1 " + LONE}),
        "timestamp": lambda d: d.update(occurred_at=-10**20),
        "wrong_type": lambda d: d.update(sender="anna@example.com"),
    }),
}


def _post(aws: AwsStack, endpoint: str, body: bytes) -> tuple[int, Any]:
    module: ModuleType = load_app(FUNCTIONS[endpoint])
    return post_signed(module, endpoint, aws.secret_values[SECRETS[endpoint]], body)


def _assert_refused(aws: AwsStack, status: int, answer: Any) -> None:
    assert status == 400, answer
    assert isinstance(answer, dict) and answer["error"] == "bad_request" and answer["reason"]
    assert drain_messages(aws.queue_urls["InboundQueue"]) == []


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_the_unspoiled_body_is_accepted(aws: AwsStack, endpoint: str) -> None:
    base, _ = CASES[endpoint]
    status, answer = _post(aws, endpoint, json.dumps(base()).encode())
    assert (status, answer["received"]) == (200, 1)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_deeply_nested_json_is_a_400(aws: AwsStack, endpoint: str) -> None:
    doc = CASES[endpoint][0]()
    body = json.dumps(doc).encode()
    body = body[:-1] + b', "deep": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    _assert_refused(aws, *_post(aws, endpoint, body))


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_deeply_nested_body_is_a_400(aws: AwsStack, endpoint: str) -> None:
    _assert_refused(aws, *_post(aws, endpoint, b'{"a":' * DEEP + b"1" + b"}" * DEEP))


@pytest.mark.parametrize("case", ["timestamp", "wrong_type"])
@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_spoiled_value_is_a_400(aws: AwsStack, endpoint: str, case: str) -> None:
    base, spoils = CASES[endpoint]
    doc = base()
    spoils[case](doc)
    _assert_refused(aws, *_post(aws, endpoint, json.dumps(doc).encode()))


@pytest.mark.parametrize("case", ["text_surrogate", "metadata_surrogate"])
def test_a_lone_surrogate_in_our_gateway_is_a_400(aws: AwsStack, case: str) -> None:
    # the gateway's caller can fix what it sent (an all-or-nothing batch: docs/channels.md)
    base, spoils = CASES["inbound"]
    doc = base()
    spoils[case](doc)
    _assert_refused(aws, *_post(aws, "inbound", json.dumps(doc).encode()))


@pytest.mark.parametrize("case", ["text_surrogate", "metadata_surrogate"])
@pytest.mark.parametrize("endpoint", ["meta", "x"])
def test_a_lone_surrogate_from_a_platform_is_replaced_and_the_post_kept(
    aws: AwsStack, endpoint: str, case: str
) -> None:
    # X and Meta resend a refused POST byte for byte: refusing one odd character would lose
    # every message in it for good, so the character becomes U+FFFD and the event goes on
    base, spoils = CASES[endpoint]
    doc = base()
    spoils[case](doc)
    status, answer = _post(aws, endpoint, json.dumps(doc).encode())
    assert (status, answer["received"]) == (200, 1), answer
    [message] = drain_messages(aws.queue_urls["InboundQueue"])
    body = message["Body"]
    body.encode("utf-8")  # what was queued is valid Unicode
    assert "\ufffd" in body or "\\ufffd" in body


@pytest.mark.parametrize("case", ["timestamp", "wrong_type"])
def test_a_spoiled_event_beside_a_good_one_costs_only_itself(aws: AwsStack, case: str) -> None:
    # the platform resends a refused POST byte for byte: a 400 would lose the good event forever
    doc = _x()
    bad = json.loads(json.dumps(doc))
    CASES["x"][1][case](bad)
    _x_item(bad)["id_str"] = "1"
    doc["tweet_create_events"].append(_x_item(bad))
    status, answer = _post(aws, "x", json.dumps(doc).encode())
    assert (status, answer) == (200, {"received": 1, "ignored": 1})
    assert len(drain_messages(aws.queue_urls["InboundQueue"])) == 1


def test_x_body_with_60000_unknown_keys_is_accepted_quickly_with_bounded_logs(
    aws: AwsStack, capsys: pytest.CaptureFixture[str]
) -> None:
    doc: Doc = {"for_user_id": "1500000000000000001"}
    doc.update({f"unknown_{i}_events": [{"id": i}] for i in range(60_000)})
    body = json.dumps(doc).encode()
    capsys.readouterr()
    started = time.monotonic()
    status, answer = _post(aws, "x", body)
    elapsed = time.monotonic() - started
    logged = capsys.readouterr()
    assert (status, answer["received"], answer["ignored"]) == (200, 0, 60_000)
    assert elapsed < 10
    assert len(logged.out) + len(logged.err) < 64 * 1024
