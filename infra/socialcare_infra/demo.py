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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

from socialcare_infra import scenario
from socialcare_infra.demo_client import DemoClient, StackLike
from socialcare_infra.demo_crm import DemoCrm
from socialcare_infra.demo_replies import AgentReply

BRAND_X_ID = scenario.BRAND_X_ID
BRAND_X_HANDLE = "socialcare_demo"
x_crc_response = scenario.x_crc_response  # the response_token X expects for a CRC challenge


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
    timeout_s: float = 60.0
    title: str = "the customer is recognised"
    key: str = "customer_id"

    def run(self, ctx: DemoContext) -> None:
        deadline = time.monotonic() + self.timeout_s
        last = ""
        while time.monotonic() < deadline:
            response = ctx.client.api_get("/api/customers", params={self.kind: self.value})
            if response.ok:
                found = _items(response.json())
                if found:
                    customer = found[0]
                    ctx.state[self.key] = str(customer.get("id") or customer.get("customer_id"))
                    ctx.out(f"  {self.kind}={self.value} -> customer {ctx.state[self.key]}")
                    return
            last = f"{response.status_code} {response.text[:200]}"
            time.sleep(0.5)
        raise StepFailed(f"no customer for {self.kind}={self.value} after {self.timeout_s:.0f}s (last: {last})")


@dataclass
class ShowCustomer:
    """Print the customer 360 and timeline the agents' API returns."""

    title: str = "what an agent sees"
    key: str = "customer_id"

    def run(self, ctx: DemoContext) -> None:
        customer_id = ctx.state.get(self.key)
        if not customer_id:
            raise StepFailed("no customer to show (an earlier step must find one)")
        response = ctx.client.api_get(f"/api/customers/{customer_id}")
        if not response.ok:
            raise StepFailed(f"GET /api/customers/{customer_id} answered {response.status_code}")
        for line in render_customer(response.json()):
            ctx.out("  " + line)


def render_customer(payload: Any) -> list[str]:
    """The customer 360 in a few readable lines: who, known as, and the cross-channel timeline."""
    if not isinstance(payload, dict):
        return [json.dumps(payload, indent=2, ensure_ascii=False)]
    identities = ", ".join(
        f"{i['kind']}:{i['value']}{'' if i.get('verified', True) else ' (claimed)'}"
        for i in payload.get("identities", [])
        if isinstance(i, dict)
    )
    timeline = payload.get("timeline") or []
    lines = [f"customer {payload.get('id')}: {payload.get('name') or '(no name)'}"]
    if identities:
        lines.append(f"  known as: {identities}")
    for key in ("first_seen", "channel_counts", "open_case_id", "last_sentiment", "suggestions"):
        if payload.get(key):
            lines.append(f"  {key}: {json.dumps(payload[key], ensure_ascii=False, default=str)}")
    lines.append(f"  timeline ({len(timeline)}, newest first):")
    for item in timeline:
        if isinstance(item, dict):
            text = (item.get("text") or "")[:90]
            lines.append(f"    {str(item.get('occurred_at', ''))[:19]} [{item.get('channel')}/{item.get('direction')}] "
                         f"{text}  (case {item.get('case_id')})")
    return lines


@dataclass
class PlayStory:
    """Every request of the bundled story (scenario.py), as the platforms would send them."""

    title: str = "the platforms deliver the story (signed webhooks, a batch, an echo, redeliveries, forgeries)"

    def run(self, ctx: DemoContext) -> None:
        secrets = scenario.Secrets(
            x_consumer=ctx.client.secret("XConsumerSecret"),
            meta_app=ctx.client.secret("MetaAppSecret"),
            meta_verify=ctx.client.secret("MetaVerifyToken"),
            inbound=ctx.client.secret("InboundSecret"),
            api_token=ctx.client.secret("ApiToken"),
        )
        for step in scenario.story(secrets):
            response = ctx.client.request(step.method, step.path, body=step.body or None, headers=step.headers)
            verdict = "ok" if response.status_code == step.expect_status else "UNEXPECTED"
            ctx.out(f"  {step.name:<52} -> {response.status_code} {verdict}")
            if response.status_code != step.expect_status:
                raise StepFailed(f"{step.name}: {response.status_code} {response.text[:200]}")


@dataclass
class WaitFor:
    """Wait until an API read satisfies a condition (the pipeline is asynchronous)."""

    path: str
    ready: Callable[[Any], bool]
    params: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0
    title: str = "wait for the pipeline"

    def run(self, ctx: DemoContext) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            response = ctx.client.api_get(self.path.format(**ctx.state), params=self.params)
            if response.ok and self.ready(response.json()):
                return
            time.sleep(0.5)
        raise StepFailed(f"{self.title}: not ready after {self.timeout_s:.0f}s")


@dataclass
class ShowCase:
    """The customer's case as an agent sees it: priority, team, SLA, channels, hand-offs, items."""

    who: str
    title: str = "her case"

    def run(self, ctx: DemoContext) -> None:
        customer = ctx.client.api_get(f"/api/customers/{ctx.state[self.who]}").json()
        for summary in customer.get("cases", []):
            case = ctx.client.api_get(f"/api/cases/{summary['id']}").json()
            ctx.state[f"{self.who}_case"] = case["id"]
            for line in render_case(case):
                ctx.out("  " + line)


@dataclass
class PhoneCall:
    """Amazon Connect invokes CallerLookupFunction when the customer phones the call centre."""

    phone: str
    title: str = "she phones the call centre (Amazon Connect contact flow -> CallerLookupFunction)"

    def run(self, ctx: DemoContext) -> None:
        import boto3

        client = boto3.client("lambda", endpoint_url=ctx.client.invoke_url, region_name="eu-west-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
        answer = client.invoke(FunctionName="CallerLookupFunction",
                               Payload=json.dumps(scenario.connect_call(self.phone)))
        if "FunctionError" in answer:
            raise StepFailed(f"caller lookup failed: {answer['Payload'].read()[:300]!r}")
        screen_pop = json.loads(answer["Payload"].read())
        ctx.out("  screen-pop for the agent: " + ", ".join(f"{k}={v}" for k, v in screen_pop.items() if v))


@dataclass
class ShowCrm:
    """What the call centre's CRM (a loopback one here) received, signed and deduplicated."""

    crm: DemoCrm | None
    expect_cases: int = 2
    timeout_s: float = 60.0
    title: str = "the call centre's CRM"

    def run(self, ctx: DemoContext) -> None:
        if self.crm is None:
            ctx.out("  (SOCIALCARE_CRM_WEBHOOK_URL points elsewhere: see that CRM)")
            return
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline and not self._caught_up(ctx):
            time.sleep(0.5)
        refused, accepted, bad = self.crm.counts()
        ctx.out(f"  deliveries: {accepted} accepted, {refused} refused with 503 (retried), {bad} badly signed")
        for case_id, body in sorted(self.crm.latest().items()):
            case = body["case"]
            ctx.out(f"  {case_id}: {case['status']} {case['priority']} team={case['team']} "
                    f"channels={','.join(case['channels'])} (v{case.get('version', '?')})")


    def _caught_up(self, ctx: DemoContext) -> bool:
        """Every case is in the CRM at the version the API shows (the stream relays each saved
        version, a refused delivery is retried: the CRM may lag behind for a moment)."""
        assert self.crm is not None
        latest = self.crm.latest()
        if len(latest) < self.expect_cases:
            return False
        for case_id, body in latest.items():
            response = ctx.client.api_get(f"/api/cases/{case_id}")
            if response.status_code != 200 or response.json().get("version", 0) > body["case"].get("version", 0):
                return False
        return True


def render_case(case: dict[str, Any]) -> list[str]:
    sla = case.get("sla") or {}
    lines = [
        f"{case['id']}: status={case['status']} priority={case['priority']} team={case['team']} "
        f"open={case.get('is_open')}",
        f"  channels: {', '.join(case.get('channels', []))}",
        f"  SLA: first response due {sla.get('first_response_due')}, resolution due {sla.get('resolution_due')}",
    ]
    for handoff in case.get("handoffs") or []:
        why = handoff.get("note") or handoff.get("reason") or ""
        lines.append(f"  hand-off: {handoff.get('from')} -> {handoff.get('to')} ({why})")
    for item in case.get("pending_items") or case.get("items") or []:
        if isinstance(item, dict):
            lines.append(f"  work item: {item.get('kind')} for {item.get('team')} - {item.get('reason') or ''}")
    lines.append(f"  interactions ({len(case.get('interactions', []))}):")
    for interaction in case.get("interactions", []):
        text = (interaction.get("summary") or interaction.get("text") or "")[:90]
        lines.append(f"    [{interaction.get('channel')}] {text}")
    return lines


def _has(*channels: str) -> Callable[[Any], bool]:
    def ready(customer: Any) -> bool:
        seen = {t.get("channel") for t in customer.get("timeline", [])}
        return set(channels) <= seen

    return ready


def story_steps(crm: DemoCrm | None = None) -> list[Step]:
    anna, marco = scenario.ANNA, scenario.MARCO
    return [
        PlayStory(),
        WaitForCustomer(kind="instagram", value=marco["instagram_id"], key="marco",
                        title="Marco (Instagram) is a customer of his own"),
        WaitForCustomer(kind="x", value=anna["x_id"], key="anna", title="Anna is recognised"),
        WaitFor("/api/customers/{anna}", _has("x", "facebook", "messenger", "whatsapp"),
                title="her five messages reach one profile"),
        ShowCustomer(key="anna", title="what an agent sees: one customer across X, Facebook, Messenger, WhatsApp"),
        ShowCase(who="anna", title="one case across the channels, triaged"),
        AgentReply(who="anna", in_reply_to="x:1860000000000000001",
                   text="Ciao Anna, ci dispiace molto: ti abbiamo scritto in privato per sistemare il rimborso."),
        PhoneCall(phone=anna["phone"]),
        WaitFor("/api/customers/{anna}", _has("phone"), title="the call joins her case"),
        ShowCase(who="anna", title="after the call: her case is with the call centre"),
        ShowCase(who="marco", title="Marco's praise: a low-priority social engage item, not a complaint"),
        ShowCrm(crm),
    ]


SCENARIO: list[Step] = story_steps()


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
