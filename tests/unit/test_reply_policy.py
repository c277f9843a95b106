"""The platforms' reply rules (domain.replies.policy over the shipped config/replies.yaml): which
route a reply takes, tested at the edges of every window, and why it is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from socialcare.config.loader import CONFIG_DIR, load_rules
from socialcare.domain.replies.policy import ReplyRules, choose, disclosure, reply_options
from socialcare.errors import ConfigurationError
from socialcare.models.interaction import Channel, Kind
from socialcare.models.reply import ReplyRefused, ReplyRoute, ReplyTo, TemplateRef, Visibility

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def rules() -> ReplyRules:
    return load_rules(ReplyRules)  # the shipped replies.yaml


def target(channel: str, kind: str, wrote: timedelta, **extra: Any) -> ReplyTo:
    """The customer's interaction, written ``wrote`` before NOW (their latest on the channel)."""
    return ReplyTo(interaction_id=f"{channel}:1", channel=Channel(channel), kind=Kind(kind),
                   public=kind != "direct_message", platform_message_id="m1", author_id="u1",
                   occurred_at=NOW - wrote, last_inbound_at=NOW - wrote, **extra)


def refusal(to: ReplyTo, rules: ReplyRules, **kwargs: Any) -> ReplyRefused:
    with pytest.raises(ReplyRefused) as caught:
        choose(to, rules, NOW, **kwargs)
    assert caught.value.status == 409
    return caught.value


def with_rules(rules: ReplyRules, **changes: Any) -> ReplyRules:
    data = rules.model_dump()
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return ReplyRules.model_validate(data)


# ----------------------------------------------------------------------------- the shipped file
def test_the_shipped_rules_carry_the_platform_numbers_and_their_dates(rules: ReplyRules) -> None:
    assert rules.windows.messenger == rules.windows.instagram == rules.windows.whatsapp == timedelta(hours=24)
    assert rules.windows.human_agent_tag == rules.windows.private_reply == WEEK
    assert rules.prices.x.post_with_link_usd > rules.prices.x.post_usd > 0
    assert rules.prices.x.read_on.isoformat() == "2026-12-01" and rules.prices.x.source.startswith("https://")
    assert rules.prices.whatsapp.market == "IT" and rules.prices.whatsapp.estimate
    assert rules.human_agent_tag.messenger and rules.human_agent_tag.instagram


# ----------------------------------------------------------------------------- Messenger / Instagram DMs
@pytest.mark.parametrize("channel", ["messenger", "instagram"])
@pytest.mark.parametrize(("wrote", "route"), [
    (timedelta(hours=23, minutes=59), ReplyRoute.MESSAGE),
    (timedelta(hours=24) + MINUTE, ReplyRoute.HUMAN_AGENT_TAG),
    (WEEK - MINUTE, ReplyRoute.HUMAN_AGENT_TAG),
])
def test_a_meta_dm_is_answered_in_the_window_then_with_the_human_agent_tag(
    rules: ReplyRules, channel: str, wrote: timedelta, route: ReplyRoute
) -> None:
    option, template = choose(target(channel, "direct_message", wrote), rules, NOW)
    assert (option.route, option.visibility, template) == (route, Visibility.PRIVATE, None)
    assert option.available and option.until is not None and option.until > NOW


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_a_meta_dm_a_week_old_cannot_be_answered(rules: ReplyRules, channel: str) -> None:
    refused = refusal(target(channel, "direct_message", WEEK + MINUTE), rules)
    assert refused.code == "messaging_window_closed" and refused.rule == f"{channel}_24h_window"
    assert "24-hour messaging window closed" in refused.detail and "7-day human agent window closed 1 min ago" \
        in refused.detail and "last wrote 7 days ago" in refused.detail
    body = refused.body()
    assert body["error"] == "messaging_window_closed" and not any(o["available"] for o in body["options"])


def test_an_automated_reply_never_uses_the_human_agent_tag(rules: ReplyRules) -> None:
    late = target("messenger", "direct_message", DAY + MINUTE)
    refused = refusal(late, rules, human=False)
    assert refused.code == "messaging_window_closed" and "automated" in refused.detail
    tag = next(o for o in reply_options(late, rules, NOW, human=False) if o.route is ReplyRoute.HUMAN_AGENT_TAG)
    assert not tag.available and tag.requires == "human"
    in_window = target("messenger", "direct_message", timedelta(hours=2))
    assert choose(in_window, rules, NOW, human=False)[0].route is ReplyRoute.MESSAGE


def test_the_human_agent_tag_can_be_turned_off_per_channel(rules: ReplyRules) -> None:
    no_tag = with_rules(rules, human_agent_tag__instagram=False)
    refused = refusal(target("instagram", "direct_message", DAY + MINUTE), no_tag)
    assert refused.code == "messaging_window_closed" and "turned off for Instagram" in refused.detail
    assert choose(target("messenger", "direct_message", DAY + MINUTE), no_tag, NOW)[0].route \
        is ReplyRoute.HUMAN_AGENT_TAG


def test_the_options_say_every_route_its_deadline_and_how_long_ago_the_customer_wrote(rules: ReplyRules) -> None:
    to = target("messenger", "direct_message", timedelta(hours=3, minutes=12))
    options = {o.route: o for o in reply_options(to, rules, NOW)}
    assert set(options) == {ReplyRoute.MESSAGE, ReplyRoute.HUMAN_AGENT_TAG}
    message, tag = options[ReplyRoute.MESSAGE], options[ReplyRoute.HUMAN_AGENT_TAG]
    assert message.until == to.last_inbound_at + DAY and tag.until == to.last_inbound_at + WEEK
    assert "24-hour messaging window is open" in message.detail and "3 h 12 min ago" in message.detail
    assert "closes in 20 h 48 min" in message.detail
    assert message.estimated_cost_usd == 0.0 and tag.requires == "human"


def test_a_public_reply_to_a_private_message_is_refused(rules: ReplyRules) -> None:
    refused = refusal(target("messenger", "direct_message", MINUTE), rules, visibility=Visibility.PUBLIC)
    assert refused.code == "visibility_unavailable"


# ----------------------------------------------------------------------------- WhatsApp
def test_whatsapp_is_answered_freely_inside_the_customer_service_window(rules: ReplyRules) -> None:
    option, template = choose(target("whatsapp", "direct_message", timedelta(hours=23, minutes=59)), rules, NOW)
    assert (option.route, template) == (ReplyRoute.MESSAGE, None)
    assert option.estimated_cost_usd == rules.prices.whatsapp.service_usd


def test_whatsapp_after_the_window_without_a_template_is_refused(rules: ReplyRules) -> None:
    refused = refusal(target("whatsapp", "direct_message", timedelta(hours=24) + MINUTE), rules)
    assert refused.code == "messaging_window_closed" and refused.rule == "whatsapp_24h_window"
    assert "WhatsApp's 24-hour customer service window closed 1 min ago" in refused.detail
    assert "no template is configured" in refused.detail
    template_option = next(o for o in refused.options if o.route is ReplyRoute.TEMPLATE)
    assert template_option.available and template_option.requires == "template"


def test_whatsapp_after_the_window_sends_the_configured_template(rules: ReplyRules) -> None:
    configured = with_rules(rules, whatsapp_templates__default={"name": "case_update", "language": "it"},
                            whatsapp_templates__by_account={"PN-2": {"name": "ticket_news", "language": "en_US",
                                                                     "category": "utility"}})
    late = target("whatsapp", "direct_message", 3 * DAY)
    option, template = choose(late, configured, NOW)
    assert option.route is ReplyRoute.TEMPLATE and template == TemplateRef(name="case_update", language="it")
    _, own = choose(late.model_copy(update={"account_id": "PN-2"}), configured, NOW)
    assert own is not None and own.name == "ticket_news"  # the account's own template wins


@pytest.mark.parametrize("wrote", [timedelta(hours=1), 3 * DAY])
def test_whatsapp_sends_a_template_the_request_names_inside_or_outside_the_window(
    rules: ReplyRules, wrote: timedelta
) -> None:
    named = TemplateRef(name="order_delay", language="it", parameters=["LX-2026-004711"], category="marketing")
    option, template = choose(target("whatsapp", "direct_message", wrote), rules, NOW, template=named)
    assert option.route is ReplyRoute.TEMPLATE and template == named
    assert option.estimated_cost_usd == rules.prices.whatsapp.marketing_usd


def test_whatsapp_utility_templates_are_free_in_the_window_when_the_rate_card_says_so(rules: ReplyRules) -> None:
    utility = TemplateRef(name="order_update", category="utility")
    old_card = with_rules(rules, prices__whatsapp__utility_free_in_window=True)
    fresh = target("whatsapp", "direct_message", timedelta(hours=2))
    late = target("whatsapp", "direct_message", 2 * DAY)
    assert choose(fresh, old_card, NOW, template=utility)[0].estimated_cost_usd == 0.0
    assert choose(late, old_card, NOW, template=utility)[0].estimated_cost_usd == rules.prices.whatsapp.utility_usd
    new_card = with_rules(rules, prices__whatsapp__utility_free_in_window=False)
    assert choose(fresh, new_card, NOW, template=utility)[0].estimated_cost_usd == rules.prices.whatsapp.utility_usd


# ----------------------------------------------------------------------------- Facebook / Instagram comments
@pytest.mark.parametrize("channel", ["facebook", "instagram"])
def test_a_comment_is_answered_publicly_by_default_at_any_age(rules: ReplyRules, channel: str) -> None:
    option, _ = choose(target(channel, "comment", 90 * DAY), rules, NOW)
    assert (option.route, option.visibility, option.until) == (ReplyRoute.PUBLIC_REPLY, Visibility.PUBLIC, None)


@pytest.mark.parametrize("channel", ["facebook", "instagram"])
def test_one_private_reply_to_a_comment_within_seven_days(rules: ReplyRules, channel: str) -> None:
    option, _ = choose(target(channel, "comment", WEEK - MINUTE), rules, NOW, visibility=Visibility.PRIVATE)
    assert option.route is ReplyRoute.PRIVATE_REPLY and option.until == NOW + MINUTE

    too_old = refusal(target(channel, "comment", WEEK + MINUTE), rules, visibility=Visibility.PRIVATE)
    assert too_old.code == "private_reply_unavailable" and "7-day private reply window closed 1 min ago" \
        in too_old.detail
    used = refusal(target(channel, "comment", DAY, private_replied=True), rules, visibility=Visibility.PRIVATE)
    assert used.code == "private_reply_unavailable" and "already sent" in used.detail


def test_instagram_private_replies_answer_comments_only(rules: ReplyRules) -> None:
    refused = refusal(target("instagram", "public_post", DAY), rules, visibility=Visibility.PRIVATE)
    assert refused.code == "private_reply_unavailable" and "comments only" in refused.detail


# ----------------------------------------------------------------------------- X
@pytest.mark.parametrize("kind", ["public_post", "public_reply"])
def test_x_public_posts_have_no_window(rules: ReplyRules, kind: str) -> None:
    to = target("x", kind, 365 * DAY)
    assert choose(to, rules, NOW)[0].route is ReplyRoute.PUBLIC_REPLY
    dm, _ = choose(to, rules, NOW, visibility=Visibility.PRIVATE)
    assert dm.route is ReplyRoute.DIRECT_MESSAGE and dm.available and "DM settings" in dm.detail


def test_x_prices_a_post_with_a_link_higher(rules: ReplyRules) -> None:
    to = target("x", "public_post", DAY)

    def public_cost(text: str) -> float | None:
        return next(o for o in reply_options(to, rules, NOW, text=text) if o.visibility == "public").estimated_cost_usd

    assert public_cost("Sorry! We are on it") == rules.prices.x.post_usd
    assert public_cost("See https://help.example.com/x") == rules.prices.x.post_with_link_usd
    chosen, _ = choose(to, rules, NOW, text="link: HTTPS://x.example")
    assert chosen.estimated_cost_usd == rules.prices.x.post_with_link_usd


def test_an_x_dm_is_answered_in_the_conversation_never_publicly(rules: ReplyRules) -> None:
    to = target("x", "direct_message", 30 * DAY)
    option, _ = choose(to, rules, NOW)
    assert option.route is ReplyRoute.MESSAGE and option.estimated_cost_usd == rules.prices.x.dm_usd
    assert refusal(to, rules, visibility=Visibility.PUBLIC).code == "visibility_unavailable"


@pytest.mark.parametrize(("channel", "kind"), [("x", "public_post"), ("messenger", "direct_message"),
                                               ("facebook", "comment")])
def test_templates_are_refused_off_whatsapp(rules: ReplyRules, channel: str, kind: str) -> None:
    refused = refusal(target(channel, kind, MINUTE), rules, template=TemplateRef(name="order_update"))
    assert refused.code == "template_not_allowed" and "only on WhatsApp" in refused.detail


# ----------------------------------------------------------------------------- no social route
@pytest.mark.parametrize(("channel", "kind"), [("phone", "call"), ("email", "email"), ("chat", "chat"),
                                               ("web", "form")])
def test_channels_without_a_social_route(rules: ReplyRules, channel: str, kind: str) -> None:
    to = target(channel, kind, MINUTE)
    assert not any(o.available for o in reply_options(to, rules, NOW))
    refused = refusal(to, rules)
    assert refused.code == "no_reply_route" and refused.body()["options"] == []


# ----------------------------------------------------------------------------- disclosure
@pytest.mark.parametrize(("language", "expected"), [
    ("it", "Questo messaggio è stato inviato automaticamente."),
    ("it-IT", "Questo messaggio è stato inviato automaticamente."),
    ("it_IT", "Questo messaggio è stato inviato automaticamente."),
    ("en", "This message was sent automatically."),
    ("fr", "This message was sent automatically."),
    (None, "This message was sent automatically."),
])
def test_the_disclosure_is_in_the_customers_language_else_english(
    rules: ReplyRules, language: str | None, expected: str
) -> None:
    assert disclosure(rules, language) == expected


# ----------------------------------------------------------------------------- the numbers live in the YAML
def test_a_deployment_changes_a_window_in_its_own_replies_yaml(tmp_path: Path) -> None:
    shipped = (CONFIG_DIR / "replies.yaml").read_text(encoding="utf-8")
    (tmp_path / "replies.yaml").write_text(shipped.replace("  whatsapp: 24h", "  whatsapp: 48h", 1), encoding="utf-8")
    longer = load_rules(ReplyRules, str(tmp_path))
    option, _ = choose(target("whatsapp", "direct_message", 47 * timedelta(hours=1)), longer, NOW)
    assert option.route is ReplyRoute.MESSAGE and "48-hour customer service window" in option.detail


@pytest.mark.parametrize(("edit", "field"), [
    ("whatsapp_templates:\n  default: {name: case_update, langauge: it}\n", "langauge"),
    ("windows: {whatsapp: 24 hours}\n", "bad duration"),
    ("disclosure: {it: Messaggio automatico.}\n", "default language"),
    ("human_agent_tag: {messenger: true, whatsapp: true}\n", "whatsapp"),
])
def test_a_broken_replies_yaml_names_what_is_wrong(tmp_path: Path, edit: str, field: str) -> None:
    shipped = (CONFIG_DIR / "replies.yaml").read_text(encoding="utf-8")
    key = edit.split(":", 1)[0]
    kept = _without_top_level_key(shipped, key)
    (tmp_path / "replies.yaml").write_text(kept + edit, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=rf"replies.yaml is invalid: .*{field}"):
        load_rules(ReplyRules, str(tmp_path))


def _without_top_level_key(text: str, key: str) -> str:
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.startswith(f"{key}:")
        if not skipping:
            out.append(line)
    return "".join(out)


def test_a_template_in_the_rules_is_checked_like_a_request(rules: ReplyRules) -> None:
    with pytest.raises(ValidationError):
        with_rules(rules, whatsapp_templates__default={"name": "", "language": "it"})
