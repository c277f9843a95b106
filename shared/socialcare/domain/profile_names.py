"""Names from the platforms: a Messenger or Instagram sender's name through the Graph API.

Messenger and Instagram webhooks carry only the sender's page- / Instagram-scoped id, so a DM
would link to a known customer only when its author types their name. Before recognition the
processor asks for the sender's profile (Messenger User Profile API
``GET /<PSID>?fields=first_name,last_name,name,profile_pic``, Instagram User Profile API
``GET /<IGSID>?fields=name,username,profile_pic``) with the page's / Instagram account's token,
through facebook-sdk, and fills ``author.name`` (and, on Instagram, ``author.handle``), so the
name counts as evidence like any other.

The profile is cached on the identity's claim (``messenger#<psid>`` / ``instagram#<igsid>``)
with the time it was fetched and refreshed after ``profile_name_refresh_days``. A refusal
(no permission, a deleted or phone-only account, no token for the account, a timeout, a 5xx)
costs only the name: the message is processed without it, ``ProfileNameRefused`` is counted,
the reason logged, and the refusal cached too, so Graph is asked again only after
``profile_name_retry_hours``. Only DMs are looked up: both APIs answer only for people who
messaged the brand (a commenter's profile is refused for want of consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import SecretUnavailable
from socialcare.models.interaction import Channel, Direction, IdentifierKind, Interaction, Kind
from socialcare.observability import count, logger
from socialcare.platforms import Platforms
from socialcare.store.profiles import ProfilesRepository, iso

FIELDS = {
    Channel.MESSENGER: "first_name,last_name,name,profile_pic",
    Channel.INSTAGRAM: "name,username,profile_pic",
}
_KINDS = {Channel.MESSENGER: IdentifierKind.MESSENGER, Channel.INSTAGRAM: IdentifierKind.INSTAGRAM}
# Graph error codes (Graph API "Handling Errors"; Messenger User Profile API "Profile Unavailable")
_TOKEN_CODES = frozenset({102, 190})
_PERMISSION_CODES = frozenset({3, 10, 200, 230})
_UNKNOWN_USER_CODES = frozenset({100, 803, 2018218})


@dataclass(frozen=True)
class PlatformProfile:
    name: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class NameLookup:
    """What ``fill`` learnt from the platform, for ``remember`` to cache once the claim exists."""

    kind: str
    value: str
    at: str
    profile: PlatformProfile | None = None
    refusal: str | None = None


class ProfileRefused(Exception):
    def __init__(self, reason: str, code: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _text(value: Any, strip: str = "") -> str | None:
    text = str(value).strip().lstrip(strip) if value else ""
    return text or None


def profile_of(channel: Channel, data: Any) -> PlatformProfile:
    """The name (and Instagram username) in a User Profile API answer; ProfileRefused when it has none."""
    if not isinstance(data, dict):
        raise ProfileRefused("no_profile")
    name = data.get("name")
    if channel is Channel.MESSENGER and not name:
        name = " ".join(str(p) for p in (data.get("first_name"), data.get("last_name")) if p)
    username = data.get("username") if channel is Channel.INSTAGRAM else None
    profile = PlatformProfile(name=_text(name), username=_text(username, "@"))
    if profile.name is None and profile.username is None:
        # Meta answers a profile it may not show with an empty object
        raise ProfileRefused("no_profile")
    return profile


def _refusal_of(exc: Exception) -> ProfileRefused:
    """A short reason (never the error text: it may name the URL, token included)."""
    import requests  # on use, like facebook-sdk: only a Graph lookup pays its import time
    from facebook import GraphAPIError

    if isinstance(exc, SecretUnavailable):
        return ProfileRefused("no_token")
    if isinstance(exc, requests.Timeout):
        return ProfileRefused("timeout")
    if isinstance(exc, requests.RequestException):
        return ProfileRefused("unreachable")
    if not isinstance(exc, GraphAPIError):
        return ProfileRefused("bad_answer")  # not JSON at all (facebook-sdk's KeyError/ValueError)
    code = exc.code
    error = exc.result.get("error") if isinstance(exc.result, dict) else None
    subcode = error.get("error_subcode") if isinstance(error, dict) else None
    if code in _TOKEN_CODES:
        return ProfileRefused("token", code)
    if code in _PERMISSION_CODES:
        return ProfileRefused("permission", code)
    if code in _UNKNOWN_USER_CODES or subcode in _UNKNOWN_USER_CODES:
        return ProfileRefused("unknown_user", code)
    return ProfileRefused("graph_error", code)


def with_profile(interaction: Interaction, profile: PlatformProfile) -> Interaction:
    author = interaction.author
    update: dict[str, Any] = {}
    if profile.name and not author.name:
        update["name"] = profile.name
    if profile.username and not author.handle:
        update["handle"] = profile.username
    if not update:
        return interaction
    return interaction.model_copy(update={"author": author.model_copy(update=update)})


class PlatformNames:
    """Fills a Messenger / Instagram DM's missing author name from the sender's platform profile."""

    def __init__(self, profiles: ProfilesRepository, accounts: Accounts, platforms: Platforms, *,
                 enabled: bool = True, refresh_after: timedelta = timedelta(days=30),
                 retry_after: timedelta = timedelta(hours=24), timeout_seconds: float = 3.0) -> None:
        self.profiles = profiles
        self.accounts = accounts
        self.platforms = platforms
        self.enabled = enabled
        self.refresh_after = refresh_after
        self.retry_after = retry_after
        self.timeout_seconds = timeout_seconds

    def wants(self, interaction: Interaction) -> bool:
        return (self.enabled and interaction.channel in FIELDS and interaction.kind is Kind.DIRECT_MESSAGE
                and interaction.direction is Direction.INBOUND and not interaction.author.name
                and bool(interaction.author.id.strip()))

    def fill(self, interaction: Interaction) -> tuple[Interaction, NameLookup | None]:
        """The interaction with its author's platform name (from the cache, else Graph), and what
        to cache after recognition (None when nothing new was learnt)."""
        if not self.wants(interaction):
            return interaction, None
        kind, value = _KINDS[interaction.channel].value, interaction.author.id.strip()
        now = datetime.now(UTC)
        cached = self.profiles.platform_profile(kind, value) or {}
        stale = PlatformProfile(name=cached.get("profile_name"), username=cached.get("profile_username"))
        if self._fresh(cached.get("profile_fetched_at"), self.refresh_after, now) or \
                self._fresh(cached.get("profile_refused_at"), self.retry_after, now):
            count("ProfileNameCached", 1, channel=interaction.channel.value)
            return with_profile(interaction, stale), None
        try:
            profile = self.fetch(interaction)
        except ProfileRefused as refused:
            count("ProfileNameRefused", 1, channel=interaction.channel.value, reason=refused.reason)
            logger.info("platform profile refused", extra={"interaction_id": interaction.id,
                                                          "reason": refused.reason, "graph_code": refused.code})
            return with_profile(interaction, stale), NameLookup(kind, value, iso(now), refusal=refused.reason)
        count("ProfileNameFetched", 1, channel=interaction.channel.value)
        return with_profile(interaction, profile), NameLookup(kind, value, iso(now), profile=profile)

    def fetch(self, interaction: Interaction) -> PlatformProfile:
        """The sender's profile from the Graph API; ProfileRefused with a short reason otherwise."""
        import requests
        from facebook import GraphAPIError

        try:
            token = self.accounts.meta_access_token(interaction.account_id)
            graph = self.platforms.graph_api(token, timeout=self.timeout_seconds)
            data = graph.get_object(interaction.author.id.strip(), fields=FIELDS[interaction.channel])
        # facebook-sdk raises KeyError/ValueError on an answer without a JSON content type
        except (SecretUnavailable, GraphAPIError, requests.RequestException, KeyError, ValueError) as exc:
            raise _refusal_of(exc) from exc
        return profile_of(interaction.channel, data)

    def remember(self, lookup: NameLookup | None) -> None:
        """Cache what ``fill`` learnt on the identity's claim, which recognition has now written."""
        if lookup is None:
            return
        profile = lookup.profile or PlatformProfile()
        written = self.profiles.cache_platform_profile(
            lookup.kind, lookup.value, at=lookup.at, name=profile.name, username=profile.username,
            refusal=lookup.refusal,
        )
        if not written:
            logger.info("platform profile not cached: no claim", extra={"identity_kind": lookup.kind})

    @staticmethod
    def _fresh(at: Any, window: timedelta, now: datetime) -> bool:
        if not isinstance(at, str):
            return False
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return False
        return now - moment < window
