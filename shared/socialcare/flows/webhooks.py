"""What the webhook functions (X, Meta, the inbound gateway) share: verify, split, publish, answer.

A webhook does the least work that makes an event durable. Every route is: read the raw bytes
(413 over the limit), verify (401/403, 500 when the secret is missing), parse (400 only for a
body that is not the platform's envelope; a malformed event inside one is skipped, counted and
logged, and the others go on), publish every event on inbound.fifo (503 when SQS refuses, so
the platform redelivers), 200. Nothing here touches DynamoDB: the processor does the rest.

Each function has its own module (``webhooks_x``, ``webhooks_meta``, ``webhooks_inbound``) that
imports its own platform's parser only: a webhook's cold start pays for one platform, not three.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from socialcare.domain.channels.common import Parsed
from socialcare.errors import BadRequest
from socialcare.observability import count, logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from socialcare.flows.wiring import Wiring


def parse_or_400(parse: Callable[[Any], Parsed], payload: Any) -> Parsed:
    """Run a parser; a value no model could reject (an epoch beyond year 9999, a malformed date
    in a free-form field) is the sender's error too: 400, never a 5xx.

    A bad event among good ones is skipped (``common.each``), so the platform's resend of the
    POST cannot lose the good ones; one that merely lacks fields is skipped too (a variant we
    do not know). But when every event failed and one had a wrong type or an impossible value,
    there is nothing to lose: 400 with where and what failed (never the values)."""
    try:
        parsed = parse(payload)
    except ValidationError:
        raise  # the resolver's mapper answers 400 with the failing locations
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError) as exc:
        raise BadRequest(f"payload has an invalid value: {type(exc).__name__}") from exc
    all_failed = bool(parsed.invalid) and not parsed.events and sum(parsed.ignored.values()) == len(parsed.invalid)
    if all_failed and any(item["kind"] == "malformed" for item in parsed.invalid):
        raise BadRequest("no event in the body is well-formed", invalid=parsed.invalid[:20])
    return parsed


def ingest(wiring: Wiring, parsed: Parsed, source: str) -> dict[str, Any]:
    """Publish every parsed event and report what happened (PublishFailed -> 503)."""
    events = parsed.events
    if len(events) == 1:
        logger.set_correlation_id(events[0].event_id)
    if events:
        # an event too large for SQS even compressed waits in the media bucket (claim check)
        claims = wiring.media_store if wiring.settings.media_bucket else None
        wiring.publisher.inbound(events, claims=claims)
        logger.info("events enqueued", extra={"event_ids": [e.event_id for e in events][:100]})
    per_channel: Counter[tuple[str, str]] = Counter()
    for event in events:
        subject = event.interaction or event.status
        per_channel[(subject.channel.value if subject is not None else source, event.action.value)] += 1
    for (channel, action), n in per_channel.items():
        count("InboundEvents", n, channel=channel, action=action)
    for reason, n in parsed.ignored.items():
        count("IgnoredEvents", n, source=source, reason=reason[:250])
    if parsed.ignored:
        logger.info("ignored platform events", extra={"ignored": dict(parsed.ignored)})
    if parsed.invalid:  # skipped one by one, the rest of the POST kept: where and why, no values
        logger.warning("malformed platform events skipped", extra={"invalid": parsed.invalid[:50]})
    return {"received": len(events), "ignored": sum(parsed.ignored.values())}


def request_headers(app: APIGatewayHttpResolver) -> dict[str, str]:
    # HTTP API 2.0 lower-cases header names; normalise anyway so direct invokes behave the same
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
