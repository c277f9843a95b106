"""The demo's loopback CRM: a signed generic-webhook receiver that refuses the first deliveries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class DemoCrm:
    """A loopback CRM: verifies each delivery's signature, refuses the first ones with 503."""

    def __init__(self, secret: str, refuse_first: int = 2) -> None:
        import hashlib
        import hmac
        import threading

        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        self._lock = threading.Lock()
        self._seen = 0
        self._refused = 0
        self._bad = 0
        self._accepted: dict[str, dict[str, Any]] = {}

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            request = Request(environ)
            body = request.get_data()
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            with self._lock:
                self._seen += 1
                if not hmac.compare_digest(request.headers.get("X-Socialcare-Signature", ""), expected):
                    self._bad += 1
                    return Response(status=401)(environ, start_response)
                if self._seen <= refuse_first:
                    self._refused += 1
                    return Response(status=503)(environ, start_response)
                self._accepted[request.headers.get("X-Socialcare-Delivery-Id", "")] = json.loads(body)
            return Response(status=200)(environ, start_response)

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/crm/cases"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def latest(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            views: dict[str, dict[str, Any]] = {}
            for body in self._accepted.values():
                views[body["case"]["id"]] = body  # deliveries arrive in version order per case
            return views

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return self._refused, len(self._accepted), self._bad

    def stop(self) -> None:
        self._server.shutdown()
