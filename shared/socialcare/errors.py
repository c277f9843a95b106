"""Domain errors. One mapper (flows.http) turns them into HTTP responses, so no handler
chooses a status code by matching error strings."""

from __future__ import annotations

from typing import Any


class SocialcareError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class BadRequest(SocialcareError):
    status = 400
    code = "bad_request"


class UnsupportedMediaType(SocialcareError):
    status = 415
    code = "unsupported_media_type"


class Unauthorized(SocialcareError):
    status = 401
    code = "unauthorized"


class Forbidden(SocialcareError):
    status = 403
    code = "forbidden"


class NotFound(SocialcareError):
    status = 404
    code = "not_found"


class Conflict(SocialcareError):
    status = 409
    code = "conflict"


class Busy(SocialcareError):
    """Another invocation is doing the same thing right now: try again in ``retry_after`` s.

    Not a Conflict: the attempt may still fail, so the caller must retry (503 + Retry-After),
    never treat it as done.
    """

    status = 503
    code = "busy"

    def __init__(self, reason: str, *, retry_after: float = 10.0, **details: Any) -> None:
        super().__init__(reason, **details)
        self.retry_after = retry_after


class PayloadTooLarge(SocialcareError):
    status = 413
    code = "payload_too_large"


class SecretUnavailable(SocialcareError):
    """A secret is missing or empty: fail closed (500), never accept unsigned input."""

    status = 500
    code = "secret_unavailable"


class ConfigurationError(SocialcareError):
    """A function was deployed without a setting it needs (named in the reason): fail at cold
    start, not at the first event."""

    status = 500
    code = "configuration_error"


class PublishFailed(SocialcareError):
    """A message could not be made durable: 503 in a request path (the platform retries), a
    retried record in a consumer. The code keeps its published name."""

    status = 503
    code = "enqueue_failed"
