"""Builds the ApiFunction's resolver: auth middleware + every router."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from socialcare.api.auth import require_bearer_token
from socialcare.http import make_resolver


def build() -> APIGatewayHttpResolver:
    app = make_resolver(enable_validation=True)
    app.use(middlewares=[require_bearer_token])
    # Routers are imported here, not at module import, so a cold start pays only for this.
    from socialcare.api import cases, customers

    app.include_router(customers.router)
    app.include_router(cases.router)
    return app
