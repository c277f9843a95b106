"""ProfilesRepository and identity resolution against moto tables built from template.yaml."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from socialcare.domain.identity.service import IdentityService
from socialcare.domain.merge import CustomerMerge
from socialcare.errors import Conflict
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Author, Channel, DeliveryStatus, Direction, Interaction, Kind
from socialcare.store.profiles import ProfilesRepository
from socialcare.store.profiles.items import customer_pk

if TYPE_CHECKING:
    from conftest import AwsStack, CaseVersions

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def message(
    channel: Channel, author_id: str, mid: str, text: str = "", *, name: str | None = None,
    minutes: int = 0, direction: Direction = Direction.INBOUND,
) -> Interaction:
    return Interaction(
        id=Interaction.make_id(channel, mid), channel=channel, kind=Kind.DIRECT_MESSAGE, direction=direction,
        platform_message_id=mid, author=Author(id=author_id, name=name), text=text,
        occurred_at=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def repo(wiring: Wiring) -> ProfilesRepository:
    return wiring.profiles


@pytest.fixture
def identity(wiring: Wiring) -> IdentityService:
    """The identity service over the same repository (``repo``)."""
    return wiring.identity


@pytest.fixture
def merges(wiring: Wiring) -> CustomerMerge:
    return wiring.merges


def store(identity: IdentityService, event: Interaction, raw: Any = None) -> str:
    recognition = identity.recognise(event)
    identity.profiles.record_interaction(recognition.customer_id, event, raw, via=identity.via(event))
    return recognition.customer_id


def raw_item(aws: AwsStack, pk: str, sk: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(aws.profiles_table)
    return dict(table.get_item(Key={"pk": pk, "sk": sk}).get("Item") or {})


def profile_items(aws: AwsStack) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(aws.profiles_table)
    return [i for i in table.scan()["Items"] if i["sk"] == "PROFILE"]


# ---------------------------------------------------------------------------------- dedupe
def test_a_redelivered_message_is_stored_once_and_returns_its_case(
    repo: ProfilesRepository, identity: IdentityService
) -> None:
    event = message(Channel.X, "111", "t1", "dov'è il mio pacco?", name="Anna Bianchi")
    customer = identity.recognise(event).customer_id

    via = identity.via(event)
    first = repo.record_interaction(customer, event, {"id": "t1"}, via=via)
    again = repo.record_interaction(customer, event, {"id": "t1"}, via=via)
    assert first.created and not again.created
    assert again.case_id is None  # downstream never finished: the caller resumes it

    assert repo.set_interaction_case(event.id, "SC-2026-000001")
    days_later = repo.record_interaction(customer, event, {"id": "t1"}, via=via)
    assert (days_later.created, days_later.case_id) == (False, "SC-2026-000001")

    timeline = repo.timeline(customer).items
    assert [(i["id"], i["case_id"]) for i in timeline] == [(event.id, "SC-2026-000001")]
    profile = repo.get_profile(customer)
    assert profile is not None and profile.channel_counts == {"x": 1} and profile.interaction_count == 1


def test_the_raw_slice_is_kept_compressed_on_the_interaction(
    aws: AwsStack, repo: ProfilesRepository, identity: IdentityService
) -> None:
    raw = {"tweet_create_events": [{"id_str": "t1", "text": "pacco " * 500}]}
    event = message(Channel.X, "111", "t1", "pacco", name="Anna Bianchi")
    customer = store(identity, event, raw)

    item = raw_item(aws, customer_pk(customer), repo.guard(event.id)["timeline_sk"])  # type: ignore[index]
    blob = item["raw"].value
    assert len(blob) < 1000  # 3 KB of JSON, compressed
    assert zlib.decompress(blob).startswith(b'{"tweet_create_events"')
    stored = repo.interaction(event.id)
    assert stored is not None and stored["raw"] == raw


# ---------------------------------------------------------------------------------- delete/edit/status
def test_a_deleted_message_keeps_its_record_but_loses_text_and_raw(
    repo: ProfilesRepository, identity: IdentityService
) -> None:
    event = message(Channel.X, "111", "t1", "testo da cancellare", name="Anna Bianchi")
    customer = store(identity, event, {"raw": True})

    assert repo.mark_deleted(event.id)
    (entry,) = repo.timeline(customer).items
    assert entry["deleted"] is True and "text" not in entry and "raw" not in entry
    # an edit arriving after the delete must not bring the text back
    assert repo.apply_edit(message(Channel.X, "111", "t1", "testo nuovo"), None)
    (entry,) = repo.timeline(customer).items
    assert "text" not in entry


def test_a_delete_that_overtakes_its_message_prevents_storing_it(
    repo: ProfilesRepository, identity: IdentityService
) -> None:
    event = message(Channel.X, "111", "t9", "scritto e cancellato", name="Anna Bianchi")
    assert repo.mark_deleted(event.id) is False  # never seen...
    customer = identity.recognise(event).customer_id
    result = repo.record_interaction(customer, event, None, via=identity.via(event))  # ...and now it arrives late
    assert (result.created, result.deleted) == (False, True)
    assert repo.timeline(customer).items == []


def test_edits_replace_the_text_of_messages_we_hold_only(repo: ProfilesRepository, identity: IdentityService) -> None:
    event = message(Channel.X, "111", "t1", "ordine 12345", name="Anna Bianchi")
    customer = store(identity, event)
    assert repo.apply_edit(message(Channel.X, "111", "t1", "ordine 123456"), {"edit": 1})
    assert repo.timeline(customer).items[0]["text"] == "ordine 123456"
    assert repo.apply_edit(message(Channel.X, "111", "never-seen", "x"), None) is False


def test_delivery_receipts_move_forward_only(repo: ProfilesRepository, identity: IdentityService) -> None:
    reply = message(Channel.WHATSAPP, "393331112222", "wamid.OUT1", "Le scriviamo subito", direction=Direction.OUTBOUND)
    customer = store(identity, reply)
    for status in ("sent", "read", "delivered"):  # delivered arrives after read
        repo.record_status(DeliveryStatus(channel=Channel.WHATSAPP, platform_message_id="wamid.OUT1", status=status,
                                          recipient_id="393331112222", occurred_at=T0))
    assert repo.timeline(customer).items[0]["delivery_status"] == "read"
    assert sorted(s["status"] for s in repo.statuses(reply.id)) == ["delivered", "read", "sent"]
    profile = repo.get_profile(customer)
    assert profile is not None and profile.interaction_count == 0  # our replies are not customer contacts


# ---------------------------------------------------------------------------------- context
def test_context_carries_what_routing_and_the_screen_pop_need(
    repo: ProfilesRepository, identity: IdentityService
) -> None:
    customer = store(identity, message(Channel.X, "111", "t1", "ciao", name="Anna Bianchi"))
    store(identity, message(Channel.WHATSAPP, "393331112222", "w1", "sono Anna Bianchi, ordine 123456", minutes=5))
    repo.update_context(customer, open_case_id="SC-2026-000007", case_priority="high", last_sentiment="negative",
                        add_previous_case="SC-2026-000002")

    returning = identity.recognise(message(Channel.X, "111", "t2", "ancora io", name="Anna Bianchi"))
    context = returning.context
    assert returning.customer_id == customer and not returning.created
    assert context["first_seen"] == "2026-11-02T09:00:00.000000Z"
    assert context["channel_counts"] == {"x": 1}  # the WhatsApp message had no link to her yet
    assert (context["open_case_id"], context["case_priority"], context["last_sentiment"]) == (
        "SC-2026-000007", "high", "negative")
    assert context["previous_cases"] == ["SC-2026-000002"]
    assert identity.context_for(customer)["name"] == "Anna Bianchi"
    assert identity.context_for("cus_nobody") == {}

    repo.update_context(customer, open_case_id=None)
    assert identity.context_for(customer)["open_case_id"] is None


# ---------------------------------------------------------------------------------- round trips
@pytest.fixture
def dynamodb_calls(repo: ProfilesRepository) -> Iterator[list[str]]:
    calls: list[str] = []
    client = repo.client  # the client every repository of the wiring shares

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", count)
    yield calls
    client.meta.events.unregister("before-call.dynamodb", count)


def test_a_returning_customer_is_recognised_in_two_round_trips(
    repo: ProfilesRepository, dynamodb_calls: list[str], identity: IdentityService
) -> None:
    customer = store(identity, message(Channel.X, "111", "t1", "Il mio ordine ORD-123456", name="Anna Bianchi"))
    dynamodb_calls.clear()

    # a new message that also mentions her (known) order number and her name
    again = identity.recognise(message(Channel.X, "111", "t2", "sono Anna Bianchi, ORD-123456?",
                                       name="Anna Bianchi"))
    assert again.customer_id == customer
    assert dynamodb_calls == ["BatchGetItem", "BatchGetItem"]


def test_a_lookup_by_phone_for_the_screen_pop_is_two_reads(
    repo: ProfilesRepository, dynamodb_calls: list[str], identity: IdentityService
) -> None:
    customer = store(identity, message(Channel.PHONE, "+393331112222", "call-1"))
    dynamodb_calls.clear()
    assert identity.find_customer("phone", "0039 333 111 2222") == customer
    assert identity.context_for(customer)["customer_id"] == customer
    assert dynamodb_calls == ["GetItem", "GetItem"]


# ---------------------------------------------------------------------------------- merge / unmerge
def _two_customers(identity: IdentityService) -> tuple[str, str]:
    anna_x = store(identity, message(Channel.X, "111", "t1", "il pacco?", name="Anna Bianchi"))
    anna_fb = store(identity, message(Channel.FACEBOOK, "fb-7", "c1", "ancora niente", name="Anna B.", minutes=10))
    assert anna_x != anna_fb  # nothing linked them
    return anna_x, anna_fb


def test_a_merge_puts_both_timelines_in_one_partition_and_rewrites_claims(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    anna_x, anna_fb = _two_customers(identity)
    repo.update_context(anna_fb, add_previous_case="SC-2026-000003")

    result = merges.merge(anna_fb, anna_x, actor="agent-7")
    assert result["interactions_moved"] == 1

    assert [i["id"] for i in repo.timeline(anna_x).items] == ["facebook:c1", "x:t1"]
    assert repo.timeline(anna_fb).items == []
    assert identity.find_customer("facebook", "fb-7") == anna_x
    # the merged id is an alias: context and writes land on the survivor
    assert identity.context_for(anna_fb)["customer_id"] == anna_x
    late_message = message(Channel.FACEBOOK, "fb-7", "c2", "?", minutes=20)
    late = repo.record_interaction(anna_fb, late_message, None, via=identity.via(late_message))
    assert late.customer_id == anna_x
    survivor = repo.get_profile(anna_x)
    assert survivor is not None
    assert survivor.channel_counts == {"x": 1, "facebook": 2}
    assert survivor.previous_cases == ["SC-2026-000003"] and survivor.merged_from == [anna_fb]
    for cid in (anna_x, anna_fb):
        view = repo.customer_view(cid)
        assert view is not None and [(m["action"], m["actor"]) for m in view.merges] == [("merge", "agent-7")]


def test_a_merge_of_customers_with_different_verified_phones_is_refused(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    anna = store(identity, message(Channel.PHONE, "+393331112222", "call-1"))
    other = store(identity, message(Channel.PHONE, "+393339998888", "call-2"))
    with pytest.raises(Conflict) as refused:
        merges.merge(other, anna)
    assert refused.value.details["conflicts"] == {"phone": ["+393331112222", "+393339998888"]}
    assert identity.find_customer("phone", "+393339998888") == other  # nothing moved
    assert merges.merge(other, anna, force=True)["id"] == anna


def test_a_merge_merges_the_customers_open_cases_and_tells_the_crm(
    aws: AwsStack, wiring: Wiring, case_versions: CaseVersions, repo: ProfilesRepository,
    identity: IdentityService, merges: CustomerMerge,
) -> None:
    anna_x, anna_fb = _two_customers(identity)
    # the two stored messages open one case each (nothing linked the customers yet)
    older = wiring.threading.on_interaction(
        message(Channel.X, "111", "t1", "il pacco?", name="Anna Bianchi"), anna_x
    ).case
    newer = wiring.threading.on_interaction(
        message(Channel.FACEBOOK, "fb-7", "c1", "ancora niente", name="Anna B.", minutes=10), anna_fb
    ).case
    assert older is not None and newer is not None and older.id != newer.id
    # what threading wrote has reached the CRM's queue already: only the merge's versions remain
    assert case_versions.relay() == {"batchItemFailures": []}
    aws.drain(aws.queue_urls["CrmSyncQueue"])

    result = merges.merge(anna_fb, anna_x)

    assert result["cases"] == {"survivor": older.id, "merged": newer.id, "survivor_open": True}
    merged = wiring.case_queries.get_case(newer.id, with_interactions=False)
    assert merged.status.value == "merged" and merged.merged_into == older.id and not merged.is_open
    assert identity.context_for(anna_x)["open_case_id"] == older.id
    view = repo.customer_view(anna_fb)
    assert view is not None and view.merges[0]["cases"]["merged"] == newer.id
    # both case versions are on their way to the CRM (the merged one closed, with its pointer)
    case_versions.relay()
    sqs = boto3.client("sqs")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=aws.queue_urls["CrmSyncQueue"],
                                                     MaxNumberOfMessages=10).get("Messages", [])]
    assert {older.id, newer.id} <= {json.loads(b)["case_id"] for b in bodies}
    assert merged.version in {json.loads(b)["version"] for b in bodies if json.loads(b)["case_id"] == newer.id}


def test_unmerge_gives_the_identities_and_their_messages_back(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    anna_x, anna_fb = _two_customers(identity)
    merges.merge(anna_fb, anna_x)

    result = merges.unmerge(anna_x, [("facebook", "fb-7")], actor="agent-7")
    assert (result["split_into"], result["restored"]) == (anna_fb, True)

    assert [i["id"] for i in repo.timeline(anna_x).items] == ["x:t1"]
    assert [i["id"] for i in repo.timeline(anna_fb).items] == ["facebook:c1"]
    assert identity.find_customer("facebook", "fb-7") == anna_fb
    restored = repo.get_profile(anna_fb, follow=False)
    assert restored is not None and restored.merged_into is None and restored.channel_counts == {"facebook": 1}
    survivor = repo.get_profile(anna_x)
    assert survivor is not None and survivor.channel_counts == {"x": 1} and survivor.merged_from == []
    # later messages from that Facebook id go to the restored customer again
    assert identity.recognise(message(Channel.FACEBOOK, "fb-7", "c3", "?")).customer_id == anna_fb


def test_unmerge_refuses_identities_the_customer_does_not_hold_or_all_of_them(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    anna_x, _ = _two_customers(identity)
    with pytest.raises(Conflict):
        merges.unmerge(anna_x, [("facebook", "fb-7")])
    with pytest.raises(Conflict):
        merges.unmerge(anna_x, [("x", "111")])


def test_unmerge_of_identities_that_were_never_merged_makes_a_new_customer(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    # the X account and a WhatsApp number linked by a typed phone turn out to be two people
    anna = store(identity, message(Channel.X, "111", "t1", "sono Anna Bianchi, chiamatemi al 333 111 2222",
                               name="Anna Bianchi"))
    assert store(identity, message(Channel.WHATSAPP, "393331112222", "w1", "ciao", name="Anna", minutes=3)) == anna
    result = merges.unmerge(anna, [("whatsapp", "393331112222"), ("phone", "+39 333 111 2222")])
    assert result["restored"] is False and result["split_into"] != anna
    assert identity.find_customer("phone", "3331112222") == result["split_into"]
    assert [i["id"] for i in repo.timeline(result["split_into"]).items] == ["whatsapp:w1"]
    assert [i["id"] for i in repo.timeline(anna).items] == ["x:t1"]
    assert len(profile_items_of(repo)) == 2


def profile_items_of(repo: ProfilesRepository) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(repo.table)
    return [i for i in table.scan()["Items"] if i["sk"] == "PROFILE" and "merged_into" not in i]


def test_a_returning_customer_with_a_known_suggestion_costs_no_write(
    repo: ProfilesRepository, dynamodb_calls: list[str], identity: IdentityService
) -> None:
    store(identity, message(Channel.X, "111", "t1", "ordine ORD-123456", name="Anna Bianchi"))
    giulia = store(identity, message(Channel.X, "222", "t2", "ordine ORD-123456", name="Giulia Neri"))
    dynamodb_calls.clear()
    again = identity.recognise(message(Channel.X, "222", "t3", "ordine ORD-123456!!", name="Giulia Neri"))
    assert again.customer_id == giulia and again.suggestions  # still reported to the caller
    assert dynamodb_calls == ["BatchGetItem", "BatchGetItem"]


def test_an_interrupted_merge_is_finished_by_repeating_it(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    anna_x, anna_fb = _two_customers(identity)
    store(identity, message(Channel.FACEBOOK, "fb-7", "c2", "e allora?", minutes=30))

    # The Lambda dies on the write that moves the timeline (a failure injected at the wire,
    # below our code): nothing after it ran.
    source_pk = customer_pk(anna_fb)

    def die_on_timeline_move(params: dict[str, Any], **_: Any) -> None:
        for action in params.get("TransactItems", []):
            key = action.get("Delete", {}).get("Key", {})
            if key.get("pk", {}).get("S") == source_pk and key.get("sk", {}).get("S", "").startswith("TS#"):
                raise RuntimeError("Lambda timed out")

    events = repo.client.meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", die_on_timeline_move)
    try:
        with pytest.raises(RuntimeError):
            merges.merge(anna_fb, anna_x)
    finally:
        events.unregister("before-parameter-build.dynamodb.TransactWriteItems", die_on_timeline_move)
    assert [i["id"] for i in repo.timeline(anna_x).items] == ["x:t1"]  # really interrupted

    resumed = merges.merge(anna_fb, anna_x)
    assert resumed["interactions_moved"] == 2
    assert [i["id"] for i in repo.timeline(anna_x).items] == ["facebook:c2", "facebook:c1", "x:t1"]
    survivor = repo.get_profile(anna_x)
    assert survivor is not None and survivor.channel_counts == {"x": 1, "facebook": 2}  # counted once
    with pytest.raises(Conflict):
        merges.merge(anna_fb, anna_x)


def test_a_merge_interrupted_after_moving_everything_still_finishes_on_repeat(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    """The Lambda dies after the last item moved, on the audit write: the repeat has nothing
    left to move but must still finish (audit on both customers), not answer "already merged"."""
    anna_x, anna_fb = _two_customers(identity)

    def die_on_audit(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("sk", {}).get("S", "").startswith("MERGE#"):
            raise RuntimeError("Lambda timed out")

    events = repo.client.meta.events
    events.register("before-parameter-build.dynamodb.PutItem", die_on_audit)
    try:
        with pytest.raises(RuntimeError):
            merges.merge(anna_fb, anna_x)
    finally:
        events.unregister("before-parameter-build.dynamodb.PutItem", die_on_audit)
    assert repo.merge_records(anna_x) == []  # really interrupted, with everything moved

    resumed = merges.merge(anna_fb, anna_x)
    assert resumed["interactions_moved"] == 0
    for customer in (anna_x, anna_fb):
        (record,) = repo.merge_records(customer)
        assert (record["action"], record["source"], record["target"], record["resumed"]) == (
            "merge", anna_fb, anna_x, True)
    with pytest.raises(Conflict):
        merges.merge(anna_fb, anna_x)


def test_a_crm_contact_can_add_a_verified_identifier_but_never_steal_one(
    repo: ProfilesRepository, identity: IdentityService
) -> None:
    anna = store(identity, message(Channel.X, "111", "t1", "ciao", name="Anna Bianchi"))
    marco = store(identity, message(Channel.X, "222", "t2", "ciao", name="Marco Verdi"))

    assert identity.add_identity(anna, "email", "Anna.Bianchi@Example.com") == "attached"
    assert identity.add_identity(anna, "email", "anna.bianchi@example.com") == "already"
    assert identity.find_customer("email", "ANNA.BIANCHI@example.com") == anna
    assert identity.context_for(anna)["verified_emails"] == ["anna.bianchi@example.com"]

    assert identity.add_identity(marco, "email", "anna.bianchi@example.com") == "suggested"
    assert identity.find_customer("email", "anna.bianchi@example.com") == anna
    view = repo.customer_view(marco)
    assert view is not None and [s.other_customer_id for s in view.suggestions] == [anna]


def test_claims_left_behind_by_an_erased_customer_are_taken_over(
    aws: AwsStack, repo: ProfilesRepository, identity: IdentityService
) -> None:
    gone = store(identity, message(Channel.X, "111", "t1", "ciao", name="Anna Bianchi"))
    boto3.resource("dynamodb").Table(aws.profiles_table).delete_item(Key={"pk": customer_pk(gone), "sk": "PROFILE"})

    again = identity.recognise(message(Channel.X, "111", "t2", "sono tornata", name="Anna Bianchi"))
    assert again.created and again.customer_id != gone
    assert identity.find_customer("x", "111") == again.customer_id


def test_the_view_of_a_merged_customer_is_its_survivors(
    repo: ProfilesRepository, identity: IdentityService, merges: CustomerMerge
) -> None:
    # the CRM and cases keep old customer ids: they must see the merged customer whole
    anna_x, anna_fb = _two_customers(identity)
    merges.merge(anna_fb, anna_x)
    view = repo.customer_view(anna_fb)
    assert view is not None and view.profile.id == anna_x
    assert {i.kind for i in view.identities} == {"x", "facebook"}
    alias = repo.customer_view(anna_fb, follow=False)
    assert alias is not None and alias.profile.merged_into == anna_x and alias.identities == []
