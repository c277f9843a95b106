"""Two events for one new person, processed at the same time, must make one customer.

The claim items are created with attribute_not_exists inside the transaction that creates the
customer; the loser's transaction fails, it re-reads the claims and joins the winner. Tested
twice: deterministically, by running the competitor inside the loser's TransactWriteItems call
(a botocore ``before-call`` hook), and with real threads against moto - which does not promise
atomic conditional writes under concurrency, so that test checks the invariant users see.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.core.botocore_stubber import BotocoreStubber

from socialcare.domain.identity.service import IdentityService, Recognition
from socialcare.flows.wiring import Wiring
from socialcare.models.interaction import Author, Channel, Identifier, IdentifierKind, Interaction, Kind

if TYPE_CHECKING:
    from conftest import AwsStack

WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WA_ID = "393331112222"


def whatsapp(mid: str, wa_id: str = WA_ID) -> Interaction:
    return Interaction(
        id=f"whatsapp:{mid}", channel=Channel.WHATSAPP, kind=Kind.DIRECT_MESSAGE, platform_message_id=mid,
        author=Author(id=wa_id, name="Anna"), text="vi sto chiamando", occurred_at=WHEN,
        identifiers=[Identifier(kind=IdentifierKind.WHATSAPP, value=wa_id),
                     Identifier(kind=IdentifierKind.PHONE, value=f"+{wa_id}")],
    )


def call(mid: str, number: str = WA_ID) -> Interaction:
    return Interaction(
        id=f"phone:{mid}", channel=Channel.PHONE, kind=Kind.CALL, platform_message_id=mid,
        author=Author(id=f"+{number}"), occurred_at=WHEN,
    )


def customers(aws: AwsStack) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(aws.profiles_table)
    return [i for i in table.scan()["Items"] if i["sk"] == "PROFILE"]


def test_the_loser_of_the_claim_race_joins_the_winner(aws: AwsStack, wiring: Wiring) -> None:
    # Given a WhatsApp message and a phone call from one new number, in two processors at once:
    # the call's processor writes its claims while the WhatsApp one is about to write its own.
    identity = wiring.identity
    client = wiring.profiles.client
    competitor: dict[str, Recognition] = {}
    writes: list[str] = []

    def run_competitor_first(**_: Any) -> None:
        writes.append("TransactWriteItems")
        if len(writes) == 1:  # only the loser's first write; the competitor's own passes through
            competitor["call"] = identity.recognise(call("c1"))

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", run_competitor_first)
    try:
        loser = identity.recognise(whatsapp("w1"))
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", run_competitor_first)

    winner = competitor["call"]
    # Then there is one customer: the call created it, the WhatsApp message joined it
    assert winner.created and not loser.created
    assert loser.customer_id == winner.customer_id
    assert [c["id"] for c in customers(aws)] == [winner.customer_id]
    # and the loser's identities were attached on its retry rather than lost
    assert identity.find_customer("whatsapp", WA_ID) == winner.customer_id
    assert writes == ["TransactWriteItems"] * 3  # loser's failed create, competitor's, loser's attach


@pytest.fixture
def atomic_moto_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve each moto request atomically, as DynamoDB does.

    In-process moto mutates plain dicts with no locking, so two threads inside one request
    corrupt its state ("dictionary changed size during iteration") and a conditional write is
    not atomic. Serialising whole requests restores DynamoDB's per-request atomicity while our
    threads still interleave freely *between* requests - which is where the claim race lives.
    """
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def locked(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)


@pytest.mark.usefixtures("atomic_moto_requests")
def test_parallel_first_contacts_from_one_person_make_one_customer(aws: AwsStack, wiring: Wiring) -> None:
    identity = wiring.identity  # build the service and its shared client before the threads start
    client = identity.profiles.client
    lost_races: list[str] = []

    # A lost race is DynamoDB cancelling a claim write: watch for it on the wire.
    def observe(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Error", {}).get("Code") == "TransactionCanceledException":
            lost_races.append(parsed["Error"].get("Message", ""))

    client.meta.events.register("after-call.dynamodb.TransactWriteItems", observe)
    # Thread scheduling decides whether writes collide; a few rounds make a collision certain
    # in practice, and every round must hold the invariant whether or not one happened.
    for round_ in range(5):
        number = f"39333111{2222 + round_:04d}"
        recognitions = _first_contacts_at_once(identity, number, threads=8)
        # Then everyone agrees on one customer, and only one was created
        assert len({r.customer_id for r in recognitions}) == 1
        assert sum(r.created for r in recognitions) == 1
        assert len([c for c in customers(aws) if identity.find_customer("phone", number) == c["id"]]) == 1
        if lost_races:
            break
    assert lost_races, "no write ever collided: the test did not exercise the race"
    assert len(customers(aws)) == round_ + 1


def _first_contacts_at_once(identity: IdentityService, number: str, threads: int) -> list[Recognition]:
    barrier = threading.Barrier(threads)
    results: list[Recognition] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        event = whatsapp(f"w{number}{n}", number) if n % 2 else call(f"c{number}{n}", number)
        barrier.wait()
        try:
            results.append(identity.recognise(event))
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == threads
    return results
