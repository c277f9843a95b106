"""Brand accounts and their secrets: X apps/accounts, Meta apps, pages and WhatsApp numbers.

Each platform payload names the brand account it concerns (X ``for_user_id``, a page id, a
WhatsApp ``phone_number_id``); this module answers "which secret/token belongs to it". Secret
JSON shapes are documented in docs/channels.md ("Secrets"). Every lookup fails closed with
``SecretUnavailable`` (500): a missing secret never means "accept unsigned".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from socialcare.errors import SecretUnavailable
from socialcare.secrets import SecretStore

DEFAULT = "default"


def _no_blank_key(value: object) -> object:
    """A blank key inside a secret's JSON object is no key (``secrets.decode`` drops blank
    top-level entries; this is the same rule one level down)."""
    return None if isinstance(value, str) and not value.strip() else value


class XApp(BaseModel):
    """One X app's webhook secrets. ``crc`` picks the secret that answers the CRC: X checks
    apps configured for OAuth 2.0 signing with the OAuth 2.0 client secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    consumer_secret: str | None = None
    oauth2_client_secret: str | None = None
    crc: Literal["consumer", "oauth2"] = "consumer"

    _blank_is_none = field_validator("consumer_secret", "oauth2_client_secret", mode="before")(_no_blank_key)

    @model_validator(mode="after")
    def _has_a_secret(self) -> XApp:
        if not (self.consumer_secret or self.oauth2_client_secret):
            raise ValueError("an X app needs consumer_secret or oauth2_client_secret")
        if self.crc == "oauth2" and not self.oauth2_client_secret:
            raise ValueError("crc 'oauth2' needs oauth2_client_secret")
        if self.crc == "consumer" and not self.consumer_secret:
            raise ValueError("crc 'consumer' needs consumer_secret")
        return self

    @property
    def crc_secret(self) -> str:
        secret = self.oauth2_client_secret if self.crc == "oauth2" else self.consumer_secret
        return secret or ""


class XApiAccount(BaseModel):
    """Credentials one brand X account polls (and later replies) with."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bearer_token: str | None = None  # app-only (mentions) or OAuth 2.0 user token
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None

    _blank_is_none = field_validator("*", mode="before")(_no_blank_key)

    @property
    def has_oauth1_user(self) -> bool:
        return all((self.consumer_key, self.consumer_secret, self.access_token, self.access_token_secret))


class Accounts:
    """The brand's accounts on each platform and the secrets that belong to them."""

    def __init__(self, secrets: SecretStore, brand_x_ids: frozenset[str] = frozenset()) -> None:
        self.secrets = secrets
        self.brand_x_ids = brand_x_ids

    def x_apps(self) -> dict[str, XApp]:
        """Every configured X app keyed by ``default`` or the X user id (``for_user_id``) it serves.

        The secret is a plain consumer secret (one app), or JSON whose values are a consumer secret
        string or an ``XApp`` object.
        """
        value = self.secrets.json("x_consumer_secret")
        entries = value if isinstance(value, dict) else {DEFAULT: value}
        apps: dict[str, XApp] = {}
        try:
            for key, entry in entries.items():
                apps[str(key)] = (
                    XApp(consumer_secret=entry) if isinstance(entry, str) else XApp.model_validate(entry)
                )
        except ValidationError as exc:
            raise SecretUnavailable("secret x_consumer_secret has an unsupported shape") from exc
        if not apps:
            raise SecretUnavailable("secret x_consumer_secret is empty")
        return apps


    def x_app_for(self, account: str | None) -> XApp:
        """The app serving ``account`` (its own entry, else ``default``)."""
        apps = self.x_apps()
        app = apps.get(account or "") or apps.get(DEFAULT)
        if app is None:
            if len(apps) == 1:
                return next(iter(apps.values()))
            raise SecretUnavailable(f"no X app is configured for account {account!r}")
        return app


    def x_api_accounts(self) -> dict[str, XApiAccount]:
        """Brand X accounts to poll, keyed by X user id (the secret must be a JSON object).

        An account has its own entry, or - when it is listed in SOCIALCARE_BRAND_X_ACCOUNT_IDS - the
        ``default`` credentials (one app bearer token serves every account's mentions).
        """
        value = self.secrets.json("x_api_credentials")
        if not isinstance(value, dict):
            raise SecretUnavailable("secret x_api_credentials must be a JSON object keyed by X user id")
        try:
            found = {str(k): XApiAccount.model_validate(v) for k, v in value.items()}
        except ValidationError as exc:
            raise SecretUnavailable("secret x_api_credentials has an unsupported shape") from exc
        default = found.pop(DEFAULT, None)
        if default is not None:
            for account in sorted(self.brand_x_ids):
                found.setdefault(account, default)
        return found


    def meta_app_secrets(self) -> list[str]:
        """Every Meta app secret (several apps may post to the one callback URL)."""
        return self.secrets.candidates("meta_app_secret")


    def meta_verify_tokens(self) -> list[str]:
        return self.secrets.candidates("meta_verify_token")


    def meta_access_token(self, account_id: str | None) -> str:
        """The Graph API token of a page / Instagram account / WhatsApp phone-number id."""
        return self.secrets.for_account("meta_access_tokens", account_id)


    def inbound_secrets(self) -> list[str]:
        """Gateway HMAC keys (a JSON object allows one key per gateway, and rotation)."""
        return self.secrets.candidates("inbound_secret")
