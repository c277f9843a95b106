"""X Account Activity: CRC, signatures (consumer / OAuth 2.0 / per-account apps) and the parser."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from pydantic import ValidationError

from socialcare.config.settings import Settings
from socialcare.domain.channels import x, x_api
from socialcare.domain.channels.accounts import Accounts
from socialcare.errors import BadRequest, SecretUnavailable, Unauthorized
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Action, Channel, IdentifierKind, Kind
from socialcare.publish import dedupe_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "x"
BRAND = "1500000000000000001"
CONSUMER = "x-consumer-secret"

# The subscribed account (for_user_id) is always the brand's; no other brand accounts configured.
NO_OTHER_BRANDS: frozenset[str] = frozenset()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def x_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], None]]:
    """Sets the X consumer secret (plain string or JSON) in moto's Secrets Manager."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="x-consumer", SecretString=CONSUMER)["ARN"]
        monkeypatch.setenv("SOCIALCARE_X_CONSUMER_SECRET_ARN", arn)

        def put(value: Any) -> None:
            client.put_secret_value(SecretId=arn, SecretString=value if isinstance(value, str) else json.dumps(value))
            parameters.clear_caches()

        parameters.clear_caches()
        yield put
    parameters.clear_caches()


def configured_accounts() -> Accounts:
    """The brand accounts as a function builds them: from its SOCIALCARE_* environment."""
    return Wiring(Settings()).accounts


@pytest.fixture
def accounts(x_secret: Callable[[Any], None]) -> Accounts:
    return configured_accounts()


# ------------------------------------------------------------------ CRC


def test_crc_answers_with_base64_hmac_of_the_token_under_the_consumer_secret(accounts: Accounts) -> None:
    expected = base64.b64encode(hmac.new(CONSUMER.encode(), b"crc-token-1", hashlib.sha256).digest()).decode()
    assert x.crc_response(accounts, "crc-token-1") == {"response_token": f"sha256={expected}"}


def test_crc_uses_the_oauth2_client_secret_when_the_app_is_configured_for_it(
    x_secret: Callable[[Any], None], accounts: Accounts
) -> None:
    x_secret({"default": {"consumer_secret": "c", "oauth2_client_secret": "o2", "crc": "oauth2"}})
    assert x.crc_response(accounts, "tok")["response_token"] == sign("o2", b"tok")


def test_crc_without_token_is_a_bad_request(accounts: Accounts) -> None:
    with pytest.raises(BadRequest):
        x.crc_response(accounts, "")


def test_crc_with_no_secret_configured_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALCARE_X_CONSUMER_SECRET_ARN", raising=False)
    with pytest.raises(SecretUnavailable):
        x.crc_response(configured_accounts(), "tok")


# ------------------------------------------------------------------ signatures


def test_a_body_signed_with_the_consumer_secret_is_accepted(accounts: Accounts) -> None:
    body = fixture("x_tweet_create_events.json")
    assert x.verify(accounts, body, {x.SIGNATURE_HEADER: sign(CONSUMER, body)}) == {"default"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {x.SIGNATURE_HEADER: ""},
        {x.SIGNATURE_HEADER: sign("another-secret", b"{}")},
        {x.SIGNATURE_HEADER: "sha1=abc"},
    ],
    ids=["missing", "empty", "forged", "wrong-scheme"],
)
def test_missing_or_forged_signatures_are_refused(accounts: Accounts, headers: dict[str, str]) -> None:
    body = fixture("x_tweet_create_events.json")
    with pytest.raises(Unauthorized):
        x.verify(accounts, body, headers)


def test_a_signature_over_other_bytes_is_refused(accounts: Accounts) -> None:
    body = fixture("x_tweet_create_events.json")
    tampered = body.replace(b"ORD-123456", b"ORD-999999")
    with pytest.raises(Unauthorized):
        x.verify(accounts, tampered, {x.SIGNATURE_HEADER: sign(CONSUMER, body)})


def test_the_oauth2_signature_header_is_checked_with_the_oauth2_client_secret(
    x_secret: Callable[[Any], None], accounts: Accounts
) -> None:
    x_secret({"default": {"consumer_secret": "c", "oauth2_client_secret": "o2"}})
    body = b'{"for_user_id": "1"}'
    assert x.verify(accounts, body, {x.OAUTH2_SIGNATURE_HEADER: sign("o2", body)}) == {"default"}
    with pytest.raises(Unauthorized):  # the consumer secret does not sign the oauth2 header
        x.verify(accounts, body, {x.OAUTH2_SIGNATURE_HEADER: sign("c", body)})


def test_an_account_with_its_own_app_rejects_events_signed_by_another_app(
    x_secret: Callable[[Any], None], accounts: Accounts
) -> None:
    x_secret({"default": "app-a", BRAND: "app-b"})
    body = fixture("x_tweet_create_events.json")
    signed_by = x.verify(accounts, body, {x.SIGNATURE_HEADER: sign("app-a", body)})
    account = x.parse(json.loads(body), frozenset()).account
    assert account == BRAND
    with pytest.raises(Unauthorized):
        x.check_account(accounts, account, signed_by)
    x.check_account(accounts, account, x.verify(accounts, body, {x.SIGNATURE_HEADER: sign("app-b", body)}))


def test_an_empty_secret_fails_closed_rather_than_accepting(
    x_secret: Callable[[Any], None], accounts: Accounts
) -> None:
    x_secret("   ")
    body = b"{}"
    with pytest.raises(SecretUnavailable):
        x.verify(accounts, body, {x.SIGNATURE_HEADER: sign("   ", body)})


# ------------------------------------------------------------------ parser


def test_mentions_replies_and_quotes_become_public_interactions_with_full_text_and_reach() -> None:
    parsed = x.parse(json.loads(fixture("x_tweet_create_events.json")), NO_OTHER_BRANDS)
    by_id = {e.interaction.id: e.interaction for e in parsed.events if e.interaction}
    assert set(by_id) == {"x:1860000000000000001", "x:1860000000000000002", "x:1860000000000000003"}
    mention = by_id["x:1860000000000000001"]
    assert mention.text is not None and mention.text.endswith("chiedo il rimborso subito \U0001f621")
    assert "non è mai arrivato" in mention.text  # extended_tweet.full_text, non-ASCII intact
    assert mention.kind is Kind.PUBLIC_POST and mention.channel is Channel.X
    assert mention.author.id == "2244994945" and mention.author.followers == 48200
    assert mention.author.handle == "anna_bianchi" and mention.language == "it"
    assert mention.account_id == BRAND
    assert mention.identifiers[0].kind is IdentifierKind.X and mention.identifiers[0].value == "2244994945"
    assert by_id["x:1860000000000000002"].kind is Kind.PUBLIC_REPLY
    assert by_id["x:1860000000000000002"].thread.parent_id == "1850000000000000009"
    assert by_id["x:1860000000000000003"].metadata["quoted_tweet_id"] == "1850000000000000010"
    assert parsed.ignored == {"x:own_tweet": 1, "x:retweet": 1}
    assert all(e.action is Action.CREATE for e in parsed.events)


def test_tweets_of_any_configured_brand_account_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_BRAND_X_ACCOUNT_IDS", "3300000001, 3300000002")
    parsed = x.parse(json.loads(fixture("x_tweet_create_events.json")), Settings().brand_x_ids)
    assert [e.event_id for e in parsed.events] == ["1860000000000000001"]
    assert parsed.ignored["x:own_tweet"] == 3


def test_dms_take_the_sender_name_from_the_users_map_and_skip_the_brands_own() -> None:
    parsed = x.parse(json.loads(fixture("x_direct_message_events.json")), NO_OTHER_BRANDS)
    assert len(parsed.events) == 1
    dm = parsed.events[0].interaction
    assert dm is not None
    assert dm.id == "x:1860000000000000777" and dm.kind is Kind.DIRECT_MESSAGE
    assert dm.author.name == "Anna Bianchi" and dm.author.handle == "anna_bianchi"
    assert dm.thread.conversation_id == f"2244994945-{BRAND}"
    assert dm.text is not None and "+39 333 111 2222" in dm.text
    assert parsed.events[0].group_id == "x:2244994945"
    assert parsed.ignored == {"x:dm_sent_by_brand": 1}


def test_a_tweet_delete_becomes_a_delete_of_the_stored_interaction_in_the_authors_group() -> None:
    parsed = x.parse(json.loads(fixture("x_tweet_delete_events.json")), NO_OTHER_BRANDS)
    (event,) = parsed.events
    assert event.action is Action.DELETE
    assert event.target_id == "x:1860000000000000001"
    assert event.group_id == "x:2244994945"  # queued behind the author's earlier events
    create = x.parse(json.loads(fixture("x_tweet_create_events.json")), NO_OTHER_BRANDS).events[0]
    assert dedupe_id(event) != dedupe_id(create)


def test_likes_and_follows_are_counted_engagement_never_messages() -> None:
    parsed = x.parse(json.loads(fixture("x_engagement_events.json")), NO_OTHER_BRANDS)
    assert parsed.events == []
    assert parsed.ignored == {"x:favorite_events": 1, "x:follow_events": 1}


def test_unknown_activity_types_are_ignored_and_counted() -> None:
    parsed = x.parse({"for_user_id": BRAND, "brand_new_events": [{}, {}]}, NO_OTHER_BRANDS)
    assert parsed.events == [] and parsed.ignored == {"x:unknown:brand_new_events": 2}


@pytest.mark.parametrize(
    "payload",
    [[], "text", {"tweet_create_events": []}, {"hello": "world"}, {"for_user_id": {"id": 1}, "favorite_events": []}],
    ids=["array", "string", "no-for_user_id", "not-an-x-body", "for_user_id-not-an-id"],
)
def test_valid_json_of_the_wrong_shape_is_rejected_as_a_bad_request(payload: Any) -> None:
    with pytest.raises((BadRequest, ValidationError)):
        x.parse(payload, NO_OTHER_BRANDS)


def test_redelivered_payload_produces_identical_ids_and_dedupe_ids() -> None:
    body = json.loads(fixture("x_tweet_create_events.json"))
    first, second = x.parse(body, NO_OTHER_BRANDS), x.parse(json.loads(json.dumps(body)), NO_OTHER_BRANDS)
    assert [dedupe_id(e) for e in first.events] == [dedupe_id(e) for e in second.events]
    assert [e.group_id for e in first.events] == [e.group_id for e in second.events]


def test_poller_v2_objects_map_to_the_same_interaction_id_and_dedupe_id_as_the_webhook() -> None:
    webhook_event = x.parse(json.loads(fixture("x_tweet_create_events.json")), NO_OTHER_BRANDS).events[0]
    v2 = {
        "id": "1860000000000000001",
        "author_id": "2244994945",
        "text": "@brand il mio ordine ORD-123456 non è mai arrivato",
        "created_at": "2026-11-22T06:00:00.000Z",
        "conversation_id": "1860000000000000001",
    }
    users = {"2244994945": {"id": "2244994945", "name": "Anna Bianchi", "username": "anna_bianchi",
                            "public_metrics": {"followers_count": 48200}}}
    interaction = x_api.v2_tweet_interaction(v2, users, BRAND)
    assert interaction is not None
    polled = webhook_event.model_copy(update={"interaction": interaction, "source": "x-poller"})
    assert dedupe_id(polled) == dedupe_id(webhook_event) and polled.group_id == webhook_event.group_id
    assert interaction.author.followers == 48200
    retweet = {**v2, "referenced_tweets": [{"type": "retweeted", "id": "1"}]}
    assert x_api.v2_tweet_interaction(retweet, users, BRAND) is None


# ------------------------------------------------------------------ every documented activity


def corpus(name: str) -> Any:
    return json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))["body"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("aaa-favorite-events", "x:favorite_events"), ("aaa-follow-events", "x:follow_events"),
        ("aaa-unfollow-events", "x:follow_events"), ("aaa-block-events", "x:block_events"),
        ("aaa-unblock-events", "x:block_events"), ("aaa-mute-events", "x:mute_events"),
        ("aaa-unmute-events", "x:mute_events"),
        ("aaa-direct-message-indicate-typing", "x:direct_message_indicate_typing_events"),
        ("aaa-direct-message-mark-read", "x:direct_message_mark_read_events"),
        ("aaa-replay-job-incomplete", "x:replay_job_status:incomplete"),
        ("aaa-tweet-create-retweet", "x:retweet"), ("aaa-tweet-create-own-post", "x:own_tweet"),
        ("aaa-dm-sent-by-brand", "x:dm_sent_by_brand"),
        ("xaa-like-create", "x:activity:like.create"), ("xaa-chat-received", "x:activity:chat.received"),
        ("xaa-oauth-revoke", "x:activity:oauth.revoke"), ("xaa-post-repost-create", "x:retweet"),
        ("xaa-post-create", "x:own_tweet"), ("xaa-dm-sent", "x:dm_sent_by_brand"),
    ],
)
def test_documented_activities_that_carry_no_customer_message_are_counted_by_what_they_are(
    name: str, reason: str
) -> None:
    parsed = x.parse(corpus(name), NO_OTHER_BRANDS)
    assert parsed.events == [] and parsed.ignored == {reason: 1}


def test_a_revoked_app_user_event_without_for_user_id_is_acknowledged_not_refused() -> None:
    parsed = x.parse(corpus("aaa-user-event-revoke"), NO_OTHER_BRANDS)
    assert parsed.events == [] and parsed.ignored == {"x:user_event:revoke": 1} and parsed.account is None


def test_a_post_with_a_video_keeps_its_full_text_and_the_best_mp4_as_a_link() -> None:
    (event,) = x.parse(corpus("aaa-tweet-create-video"), NO_OTHER_BRANDS).events
    interaction = event.interaction
    assert interaction is not None and interaction.text is not None
    assert "rebuilding the X API v2 from the ground up" in interaction.text  # extended_tweet.full_text
    (video,) = interaction.attachments
    assert video.type == "video" and video.url is not None and video.url.startswith("https://video.twimg.com/")
    assert "1280x720" in video.url  # the highest-bitrate mp4 variant


def test_a_mention_with_a_gif_and_a_dm_with_a_gif_keep_the_media_as_links() -> None:
    (post,) = x.parse(corpus("zammad-mention-with-media"), NO_OTHER_BRANDS).events
    (dm,) = x.parse(corpus("zammad-dm-incoming-with-media"), NO_OTHER_BRANDS).events
    assert post.interaction is not None and dm.interaction is not None
    assert [a.url for a in post.interaction.attachments] == ["https://video.twimg.com/tweet_video/EMeXU-7UYAEm71w.mp4"]
    assert dm.interaction.attachments[0].url is not None
    assert dm.interaction.attachments[0].url.endswith(".mp4") and dm.interaction.author.handle == "pennbrooke1"


def test_a_quote_post_shows_the_agent_what_was_quoted() -> None:
    (event,) = x.parse(corpus("aaa-tweet-create-quote"), NO_OTHER_BRANDS).events
    assert event.interaction is not None
    content = event.interaction.content
    assert content["type"] == "quote" and content["tweet_id"] == "1327011423252144128"
    assert content["author"] == "XDevelopers" and "Friendly reminder" in content["text"]


def test_a_quick_reply_answer_keeps_the_chosen_option_and_how_the_conversation_began() -> None:
    (event,) = x.parse(corpus("aaa-dm-quick-reply-response"), NO_OTHER_BRANDS).events
    dm = event.interaction
    assert dm is not None and dm.text == "Blue Bird"
    assert dm.content == {"type": "quick_reply", "option": "external_id_2"}
    assert dm.metadata["initiated_via_welcome_message_id"] == "456789"


def test_activity_api_mentions_dms_and_deletes_map_to_the_account_activity_ids() -> None:
    (mention,) = x.parse(corpus("xaa-post-mention-create"), NO_OTHER_BRANDS).events
    (dm,) = x.parse(corpus("xaa-dm-received"), NO_OTHER_BRANDS).events
    (delete,) = x.parse(corpus("xaa-post-delete"), NO_OTHER_BRANDS).events
    assert mention.interaction is not None and mention.interaction.id == "x:2080765813578191303"
    assert mention.interaction.author.handle == "OtherUser" and mention.interaction.account_id == "1111111111111111111"
    assert dm.interaction is not None and dm.interaction.kind is Kind.DIRECT_MESSAGE
    assert dm.interaction.author.name == "OtherUser" and dm.interaction.text == "hello!"
    assert (delete.action, delete.target_id) == (Action.DELETE, "x:2080761269309813134")


# ------------------------------------------------------------------ one bad event costs only itself


def test_each_event_is_validated_on_its_own() -> None:
    body = json.loads(fixture("x_tweet_create_events.json"))
    good = body["tweet_create_events"][0]
    body["tweet_create_events"] = [
        {**good, "id_str": "11", "timestamp_ms": "-"},
        {**good, "id_str": "12", "timestamp_ms": "99999999999999999999"},  # OverflowError, past year 9999
        {key: value for key, value in good.items() if key != "user"} | {"id_str": "13"},
        "not an object",
        good,
    ]
    body["direct_message_events"] = {"type": "message_create"}  # not a list at all
    parsed = x.parse(body, NO_OTHER_BRANDS)
    assert [e.event_id for e in parsed.events] == [good["id_str"]]
    assert parsed.ignored == {"x:invalid:tweet_create_events": 4, "x:invalid:direct_message_events": 1}
    assert [i["where"] for i in parsed.invalid] == [
        "tweet_create_events[0]", "tweet_create_events[1]", "tweet_create_events[2]", "tweet_create_events[3]",
        "direct_message_events",
    ]
    assert all("ORD-123456" not in i["error"] for i in parsed.invalid)  # where and why, never the text


def test_a_malformed_users_entry_costs_only_the_name() -> None:
    body = json.loads(fixture("x_direct_message_events.json"))
    sender = next(iter(k for k in body["users"] if k != BRAND))
    body["users"][sender] = {"id": sender, "followers_count": "many"}
    (event,) = x.parse(body, NO_OTHER_BRANDS).events
    assert event.interaction is not None and event.interaction.author.name is None
