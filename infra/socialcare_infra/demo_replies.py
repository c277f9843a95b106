"""The demo's reply step: an agent answers the customer's X mention from the API.

It shows what the agent sees first (the routes open now, until when and at what cost, and a
draft in her language and tone), sends the reply, and waits until the ResponderFunction has
posted it: on the stack's loopback X stand-in as ``POST /2/tweets`` threaded under her tweet, and
on her case as a sent reply that stopped the first-response clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from socialcare_infra.demo import DemoContext


@dataclass
class AgentReply:
    who: str
    in_reply_to: str
    text: str
    timeout_s: float = 60.0
    title: str = "an agent answers her X mention from the API"

    def run(self, ctx: DemoContext) -> None:
        from socialcare_infra.demo import StepFailed

        case_id = ctx.state[f"{self.who}_case"]
        options = ctx.client.api_get(f"/api/cases/{case_id}/reply-options", params={"in_reply_to": self.in_reply_to})
        if options.status_code != 200:
            raise StepFailed(f"reply options: {options.status_code} {options.text[:300]}")
        preview = options.json()
        for option in preview.get("options", []):
            until = f" until {option['until']}" if option.get("until") else ""
            cost = option.get("estimated_cost_usd")
            ctx.out(f"  route {option['route']}: {'open' if option['available'] else 'closed'}{until}"
                    + (f", about ${cost:.3f}" if cost else "") + f" ({option['rule']})")
        draft = preview.get("draft") or {}
        if draft:
            tone = f"{draft.get('language')}, {draft.get('register')}"
            ctx.out(f"  suggested draft ({tone}): {draft.get('text', '')[:160]}")
        sent = ctx.client.api_post(f"/api/cases/{case_id}/replies",
                                   {"text": self.text, "in_reply_to": self.in_reply_to}, agent="giulia.rossi")
        if sent.status_code != 202:
            raise StepFailed(f"reply refused: {sent.status_code} {sent.text[:300]}")
        reply_id = sent.json()["interaction_id"]
        ctx.out(f"  queued {reply_id} ({sent.json().get('route')}) on outbound.fifo")
        case = self._wait_sent(ctx, case_id, reply_id)
        state = next(r for r in case["replies"] if r["interaction_id"] == reply_id)
        ctx.out(f"  ResponderFunction posted it: X post {state.get('platform_message_id')}; "
                f"first response at {case.get('first_response_at')}")
        for request in self._posted(ctx):
            body = request.get("body") or {}
            ctx.out(f"  the X stand-in received {request['method']} {request['path']} "
                    f"in_reply_to_tweet_id={body.get('reply', {}).get('in_reply_to_tweet_id')} "
                    f"({request['headers'].get('Authorization', '')[:6]}... signed)")

    def _wait_sent(self, ctx: DemoContext, case_id: str, reply_id: str) -> dict[str, Any]:
        from socialcare_infra.demo import StepFailed

        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            case: dict[str, Any] = ctx.client.api_get(f"/api/cases/{case_id}").json()
            states = {r["interaction_id"]: r for r in case.get("replies", [])}
            status = states.get(reply_id, {}).get("status")
            if status in {"sent", "delivered", "read"}:
                return case
            if status == "failed":
                raise StepFailed(f"the reply failed: {states[reply_id].get('reason')}")
            time.sleep(0.5)
        raise StepFailed(f"the reply was not sent after {self.timeout_s:.0f}s")

    def _posted(self, ctx: DemoContext) -> list[dict[str, Any]]:
        if not ctx.client.platforms_url:
            return []
        try:
            recorded = requests.get(f"{ctx.client.platforms_url}/_standin/requests", timeout=10).json()
        except (requests.RequestException, ValueError):
            return []
        return [r for r in recorded if r.get("method") == "POST" and r.get("path") == "/2/tweets"]
