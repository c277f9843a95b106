"""The one place HTTP handlers turn domain errors into responses, and read raw bodies.

Every route in every function answers errors as JSON ``{"error": <code>, "reason": <text>}``;
nothing but a real failure to make an event durable (or a missing secret, which fails closed)
may produce a 5xx.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from socialcare.errors import BadRequest, PayloadTooLarge, SocialcareError

logger = Logger(child=True)


def error_response(status: int, code: str, reason: str, /, **details: Any) -> Response[dict[str, Any]]:
    # positional-only: a detail may itself be named "status" (a case's status in a 409)
    body: dict[str, Any] = {"error": code, "reason": reason}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def make_resolver(*, enable_validation: bool = False) -> APIGatewayHttpResolver:
    """An HTTP API (payload 2.0) resolver with socialcare's error mapping installed."""
    app = APIGatewayHttpResolver(enable_validation=enable_validation)

    @app.exception_handler(SocialcareError)
    def _domain(exc: SocialcareError) -> Response[dict[str, Any]]:
        if exc.status >= 500:
            logger.error("request failed", extra={"code": exc.code, "reason": exc.reason})
        response = error_response(exc.status, exc.code, exc.reason, **exc.details)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, round(retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[dict[str, Any]]:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return error_response(422, "validation_error", "request failed validation", errors=errors)

    @app.exception_handler(ValidationError)
    def _pydantic(exc: ValidationError) -> Response[dict[str, Any]]:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return error_response(400, "bad_request", "request body failed validation", errors=errors)

    # The last line of the one guard every route shares: a body our parsers let through but that
    # still breaks a recursive walk or UTF-8 serialisation later (too deep, a lone surrogate) is
    # the sender's malformed input - 400 with a reason, never a 500 the platform retries forever.
    # ``load_json`` (domain.channels.common) rejects both up front; these catch any other path.
    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response[dict[str, Any]]:
        logger.warning("request body nested too deeply")
        return error_response(400, "bad_request", "body is nested too deeply")

    @app.exception_handler([UnicodeEncodeError, PydanticSerializationError])
    def _not_unicode(exc: ValueError) -> Response[dict[str, Any]]:
        logger.warning("request body is not valid Unicode", extra={"error": type(exc).__name__})
        return error_response(400, "bad_request", "body holds text that is not valid Unicode")

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return error_response(404, "not_found", "no such route")

    return app


def raw_body(event: Any, limit: int) -> bytes:
    """The request body exactly as the platform sent it (signatures cover these bytes).

    ``event`` is a Powertools APIGatewayProxyEventV2; larger than ``limit`` bytes is a 413.
    """
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("body is not valid base64") from exc
    else:
        data = body.encode("utf-8")
    if len(data) > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    return data
