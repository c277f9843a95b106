"""The transport both SDKs send through: a ``requests.Session`` whose adapter rewrites the
platform's host to SOCIALCARE_X_API_URL / SOCIALCARE_GRAPH_API_URL.

Its own module, so that ``requests`` is imported only by the code paths that call a platform
(``Platforms``' methods import it on use), never at a webhook's or the API's cold start.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

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
