"""The demo scenario: signed platform webhooks in, what socialcare made of them out.

``play(stack)`` runs ``SCENARIO``, a list of steps, against a running ``LocalStack`` over HTTP
only, exactly as X, Meta, the inbound gateway and an agent would talk to it. To grow the story,
add steps to the list: new ``Step`` classes using ``DemoClient``'s signing helpers
(``x_post``, ``meta_post``, ``inbound_post``, ``api_get``), or prebuilt requests such as
``[Send.of(s) for s in scenario.story(scenario.Secrets.from_env())]``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

from socialcare_infra import scenario

BRAND_X_ID = scenario.BRAND_X_ID
BRAND_X_HANDLE = "socialcare_demo"


# ---------------------------------------------------------------------- signing
# One place per platform's scheme: the acceptance story's helpers (scenario.py) are the ones.
x_signature = scenario.x_signature  # sha256=base64(HMAC-SHA256(consumer secret, raw body))
x_crc_response = scenario.x_crc_response  # the response_token X expects for a CRC challenge
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
    def secret_values(self) -> dict[str, str]: ...


# ---------------------------------------------------------------------- client
class DemoClient:
    """HTTP client speaking as each platform would, with the stack's local secrets."""

    def __init__(self, api_url: str, secrets: Mapping[str, str], timeout_s: float = 15.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.secrets = dict(secrets)
        self.timeout_s = timeout_s
        self.session = requests.Session()

    @classmethod
    def for_stack(cls, stack: StackLike) -> DemoClient:
        return cls(stack.api_url, stack.secret_values)

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


# ---------------------------------------------------------------------- scenario
@dataclass
class DemoContext:
    client: DemoClient
    out: Callable[[str], None] = print
    state: dict[str, Any] = field(default_factory=dict)


class StepFailed(Exception):
    """The system did not do what the step expected."""


class Step(Protocol):
    title: str

    def run(self, ctx: DemoContext) -> None: ...


@dataclass
class Send:
    """A prebuilt (already signed) request, e.g. one of ``scenario.story()``'s steps."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    expect_status: int = 200
    title: str = "send a request"

    @classmethod
    def of(cls, step: scenario.Step) -> Send:
        return cls(step.method, step.path, step.body, dict(step.headers), step.expect_status, step.name)

    def run(self, ctx: DemoContext) -> None:
        response = ctx.client.request(self.method, self.path, body=self.body or None, headers=self.headers)
        if response.status_code != self.expect_status:
            raise StepFailed(f"{self.method} {self.path} answered {response.status_code}, "
                             f"expected {self.expect_status}: {response.text[:200]}")
        ctx.out(f"  {self.method} {self.path.split('?')[0]} -> {response.status_code}")


@dataclass
class XCrc:
    """X's Challenge-Response Check: the webhook must answer with the HMAC of the token."""

    token: str = "demo-crc-token"
    title: str = "X checks the webhook (CRC)"

    def run(self, ctx: DemoContext) -> None:
        response = ctx.client.request("GET", "/webhooks/x", params={"crc_token": self.token})
        expected = x_crc_response(ctx.client.secret("XConsumerSecret"), self.token)
        got = response.json().get("response_token") if response.ok else None
        if got != expected:
            raise StepFailed(f"CRC answer {response.status_code} {response.text[:200]!r}, expected {expected}")
        ctx.out(f"  CRC answered correctly: {got}")


@dataclass
class XMention:
    """A customer mentions the brand on X (Account Activity ``tweet_create_events``)."""

    user_id: str
    handle: str
    name: str
    text: str
    tweet_id: str
    followers: int = 100
    title: str = "a customer mentions the brand on X"

    def payload(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "for_user_id": BRAND_X_ID,
            "user_has_blocked": False,
            "tweet_create_events": [{
                "created_at": now.strftime("%a %b %d %H:%M:%S +0000 %Y"),
                "id": int(self.tweet_id),
                "id_str": self.tweet_id,
                "text": self.text,
                "user": {
                    "id": int(self.user_id), "id_str": self.user_id, "name": self.name,
                    "screen_name": self.handle, "followers_count": self.followers,
                },
                "in_reply_to_status_id_str": None,
                "entities": {"user_mentions": [{"id_str": BRAND_X_ID, "screen_name": BRAND_X_HANDLE}]},
                "timestamp_ms": str(int(now.timestamp() * 1000)),
            }],
        }

    def run(self, ctx: DemoContext) -> None:
        response = ctx.client.x_post(self.payload())
        if not response.ok:
            raise StepFailed(f"X webhook answered {response.status_code}: {response.text[:200]}")
        ctx.out(f"  @{self.handle}: {self.text!r} -> webhook {response.status_code}")


def _items(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, dict)]
    if isinstance(payload, dict):
        for key in ("items", "customers", "results", "data"):
            if isinstance(payload.get(key), list):
                return [p for p in payload[key] if isinstance(p, dict)]
        if payload.get("id") or payload.get("customer_id"):
            return [payload]
    return []


@dataclass
class WaitForCustomer:
    """Poll the agents' API until the customer with this identity exists."""

    kind: str
    value: str
    timeout_s: float = 30.0
    title: str = "the customer is recognised"

    def run(self, ctx: DemoContext) -> None:
        deadline = time.monotonic() + self.timeout_s
        last = ""
        while time.monotonic() < deadline:
            response = ctx.client.api_get("/api/customers", params={self.kind: self.value})
            if response.ok:
                found = _items(response.json())
                if found:
                    customer = found[0]
                    ctx.state["customer_id"] = str(customer.get("id") or customer.get("customer_id"))
                    ctx.out(f"  found customer {ctx.state['customer_id']} for {self.kind}={self.value}")
                    return
            last = f"{response.status_code} {response.text[:200]}"
            time.sleep(0.5)
        raise StepFailed(f"no customer for {self.kind}={self.value} after {self.timeout_s:.0f}s (last: {last})")


@dataclass
class ShowCustomer:
    """Print the customer 360 and timeline the agents' API returns."""

    title: str = "what an agent sees"

    def run(self, ctx: DemoContext) -> None:
        customer_id = ctx.state.get("customer_id")
        if not customer_id:
            raise StepFailed("no customer to show (an earlier step must find one)")
        response = ctx.client.api_get(f"/api/customers/{customer_id}")
        if not response.ok:
            raise StepFailed(f"GET /api/customers/{customer_id} answered {response.status_code}")
        for line in render_customer(response.json()):
            ctx.out("  " + line)


def render_customer(payload: Any) -> list[str]:
    """Readable lines for a customer document of any reasonable shape."""
    if not isinstance(payload, dict):
        return [json.dumps(payload, indent=2, ensure_ascii=False)]
    nested = payload.get("customer")
    customer: dict[str, Any] = nested if isinstance(nested, dict) else payload
    timeline = payload.get("timeline") or payload.get("interactions") or customer.get("timeline") or []
    lines = ["customer:"]
    for key, value in customer.items():
        if key in ("timeline", "interactions") or value is None or value == [] or value == {}:
            continue  # an agent reads what is there, not every empty field
        shown = value if isinstance(value, str | int | float | bool) or value is None else json.dumps(
            value, ensure_ascii=False)
        lines.append(f"  {key}: {shown}")
    lines.append(f"timeline ({len(timeline)}):")
    for item in timeline:
        if not isinstance(item, dict):
            lines.append(f"  - {item}")
            continue
        when = item.get("occurred_at") or item.get("ts") or ""
        where = "/".join(str(item[k]) for k in ("channel", "kind", "direction") if item.get(k))
        text = item.get("text") or ""
        lines.append(f"  - {when} [{where}] {text}")
    return lines


SCENARIO: list[Step] = [
    XCrc(),
    XMention(
        user_id="2244994945",
        handle="giulia_r",
        name="Giulia Rossi",
        text=f"@{BRAND_X_HANDLE} il mio ordine 48213 non è mai arrivato, chiedo il rimborso!",
        tweet_id="1862000000000000001",
        followers=1840,
    ),
    WaitForCustomer(kind="x", value="2244994945"),
    ShowCustomer(),
]


def play(stack: StackLike, steps: Sequence[Step] | None = None, out: Callable[[str], None] = print) -> int:
    """Play ``steps`` (default ``SCENARIO``) against ``stack``; 0 when every step did its job."""
    ctx = DemoContext(client=DemoClient.for_stack(stack), out=out)
    for number, step in enumerate(steps if steps is not None else SCENARIO, start=1):
        out(f"[{number}] {step.title}")
        try:
            step.run(ctx)
        except (StepFailed, requests.RequestException, ValueError) as exc:
            out(f"  FAILED: {exc}")
            return 1
    out("demo finished")
    return 0
