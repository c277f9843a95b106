"""WebhookMetaFunction: the Meta webhook (page, instagram, whatsapp_business_account)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from socialcare.config.settings import WebhookMetaSettings, load
from socialcare.domain.channels import meta
from socialcare.domain.channels.common import load_json
from socialcare.flows.http import make_resolver, raw_body
from socialcare.flows.webhooks import ingest, parse_or_400, request_headers
from socialcare.flows.wiring import Wiring
from socialcare.observability import tracer


def meta_app(wiring: Wiring | None = None) -> APIGatewayHttpResolver:
    """WebhookMetaFunction: the verification handshake and page/instagram/WhatsApp updates."""
    w = wiring or Wiring(load(WebhookMetaSettings))
    app = make_resolver()

    @app.get("/webhooks/meta")
    @tracer.capture_method
    def verification() -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        challenge = meta.verify_subscription(w.accounts, params)
        return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=challenge)

    @app.post("/webhooks/meta")
    @tracer.capture_method
    def updates() -> dict[str, Any]:
        body = raw_body(app.current_event, w.settings.max_body_bytes)
        meta.verify(w.accounts, body, request_headers(app))
        return ingest(w, parse_or_400(meta.parse, load_json(body, repair_text=True)), meta.SOURCE)

    return app
