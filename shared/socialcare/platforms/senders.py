"""Sending one checked reply (an ``OutboundMessage``) to its platform: X through tweepy
(``senders_x``), Facebook, Messenger, Instagram and WhatsApp through facebook-sdk
(``senders_graph``). The ResponderFunction calls ``Senders.send`` for each outbound.fifo message.

Credentials are the brand account's, read per send from the same secrets the rest of the code
uses (docs/channels.md, "Secrets"): ``x_api_credentials`` (an entry per X user id, or
``default``, with OAuth 1.0a user context: X only lets a user's tokens post or DM as that user)
and ``meta_access_tokens`` (a token per page, Instagram account or WhatsApp phone-number id, or
``default``). The account is ``message.to.account_id``, the brand account the customer wrote to.

Every failure is one of ``models.reply``'s send errors: ``RetryableSendError`` (rate limits, 5xx,
timeouts), ``CredentialsError`` (no usable token), ``PermanentSendError`` (anything else the
platform refuses). Their ``reason`` names the platform's code and message and never a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from socialcare.errors import SecretUnavailable
from socialcare.models.interaction import Channel
from socialcare.models.reply import CredentialsError, OutboundMessage, PermanentSendError, ReplyRoute, SendResult
from socialcare.platforms.senders_graph import GRAPH_ROUTES, send_graph
from socialcare.platforms.senders_x import X_ROUTES, safe, send_x

if TYPE_CHECKING:
    from socialcare.platforms import Platforms
    from socialcare.secrets import SecretStore

DEFAULT = "default"
_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


class Senders:
    """Sends replies with the brand account's credentials, through ``Platforms``' SDK clients."""

    def __init__(self, platforms: Platforms, secrets: SecretStore) -> None:
        self.platforms = platforms
        self.secrets = secrets

    def send(self, message: OutboundMessage, text: str | None) -> SendResult:
        """Send ``message`` with ``text`` (the final text, disclosure included; ``None`` for a
        template). Raises ``RetryableSendError``, ``CredentialsError`` or ``PermanentSendError``."""
        channel, route = message.channel, message.route
        if route not in (X_ROUTES if channel is Channel.X else GRAPH_ROUTES.get(channel, frozenset())):
            raise PermanentSendError(f"{channel.value} replies cannot be sent as {route.value}",
                                     code="unsupported_route")
        body = text if text is not None else message.text
        if route is not ReplyRoute.TEMPLATE and not (body and body.strip()):
            raise PermanentSendError("a reply needs text", code="no_text")
        account = message.to.account_id
        if channel is Channel.X:
            credentials = self.x_credentials(account)
            client = self.platforms.x_client(**credentials)
            return send_x(client, message, body or "", tuple(credentials.values()))
        token = self.meta_token(account)
        return send_graph(self.platforms.graph_api(token), message, body, (token,))

    # ------------------------------------------------------------------ credentials
    def x_credentials(self, account: str | None) -> dict[str, str]:
        """The OAuth 1.0a user credentials of X account ``account`` (its own entry, else ``default``).

        The secret's shape is ``domain.channels.accounts.XApiAccount``'s (an object keyed by X user
        id); that module sits above this layer (docs/architecture.md, "Layers"), so the four keys
        are read here."""
        try:
            found = self.secrets.json("x_api_credentials")
        except SecretUnavailable as exc:
            raise CredentialsError(f"no X credentials: {exc.reason}", code="no_credentials") from exc
        entry: Any = None
        if isinstance(found, dict):
            entry = found.get(account or "") or found.get(DEFAULT)
        values = [entry.get(k) if isinstance(entry, dict) else None for k in _OAUTH1]
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise CredentialsError(
                f"secret x_api_credentials has no OAuth 1.0a user credentials ({', '.join(_OAUTH1)}) "
                f"for X account {account!r}", code="no_credentials")
        return {k: str(v).strip() for k, v in zip(_OAUTH1, values, strict=True)}

    def meta_token(self, account: str | None) -> str:
        """The Graph token of a page, Instagram account or WhatsApp phone-number id (``default`` else),
        as ``Accounts.meta_access_token`` reads it."""
        try:
            return self.secrets.for_account("meta_access_tokens", account)
        except SecretUnavailable as exc:
            raise CredentialsError(safe(f"no Graph API token: {exc.reason}", ()), code="no_credentials") from exc
