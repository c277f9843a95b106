"""Helpers of the listening tests: the ListeningFunction's world on moto (listening.yaml's
``search`` section replaced through ``SOCIALCARE_CONFIG_DIR``, the X API credentials secret) and X's
recent search answered through ``responses`` from the platform stand-in's ``SearchCorpus``, so
the real tweepy client is what reads it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
import responses
import yaml

from socialcare.config.loader import CONFIG_DIR
from socialcare.config.settings import Settings
from socialcare.flows.wiring import Wiring
from socialcare_infra.standin_search import SearchCorpus

X_API = "http://x.fake.test"
BRAND_X = "783214"  # the brand's X account: its bearer token searches, its own posts are skipped
SEARCH = re.compile(re.escape(X_API) + r"/2/tweets/search/recent.*")


def listening_wiring(aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **search: Any) -> Wiring:
    """A Wiring whose listening.yaml ``search`` section has ``search`` on top of the shipped one."""
    rules = yaml.safe_load((CONFIG_DIR / "listening.yaml").read_text(encoding="utf-8"))
    rules["search"].update(search)
    (tmp_path / "listening.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    monkeypatch.setenv("SOCIALCARE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SOCIALCARE_X_API_URL", X_API)
    monkeypatch.setenv("SOCIALCARE_BRAND_X_ACCOUNT_IDS", BRAND_X)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["XApiCredentials"], SecretString=json.dumps({BRAND_X: {"bearer_token": "bearer"}}))
    return Wiring(Settings())


def tweet(n: int, text: str, author: str, minutes_ago: int = 5) -> dict[str, Any]:
    """Post ``n`` in X's v2 shape, written ``minutes_ago``."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    post_id = str(1_900_000_000_000_000_000 + n)
    return {"id": post_id, "text": text, "author_id": author, "lang": "it",
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "conversation_id": post_id,
            "edit_history_tweet_ids": [post_id]}


def user(uid: str, followers: int) -> dict[str, Any]:
    return {"id": uid, "username": f"user{uid}", "name": f"User {uid}",
            "public_metrics": {"followers_count": followers, "following_count": 10, "tweet_count": 100}}


def serve(corpus: SearchCorpus, mocked: responses.RequestsMock, calls: list[dict[str, str]] | None = None) -> None:
    """Answer X's recent search from ``corpus``; each request's query arguments go to ``calls``."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        args = dict(parse_qsl(urlsplit(request.url).query))
        if calls is not None:
            calls.append(args)
        status, body = corpus.answer(args, request.headers.get("Authorization", ""))
        return status, {"content-type": "application/json"}, json.dumps(body)

    mocked.add_callback(responses.GET, SEARCH, callback=answer)
