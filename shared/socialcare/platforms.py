"""The platforms' SDKs (tweepy, facebook-sdk), pointed at SOCIALCARE_X_API_URL / SOCIALCARE_GRAPH_API_URL.

tweepy and facebook-sdk hard-code their hosts (``https://api.twitter.com``,
``https://graph.facebook.com/``) but send through a ``requests.Session`` we can supply. A
transport adapter mounted on that session rewrites the host prefix just before sending, so
tests and the local stack reach a fake server while the SDKs stay unmodified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

if TYPE_CHECKING:
    import facebook
    import tweepy

X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
GRAPH_HOSTS = ("https://graph.facebook.com",)
# (connect, read): an unreachable platform fails in ~3 s, a slow one gets 10 s per read
_TIMEOUT_SECONDS = (3.05, 10.0)


class RewriteBaseURLAdapter(HTTPAdapter):
    """Sends requests for ``prefixes`` to ``base_url`` instead (path and query kept)."""

    def __init__(self, prefixes: tuple[str, ...], base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefixes = prefixes
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        # Pointed at a real host: leave the SDK's own URL alone. OAuth 1.0a signs the URL the SDK
        # built (api.twitter.com), and X checks the signature against the host it was sent to.
        for prefix in () if self.base_url in self.prefixes else self.prefixes:
            if url == prefix or url.startswith(prefix + "/"):
                request.url = self.base_url + url[len(prefix) :]
                break
        if kwargs.get("timeout") is None:
            # neither SDK sets a timeout by default; a hung platform must not eat the Lambda
            kwargs["timeout"] = _TIMEOUT_SECONDS
        return super().send(request, **kwargs)


def rewriting_session(prefixes: tuple[str, ...], base_url: str) -> requests.Session:
    session = requests.Session()
    adapter = RewriteBaseURLAdapter(prefixes, base_url)
    # mounted on both schemes: the rewritten target may be plain http (local fake servers)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Platforms:
    """Clients of the platforms' SDKs, pointed at the configured API base URLs."""

    def __init__(self, *, x_api_url: str, graph_api_url: str, graph_api_version: str) -> None:
        self.x_api_url = x_api_url
        self.graph_api_url = graph_api_url
        self.graph_api_version = graph_api_version

    def x_session(self) -> requests.Session:
        return rewriting_session(X_HOSTS, self.x_api_url)

    def graph_session(self) -> requests.Session:
        return rewriting_session(GRAPH_HOSTS, self.graph_api_url)

    def x_client(self, **credentials: Any) -> tweepy.Client:
        """A tweepy v2 client whose requests go to the configured X API URL."""
        import tweepy  # imported on use: only the poller and responder pay its import time

        client = tweepy.Client(**credentials)
        client.session = self.x_session()
        return client

    def graph_api(self, access_token: str, *, timeout: float | None = None) -> facebook.GraphAPI:
        """A facebook-sdk client on the configured Graph API version and URL.

        facebook-sdk 3.1's constructor only accepts long-retired versions (2.x-3.1), so the
        current version is set on the attribute after construction; it is used verbatim in every
        path. ``timeout`` (seconds, connect and read) replaces the adapter's default, for calls
        that must give up sooner (a profile lookup on the processor's path).
        """
        import facebook  # imported on use, like tweepy

        graph = facebook.GraphAPI(access_token=access_token, session=self.graph_session())  # adapter sets the timeout
        graph.version = self.graph_api_version
        graph.timeout = timeout  # passed by the SDK to every request; None = the adapter's default
        return graph
