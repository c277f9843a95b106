"""X recent search for the platform stand-in (and the tests): ``GET /2/tweets/search/recent``
answered in X's documented shape from posts a test or a person seeded.

https://docs.x.com/x-api/posts/search/api-reference/get-2-tweets-search-recent: ``data`` (newest
first), ``includes.users`` (the authors, with ``public_metrics`` when asked), ``meta``
(``newest_id``, ``oldest_id``, ``result_count``, and ``next_token`` while older posts remain).
Honoured: ``since_id``, ``max_results`` (10-100), ``next_token``; the query's terms are matched
loosely (any quoted phrase or word between the ORs of its first parentheses, case-insensitive),
which is all a stand-in needs. Seed posts with ``SearchCorpus.add`` (the stand-in's
``POST /_standin/search`` takes ``{"data": [...], "includes": {"users": [...]}}``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_GROUP = re.compile(r"\(([^()]*)\)")


def query_terms(query: str) -> list[str]:
    group = _GROUP.search(query)
    text = group.group(1) if group else query
    return [t.strip().strip('"').lower() for t in text.split(" OR ") if t.strip() and ":" not in t]


def _problem(status: int, title: str, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"title": title, "detail": detail, "type": "about:blank" if status == 401 else
                    "https://api.twitter.com/2/problems/invalid-request", "status": status}


class SearchCorpus:
    """Posts the stand-in's recent search can find."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tweets: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}

    def add(self, data: list[dict[str, Any]], users: list[dict[str, Any]] | None = None) -> int:
        with self._lock:
            for tweet in data:
                self.tweets[str(tweet["id"])] = dict(tweet)
            for user in users or []:
                self.users[str(user["id"])] = dict(user)
            return len(self.tweets)

    def clear(self) -> None:
        with self._lock:
            self.tweets.clear()
            self.users.clear()

    def answer(self, args: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        """(status, body) of ``GET /2/tweets/search/recent`` with these query arguments."""
        if not authorization.startswith("Bearer "):
            return _problem(401, "Unauthorized", "Unauthorized")
        terms = query_terms(args.get("query", ""))
        try:
            size = int(args.get("max_results", "10"))
            since = int(args["since_id"]) if args.get("since_id") else 0
            offset = int(args["next_token"].removeprefix("page-")) if args.get("next_token") else 0
        except ValueError:
            return _problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
        if not terms or not 10 <= size <= 100:
            return _problem(400, "Invalid Request", "One or more parameters to your request was invalid.")
        with self._lock:
            found = sorted((t for t in self.tweets.values() if int(t["id"]) > since
                            and any(term in str(t.get("text", "")).lower() for term in terms)),
                           key=lambda t: int(t["id"]), reverse=True)
            users = dict(self.users)
        page = found[offset:offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + size < len(found):
            meta["next_token"] = f"page-{offset + size}"
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = page
            authors = [users[a] for a in dict.fromkeys(str(t.get("author_id")) for t in page) if a in users]
            if authors and "author_id" in args.get("expansions", ""):
                body["includes"] = {"users": authors}
        return 200, body
