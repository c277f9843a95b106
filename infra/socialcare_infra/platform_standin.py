"""A loopback stand-in for the Graph API and the X API, so nothing leaves the machine locally.

The local stack points the template's ``GraphApiUrl`` and ``XApiUrl`` parameters at it (unless
``--param`` names them), so a Messenger DM's profile lookup, a WhatsApp media fetch or an agent's
reply in ``socialcare local`` / ``socialcare demo`` never reaches graph.facebook.com or api.x.com.

What it answers, in the platforms' own shapes so the SDKs (facebook-sdk, tweepy) react as they
would to the real thing (docs/protocols.md, sections 2 and 4):

* ``GET /<version>/<id>?fields=…name…`` (Messenger / Instagram User Profile API): a profile, the
  one the stack was given for that id, else a generated name, stable per id;
* any other Graph ``GET /<version>/<id>`` (a media lookup): 404 with Graph's "object does not
  exist" error (code 100), so media is noted as unavailable and the message stored;
* the sends (``platforms.senders``), with fresh ids: ``POST /2/tweets`` (201 ``{"data": {"id",
  "text"}}``), ``POST /2/dm_conversations/with/<user>/messages`` and
  ``/2/dm_conversations/<id>/messages`` (201 ``{"data": {"dm_conversation_id", "dm_event_id"}}``),
  Graph ``POST /<version>/<id>/comments|replies`` (``{"id"}``) and ``/<version>/<id>/messages``
  (``{"recipient_id", "message_id"}``, or WhatsApp's ``{"messaging_product", "contacts",
  "messages": [{"id": "wamid…"}]}``); a send without a token or its required fields is refused
  as the platform would (X 401/400 problem, Graph codes 2500/100);
* ``GET /2/tweets/search/recent``: X's recent search over the posts seeded with ``POST
  /_standin/search`` (``standin_search.py``; ``DELETE`` forgets them);
* other X API paths (``/2/…``, ``/1.1/…``): 404 with an X problem document;
* anything else: a Graph-style error (400, code 3: "not available here").

Its own endpoints, so an e2e test or a person running ``socialcare local`` can see what would
have been posted, and script a platform's failures:

* ``GET /_standin/requests``: every request received (``method``, ``path``, ``query``,
  ``headers``, ``body`` parsed as JSON or form, ``status`` answered, ``at``), newest last, with
  access tokens and OAuth signatures masked; ``DELETE`` forgets them;
* ``POST /_standin/fail`` ``{"path_contains", "status", "body", "headers", "times": 1,
  "method"}``: the next ``times`` requests whose path contains ``path_contains`` get that answer
  instead; ``GET`` lists the pending ones, ``DELETE`` drops them.

It never logs, echoes or records the access token it is sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from socialcare.redact import REDACTED, scrub
from socialcare_infra.servers import HOST, Server, bind
from socialcare_infra.standin_search import SearchCorpus

_GRAPH_OBJECT = re.compile(r"^/(?:v\d+\.\d+/)?(?P<id>[A-Za-z0-9_.:-]+)/?$")
_PROFILE_FIELDS = frozenset({"name", "first_name", "last_name", "username"})
_FIRST = ("Alba", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Greta", "Ivo", "Lia", "Mirco", "Nora", "Oscar")
_SYLLABLES = [c + v for c in "bcdfglmnprstvz" for v in "aeiou"]  # 70: four give ~24 million surnames
_CONTROL = "/_standin/"
_SECRET_KEYS = frozenset({"access_token", "appsecret_proof", "client_secret", "input_token", "fb_exchange_token"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def generated_profile(user_id: str) -> dict[str, str]:
    """A stable, made-up name for a platform user id. The surname is spelt from a hash of the id,
    so two senders almost never share it: their generated names never agree as evidence."""
    digest = int(hashlib.sha256(user_id.encode()).hexdigest(), 16)
    first = _FIRST[digest % len(_FIRST)]
    digest //= len(_FIRST)
    syllables = []
    for _ in range(4):
        digest, index = divmod(digest, len(_SYLLABLES))
        syllables.append(_SYLLABLES[index])
    last = "".join(syllables).capitalize()
    return {"first_name": first, "last_name": last, "name": f"{first} {last}",
            "username": f"{first}.{last}".lower()}


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=dict(headers or {}))


def graph_error(status: int, code: int, message: str) -> Response:
    return json_response(status, {"error": {"message": message, "type": "GraphMethodException" if code == 100 else
                                            "OAuthException", "code": code, "fbtrace_id": "socialcare-local"}})


def x_problem(status: int, title: str, detail: str, kind: str) -> Response:
    """An X problem document; ``kind`` is the problem type's last segment, or ``about:blank``
    (with ``status``), as X sends for plain 401/403 answers."""
    if kind == "about:blank":
        return json_response(status, {"title": title, "detail": detail, "type": kind, "status": status})
    return json_response(status, {"title": title, "detail": detail, "type": f"https://api.twitter.com/2/problems/{kind}"})


def _masked(value: Any) -> Any:
    """``value`` with every credential-named key's value replaced (JSON bodies, forms, queries)."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in _SECRET_KEYS else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def request_body(request: Request) -> Any:
    """The body as the platform would read it: JSON, form fields, else text (None when empty)."""
    if request.mimetype == "application/json":
        return request.get_json(silent=True)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    text = request.get_data(as_text=True)
    return text or None


class Failure(BaseModel):
    """A scripted answer for the next ``times`` requests whose path contains ``path_contains``."""

    model_config = ConfigDict(extra="forbid")

    path_contains: str = Field(min_length=1, max_length=500)
    status: int = Field(ge=100, le=599)
    body: dict[str, Any] | list[Any] | str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    times: int = Field(default=1, ge=1, le=10_000)
    method: str | None = Field(default=None, description="only requests with this method (default: any)")

    def matches(self, request: Request) -> bool:
        return self.path_contains in request.path and (self.method is None or self.method.upper() == request.method)

    def response(self) -> Response:
        if self.body is None or isinstance(self.body, str):
            return Response(self.body or "", status=self.status, headers=self.headers)
        return json_response(self.status, self.body, self.headers)


_X_TWEETS = "/2/tweets"
_X_DM = re.compile(r"^/2/dm_conversations/(?:with/(?P<user>\d+)|(?P<conversation>[0-9-]+))/messages$")
_GRAPH_EDGE = re.compile(r"^/(?:v\d+\.\d+/)?(?P<node>[A-Za-z0-9_.:-]+)/(?P<edge>comments|replies|messages)$")
_TWITTER_EPOCH_MS = 1288834974657


def _object(value: Any) -> Any:
    """A Graph form field holds an object as JSON text (``recipient={"id":"…"}``); JSON bodies hold it as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _digits(seed: str, length: int = 16) -> str:
    """A stable, made-up numeric id (a PSID for a private reply's commenter, say)."""
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**length).rjust(length, "1")


class SendAnswers:
    """The sends' answers, with fresh ids: X snowflakes, Messenger ``m_…`` ids, WhatsApp ``wamid.…``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def snowflake(self) -> str:
        """A fresh id shaped like X's (and Graph's) 64-bit ids: milliseconds since X's epoch << 22."""
        with self._lock:
            self._last = max(self._last + 1, (int(time.time() * 1000) - _TWITTER_EPOCH_MS) << 22)
            return str(self._last)

    def answer(self, request: Request, body: Any) -> Response | None:
        """The answer to a send, or None when ``request`` is not one."""
        fields = body if isinstance(body, dict) else {}
        if request.path == _X_TWEETS or _X_DM.match(request.path):
            return self.x(request, fields)
        edge = _GRAPH_EDGE.match(request.path)
        if edge is None:
            return None
        token = request.args.get("access_token") or fields.get("access_token") or \
            request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            return graph_error(400, 2500, "An active access token must be used to query information about the "
                                          "current user.")
        node, kind = edge.group("node"), edge.group("edge")
        if kind != "messages":
            if not fields.get("message"):
                return graph_error(400, 100, "(#100) The parameter message is required")
            return json_response(200, {"id": f"{node.split('_')[0]}_{self.snowflake()}" if "_" in node
                                       else self.snowflake()})
        if fields.get("messaging_product") == "whatsapp":
            return self.whatsapp(fields)
        recipient, message = _object(fields.get("recipient")), _object(fields.get("message"))
        if not isinstance(recipient, dict) or not ({"id", "comment_id", "post_id"} & recipient.keys()):
            return graph_error(400, 100, "(#100) The parameter recipient is required")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return graph_error(400, 100, "(#100) The parameter message is required")
        psid = recipient.get("id") or _digits(str(recipient.get("comment_id") or recipient.get("post_id")))
        return json_response(200, {"recipient_id": str(psid), "message_id": "m_" + secrets.token_urlsafe(32)})

    def x(self, request: Request, fields: dict[str, Any]) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith(("OAuth ", "Bearer ")):
            return x_problem(401, "Unauthorized", "Unauthorized", "about:blank")
        if not isinstance(fields.get("text"), str) or not fields["text"].strip():
            return x_problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                             "invalid-request")
        if request.path == _X_TWEETS:
            tweet = self.snowflake()
            return json_response(201, {"data": {"edit_history_tweet_ids": [tweet], "id": tweet,
                                                "text": fields["text"]}})
        dm = _X_DM.match(request.path)
        assert dm is not None
        conversation = dm.group("conversation")
        if conversation is None:  # one-to-one: "<smaller id>-<larger id>"; an X access token starts "<user id>-"
            sender = re.search(r'oauth_token="(\d+)-', auth)
            conversation = "-".join(sorted((dm.group("user"), sender.group(1) if sender else "1"),
                                           key=lambda v: (len(v), v)))
        return json_response(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": self.snowflake()}})

    def whatsapp(self, fields: dict[str, Any]) -> Response:
        to, kind = fields.get("to"), fields.get("type") or "text"
        content = _object(fields.get(kind))
        valid = {"text": lambda c: bool(c.get("body")),
                 "template": lambda c: bool(c.get("name")) and bool((c.get("language") or {}).get("code"))}
        if not to:
            return graph_error(400, 100, "(#100) The parameter to is required.")
        if kind not in valid or not isinstance(content, dict) or not valid[kind](content):
            return graph_error(400, 100, f"(#100) Invalid parameter: {kind}")
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()
        return json_response(200, {"messaging_product": "whatsapp",
                                   "contacts": [{"input": str(to), "wa_id": re.sub(r"\D", "", str(to))}],
                                   "messages": [{"id": wamid}]})


class _ScrubbedLog(WSGIRequestHandler):
    """werkzeug's access log, without the ``access_token`` a Graph GET carries in its query."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", scrub(message % args if args else message))


class PlatformStandIn:
    """The stand-in as a WSGI app; ``serve`` runs it on loopback."""

    def __init__(self, profiles: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.profiles = {str(k): dict(v) for k, v in (profiles or {}).items()}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path): what was asked, never the token
        self.records: list[dict[str, Any]] = []  # the same requests in full, tokens masked
        self.failures: list[Failure] = []
        self.sends = SendAnswers()
        self.search = SearchCorpus()  # GET /2/tweets/search/recent finds these (standin_search.py)
        self.server: Server | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the platform stand-in is not serving")
        return f"http://{HOST}:{self.server.port}"

    def serve(self, port: int = 0, fallback_to_free_port: bool = True) -> PlatformStandIn:
        self.server = bind(self, port, fallback_to_free_port, request_handler=_ScrubbedLog)
        self.server.serve("local-platforms")
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(_CONTROL):
            return self.control(request)(environ, start_response)
        response = self._scripted(request) or self.answer(request)
        self.record(request, response.status_code)
        return response(environ, start_response)

    # ------------------------------------------------------------------ recording and scripting
    def record(self, request: Request, status: int) -> None:
        headers = {k: scrub(v) if k.lower() in _SECRET_HEADERS else v for k, v in request.headers.items()}
        entry = {"method": request.method, "path": request.path, "query": _masked(request.args.to_dict()),
                 "headers": headers, "body": _masked(request_body(request)), "status": status,
                 "at": datetime.now(UTC).isoformat()}
        with self._lock:
            self.requests.append((request.method, request.path))
            self.records.append(entry)

    def recorded(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.records)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.records.clear()

    def fail(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)

    def _scripted(self, request: Request) -> Response | None:
        with self._lock:
            for failure in self.failures:
                if failure.matches(request):
                    failure.times -= 1
                    if failure.times <= 0:
                        self.failures.remove(failure)
                    return failure.response()
        return None

    def control(self, request: Request) -> Response:
        """``/_standin/requests`` and ``/_standin/fail`` (module docstring)."""
        name, method = request.path[len(_CONTROL):].strip("/"), request.method
        if name == "requests" and method == "GET":
            return json_response(200, self.recorded())
        if name == "requests" and method == "DELETE":
            self.clear()
            return Response(status=204)
        if name == "fail" and method == "GET":
            with self._lock:
                return json_response(200, [f.model_dump(mode="json") for f in self.failures])
        if name == "fail" and method == "DELETE":
            with self._lock:
                self.failures.clear()
            return Response(status=204)
        if name == "fail" and method == "POST":
            try:
                failure = Failure.model_validate_json(request.get_data() or b"null")
            except ValidationError as exc:
                errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
                return json_response(400, {"error": "bad_request", "reason": "invalid failure rule", "errors": errors})
            self.fail(failure)
            return json_response(201, failure.model_dump(mode="json"))
        if name == "search" and method in ("POST", "DELETE"):  # seed or forget X recent search's posts
            if method == "DELETE":
                self.search.clear()
                return Response(status=204)
            seeded = request.get_json(silent=True) or {}
            users = (seeded.get("includes") or {}).get("users") or []
            total = self.search.add(list(seeded.get("data") or []), list(users))
            return json_response(201, {"posts": total})
        if name in ("requests", "fail"):
            return json_response(405, {"error": "method_not_allowed", "reason": f"{method} {request.path}"})
        return json_response(404, {"error": "not_found", "reason": f"{request.path}: only {_CONTROL}requests and "
                                                                   f"{_CONTROL}fail exist"})

    # ------------------------------------------------------------------ the platforms
    def answer(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST":
            sent = self.sends.answer(request, request_body(request))
            if sent is not None:
                return sent
        if path == "/2/tweets/search/recent" and request.method == "GET":
            status, found = self.search.answer(request.args.to_dict(), request.headers.get("Authorization", ""))
            return json_response(status, found)
        if path.startswith(("/2/", "/1.1/")):
            return x_problem(404, "Not Found Error", f"socialcare local stand-in: {request.method} {path} is not "
                                                     "available here", "resource-not-found")
        match = _GRAPH_OBJECT.match(path)
        if request.method != "GET" or match is None:
            return graph_error(400, 3, f"(#3) socialcare local stand-in: {request.method} {path} is not available")
        fields = {f.strip() for f in request.args.get("fields", "").split(",") if f.strip()}
        user_id = match.group("id")
        if not fields & _PROFILE_FIELDS:
            return graph_error(404, 100, f"Unsupported get request. Object with ID '{user_id}' does not exist "
                                         "(socialcare local stand-in)")
        profile = {**generated_profile(user_id), **self.profiles.get(user_id, {})}
        return json_response(200, {"id": user_id, **{k: v for k, v in profile.items() if k in fields}})
