"""The page cursor: only a listing's own cursors are accepted; anything else is a 400, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from socialcare.errors import BadRequest
from socialcare.store import cursor

TIMELINE = {"pk": {"S": "CUSTOMER#c-1"}, "sk": {"S": "TL#2026-11-02T09:00:00Z#x:1"}}
QUEUE = {"pk": {"S": "CASE#SC-1"}, "sk": {"S": "CASE"}, "queue_pk": {"S": "TEAM#social#STATUS#new"},
         "queue_sk": {"S": "2026-11-02T10:00:00Z#SC-1"}}


def raw(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_listings_own_cursor_round_trips() -> None:
    assert cursor.decode(cursor.encode(TIMELINE), bound={"pk": "CUSTOMER#c-1"}, prefixes={"sk": "TL#"}) == TIMELINE
    assert cursor.decode(cursor.encode(QUEUE), bound={"queue_pk": "TEAM#social#STATUS#new"},
                         prefixes={"pk": "CASE#"}) == QUEUE
    assert cursor.decode_offset(cursor.encode_offset(40)) == 40


@pytest.mark.parametrize("token", [
    raw({"pk": {"S": "CUSTOMER#c-1"}}),                                   # sort key missing
    raw({**TIMELINE, "queue_pk": {"S": "x"}}),                            # an attribute too many
    raw({**TIMELINE, "sk": {"S": "TL#\ud800"}}),                          # a lone surrogate
    raw({**TIMELINE, "sk": {"S": "TL#" + "x" * 2000}}),                   # longer than a key may be
    raw({**TIMELINE, "pk": {"S": "CUSTOMER#c-2"}}),                       # another customer's
    raw({**TIMELINE, "sk": {"S": "SUG#c-2"}}),                            # another listing's range
    base64.urlsafe_b64encode(b"[" * 1500).decode(),                       # nested past the recursion limit
    "TL#not base64!",
    "é" + raw(TIMELINE)[1:],                                              # not ASCII
    "A" * (cursor.MAX_CURSOR + 1),
])
def test_anything_else_is_a_bad_request(token: str) -> None:
    with pytest.raises(BadRequest):
        cursor.decode(token, bound={"pk": "CUSTOMER#c-1"}, prefixes={"sk": "TL#"})


@pytest.mark.parametrize("token", [raw({"offset": {"S": "-1"}}), raw({"offset": {"S": "9" * 40}}), raw({"offset": 3}),
                                   raw([]), cursor.encode(TIMELINE)])
def test_an_offset_cursor_is_only_a_small_offset(token: str) -> None:
    with pytest.raises(BadRequest):
        cursor.decode_offset(token)
