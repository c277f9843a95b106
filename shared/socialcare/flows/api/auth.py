"""Bearer-token authentication for /api/*.

The ApiToken secret holds one token, or a JSON object ``{"<client name>": "<token>"}`` so each
client (agent desk, BI tool) has its own revocable token. A missing secret fails closed (500).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from socialcare.errors import Unauthorized
from socialcare.signing import any_equal


def require_bearer_token(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("missing bearer token")
    tokens = app.context["wiring"].secrets.candidates("api_token")  # SecretUnavailable -> 500: fail closed
    if not any_equal(presented.strip(), tokens):
        raise Unauthorized("invalid bearer token")
    return next_middleware(app)
