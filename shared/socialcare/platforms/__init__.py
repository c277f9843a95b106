"""The platforms' SDKs (tweepy, facebook-sdk), pointed at SOCIALCARE_X_API_URL / SOCIALCARE_GRAPH_API_URL.

tweepy and facebook-sdk hard-code their hosts (``https://api.twitter.com``,
``https://graph.facebook.com/``) but send through a ``requests.Session`` we can supply. A
transport adapter mounted on that session (``platforms.sessions``) rewrites the host prefix just
before sending, so tests and the local stack reach a fake server while the SDKs stay unmodified.

The SDKs and ``requests`` are imported on use: building ``Platforms`` at cold start costs
nothing, and only the code paths that call a platform pay their import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import facebook
    import requests
    import tweepy

X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
GRAPH_HOSTS = ("https://graph.facebook.com",)


class Platforms:
    """Clients of the platforms' SDKs, pointed at the configured API base URLs."""

    def __init__(self, *, x_api_url: str, graph_api_url: str, graph_api_version: str) -> None:
        self.x_api_url = x_api_url
        self.graph_api_url = graph_api_url
        self.graph_api_version = graph_api_version

    def x_session(self) -> requests.Session:
        from socialcare.platforms.sessions import rewriting_session

        return rewriting_session(X_HOSTS, self.x_api_url)

    def graph_session(self) -> requests.Session:
        from socialcare.platforms.sessions import rewriting_session

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
