"""WebhookInboundFunction: the signed gateway for e-mail, web chat and web forms."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from socialcare.config.settings import WebhookInboundSettings, load
from socialcare.domain.channels import gateway
from socialcare.domain.channels.common import load_json
from socialcare.flows.http import make_resolver, raw_body
from socialcare.flows.webhooks import ingest, parse_or_400, request_headers
from socialcare.flows.wiring import Wiring
from socialcare.observability import tracer


def inbound_app(wiring: Wiring | None = None) -> APIGatewayHttpResolver:
    """WebhookInboundFunction: the signed gateway for e-mail, web chat and web forms."""
    w = wiring or Wiring(load(WebhookInboundSettings))
    app = make_resolver()

    @app.post("/webhooks/inbound")
    @tracer.capture_method
    def message() -> dict[str, Any]:
        body = raw_body(app.current_event, w.settings.max_body_bytes)
        gateway.verify(w.accounts, body, request_headers(app))
        parsed = parse_or_400(lambda p: gateway.parse(p, w.settings.default_region), load_json(body))
        return ingest(w, parsed, gateway.SOURCE)

    return app
