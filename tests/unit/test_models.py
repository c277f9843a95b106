"""The inbound queue's identity rules: what counts as the same event, and who it belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from socialcare.models.interaction import Action, Author, Channel, DeliveryStatus, InboundEvent, Interaction, Kind
from socialcare.publish import dedupe_id


def _mention(text: str = "hello", **meta: str) -> Interaction:
    return Interaction(
        id=Interaction.make_id(Channel.X, "1790000000000000001"),
        channel=Channel.X,
        kind=Kind.PUBLIC_POST,
        platform_message_id="1790000000000000001",
        author=Author(id="2244994945", handle="anna_bianchi", name="Anna Bianchi", followers=12000),
        text=text,
        occurred_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        metadata=dict(meta),
    )


def _event(action: Action, interaction: Interaction) -> InboundEvent:
    return InboundEvent(action=action, source="x", event_id=interaction.platform_message_id, interaction=interaction)


def test_a_redelivered_event_has_the_same_dedupe_id_even_if_its_text_differs_in_transit() -> None:
    first = _event(Action.CREATE, _mention("hello"))
    again = _event(Action.CREATE, _mention("hello"))
    assert dedupe_id(first) == dedupe_id(again)
    assert len(dedupe_id(first)) <= 128  # SQS MessageDeduplicationId limit


def test_an_edit_is_never_mistaken_for_its_original_nor_for_an_earlier_edit() -> None:
    create = _event(Action.CREATE, _mention())
    edit1 = _event(Action.EDIT, _mention(edit_marker="1700000000"))
    edit2 = _event(Action.EDIT, _mention(edit_marker="1700000100"))
    assert len({dedupe_id(create), dedupe_id(edit1), dedupe_id(edit2)}) == 3


def test_each_delivery_status_of_one_message_is_its_own_event() -> None:
    def status(value: str) -> InboundEvent:
        return InboundEvent(
            action=Action.STATUS,
            source="meta",
            event_id="wamid.X",
            status=DeliveryStatus(
                channel=Channel.WHATSAPP, platform_message_id="wamid.X", status=value, occurred_at=datetime.now(UTC)
            ),
        )

    assert dedupe_id(status("delivered")) != dedupe_id(status("read"))
    assert dedupe_id(status("read")) == dedupe_id(status("read"))


def test_events_of_one_author_share_a_message_group_so_their_order_is_kept() -> None:
    a = _event(Action.CREATE, _mention())
    other = _mention().model_copy(update={"author": Author(id="999")})
    assert a.group_id == "x:2244994945"
    assert _event(Action.CREATE, other).group_id != a.group_id


def test_occurred_at_is_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    interaction = _mention().model_copy()
    parsed = Interaction.model_validate(
        {**interaction.model_dump(), "occurred_at": datetime(2026, 11, 1, 10, 30, tzinfo=cet)}
    )
    assert parsed.occurred_at == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert parsed.is_public
