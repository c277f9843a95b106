"""Meta's webhook subscriptions, through facebook-sdk (``socialcare webhooks register|status``).

Graph API (developers.facebook.com, "Subscriptions Edge" and the ``/{app-id}/subscriptions``
reference): ``POST /{app-id}/subscriptions`` with the app access token (``<app id>|<app secret>``)
and ``object``, ``callback_url``, ``verify_token``, ``fields`` subscribes the app to an object's
fields (Meta verifies the callback at once with ``hub.challenge``, which WebhookMetaFunction
answers); ``GET`` lists them. A page (Messenger, page feed; an Instagram professional account is
reached through its page) and a WhatsApp Business Account also subscribe the app themselves:
``POST /{page-id|waba-id}/subscribed_apps`` with their own token (``--page``, ``--waba``).

The app id: the Meta app secret's JSON keys that are app ids (``{"<app id>": "<secret>"}``,
docs/channels.md "Secrets"), or ``--meta-app-id`` for a plain secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from socialcare_infra.ops import Target

if TYPE_CHECKING:
    from socialcare_infra.ops_webhooks import Endpoints, Report

# The fields the parsers read (docs/channels.md, "Meta"); everything else would only be counted.
OBJECTS = {
    "page": ("feed", "mention", "ratings", "messages", "messaging_postbacks", "message_edits",
             "message_reactions"),
    "instagram": ("comments", "live_comments", "mentions", "messages", "messaging_postbacks", "message_reactions"),
    "whatsapp_business_account": ("messages", "calls"),
}
PAGE_FIELDS = OBJECTS["page"]  # what a page subscribes the app to: the page object's fields


def meta_apps(secrets: Any, app_id: str | None) -> list[tuple[str, str]]:
    """(app id, app secret) of every app to work on."""
    value = secrets.json("meta_app_secret")
    if isinstance(value, str):
        if not app_id:
            raise LookupError("the Meta app secret is one plain value: name its app with --meta-app-id")
        return [(app_id, value)]
    secrets_by_key = {str(k): v for k, v in value.items() if isinstance(v, str)}
    if app_id:
        # its own entry; else the one secret there is, under whatever label it was given
        secret = secrets_by_key.get(app_id) or (next(iter(secrets_by_key.values())) if len(secrets_by_key) == 1
                                                else None)
        apps = [(app_id, secret)] if secret else []
    else:
        apps = [(k, v) for k, v in secrets_by_key.items() if k.isdigit()]
    if not apps:
        raise LookupError("no Meta app id: key the app secret by app id ({\"<app id>\": \"<secret>\"}) "
                          "or give --meta-app-id")
    return apps


def _graph_error(exc: Exception) -> str:
    result = getattr(exc, "result", None)
    if isinstance(result, dict) and isinstance(result.get("error"), dict):
        error = result["error"]
        return f"({error.get('code')}) {error.get('message')}"
    return str(exc)


def run(action: str, target: Target, ends: Endpoints, report: Report, *, pages: list[str], wabas: list[str],
        app_id: str | None) -> None:
    import facebook
    import requests

    from socialcare_infra.ops_webhooks import META_SECRETS, secret_store

    secrets = secret_store(target, META_SECRETS)
    platforms = ends.platforms()
    for app, app_secret in meta_apps(secrets, app_id):
        graph = platforms.graph_api(facebook.GraphAPI().get_app_access_token(app, app_secret, offline=True))
        try:
            if action == "register":
                _register_app(graph, app, ends.meta_webhook_url, secrets.candidates("meta_verify_token")[0], report)
            else:
                _app_status(graph, app, ends.meta_webhook_url, report)
        except (facebook.GraphAPIError, requests.RequestException) as exc:
            report.error(f"Meta: app {app}: {_graph_error(exc)}")
    for kind, ids in (("page", pages), ("WhatsApp account", wabas)):
        for object_id in ids:
            graph = platforms.graph_api(secrets.for_account("meta_access_tokens", object_id))
            try:
                _object(graph, kind, object_id, action, report)
            except (facebook.GraphAPIError, requests.RequestException) as exc:
                report.error(f"Meta: {kind} {object_id}: {_graph_error(exc)}")


def _register_app(graph: Any, app: str, url: str, verify_token: str, report: Report) -> None:
    for obj, fields in OBJECTS.items():
        graph.request(f"{graph.version}/{app}/subscriptions", post_args={
            "object": obj, "callback_url": url, "verify_token": verify_token, "fields": ",".join(fields),
            "include_values": "true"})
        report.ok(f"Meta: app {app} subscribed {obj} ({', '.join(fields)}) to {url}")


def _app_status(graph: Any, app: str, url: str, report: Report) -> None:
    found = {s.get("object"): s for s in graph.request(f"{graph.version}/{app}/subscriptions").get("data") or []}
    for obj in OBJECTS:
        sub = found.get(obj)
        if sub is None:
            report.error(f"Meta: app {app} has no {obj} subscription")
            continue
        fields = ", ".join(str(f.get("name")) for f in sub.get("fields") or [])
        where = sub.get("callback_url")
        line = f"Meta: app {app} {obj} -> {where} active={sub.get('active')} fields: {fields or 'none'}"
        if where == url:
            report.ok(line + " (this stack)")
        else:
            report.error(line + f" (not this stack's {url})")


def _object(graph: Any, kind: str, object_id: str, action: str, report: Report) -> None:
    path = f"{graph.version}/{object_id}/subscribed_apps"
    if action == "register":
        post = {"subscribed_fields": ",".join(PAGE_FIELDS)} if kind == "page" else {}
        graph.request(path, post_args=post, method="POST")
        report.ok(f"Meta: {kind} {object_id} subscribed the app")
        return
    apps = graph.request(path).get("data") or []
    if not apps:
        report.error(f"Meta: {kind} {object_id} has no app subscribed")
    for sub in apps:
        fields = ", ".join(sub.get("subscribed_fields") or [])
        name = sub.get("name") or (sub.get("whatsapp_business_api_data") or {}).get("name") or ""
        report.ok(f"Meta: {kind} {object_id}: app {sub.get('id', '')} {name} {fields}".rstrip())
