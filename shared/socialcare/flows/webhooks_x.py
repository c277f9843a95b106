"""WebhookXFunction: the X Account Activity webhook (CRC, signature, split, publish)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from socialcare.config.settings import WebhookXSettings, load
from socialcare.domain.channels import x
from socialcare.domain.channels.common import load_json
from socialcare.flows.http import make_resolver, raw_body
from socialcare.flows.webhooks import ingest, parse_or_400, request_headers
from socialcare.flows.wiring import Wiring
from socialcare.observability import tracer


def x_app(wiring: Wiring | None = None) -> APIGatewayHttpResolver:
    """WebhookXFunction: the CRC and Account Activity events."""
    w = wiring or Wiring(load(WebhookXSettings))
    app = make_resolver()

    @app.get("/webhooks/x")
    @tracer.capture_method
    def crc() -> dict[str, str]:
        params = app.current_event.query_string_parameters or {}
        return x.crc_response(w.accounts, params.get("crc_token", ""), params.get("app"))

    @app.post("/webhooks/x")
    @tracer.capture_method
    def activity() -> dict[str, Any]:
        body = raw_body(app.current_event, w.settings.max_body_bytes)
        signed_by = x.verify(w.accounts, body, request_headers(app))
        payload = load_json(body, repair_text=True)  # X resends a refused POST as it was
        parsed = parse_or_400(lambda p: x.parse(p, w.settings.brand_x_ids), payload)
        x.check_account(w.accounts, parsed.account, signed_by)
        return ingest(w, parsed, x.SOURCE)

    return app
