"""Who is calling /api/*, and whether their role allows the route: checked before anything else
reads the request.

**Roles.** ``agent`` < ``supervisor`` < ``admin``. Each route names the least role it needs with
``openapi_extensions=needs(Role.X)`` (``x-socialcare-role``, so docs/openapi.json says it too); a
route that names none needs ``admin``, so a route added without thinking is closed, not open.

**Who.** In AWS the HTTP API's JWT authorizer (template.yaml: the Cognito user pool, or an
external OIDC issuer) has already validated the token, and API Gateway - never the client -
writes its claims into ``requestContext.authorizer.jwt.claims``: the roles are the groups in
``SOCIALCARE_API_ROLES_CLAIM`` (Cognito's ``cognito:groups``; ``groups``/``roles`` for other
issuers; the highest one counts), the actor is ``username`` (or ``cognito:username``,
``preferred_username``), else ``email``, else ``sub``. A request with no
JWT context (the local stack, a deployment without the authorizer) must carry a bearer token of
the ApiTokens secret (``{"<token>": "<role>"}`` or ``{"<token>": {"role": ..., "name": ...}}``)
or of the ApiToken secret, whose tokens are admin tokens (a plain value, or ``{"<client name>":
"<token>"}``). An unreadable ApiToken is a 500 (fail closed); an unreadable or malformed
ApiTokens accepts none of its tokens (logged). Tokens are compared in constant time and never
logged; an unnamed token's actor is its role and a SHA-256 prefix.

**Order.** Powertools runs its request validation before every user middleware, so a validation
error (a 422 naming fields and teams) would reach a caller without a token or without the role.
``AuthFirstValidation`` is the resolver's request-validation middleware with authentication
(401) and the role check (403) in front of it. ``/api/openapi.json`` and ``/api/docs`` hold no
data and need nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware

from socialcare.errors import BadRequest, Forbidden, SecretUnavailable, Unauthorized, UnsupportedMediaType
from socialcare.secrets import SecretStore
from socialcare.signing import constant_time_equal
from socialcare.store.audit import MAX_ID

logger = Logger(child=True)

ROLE_EXTENSION = "x-socialcare-role"
# Meta's data-deletion callback is signed with the app secret (flows.api.privacy checks it) and its
# status page holds no personal data: Meta and the person call them without a token.
PUBLIC_ROUTES = frozenset({("GET", "/api/openapi.json"), ("GET", "/api/docs"),
                           ("POST", "/api/data-deletion/meta"), ("GET", "/api/data-deletion/<confirmation_code>")})
_ACTOR_CLAIMS = ("username", "cognito:username", "preferred_username", "email", "sub")


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: Any) -> Role | None:
        try:
            return cls(value.strip().lower()) if isinstance(value, str) else None
        except ValueError:
            return None


_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


def needs(role: Role) -> dict[str, Any]:
    """A route's ``openapi_extensions``: the least role that may call it."""
    return {ROLE_EXTENSION: role.value}


@dataclass(frozen=True)
class Principal:
    actor: str
    role: Role | None  # None: authenticated, but in no socialcare group (403 everywhere)
    via: str  # "jwt" or "token"
    subject: str | None = None


# ------------------------------------------------------------------------------- JWT claims
def claim_values(value: Any) -> list[str]:
    """A multi-valued claim as a list: API Gateway hands arrays to the function as one string,
    ``"[agent supervisor]"``; other issuers send JSON arrays or comma-separated text."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            text = text[1:-1]
        else:
            return [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]
    return [part for part in re.split(r"[\s,]+", text) if part]


def highest_role(values: list[str]) -> Role | None:
    roles = [r for r in (Role.parse(v) for v in values) if r is not None]
    return max(roles, key=lambda r: r.rank) if roles else None


def jwt_principal(claims: dict[str, Any], roles_claim: str) -> Principal:
    actor = next((str(claims[c]) for c in _ACTOR_CLAIMS if str(claims.get(c) or "").strip()), "")
    subject = str(claims["sub"]) if claims.get("sub") else None
    return Principal(actor=actor[:MAX_ID] or "unknown", role=highest_role(claim_values(claims.get(roles_claim))),
                     via="jwt", subject=subject)


# ------------------------------------------------------------------------------- tokens
def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def admin_tokens(secrets: SecretStore) -> list[tuple[str, Principal]]:
    """The ApiToken secret's tokens, each an admin; SecretUnavailable when it has none."""
    found = secrets.json("api_token")
    pairs = [(found, "api-token")] if isinstance(found, str) else [
        (token, name) for name, token in found.items() if isinstance(token, str)]
    if not pairs:
        raise SecretUnavailable("secret api_token is empty")
    return [(token, Principal(actor=name[:MAX_ID], role=Role.ADMIN, via="token")) for token, name in pairs]


def named_tokens(secrets: SecretStore) -> list[tuple[str, Principal]]:
    """The ApiTokens secret's tokens with their roles; none when it is absent or not a JSON object."""
    if "api_tokens" not in secrets.arns:
        return []
    try:
        found = secrets.json("api_tokens")
    except SecretUnavailable as exc:
        logger.error("named API tokens unavailable: none accepted", extra={"reason": exc.reason})
        return []
    if isinstance(found, str):
        logger.error("named API tokens must be a JSON object {token: role}: none accepted")
        return []
    entries = []
    for token, spec in found.items():
        role, name = (spec, None) if isinstance(spec, str) else (
            (spec.get("role"), spec.get("name")) if isinstance(spec, dict) else (None, None))
        parsed = Role.parse(role)
        if parsed is None or not token.strip():
            logger.warning("a named API token has no valid role: ignored", extra={"token_name": name})
            continue
        actor = str(name).strip()[:MAX_ID] if isinstance(name, str) and name.strip() else \
            f"{parsed.value}-token-{_fingerprint(token)}"
        entries.append((token, Principal(actor=actor, role=parsed, via="token")))
    return entries


def token_principal(headers: Any, secrets: SecretStore) -> Principal:
    """The principal of the bearer token, or Unauthorized; every known token is compared, in
    constant time, whichever matches (the time taken says nothing about which one did)."""
    header = (headers or {}).get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Unauthorized("missing bearer token")
    known = admin_tokens(secrets) + named_tokens(secrets)  # SecretUnavailable (ApiToken) -> 500
    matched: Principal | None = None
    for token, principal in known:
        if constant_time_equal(presented, token) and matched is None:
            matched = principal
    if matched is None:
        raise Unauthorized("invalid bearer token")
    return matched


# ------------------------------------------------------------------------------- the checks
def required_role(route: Any) -> Role:
    declared = Role.parse((getattr(route, "openapi_extensions", None) or {}).get(ROLE_EXTENSION))
    return declared or Role.ADMIN


def is_public(route: Any) -> bool:
    return route is not None and (route.method, route.path) in PUBLIC_ROUTES


@dataclass(frozen=True)
class Access:
    """Authentication and authorisation of one ApiFunction (its secrets and roles claim)."""

    secrets: SecretStore
    roles_claim: str = "cognito:groups"

    def authenticate(self, event: Any) -> Principal:
        claims = event.request_context.authorizer.jwt_claim
        if claims:
            return jwt_principal(claims, self.roles_claim)
        return token_principal(event.headers, self.secrets)

    def check(self, app: Any) -> None:
        """Authenticate (401), then authorise the matched route (403); the principal goes into the
        request context for the audit trail. Public routes pass."""
        if "principal" in app.context:
            return
        route = app.context.get("_route")
        if is_public(route):
            return
        principal = self.authenticate(app.current_event)
        needed = required_role(route)
        if principal.role is None or principal.role.rank < needed.rank:
            where = f"{route.method} {route.openapi_path}" if route is not None else "this route"
            raise Forbidden(f"{where} needs {needed.value}")
        app.append_context(principal=principal)


class AuthFirstValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, run only for a caller who may call the route."""

    def __init__(self, access: Access) -> None:
        super().__init__()
        self.access = access

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        self.access.check(app)
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


def install(app: APIGatewayHttpResolver, access: Access) -> Callable[..., Response[Any]]:
    """Put the checks in front of ``app``'s request validation (created with enable_validation);
    returns the same checks as an ordinary middleware, a backstop for a route without validation."""
    if not hasattr(app, "_request_validation_middleware"):
        raise RuntimeError("the API resolver must be built with enable_validation=True")
    # Powertools has no public hook ahead of request validation; it looks this attribute up when it
    # builds each route's middleware stack (api_gateway.Route._build_middleware_stack).
    app._request_validation_middleware = AuthFirstValidation(access)

    def require_access(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        access.check(app)
        return next_middleware(app)

    return require_access
