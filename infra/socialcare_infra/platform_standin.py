"""A loopback stand-in for the Graph API and the X API, so nothing leaves the machine locally.

The local stack points the template's ``GraphApiUrl`` and ``XApiUrl`` parameters at it (unless
``--param`` names them), so a Messenger DM's profile lookup or a WhatsApp media fetch in
``socialcare local`` / ``socialcare demo`` never reaches graph.facebook.com or api.x.com.

What it answers, in the platforms' own shapes so the SDKs (facebook-sdk, tweepy) react as they
would to the real thing:

* ``GET /<version>/<id>?fields=…name…`` (Messenger / Instagram User Profile API): a profile, the
  one the stack was given for that id, else a generated name, stable per id;
* any other Graph ``GET /<version>/<id>`` (a media lookup): 404 with Graph's "object does not
  exist" error (code 100), so media is noted as unavailable and the message stored;
* X API paths (``/2/…``, ``/1.1/…``): 404 with an X problem document;
* anything else: a Graph-style error (400, code 3: "not available here").

It never logs or echoes the access token it is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from socialcare_infra.servers import HOST, Server, bind

_GRAPH_OBJECT = re.compile(r"^/(?:v\d+\.\d+/)?(?P<id>[A-Za-z0-9_.:-]+)/?$")
_PROFILE_FIELDS = frozenset({"name", "first_name", "last_name", "username"})
_FIRST = ("Alba", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Greta", "Ivo", "Lia", "Mirco", "Nora", "Oscar")
_SYLLABLES = [c + v for c in "bcdfglmnprstvz" for v in "aeiou"]  # 70: four give ~24 million surnames


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


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _graph_error(status: int, code: int, message: str) -> Response:
    return _json(status, {"error": {"message": message, "type": "GraphMethodException" if code == 100 else
                                    "OAuthException", "code": code, "fbtrace_id": "socialcare-local"}})


class PlatformStandIn:
    """The stand-in as a WSGI app; ``serve`` runs it on loopback."""

    def __init__(self, profiles: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.profiles = {str(k): dict(v) for k, v in (profiles or {}).items()}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path): what was asked, never the token
        self.server: Server | None = None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the platform stand-in is not serving")
        return f"http://{HOST}:{self.server.port}"

    def serve(self, port: int = 0, fallback_to_free_port: bool = True) -> PlatformStandIn:
        self.server = bind(self, port, fallback_to_free_port)
        self.server.serve("local-platforms")
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.requests.append((request.method, request.path))
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        path = request.path
        if path.startswith(("/2/", "/1.1/")):
            return _json(404, {"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found",
                               "detail": f"socialcare local stand-in: {request.method} {path} is not available here"})
        match = _GRAPH_OBJECT.match(path)
        if request.method != "GET" or match is None:
            return _graph_error(400, 3, f"(#3) socialcare local stand-in: {request.method} {path} is not available")
        fields = {f.strip() for f in request.args.get("fields", "").split(",") if f.strip()}
        user_id = match.group("id")
        if not fields & _PROFILE_FIELDS:
            return _graph_error(404, 100, f"Unsupported get request. Object with ID '{user_id}' does not exist "
                                          "(socialcare local stand-in)")
        profile = {**generated_profile(user_id), **self.profiles.get(user_id, {})}
        return _json(200, {"id": user_id, **{k: v for k, v in profile.items() if k in fields}})
