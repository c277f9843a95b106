"""tweepy and facebook-sdk, unmodified, reach SOCIALCARE_X_API_URL / SOCIALCARE_GRAPH_API_URL."""

from __future__ import annotations

import pytest
import responses

from socialcare.config.settings import Settings
from socialcare.flows.wiring import Wiring
from socialcare.platforms import Platforms
from socialcare.platforms.sessions import RewriteBaseURLAdapter


def configured() -> Platforms:
    """The platform clients as a function builds them: from its SOCIALCARE_* environment."""
    return Wiring(Settings()).platforms


@pytest.fixture
def fake_hosts(monkeypatch: pytest.MonkeyPatch) -> Platforms:
    monkeypatch.setenv("SOCIALCARE_X_API_URL", "http://x.fake.test:8080/prefix")
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_URL", "http://graph.fake.test:9090")
    monkeypatch.setenv("SOCIALCARE_GRAPH_API_VERSION", "v21.0")
    return configured()


@responses.activate
def test_tweepy_requests_go_to_the_configured_x_base_url(fake_hosts: Platforms) -> None:
    responses.get(
        "http://x.fake.test:8080/prefix/2/users/42/mentions",
        json={"data": [{"id": "1", "text": "hi"}], "meta": {"result_count": 1, "newest_id": "1"}},
    )
    client = fake_hosts.x_client(bearer_token="token")
    result = client.get_users_mentions("42", since_id="0")
    assert result.data[0].id == 1
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer token"
    assert "since_id=0" in (sent.url or "")


@responses.activate
def test_facebook_sdk_uses_a_current_graph_version_on_the_configured_host(fake_hosts: Platforms) -> None:
    responses.get("http://graph.fake.test:9090/v21.0/12345", json={"id": "12345", "url": "https://cdn/x"})
    graph = fake_hosts.graph_api("page-token")
    assert graph.get_object("12345")["url"] == "https://cdn/x"
    assert "access_token=page-token" in (responses.calls[0].request.url or "")


@responses.activate
def test_other_hosts_are_not_rewritten(fake_hosts: Platforms) -> None:
    responses.get("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1", body=b"bytes")
    session = fake_hosts.graph_session()
    assert session.get("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1").content == b"bytes"


def test_default_base_urls_are_the_real_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALCARE_X_API_URL", raising=False)
    monkeypatch.delenv("SOCIALCARE_GRAPH_API_URL", raising=False)
    platforms = configured()
    x_adapter = platforms.x_session().get_adapter("https://api.twitter.com/2/tweets")
    graph_adapter = platforms.graph_session().get_adapter("https://graph.facebook.com/v21.0/me")
    assert isinstance(x_adapter, RewriteBaseURLAdapter) and x_adapter.base_url == "https://api.x.com"
    assert isinstance(graph_adapter, RewriteBaseURLAdapter)
    assert graph_adapter.base_url == "https://graph.facebook.com"


@responses.activate
def test_pointed_at_a_real_x_host_the_sdks_own_url_is_kept_so_oauth1_signatures_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALCARE_X_API_URL", "https://api.x.com")
    responses.get("https://api.twitter.com/2/users/me", json={"data": {"id": "1", "name": "n", "username": "u"}})
    client = configured().x_client(
        consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats"
    )
    assert client.get_me(user_auth=True).data.id == 1
    assert responses.calls[0].request.url == "https://api.twitter.com/2/users/me"
