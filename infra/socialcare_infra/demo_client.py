"""The demo's HTTP client: each platform's signed webhook POST, and the agent API, over HTTP only."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from socialcare_infra import scenario

# ---------------------------------------------------------------------- signing
# One place per platform's scheme: the acceptance story's helpers (scenario.py) are the ones.
x_signature = scenario.x_signature  # sha256=base64(HMAC-SHA256(consumer secret, raw body))
meta_signature = scenario.meta_signature  # sha256=hex(HMAC-SHA256(app secret, raw body))


def inbound_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Socialcare-Signature``: sha256=hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))."""
    return scenario.inbound_headers(secret, body, int(timestamp))["x-socialcare-signature"]


def _plain_secret(value: str, key: str | None = None) -> str:
    """A secret is a plain value or JSON ``{"<account>": "...", "default": "..."}``: pick one."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict) and parsed:
        chosen = parsed.get(key) if key else None
        chosen = chosen or parsed.get("default") or next(iter(parsed.values()))
        return chosen if isinstance(chosen, str) else json.dumps(chosen)
    return value


class StackLike(Protocol):
    @property
    def api_url(self) -> str: ...

    @property
    def invoke_url(self) -> str: ...

    @property
    def secret_values(self) -> dict[str, str]: ...


# ---------------------------------------------------------------------- client
class DemoClient:
    """HTTP client speaking as each platform would, with the stack's local secrets."""

    def __init__(self, api_url: str, secrets: Mapping[str, str], timeout_s: float = 15.0,
                 invoke_url: str = "", platforms_url: str = "") -> None:
        self.api_url = api_url.rstrip("/")
        self.invoke_url = invoke_url
        self.platforms_url = platforms_url.rstrip("/")  # the loopback X/Graph stand-in, if the stack has one
        self.secrets = dict(secrets)
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @classmethod
    def for_stack(cls, stack: StackLike) -> DemoClient:
        standin = getattr(stack, "platforms", None)
        return cls(stack.api_url, stack.secret_values, invoke_url=stack.invoke_url,
                   platforms_url=(getattr(standin, "url", "") if getattr(standin, "server", None) else "") or "")

    def secret(self, logical_id: str) -> str:
        return _plain_secret(self.secrets[logical_id])

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None
                ) -> requests.Response:
        return self.session.request(method, self.api_url + path, data=body, headers=dict(headers or {}),
                                    params=params, timeout=self.timeout_s)

    @staticmethod
    def encode(payload: Any) -> bytes:
        # Compact, non-ASCII escaped: the bytes platforms send and sign.
        return json.dumps(payload, separators=(",", ":")).encode()

    def x_post(self, payload: Any) -> requests.Response:
        body = self.encode(payload)
        signature = x_signature(self.secret("XConsumerSecret"), body)
        return self.request("POST", "/webhooks/x", body=body, headers={
            "content-type": "application/json", "x-twitter-webhooks-signature": signature,
        })

    def meta_post(self, payload: Any) -> requests.Response:
        body = self.encode(payload)
        signature = meta_signature(self.secret("MetaAppSecret"), body)
        return self.request("POST", "/webhooks/meta", body=body, headers={
            "content-type": "application/json", "X-Hub-Signature-256": signature,
        })

    def inbound_post(self, payload: Any) -> requests.Response:
        body = self.encode(payload)
        timestamp = str(int(time.time()))
        signature = inbound_signature(self.secret("InboundSecret"), timestamp, body)
        return self.request("POST", "/webhooks/inbound", body=body, headers={
            "content-type": "application/json",
            "X-Socialcare-Timestamp": timestamp,
            "X-Socialcare-Signature": signature,
        })

    def api_get(self, path: str, params: Mapping[str, str] | None = None) -> requests.Response:
        return self.request("GET", path, params=params,
                            headers={"Authorization": f"Bearer {self.secret('ApiToken')}"})

    def api_post(self, path: str, payload: Any, agent: str = "demo.agent") -> requests.Response:
        return self.request("POST", path, body=json.dumps(payload).encode(), headers={
            "Authorization": f"Bearer {self.secret('ApiToken')}", "content-type": "application/json",
            "X-Socialcare-Agent": agent,
        })
