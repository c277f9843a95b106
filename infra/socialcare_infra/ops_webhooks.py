"""``socialcare webhooks register|status``: the platforms' subscriptions to the stack's webhooks.

Everything goes through the platforms' SDKs, pointed at the stack's API base URLs exactly as the
functions are (``socialcare.platforms.Platforms``: the stack's ``XApiUrl``/``GraphApiUrl``
parameters, or ``SOCIALCARE_X_API_URL``/``SOCIALCARE_GRAPH_API_URL`` in this shell, which win),
with credentials read from the stack's own secrets (Secrets Manager, ``socialcare.secrets``):

* X Account Activity (docs.x.com, webhooks and account-activity quickstarts): ``POST /2/webhooks
  {"url"}`` with the app's bearer token registers the URL (X sends a CRC at once, which
  WebhookXFunction answers); ``POST /2/account_activity/webhooks/:id/subscriptions/all`` with each
  brand account's OAuth 1.0a user tokens subscribes it. ``GET /2/webhooks`` and ``GET
  .../subscriptions/all/list`` (bearer) show what is registered. tweepy has no method for these
  endpoints: ``tweepy.Client.request`` sends them with its own auth and errors.
* Meta (``ops_webhooks_meta``): the app's subscriptions and each page's / WhatsApp account's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from socialcare_infra.ops import Target, env_port

X_SECRETS = {"x_api_credentials": "XApiCredentials"}
META_SECRETS = {"meta_app_secret": "MetaAppSecret", "meta_verify_token": "MetaVerifyToken",
                "meta_access_tokens": "MetaAccessTokens"}
DEFAULT_X_API_URL = "https://api.x.com"
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_API_VERSION = "v21.0"


@dataclass
class Report:
    """What a command did or found, one line each; ``failed`` makes the exit status 1."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def ok(self, line: str) -> None:
        self.lines.append(line)

    def error(self, line: str) -> None:
        from socialcare.redact import scrub

        self.lines.append("error: " + scrub(line))  # an SDK error may quote a URL with its token
        self.failed = True


@dataclass
class Endpoints:
    """Where the platforms' APIs are, and the stack's public webhook URLs."""

    x_api_url: str
    graph_api_url: str
    graph_api_version: str
    x_webhook_url: str
    meta_webhook_url: str

    def platforms(self) -> Any:
        from socialcare.platforms import Platforms

        return Platforms(x_api_url=self.x_api_url, graph_api_url=self.graph_api_url,
                         graph_api_version=self.graph_api_version)


def endpoints(target: Target, api_url: str | None = None) -> Endpoints:
    """The stack's: a deployed stack's parameters and outputs, the local stack's loopback ports
    (its platform stand-in listens on ``$SOCIALCARE_LOCAL_PLATFORMS_PORT`` when that is set)."""
    env = os.environ
    if target.local:
        standin = f"http://127.0.0.1:{env_port('PLATFORMS', 0)}" if env.get("SOCIALCARE_LOCAL_PLATFORMS_PORT") else None
        x_url, graph_url = env.get("SOCIALCARE_X_API_URL") or standin, env.get("SOCIALCARE_GRAPH_API_URL") or standin
        if not (x_url and graph_url):
            raise LookupError("--local: set SOCIALCARE_LOCAL_PLATFORMS_PORT (or SOCIALCARE_X_API_URL and "
                              "SOCIALCARE_GRAPH_API_URL) to the `platforms` URL `socialcare local` printed")
        base = api_url or f"http://127.0.0.1:{env_port('API', 3000)}"
        version = env.get("SOCIALCARE_GRAPH_API_VERSION") or DEFAULT_GRAPH_API_VERSION
        return Endpoints(x_url, graph_url, version, f"{base.rstrip('/')}/webhooks/x",
                         f"{base.rstrip('/')}/webhooks/meta")
    base = api_url or target.output("ApiUrl")
    if not base:
        raise LookupError(f"stack {target.stack} has no ApiUrl output: give --api-url")
    return Endpoints(
        env.get("SOCIALCARE_X_API_URL") or target.parameter("XApiUrl") or DEFAULT_X_API_URL,
        env.get("SOCIALCARE_GRAPH_API_URL") or target.parameter("GraphApiUrl") or DEFAULT_GRAPH_API_URL,
        env.get("SOCIALCARE_GRAPH_API_VERSION") or target.parameter("GraphApiVersion") or DEFAULT_GRAPH_API_VERSION,
        f"{base.rstrip('/')}/webhooks/x", f"{base.rstrip('/')}/webhooks/meta")


def secret_store(target: Target, names: Mapping[str, str]) -> Any:
    """The stack's secrets, read as the functions read them (one decoding rule, fail closed)."""
    from socialcare.secrets import SecretStore

    target.connect()  # Powertools' Secrets Manager client honours AWS_ENDPOINT_URL (the local stack)
    return SecretStore({name: target.resource(lid).physical_id for name, lid in names.items()})


# ---------------------------------------------------------------------------------- X
def x_accounts(secrets: Any) -> tuple[str | None, dict[str, Any]]:
    """The app's bearer token (``default``'s, else the first) and every entry with OAuth 1.0a
    user tokens (the brand accounts to subscribe), keyed as in the secret."""
    from socialcare.domain.channels.accounts import DEFAULT, XApiAccount
    from socialcare.errors import SecretUnavailable

    value = secrets.json("x_api_credentials")
    if not isinstance(value, dict):
        raise SecretUnavailable("secret x_api_credentials must be a JSON object keyed by X user id")
    entries = {str(k): XApiAccount.model_validate(v) for k, v in value.items() if isinstance(v, dict)}
    ordered = [entries[DEFAULT]] if DEFAULT in entries else []
    bearer = next((e.bearer_token for e in [*ordered, *entries.values()] if e.bearer_token), None)
    return bearer, {k: e for k, e in entries.items() if e.has_oauth1_user}


def _x_problem(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", "")
    messages = getattr(exc, "api_messages", None) or [str(exc)]
    return f"{status} {'; '.join(str(m) for m in messages)}".strip()


def x_webhooks(client: Any) -> list[dict[str, Any]]:
    return list(client.request("GET", "/2/webhooks").json().get("data") or [])


def register_x(target: Target, ends: Endpoints, report: Report) -> None:
    import tweepy

    bearer, accounts = x_accounts(secret_store(target, X_SECRETS))
    if not bearer:
        report.error("X: x_api_credentials has no bearer_token (the app's, needed to register a webhook)")
        return
    platforms = ends.platforms()
    app = platforms.x_client(bearer_token=bearer)
    try:
        webhook = next((w for w in x_webhooks(app) if w.get("url") == ends.x_webhook_url), None)
        if webhook is None:
            webhook = app.request("POST", "/2/webhooks", json={"url": ends.x_webhook_url}).json()["data"]
            report.ok(f"X: registered webhook {webhook['id']} for {ends.x_webhook_url}")
        else:
            report.ok(f"X: webhook {webhook['id']} already registered for {ends.x_webhook_url}")
    except tweepy.TweepyException as exc:
        report.error(f"X: registering {ends.x_webhook_url} failed: {_x_problem(exc)}")
        return
    if not accounts:
        report.error("X: no account in x_api_credentials has OAuth 1.0a user tokens: none subscribed")
    for key, account in accounts.items():
        _subscribe_x(platforms, str(webhook["id"]), key, account, report)


def _subscribe_x(platforms: Any, webhook_id: str, key: str, account: Any, report: Report) -> None:
    import tweepy

    user = platforms.x_client(consumer_key=account.consumer_key, consumer_secret=account.consumer_secret,
                              access_token=account.access_token, access_token_secret=account.access_token_secret)
    try:
        user.request("POST", f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all", user_auth=True)
    except tweepy.HTTPException as exc:
        if "DuplicateSubscription" in _x_problem(exc):
            report.ok(f"X: account {key} already subscribed to webhook {webhook_id}")
        else:
            report.error(f"X: subscribing account {key} failed: {_x_problem(exc)}")
        return
    except tweepy.TweepyException as exc:
        report.error(f"X: subscribing account {key} failed: {exc}")
        return
    report.ok(f"X: account {key} subscribed to webhook {webhook_id}")


def x_status(target: Target, ends: Endpoints, report: Report) -> None:
    import tweepy

    bearer, _ = x_accounts(secret_store(target, X_SECRETS))
    if not bearer:
        report.error("X: x_api_credentials has no bearer_token")
        return
    app = ends.platforms().x_client(bearer_token=bearer)
    try:
        hooks = x_webhooks(app)
        if not any(h.get("url") == ends.x_webhook_url for h in hooks):
            report.error(f"X: {ends.x_webhook_url} is not registered")
        for hook in hooks:
            ours = " (this stack)" if hook.get("url") == ends.x_webhook_url else ""
            listed = app.request("GET", f"/2/account_activity/webhooks/{hook['id']}/subscriptions/all/list").json()
            users = [str(s.get("user_id")) for s in (listed.get("data") or {}).get("subscriptions") or []]
            report.ok(f"X: webhook {hook['id']} {hook.get('url')}{ours} valid={hook.get('valid')} "
                      f"subscribed accounts: {', '.join(users) or 'none'}")
    except tweepy.TweepyException as exc:
        report.error(f"X: reading the webhooks failed: {_x_problem(exc)}")


def run(action: str, target: Target, platforms: Iterable[str], api_url: str | None = None,
        pages: Iterable[str] = (), wabas: Iterable[str] = (), app_id: str | None = None) -> Report:
    """``register`` or ``status`` for ``platforms`` (``x``, ``meta``)."""
    from socialcare.errors import SocialcareError
    from socialcare_infra import ops_webhooks_meta as meta

    ends = endpoints(target, api_url)
    report = Report()
    for platform in platforms:
        try:
            if platform == "x":
                (register_x if action == "register" else x_status)(target, ends, report)
            else:
                meta.run(action, target, ends, report, pages=list(pages), wabas=list(wabas), app_id=app_id)
        except (LookupError, ValueError, SocialcareError) as exc:  # a secret not filled yet, or malformed
            report.error(f"{platform}: {exc}")
    return report
