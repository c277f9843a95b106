"""The HTTP routes of the three webhook functions, each built on ``socialcare.http``'s resolver
(one error mapper). Every route is: read the raw bytes (413 over the limit), verify (401/403,
500 when the secret is missing), parse (400), ``common.ingest`` (503 when SQS refuses), 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import ValidationError

from socialcare.channels import gateway, meta, x
from socialcare.channels.common import Parsed, ingest, load_json
from socialcare.errors import BadRequest
from socialcare.http import make_resolver, raw_body
from socialcare.observability import tracer


def _parsed(parse: Callable[[Any], Parsed], payload: Any) -> Parsed:
    """Run a parser; a value no model could reject (an epoch beyond year 9999, a malformed date
    in a free-form field) is the sender's error too: 400, never a 5xx."""
    try:
        return parse(payload)
    except ValidationError:
        raise  # the resolver's mapper answers 400 with the failing locations
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise BadRequest(f"payload has an invalid value: {exc}") from exc


def _headers(app: APIGatewayHttpResolver) -> dict[str, str]:
    # HTTP API 2.0 lower-cases header names; normalise anyway so direct invokes behave the same
    return {k.lower(): v for k, v in (app.current_event.headers or {}).items()}


def x_app() -> APIGatewayHttpResolver:
    app = make_resolver()

    @app.get("/webhooks/x")
    @tracer.capture_method
    def crc() -> dict[str, str]:
        params = app.current_event.query_string_parameters or {}
        return x.crc_response(params.get("crc_token", ""), params.get("app"))

    @app.post("/webhooks/x")
    @tracer.capture_method
    def activity() -> dict[str, Any]:
        body = raw_body(app.current_event)
        signed_by = x.verify(body, _headers(app))
        payload = load_json(body)
        parsed = _parsed(x.parse, payload)
        x.check_account(x.Activity.model_validate(payload), signed_by)
        return ingest(parsed, x.SOURCE)

    return app


def meta_app() -> APIGatewayHttpResolver:
    app = make_resolver()

    @app.get("/webhooks/meta")
    @tracer.capture_method
    def verification() -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        challenge = meta.verify_subscription(params)
        return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=challenge)

    @app.post("/webhooks/meta")
    @tracer.capture_method
    def updates() -> dict[str, Any]:
        body = raw_body(app.current_event)
        meta.verify(body, _headers(app))
        return ingest(_parsed(meta.parse, load_json(body)), meta.SOURCE)

    return app


def inbound_app() -> APIGatewayHttpResolver:
    app = make_resolver()

    @app.post("/webhooks/inbound")
    @tracer.capture_method
    def message() -> dict[str, Any]:
        body = raw_body(app.current_event)
        gateway.verify(body, _headers(app))
        return ingest(_parsed(gateway.parse, load_json(body)), gateway.SOURCE)

    return app
