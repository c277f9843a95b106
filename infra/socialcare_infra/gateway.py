"""The HTTP API: the template's ``HttpApi`` routes, each request as a payload format 2.0 event.

Routing uses werkzeug's router: ``{param}`` becomes a one-segment variable and ``{proxy+}`` a
greedy path variable, and werkzeug already ranks static segments above variables, which is
API Gateway's "most specific route wins" rule. A path that matches no route, or matches with
another method, is 404 ``{"message":"Not Found"}`` as in API Gateway.

The raw request bytes are what webhook signatures are computed over, so the body goes to the
handler as text only when it is valid UTF-8 of a textual content type (re-encoding gives the
same bytes back) and base64 otherwise.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from socialcare_infra.invoke import FunctionRunner

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # HTTP API payload quota
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(.*\+)?(json|xml)|application/(x-www-form-urlencoded|javascript|graphql))$"
)
_PATH_PARAM = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as in the template: /api/{proxy+}
    function: str  # logical id
    default: bool = False  # the API's $default catch-all route

    @property
    def route_key(self) -> str:
        return "$default" if self.default else f"{self.method} {self.path}"


def werkzeug_rule(path: str) -> str:
    """``/webhooks/crm/{provider}`` -> ``/webhooks/crm/<provider>``; ``{proxy+}`` -> ``<path:proxy>``."""

    def convert(match: re.Match[str]) -> str:
        name, greedy = match.group(1), match.group(2)
        return f"<path:{name}>" if greedy else f"<{name}>"

    return _PATH_PARAM.sub(convert, path)


def build_map(routes: Iterable[Route]) -> Map:
    rules = []
    for route in routes:
        methods = list(HTTP_METHODS) if route.method == "ANY" else [route.method]
        rules.append(Rule(werkzeug_rule(route.path), methods=methods, endpoint=route))
    # merge_slashes off: API Gateway does not rewrite paths, so neither do we.
    return Map(rules, merge_slashes=False, redirect_defaults=False)


def _json_response(status: int, payload: Any, request_id: str) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json",
                    headers={"apigw-requestid": request_id})


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    return bool(_TEXT_TYPES.match(content_type.split(";")[0].strip().lower()))


def _read_body(request: Request, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body: a chunked body has no Content-Length to check first."""
    body = bytearray()
    while len(body) < limit:
        chunk = request.stream.read(limit - len(body))
        if not chunk:
            break
        body.extend(chunk)
    return bytes(body)


def encode_body(raw: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded`` for raw request bytes."""
    if not raw:
        return None, False
    if _is_text(content_type):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode("ascii"), True


class Gateway:
    """WSGI app turning HTTP requests into HTTP API 2.0 events for the functions' runners."""

    def __init__(
        self,
        routes: Iterable[Route],
        runners: dict[str, FunctionRunner],
        account_id: str,
        api_id: str,
    ) -> None:
        self.routes = list(routes)
        self.runners = runners
        self.account_id = account_id
        self.api_id = api_id
        self.url_map = build_map(self.routes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        response = self.handle(request)
        log.info("%s %s -> %d (%.0f ms)", request.method, request.full_path.rstrip("?"), response.status_code,
                 (time.monotonic() - started) * 1000)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, params = adapter.match()
        except (NotFound, MethodNotAllowed):
            return _json_response(404, {"message": "Not Found"}, request_id)
        too_large = _json_response(413, {"message": "Request Entity Too Large"}, request_id)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return too_large
        try:
            raw = _read_body(request, MAX_BODY_BYTES + 1)
        except RequestEntityTooLarge:
            return too_large
        if len(raw) > MAX_BODY_BYTES:
            return too_large
        event = self.event(request, route, dict(params), raw, request_id)
        result = self.runners[route.function].invoke(event)
        if result.error is not None:
            log.warning("%s %s -> %s failed: %s", request.method, request.path, route.function,
                        result.error.get("errorMessage"))
            return _json_response(500, {"message": "Internal Server Error"}, request_id)
        try:
            return self.response(result.payload, request_id)
        except (TypeError, ValueError) as exc:
            # A malformed proxy result is a 500 in API Gateway too.
            log.warning("%s returned a malformed HTTP API response: %s", route.function, exc)
            return _json_response(500, {"message": "Internal Server Error"}, request_id)

    def event(self, request: Request, route: Route, params: dict[str, str], raw: bytes,
              request_id: str) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for key, value in request.headers.items():
            lower = key.lower()
            if lower == "cookie":
                # Payload 2.0 moves cookies out of the headers into their own list.
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
        query: dict[str, str] = {k: ",".join(v) for k, v in request.args.lists()}
        raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        raw_path = raw_path.split("?", 1)[0]
        host = request.host or "localhost"
        now = datetime.now(UTC)
        body, is_b64 = encode_body(raw, request.content_type)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": request.query_string.decode("latin-1"),
            "headers": headers,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": host,
                "domainPrefix": host.split(".")[0],
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent", ""),
                },
                "requestId": request_id,
                "routeKey": route.route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": is_b64,
        }
        # API Gateway omits these keys rather than sending them empty.
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if body is not None:
            event["body"] = body
        return event

    @staticmethod
    def response(payload: Any, request_id: str) -> Response:
        """Interpret a handler's result by HTTP API payload 2.0 rules."""
        if not (isinstance(payload, dict) and "statusCode" in payload):
            # No statusCode: API Gateway assumes 200 and sends the whole result as JSON.
            return _json_response(200, payload, request_id)
        status = int(payload["statusCode"])
        body = payload.get("body")
        data: bytes
        if body is None:
            data = b""
        elif payload.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        response = Response(data, status=status)
        response.headers.remove("Content-Type")
        for key, value in (payload.get("headers") or {}).items():
            response.headers[key] = str(value)
        if data and "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        for cookie in payload.get("cookies") or []:
            response.headers.add("Set-Cookie", str(cookie))
        response.headers["apigw-requestid"] = request_id
        return response


def routes_from_events(function: str, events: dict[str, dict[str, Any]]) -> list[Route]:
    """HttpApi events of one function (already resolved) -> routes."""
    routes = []
    for event in events.values():
        if event.get("Type") != "HttpApi":
            continue
        props = event.get("Properties") or {}
        path = props.get("Path")
        method = str(props.get("Method", "ANY")).upper()
        if not path:
            # An HttpApi event without Path/Method is the API's catch-all $default route.
            routes.append(Route("ANY", "/{proxy+}", function, default=True))
            continue
        routes.append(Route("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                            str(path), function))
    return routes


def api_id_for(stack_name: str) -> str:
    """A stable, API-Gateway-looking id (10 lowercase alphanumerics) for the stack."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, stack_name).hex
    return digest[:10]
