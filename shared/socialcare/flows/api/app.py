"""Builds the ApiFunction's resolver: the token check first, the wiring middleware, then every router.

A reply the platform's rules refuse (``ReplyRefused``) answers 409 with the rule, the reason and
every route considered (``ReplyRefused.body()``), not the generic ``{"error", "reason"}``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from socialcare.config.settings import ApiSettings, load
from socialcare.flows.api import auth, cases, customers, replies
from socialcare.flows.http import make_resolver
from socialcare.flows.wiring import Wiring
from socialcare.models.reply import ReplyRefused


def build(wiring: Wiring | None = None) -> APIGatewayHttpResolver:
    """ApiFunction's resolver, its settings validated at cold start."""
    w = wiring or Wiring(load(ApiSettings)).check_rules()
    app = make_resolver(enable_validation=True)

    def provide_wiring(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        # Routers reach the services through the request context (Powertools clears it after
        # every request, so it is set again for each).
        app.append_context(wiring=w)
        return next_middleware(app)

    auth.install(app, w)  # the token is checked before request validation reads anything
    app.use(middlewares=[provide_wiring, auth.require_bearer_token])
    app.include_router(customers.router)
    app.include_router(cases.router)
    app.include_router(replies.router)

    @app.exception_handler(ReplyRefused)
    def _refused(exc: ReplyRefused) -> Response[dict[str, Any]]:
        # more specific than flows.http's SocialcareError handler (Powertools looks up the MRO)
        return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=exc.body())

    return app
