"""Every platform parser and CRM inbound parser, fed mutated real payloads and JSON from scratch.

Allowed: the events the parser found (each serialisable for SQS and readable by the processor),
a documented skip (``Parsed.ignored`` / ``invalid``), or the 400 every entry point answers for
``BadRequest`` and pydantic's ``ValidationError``. Anything else would be a 5xx in production,
which the platform retries forever: the example Hypothesis prints reproduces it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from mutations import JSON, WELL_FORMED, body, mutated, with_unknown_keys  # tests/fuzz/mutations.py
from seeds import seeds  # tests/fuzz/seeds.py
from targets import ALLOWED, TARGETS  # tests/fuzz/targets.py

NAMES = sorted(TARGETS)


def outcome(target: str, data: bytes) -> list[str] | str:
    """What the entry point would answer: the delivered events, or "400" (anything else raises)."""
    if currently_in_test_context():
        note(f"{target} body: {data[:2000]!r}{' ...' if len(data) > 2000 else ''}")
    try:
        return TARGETS[target](data)
    except ALLOWED:
        return "400"


@pytest.mark.parametrize("target", NAMES)
def test_every_seed_is_accepted_as_documented(target: str) -> None:
    """The unmutated seeds parse: the fuzzers start from bodies the parsers understand."""
    found = [outcome(target, json.dumps(seed).encode()) for seed in seeds(target)]
    assert found and "400" not in found
    if target not in {"connect", "hubspot"}:
        assert any(f for f in found), "no seed of this target produces an event"


@pytest.mark.parametrize("target", NAMES)
@given(data=st.data())
def test_mutated_real_payloads_get_events_a_skip_or_a_400(target: str, data: st.DataObject) -> None:
    outcome(target, data.draw(body(mutated(seeds(target))), label="body"))


@pytest.mark.parametrize("target", NAMES)
@given(data=st.data())
def test_json_from_scratch_gets_events_a_skip_or_a_400(target: str, data: st.DataObject) -> None:
    outcome(target, data.draw(body(JSON), label="body"))


UNKNOWN = st.dictionaries(st.text(min_size=1, max_size=10).map(lambda k: f"zz_new_{k}"), WELL_FORMED,
                          min_size=1, max_size=3)


@pytest.mark.parametrize("target", NAMES)
@given(data=st.data())
def test_unknown_keys_keep_the_same_interactions(target: str, data: st.DataObject) -> None:
    """Platforms add fields without notice: a well-formed body with new keys in every object
    parses to the same interactions. The gateway is the documented exception: it is our own
    API, ``additionalProperties: false``, so a new key is a 400 its caller can fix."""
    seed: Any = data.draw(st.sampled_from(seeds(target)), label="seed")
    extra = data.draw(UNKNOWN, label="extra")
    before = outcome(target, json.dumps(seed).encode())
    after = outcome(target, json.dumps(with_unknown_keys(seed, extra)).encode())
    if target == "gateway":
        assert after == "400"
    else:
        assert after == before
