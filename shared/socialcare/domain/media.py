"""Attachments into the media bucket, under the customer's prefix, before platform links expire.

Called by the processor after the customer is recognised and before the interaction is stored,
so the stored attachment carries its ``s3_key``. WhatsApp media is fetched through the Graph
API (``GET /<version>/<media id>`` gives a short-lived URL, downloaded with the same bearer
token); Messenger/Instagram attachments carry a signed CDN URL and are downloaded directly.

Keys are deterministic (``customers/<customer id>/<channel>/<message id>/<n>-<media id><ext>``),
so a redelivered event overwrites nothing new and is skipped after one HEAD.
"""

from __future__ import annotations

import mimetypes
import re
import time
from typing import TYPE_CHECKING, Any

from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import SecretUnavailable
from socialcare.models.interaction import Attachment, Channel, Interaction
from socialcare.observability import count, logger
from socialcare.platforms import Platforms
from socialcare.redact import scrub
from socialcare.store.media import MediaStore

if TYPE_CHECKING:
    import requests

# requests and facebook-sdk are imported where media is fetched, not at import: only the
# processor fetches media, and only for a message that carries some (cold starts stay short).

# Channels whose attachment URLs are pre-signed CDN links we may GET without credentials. X DM
# media needs OAuth 1.0a signing and gateway URLs belong to the gateway: both stay as links.
_URL_CHANNELS = frozenset({Channel.MESSENGER, Channel.INSTAGRAM, Channel.FACEBOOK})
_SAFE = re.compile(r"[^A-Za-z0-9._=-]")
_PERMANENT_HTTP = frozenset({400, 401, 403, 404, 410})
_ATTEMPTS = 2
_RETRY_DELAY_SECONDS = 1.0


class MediaUnavailable(Exception):
    """The media could not be fetched; ``retryable`` when the platform might still serve it.

    The reason is logged and stored (``metadata["media_errors"]``): it is scrubbed here, since a
    ``requests`` error names the URL it failed on and facebook-sdk puts the access token in it.
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(scrub(reason))
        self.retryable = retryable


def key_for(customer_id: str, interaction: Interaction, index: int, attachment: Attachment) -> str:
    ext = mimetypes.guess_extension((attachment.mime_type or "").split(";")[0].strip()) or ""
    name = _SAFE.sub("_", attachment.media_id or attachment.filename or "file")[:100]
    message = _SAFE.sub("_", interaction.platform_message_id)[:200]
    return f"customers/{_SAFE.sub('_', customer_id)}/{interaction.channel.value}/{message}/{index}-{name}{ext}"


def _download(session: requests.Session, url: str, headers: dict[str, str] | None = None) -> requests.Response:
    response = session.get(url, headers=headers or {}, stream=True)
    if response.status_code in _PERMANENT_HTTP:
        raise MediaUnavailable(f"download answered {response.status_code}")
    response.raise_for_status()  # 5xx / 429: transient, retried by _fetch_with_retry
    response.raw.decode_content = True
    return response


class MediaService:
    """Fetches attachments from the platforms and keeps them in the media bucket."""

    def __init__(self, store: MediaStore, accounts: Accounts, platforms: Platforms) -> None:
        self.store = store
        self.accounts = accounts
        self.platforms = platforms

    def _whatsapp_media(self, interaction: Interaction, attachment: Attachment) -> tuple[requests.Response, str | None]:
        try:
            token = self.accounts.meta_access_token(interaction.account_id)
        except SecretUnavailable as exc:
            raise MediaUnavailable(f"no Graph API token for account {interaction.account_id}") from exc
        graph = self.platforms.graph_api(token)
        from facebook import GraphAPIError

        try:
            info: dict[str, Any] = graph.get_object(attachment.media_id)
        except GraphAPIError as exc:
            # Graph answers unknown/expired media ids with OAuthException code 100: gone for good
            if getattr(exc, "code", None) in (100, 190, 803):
                raise MediaUnavailable(f"Graph API: {exc}") from exc
            raise  # transient: retried by _fetch_with_retry
        url = info.get("url")
        if not isinstance(url, str):
            raise MediaUnavailable("Graph API returned no media url")
        response = _download(graph.session, url, {"Authorization": f"Bearer {token}"})
        return response, info.get("mime_type") or attachment.mime_type


    def _fetch(self, interaction: Interaction, attachment: Attachment) -> tuple[requests.Response, str | None] | None:
        if interaction.channel is Channel.WHATSAPP and attachment.media_id:
            return self._whatsapp_media(interaction, attachment)
        if interaction.channel in _URL_CHANNELS and attachment.url and attachment.url.startswith("https://"):
            import requests

            return _download(requests.Session(), attachment.url), attachment.mime_type
        return None


    def _fetch_with_retry(self, interaction: Interaction,
                          attachment: Attachment) -> tuple[requests.Response, str | None] | None:
        import requests
        from facebook import GraphAPIError

        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._fetch(interaction, attachment)
            except (requests.RequestException, GraphAPIError) as exc:
                if attempt == _ATTEMPTS:
                    raise MediaUnavailable(f"platform unavailable: {exc}", retryable=True) from exc
                time.sleep(_RETRY_DELAY_SECONDS)
        return None  # unreachable: the loop returns or raises


    def store_attachments(self, interaction: Interaction, customer_id: str) -> Interaction:
        """The interaction with each fetchable attachment stored in S3 (``s3_key`` set).

        Media never holds the customer's message back: media the platform no longer has, or cannot
        serve after a retry, is noted in ``metadata["media_errors"]`` (``retryable`` when a later
        replay may still fetch it: WhatsApp media ids received by webhook live for 7 days) and the message is stored.
        A failure to write to our own bucket raises, so SQS redelivers the record.
        """
        if not interaction.attachments:
            return interaction
        attachments: list[Attachment] = []
        errors: list[dict[str, Any]] = []
        for index, attachment in enumerate(interaction.attachments):
            if attachment.s3_key or attachment.reference_only or not (attachment.media_id or attachment.url):
                attachments.append(attachment)
                continue
            key = key_for(customer_id, interaction, index, attachment)
            if self.store.exists(key):
                attachments.append(attachment.model_copy(update={"s3_key": key}))
                continue
            try:
                fetched = self._fetch_with_retry(interaction, attachment)
            except MediaUnavailable as exc:
                logger.warning("attachment not fetched", extra={"interaction_id": interaction.id, "reason": str(exc)})
                count("MediaNotFetched", 1, retryable=str(exc.retryable).lower())
                errors.append({"index": index, "media_id": attachment.media_id, "reason": str(exc),
                               "retryable": exc.retryable})
                attachments.append(attachment)
                continue
            if fetched is None:
                attachments.append(attachment)
                continue
            response, mime = fetched
            with response:
                self.store.put(key, response.raw, mime)
            attachments.append(attachment.model_copy(update={"s3_key": key, "mime_type": mime}))
        metadata = {**interaction.metadata, "media_errors": errors} if errors else interaction.metadata
        return interaction.model_copy(update={"attachments": attachments, "metadata": metadata})
