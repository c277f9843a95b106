"""Builds the ApiFunction's resolver: authentication and roles first, the wiring, the audit trail,
then every router; its OpenAPI document and Swagger UI.

``/api/openapi.json`` answers the document Powertools generates from the routes - the same one
committed as docs/openapi.json (``socialcare openapi``) - and ``/api/docs`` the Swagger UI
(Powertools ``enable_swagger``); neither needs a token (``auth.PUBLIC_ROUTES``, and the template
keeps the JWT authorizer off their routes).

A reply the platform's rules refuse (``ReplyRefused``) answers 409 with the rule, the reason and
every route considered (``ReplyRefused.body()``), not the generic ``{"error", "reason"}``."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from socialcare.config.settings import ApiSettings, load
from socialcare.flows.api import audit, auth, cases, customers, privacy, replies
from socialcare.flows.http import make_resolver
from socialcare.flows.wiring import Wiring
from socialcare.models.reply import ReplyRefused
from socialcare.secrets import SecretStore
from socialcare.store.audit import AuditLog

OPENAPI: dict[str, Any] = {
    "title": "socialcare API",
    "version": "1",
    "description": (
        "The authenticated /api/* routes. Every route needs `Authorization: Bearer <token>`: in AWS a JWT "
        "of the stack's Cognito user pool (or its OIDC issuer), whose groups give the role; locally a "
        "named token. Each operation's `x-socialcare-role` is the least role that may call it "
        "(agent < supervisor < admin): a lesser one gets 403. Errors are JSON `{\"error\", \"reason\"}`."
    ),
    "security_schemes": {"bearer": HTTPBearer(bearerFormat="JWT", description="a JWT in AWS; a named token locally")},
    "security": [{"bearer": []}],
}


def build(wiring: Wiring | None = None, settings: ApiSettings | None = None) -> APIGatewayHttpResolver:
    """ApiFunction's resolver, its settings validated at cold start (``settings``: else the
    wiring's when they are ApiSettings, else the environment's)."""
    w = wiring or Wiring(load(ApiSettings)).check_rules()
    s = settings or (w.settings if isinstance(w.settings, ApiSettings) else load(ApiSettings))
    secrets = SecretStore(s.secret_arns(), lambda: w.client("secretsmanager"))
    access = auth.Access(secrets, roles_claim=s.api_roles_claim)

    @functools.cache
    def audit_log() -> AuditLog:  # on first use: building the resolver creates no AWS client
        return AuditLog(s.audit_table, w.client("dynamodb"), retention_days=s.audit_retention_days)

    app = make_resolver(enable_validation=True)
    app.configure_openapi(**OPENAPI)

    def provide_wiring(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        # Routers reach the services through the request context (Powertools clears it after
        # every request, so it is set again for each).
        app.append_context(wiring=w, audit_log=audit_log)
        return next_middleware(app)

    backstop = auth.install(app, access)  # 401/403 before request validation reads anything
    app.use(middlewares=[provide_wiring, backstop, audit.recorder(audit_log)])
    app.include_router(customers.router)
    app.include_router(cases.router)
    app.include_router(replies.router)
    app.include_router(audit.router)
    app.include_router(privacy.router)
    _serve_openapi(app)

    @app.exception_handler(ReplyRefused)
    def _refused(exc: ReplyRefused) -> Response[dict[str, Any]]:
        # more specific than flows.http's SocialcareError handler (Powertools looks up the MRO)
        return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=exc.body())

    return app


def openapi_document(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes (docs/openapi.json is this, committed)."""
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return document


def _serve_openapi(app: APIGatewayHttpResolver) -> None:
    # Swagger UI with its script and styles inline (no third-party CDN on an admin page): 1.7 MB,
    # gzipped for the browsers that accept it.
    app.enable_swagger(path="/api/docs", compress=True)
    cached: list[dict[str, Any]] = []

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_json() -> dict[str, Any]:
        if not cached:  # the routes never change in an execution environment: build it once
            cached.append(openapi_document(app))
        return cached[0]
