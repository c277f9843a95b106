"""The platforms' reply rules as a pure check: which routes a reply to one customer interaction may
take now (``reply_options``), the one it takes (``choose``), and the disclosure an automated
reply carries (``disclosure``).

Every number (windows, prices, templates, the human agent tag) comes from ``config/replies.yaml``
(``ReplyRules``); the code only knows which platform offers which route. No I/O and no clock:
``now`` is passed in, so the rules are tested at their edges. A window is open while
``now < start + window``; a public target is a post, a reply or a comment (``PUBLIC_KINDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from socialcare.config.rules import ReplyRules
from socialcare.models.interaction import PUBLIC_KINDS, Channel, Kind
from socialcare.models.reply import ReplyOption, ReplyRefused, ReplyRoute, ReplyTo, TemplateRef, Visibility

__all__ = ["ReplyRules", "choose", "disclosure", "reply_options"]

_NAME = {Channel.X: "X", Channel.FACEBOOK: "Facebook", Channel.MESSENGER: "Messenger",
         Channel.INSTAGRAM: "Instagram", Channel.WHATSAPP: "WhatsApp", Channel.PHONE: "The phone channel",
         Channel.EMAIL: "E-mail", Channel.CHAT: "Chat", Channel.WEB: "The web channel"}
# Private replies answer a comment; on Facebook also a visitor's post on the Page (Meta's
# Private Replies page: "a person who published a post on your business' Facebook Page").
_PRIVATE_REPLY_KINDS = {Channel.FACEBOOK: frozenset({Kind.COMMENT, Kind.PUBLIC_REPLY, Kind.PUBLIC_POST}),
                        Channel.INSTAGRAM: frozenset({Kind.COMMENT, Kind.PUBLIC_REPLY})}
_META_DM = (Channel.MESSENGER, Channel.INSTAGRAM)


@dataclass(frozen=True)
class _Route:
    option: ReplyOption
    error: str | None = None  # the refusal code while the route is closed


# ----------------------------------------------------------------------------- wording
def _duration(delta: timedelta) -> str:
    """'less than a minute', '42 min', '23 h 59 min', '1 day 2 h', '6 days 23 h'."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' if days > 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins and not days else []
    return " ".join(parts)


def _span(window: timedelta) -> str:
    """The window as the platforms name it: '24-hour', '7-day'."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 3 * 86400:
        return f"{seconds // 86400}-day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    return f"{seconds // 60}-minute"


def _since(now: datetime, start: datetime) -> timedelta:
    return max(now - start, timedelta(0))


def _window(owner: str, kind: str, window: timedelta, start: datetime, now: datetime,
            what: str) -> tuple[bool, datetime, str]:
    """(open, when it closes, a sentence naming the window and how long ago ``what`` happened),
    e.g. "Messenger's 24-hour messaging window is open: the customer last wrote 2 h ago; ..."."""
    until = start + window
    named = f"{owner} {_span(window)} {kind} window"
    ago = _duration(_since(now, start))
    if now < until:
        return True, until, f"{named} is open: {what} {ago} ago; it closes in {_duration(until - now)}."
    return False, until, f"{named} closed {_duration(now - until)} ago: {what} {ago} ago."


# ----------------------------------------------------------------------------- routes per channel
def _x(to: ReplyTo, rules: ReplyRules, now: datetime, text: str | None) -> list[_Route]:
    prices = rules.prices.x
    ago = _duration(_since(now, to.last_inbound_at))
    dm_note = "X sets no time limit, but the customer's DM settings may still refuse it when it is sent."
    if to.kind not in PUBLIC_KINDS:
        return [_Route(ReplyOption(
            route=ReplyRoute.MESSAGE, visibility=Visibility.PRIVATE, available=True, rule="x_direct_message",
            detail=f"A DM in the customer's conversation (they last wrote {ago} ago): {dm_note}",
            estimated_cost_usd=prices.dm_usd))]
    link = text is not None and "http" in text.lower()
    price = (f"X charges ${prices.post_with_link_usd:.3f} for a post with a link" if link else
             f"X charges ${prices.post_usd:.3f} per post (${prices.post_with_link_usd:.3f} with a link)")
    return [
        _Route(ReplyOption(
            route=ReplyRoute.PUBLIC_REPLY, visibility=Visibility.PUBLIC, available=True, rule="x_public_reply",
            detail=f"A public reply under the customer's post (written {_duration(_since(now, to.occurred_at))} "
                   f"ago): X sets no time limit. {price}.",
            estimated_cost_usd=prices.post_with_link_usd if link else prices.post_usd)),
        _Route(ReplyOption(
            route=ReplyRoute.DIRECT_MESSAGE, visibility=Visibility.PRIVATE, available=True, rule="x_direct_message",
            detail=f"A DM to the post's author: {dm_note}", estimated_cost_usd=prices.dm_usd)),
    ]


def _meta_public(to: ReplyTo, rules: ReplyRules, now: datetime) -> list[_Route]:
    name, channel = _NAME[to.channel], to.channel.value
    what = "comment" if to.kind is not Kind.PUBLIC_POST else "post"
    public = _Route(ReplyOption(
        route=ReplyRoute.PUBLIC_REPLY, visibility=Visibility.PUBLIC, available=True, rule=f"{channel}_comment_reply",
        detail=f"A public reply under the customer's {what}: {name} sets no time limit.",
        estimated_cost_usd=rules.prices.meta_usd))
    rule = f"{channel}_private_reply_7d"
    is_open, until, detail = _window(f"{name}'s", "private reply", rules.windows.private_reply, to.occurred_at, now,
                                     f"the {what} was written")
    closes: datetime | None = until
    if to.kind not in _PRIVATE_REPLY_KINDS[to.channel]:
        is_open, closes, detail = False, None, f"{name} private replies answer comments only; this is a {what}."
    elif to.private_replied:
        is_open, closes, detail = False, None, f"A private reply to this {what} was already sent: {name} allows " \
                                               f"one per {what}."
    elif is_open:
        detail += f" One private message to its author, once per {what}."
    private = _Route(ReplyOption(
        route=ReplyRoute.PRIVATE_REPLY, visibility=Visibility.PRIVATE, available=is_open, until=closes, rule=rule,
        detail=detail, estimated_cost_usd=rules.prices.meta_usd), None if is_open else "private_reply_unavailable")
    return [public, private]


def _meta_dm(to: ReplyTo, rules: ReplyRules, now: datetime, human: bool) -> list[_Route]:
    name, channel = _NAME[to.channel], to.channel.value
    window = rules.windows.messenger if to.channel is Channel.MESSENGER else rules.windows.instagram
    is_open, until, detail = _window(f"{name}'s", "messaging", window, to.last_inbound_at, now,
                                     "the customer last wrote")
    message = _Route(ReplyOption(
        route=ReplyRoute.MESSAGE, visibility=Visibility.PRIVATE, available=is_open, until=until,
        rule=f"{channel}_24h_window", detail=detail, estimated_cost_usd=rules.prices.meta_usd),
        None if is_open else "messaging_window_closed")
    tag_open, tag_until, tag_detail = _window("The", "human agent", rules.windows.human_agent_tag, to.last_inbound_at,
                                              now, "the customer last wrote")
    enabled = rules.human_agent_tag.messenger if to.channel is Channel.MESSENGER else rules.human_agent_tag.instagram
    if not enabled:
        tag_open, tag_detail = False, f"The HUMAN_AGENT tag is turned off for {name} in replies.yaml."
    elif not human:
        tag_open, tag_detail = False, "Only a reply a person wrote may use the HUMAN_AGENT tag; this one is automated."
    elif tag_open:
        tag_detail += " A reply a person wrote may use the HUMAN_AGENT tag."
    tag = _Route(ReplyOption(
        route=ReplyRoute.HUMAN_AGENT_TAG, visibility=Visibility.PRIVATE, available=tag_open, until=tag_until,
        rule=f"{channel}_human_agent_7d", detail=tag_detail, estimated_cost_usd=rules.prices.meta_usd,
        requires="human"), None if tag_open else "messaging_window_closed")
    return [message, tag]


def _configured_template(rules: ReplyRules, to: ReplyTo) -> TemplateRef | None:
    templates = rules.whatsapp_templates
    found = templates.by_account.get(to.account_id or "") or templates.default
    # A plain TemplateRef: the caller puts it on an OutboundMessage.
    return TemplateRef.model_validate(found.model_dump()) if found is not None else None


def _whatsapp(to: ReplyTo, rules: ReplyRules, now: datetime) -> list[_Route]:
    prices = rules.prices.whatsapp
    is_open, until, detail = _window("WhatsApp's", "customer service", rules.windows.whatsapp, to.last_inbound_at, now,
                                     "the customer last wrote")
    message = _Route(ReplyOption(
        route=ReplyRoute.MESSAGE, visibility=Visibility.PRIVATE, available=is_open, until=until,
        rule="whatsapp_24h_window", detail=detail, estimated_cost_usd=prices.service_usd),
        None if is_open else "messaging_window_closed")
    configured = _configured_template(rules, to)
    named = (f"configured: '{configured.name}' ({configured.language})" if configured is not None
             else "none is configured: name one in the request or set whatsapp_templates in replies.yaml")
    template = _Route(ReplyOption(
        route=ReplyRoute.TEMPLATE, visibility=Visibility.PRIVATE, available=True, rule="whatsapp_template",
        detail=f"An approved template message may be sent at any time; {named}.",
        estimated_cost_usd=prices.template_usd(configured.category if configured else None, in_window=is_open),
        requires="template"))
    return [message, template]


def _routes(to: ReplyTo, rules: ReplyRules, now: datetime, human: bool, text: str | None) -> list[_Route]:
    if to.channel is Channel.X:
        return _x(to, rules, now, text)
    if to.channel in _PRIVATE_REPLY_KINDS and to.kind in PUBLIC_KINDS:
        return _meta_public(to, rules, now)
    if to.channel in _META_DM and to.kind is Kind.DIRECT_MESSAGE:
        return _meta_dm(to, rules, now, human)
    if to.channel is Channel.WHATSAPP:
        return _whatsapp(to, rules, now)
    return []  # phone, e-mail, chat, web: socialcare sends no reply there


# ----------------------------------------------------------------------------- the check
def reply_options(to: ReplyTo, rules: ReplyRules, now: datetime, *, human: bool = True,
                  text: str | None = None) -> list[ReplyOption]:
    """Every route ``to``'s channel and kind know, open or not, with why; none for a channel
    socialcare does not answer on. ``text`` refines the cost (an X post with a link costs more)."""
    return [r.option for r in _routes(to, rules, now, human, text)]


def choose(to: ReplyTo, rules: ReplyRules, now: datetime, *, visibility: Visibility | None = None,
           template: TemplateRef | None = None, human: bool = True,
           text: str | None = None) -> tuple[ReplyOption, TemplateRef | None]:
    """The route a reply takes and the template it sends (WhatsApp only), or ReplyRefused (409).

    By default the reply goes where the customer wrote, as visibly as they did; ``visibility=
    private`` on a public post or comment asks for a private reply (X: a DM). When that route
    is closed, a person's reply on Messenger/Instagram falls back to the HUMAN_AGENT tag and a
    WhatsApp reply to the configured template."""
    routes = _routes(to, rules, now, human, text)
    options = [r.option for r in routes]
    name = _NAME[to.channel]
    if not routes:
        raise ReplyRefused("no_reply_route", "no_social_route",
                           f"{name} has no reply route in socialcare: answer the customer there directly.", [])
    by_route = {r.option.route: r for r in routes}
    wanted = visibility or (Visibility.PUBLIC if to.kind in PUBLIC_KINDS else Visibility.PRIVATE)
    if template is not None:
        if to.channel is not Channel.WHATSAPP:
            raise ReplyRefused("template_not_allowed", "templates_whatsapp_only",
                               f"Message templates exist only on WhatsApp; on {name} send a text reply.", options)
        if wanted is Visibility.PUBLIC:
            raise _not_visible(to, options)
        chosen = by_route[ReplyRoute.TEMPLATE].option
        in_window = by_route[ReplyRoute.MESSAGE].option.available
        cost = rules.prices.whatsapp.template_usd(template.category, in_window=in_window)
        return chosen.model_copy(update={"estimated_cost_usd": cost,
                                         "detail": f"The template '{template.name}' ({template.language}) "
                                                   f"named in the request: allowed at any time."}), template
    route = _default_route(to, wanted, options)
    found = by_route.get(route)
    if found is None:
        raise _not_visible(to, options)
    if found.option.available:
        return found.option, None
    if route is ReplyRoute.MESSAGE and to.channel in _META_DM:
        tag = by_route[ReplyRoute.HUMAN_AGENT_TAG].option
        if tag.available:
            return tag, None
        raise ReplyRefused("messaging_window_closed", found.option.rule, f"{found.option.detail} {tag.detail}",
                           options)
    if route is ReplyRoute.MESSAGE and to.channel is Channel.WHATSAPP:
        configured = _configured_template(rules, to)
        if configured is not None:
            return by_route[ReplyRoute.TEMPLATE].option, configured
        raise ReplyRefused("messaging_window_closed", found.option.rule,
                           f"{found.option.detail} Only an approved template may be sent now, and no template is "
                           f"configured: name one in the request or set whatsapp_templates in replies.yaml.",
                           options)
    raise ReplyRefused(found.error or "route_unavailable", found.option.rule, found.option.detail, options)


def _default_route(to: ReplyTo, wanted: Visibility, options: list[ReplyOption]) -> ReplyRoute:
    if to.kind in PUBLIC_KINDS:
        if wanted is Visibility.PUBLIC:
            return ReplyRoute.PUBLIC_REPLY
        return ReplyRoute.DIRECT_MESSAGE if to.channel is Channel.X else ReplyRoute.PRIVATE_REPLY
    if wanted is Visibility.PUBLIC:
        raise _not_visible(to, options)
    return ReplyRoute.MESSAGE


def _not_visible(to: ReplyTo, options: list[ReplyOption]) -> ReplyRefused:
    return ReplyRefused("visibility_unavailable", "reply_visibility",
                        f"The customer wrote privately on {_NAME[to.channel]}: a reply to a private message cannot "
                        f"be public.", options)


def disclosure(rules: ReplyRules, language: str | None) -> str:
    """The automated-message disclosure in ``language`` ('it', 'it-IT', 'it_IT'), else in the
    rules' default language (EU AI Act art. 50: people are told they are talking to automation)."""
    lang = (language or "").replace("_", "-").split("-")[0].lower()
    return rules.disclosure.get(lang) or rules.disclosure[rules.default_language]
