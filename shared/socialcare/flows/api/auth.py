"""Bearer-token authentication for /api/*, checked before anything else reads the request.

The ApiToken secret holds one token, or a JSON object ``{"<client name>": "<token>"}`` so each
client (agent desk, BI tool) has its own revocable token. A missing secret fails closed (500).

Powertools runs its request validation before every user middleware, so a validation error (a 422
naming fields and teams) would reach a caller without a token. ``AuthFirstValidation`` is the
resolver's request-validation middleware with the token check in front of it: an anonymous or
wrong-token caller gets 401 whatever its body or query.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware

from socialcare.errors import BadRequest, Unauthorized, UnsupportedMediaType
from socialcare.flows.wiring import Wiring
from socialcare.signing import any_equal


def check_bearer_token(headers: Any, wiring: Wiring) -> None:
    """Unauthorized unless the Authorization header holds one of the ApiToken's tokens."""
    header = (headers or {}).get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("missing bearer token")
    tokens = wiring.secrets.candidates("api_token")  # SecretUnavailable -> 500: fail closed
    if not any_equal(presented.strip(), tokens):
        raise Unauthorized("invalid bearer token")


def require_bearer_token(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The token check as an ordinary middleware (kept behind AuthFirstValidation as a backstop)."""
    check_bearer_token(app.current_event.headers, app.context["wiring"])
    return next_middleware(app)


class AuthFirstValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, run only for a caller holding a token."""

    def __init__(self, wiring: Wiring) -> None:
        super().__init__()
        self.wiring = wiring

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        check_bearer_token(app.current_event.headers, self.wiring)
        # A body too deeply nested to parse is a 400 from flows.http's guard, for every resolver.
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> dict[str, Any]:
        """The API takes JSON only: a form or multipart body (which Powertools would parse, and
        fail on without a boundary) is a 415, and bytes that are not UTF-8 a 400."""
        content_type = app.current_event.headers.get("content-type", "").strip().lower()
        if content_type and not content_type.startswith("application/json"):
            raise UnsupportedMediaType(f"send application/json, not {content_type.split(';')[0][:80]}")
        try:
            return super()._get_body(app)
        except UnicodeDecodeError as exc:
            raise BadRequest("body is not valid UTF-8") from exc


def install(app: APIGatewayHttpResolver, wiring: Wiring) -> None:
    """Put the token check in front of ``app``'s request validation (created with enable_validation)."""
    if not hasattr(app, "_request_validation_middleware"):
        raise RuntimeError("the API resolver must be built with enable_validation=True")
    # Powertools has no public hook ahead of request validation; it looks this attribute up when it
    # builds each route's middleware stack (api_gateway.Route._build_middleware_stack).
    app._request_validation_middleware = AuthFirstValidation(wiring)
