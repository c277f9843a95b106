"""Cases end to end on moto (tables and queues built from template.yaml by the ``aws`` fixture):
threading across channels, ids, idempotency, reopen window, optimistic locking, merges, the
case API (list/claim/release/hand-off/resolve) and the team dispatcher."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import boto3
import pytest

from socialcare.config.settings import Settings
from socialcare.domain.cases.merge import CaseMerge
from socialcare.domain.crm_view import crm_snapshot
from socialcare.errors import Conflict
from socialcare.flows.api.app import build
from socialcare.flows.wiring import Wiring
from socialcare.models.case import CaseStatus, Team
from socialcare.models.interaction import Author, Channel, Direction, Interaction, Kind, ThreadRef
from socialcare.store.cases import CasesRepository, VersionConflict
from socialcare_infra.handlers import load_app

AwsStack = Any  # tests/integration/conftest.py's fixture type
CaseVersions = Any  # tests/integration/conftest.py's ``case_versions`` fixture type

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, both teams open


@pytest.fixture
def wiring(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Wiring:
    """conftest's ``wiring``, with case ids reserved in blocks of 5 (so a test sees several blocks)."""
    monkeypatch.setenv("SOCIALCARE_CASE_ID_BLOCK", "5")
    return Wiring(Settings())


def msg(
    n: int,
    channel: Channel,
    kind: Kind,
    text: str,
    *,
    author: str = "u-anna",
    followers: int | None = None,
    at: datetime = NOW,
    direction: Direction = Direction.INBOUND,
    post: str | None = None,
) -> Interaction:
    return Interaction(
        id=f"{channel.value}:{author}-{n}",
        channel=channel,
        kind=kind,
        direction=direction,
        account_id="brand",
        platform_message_id=f"{author}-{n}",
        author=Author(id=author, handle=f"@{author}", followers=followers),
        text=text,
        occurred_at=at,
        thread=ThreadRef(post_id=post),
    )


def drain(aws: AwsStack, queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    found: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=aws.queue_urls[queue], MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            return found
        for m in got:
            found.append({"body": json.loads(m["Body"]), "attributes": m["Attributes"]})
            sqs.delete_message(QueueUrl=aws.queue_urls[queue], ReceiptHandle=m["ReceiptHandle"])


def story(at: datetime = NOW) -> list[Interaction]:
    return [
        msg(
            1,
            Channel.X,
            Kind.PUBLIC_POST,
            "Vergogna! Il pacco non è mai arrivato, pessimo servizio",
            followers=25_000,
            at=at,
        ),
        msg(
            2,
            Channel.FACEBOOK,
            Kind.COMMENT,
            "Ancora nessuna risposta, non funziona niente",
            at=at + timedelta(minutes=5),
        ),
        msg(3, Channel.MESSENGER, Kind.DIRECT_MESSAGE, "Chiedo il rimborso, subito", at=at + timedelta(minutes=9)),
        msg(
            4, Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "Sto ancora aspettando il rimborso", at=at + timedelta(minutes=15)
        ),
    ]


def call(at: datetime) -> Interaction:
    return msg(5, Channel.PHONE, Kind.CALL, "", at=at)


# ---------------------------------------------------------------- threading and triage
def test_one_case_follows_the_customer_across_channels_and_onto_the_phone(wiring: Wiring) -> None:
    threading, queries = wiring.threading, wiring.case_queries
    outcomes = [threading.on_interaction(i, "cust-anna", {"tier": "gold"}, now=i.occurred_at) for i in story()]
    ids = {o.case.id for o in outcomes if o.case}
    assert len(ids) == 1, "every channel must join the same case"
    first = outcomes[0]
    assert first.created and first.case is not None
    assert first.case.id.startswith("SC-2026-")
    assert first.case.priority.value in ("high", "urgent")
    assert first.case.sla.first_response_due == NOW + timedelta(
        minutes=30 if first.case.priority.value == "urgent" else 60
    )
    assert first.work_items[0].team is Team.SOCIAL and first.work_items[0].kind.value == "respond"
    assert first.work_items[0].suggested_answer is not None  # a FAQ suggestion rides along

    after_call = threading.on_interaction(
        call(NOW + timedelta(minutes=30)), "cust-anna", {}, now=NOW + timedelta(minutes=30)
    )
    case = after_call.case
    assert case is not None and case.id in ids
    assert case.team is Team.CALLCENTRE
    # the private refund demand (Messenger) needed account access: the call centre took it then
    assert [(h.to_team, h.by) for h in case.handoffs] == [(Team.CALLCENTRE, "routing:account-access-private")]
    assert after_call.work_items[0].team is Team.CALLCENTRE
    assert after_call.work_items[0].kind.value == "call_followup"
    # the call centre's item carries the story so far
    assert "x" in after_call.work_items[0].timeline_summary and len(after_call.work_items[0].timeline) == 5

    full = queries.get_case(case.id)
    assert full.is_open and full.status in (CaseStatus.NEW, CaseStatus.OPEN)
    assert {i.channel for i in full.interactions} == {"x", "facebook", "messenger", "whatsapp", "phone"}
    assert full.priority.value in ("high", "urgent")
    assert "refund_demand" in full.categories
    current = queries.open_case_for("cust-anna")
    assert current is not None and current.id == case.id


def test_a_call_moves_a_social_case_to_the_call_centre(wiring: Wiring) -> None:
    threading = wiring.threading
    post = threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert post is not None and post.team is Team.SOCIAL
    after = threading.on_interaction(call(NOW + timedelta(minutes=8)), "cust-anna", {}, now=NOW + timedelta(minutes=8))
    assert after.case is not None and after.case.id == post.id and after.case.team is Team.CALLCENTRE
    assert after.case.handoffs[-1].by == "routing:phone-call"
    # a later public post still reaches the social team (a public answer), the case stays put
    tweet = threading.on_interaction(
        msg(6, Channel.X, Kind.PUBLIC_POST, "ancora niente!!"), "cust-anna", {}, now=NOW + timedelta(minutes=20)
    )
    assert tweet.case is not None and tweet.case.team is Team.CALLCENTRE
    assert tweet.work_items[0].team is Team.SOCIAL


def test_unrelated_praise_is_its_own_low_priority_engage_case(wiring: Wiring) -> None:
    threading, queries = wiring.threading, wiring.case_queries
    for i in story():
        threading.on_interaction(i, "cust-anna", {}, now=i.occurred_at)
    praise = msg(
        1, Channel.INSTAGRAM, Kind.COMMENT, "Grazie mille, servizio fantastico! 😍", author="u-bea", followers=300
    )
    outcome = threading.on_interaction(praise, "cust-bea", {}, now=NOW)
    anna = queries.open_case_for("cust-anna")
    assert outcome.case is not None and anna is not None and outcome.case.id != anna.id
    assert outcome.case.priority.value == "low"
    assert outcome.work_items[0].kind.value == "engage" and outcome.work_items[0].team is Team.SOCIAL
    assert all(i.id != praise.id for i in queries.get_case(anna.id).interactions)


def test_case_ids_come_from_blocks_per_environment(aws: AwsStack, wiring: Wiring) -> None:
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    first = [wiring.case_ids.next_id(NOW) for _ in range(7)]  # block of 5 -> two reservations
    second = Wiring(Settings()).case_ids.next_id(NOW)  # a second execution environment
    numbers = [int(i.rsplit("-", 1)[1]) for i in first]
    assert numbers == list(range(1, 8))
    assert int(second.rsplit("-", 1)[1]) == 11, "a new environment must take a fresh block, never reuse ids"
    item = ddb.get_item(TableName=aws.tables["StateTable"], Key={"pk": {"S": "SEQ#CASE#2026"}, "sk": {"S": "SEQ"}})
    assert item["Item"]["reserved"]["N"] == "15"  # three reservations of 5, not one write per case
    assert wiring.case_ids.next_id(datetime(2027, 1, 1, tzinfo=UTC)) == "SC-2027-000001"


def test_redelivered_interaction_is_not_counted_twice(aws: AwsStack, wiring: Wiring) -> None:
    first = story()[0]
    one = wiring.threading.on_interaction(first, "cust-anna", {}, now=NOW)
    two = wiring.threading.on_interaction(first, "cust-anna", {}, now=NOW + timedelta(seconds=30))
    assert two.duplicate and two.case is not None and one.case is not None
    assert two.case.interaction_count == 1 and two.case.version == one.case.version
    # the pipeline may resend the item after a crash: same item id, so SQS drops the copy
    assert [w.item_id for w in two.work_items] == [w.item_id for w in one.work_items]
    queued = drain(aws, "SocialTeamQueue")
    assert [q["body"]["item_id"] for q in queued] == [w.item_id for w in one.work_items]


def test_reopen_window_then_new_case(monkeypatch: pytest.MonkeyPatch, aws: AwsStack) -> None:
    monkeypatch.setenv("SOCIALCARE_REOPEN_WINDOW_HOURS", "48")
    w = Wiring(Settings())
    opened = w.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert opened is not None
    w.case_actions.resolve(opened.id, now=NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=20)
    back = w.threading.on_interaction(
        msg(7, Channel.X, Kind.DIRECT_MESSAGE, "di nuovo rotto", at=later), "cust-anna", {}, now=later
    )
    assert back.reopened and back.case is not None and back.case.id == opened.id
    assert back.case.status is CaseStatus.OPEN and back.case.reopen_count == 1
    assert back.case.sla.first_response_due > later  # a fresh clock from the reopening
    w.case_actions.resolve(opened.id, now=later + timedelta(hours=1))
    much_later = later + timedelta(days=5)
    fresh = w.threading.on_interaction(
        msg(8, Channel.X, Kind.DIRECT_MESSAGE, "altro problema", at=much_later), "cust-anna", {}, now=much_later
    )
    assert fresh.created and fresh.case is not None and fresh.case.id != opened.id


def test_stale_write_is_refused_and_concurrent_processors_lose_nothing(wiring: Wiring) -> None:
    repo = wiring.cases_repo
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert case is not None
    stale = repo.get(case.id)
    wiring.case_actions.record_first_response(case.id, NOW + timedelta(minutes=3))
    assert stale is not None
    stale.priority = stale.priority.raised()
    stale.version += 1
    with pytest.raises(VersionConflict):
        repo.save(stale, stale.version - 1)

    # Another processor commits between this one's read and its write: the write is refused on
    # the version, re-read and re-applied, and both interactions are on the case.
    final = _with_interleaved_writer(
        wiring,
        first=msg(101, Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "primo"),
        racer=msg(102, Channel.MESSENGER, Kind.DIRECT_MESSAGE, "secondo"),
        customer="cust-anna",
    )
    assert final.interaction_count == 3 and {i.id for i in final.interactions} >= {
        "whatsapp:u-anna-101",
        "messenger:u-anna-102",
    }
    assert final.first_response_at == NOW + timedelta(minutes=3), "the retry must not undo the other write"
    assert set(final.channels) == {"x", "whatsapp", "messenger"}


class _RacingClient:
    """A DynamoDB client that lets ``race`` (another processor) commit just before this one's
    first transaction reaches the table."""

    def __init__(self, client: Any, race: Callable[[], None]) -> None:
        self._client = client
        self._race: Callable[[], None] | None = race
        self.transactions = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        if self._race is not None:
            race, self._race = self._race, None
            race()
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _ProcessorWithRival(Wiring):
    """A processor's execution environment whose CasesTable writes race another processor's."""

    def __init__(self, settings: Settings, race: Callable[[], None]) -> None:
        super().__init__(settings)
        self.race = race

    @cached_property
    def cases_repo(self) -> CasesRepository:
        plain = super().cases_repo
        return CasesRepository(plain.table, _RacingClient(plain.client, self.race))


def _with_interleaved_writer(wiring: Wiring, *, first: Interaction, racer: Interaction, customer: str) -> Any:
    def rival() -> None:
        wiring.threading.on_interaction(racer, customer, {}, now=NOW)  # commits first

    processor = _ProcessorWithRival(Settings(), rival)
    processor.threading.on_interaction(first, customer, {}, now=NOW)
    client = processor.cases_repo.client
    assert isinstance(client, _RacingClient)
    assert client.transactions >= 2, "the rival's commit must have refused the first write, then it was retried"
    found = wiring.case_queries.open_case_for(customer)
    assert found is not None
    return wiring.case_queries.get_case(found.id)


def test_racing_first_messages_open_one_case(wiring: Wiring) -> None:
    # Two first messages of a new customer on different channels (different FIFO groups), the
    # second committing while the first is about to: one case, holding both.
    final = _with_interleaved_writer(
        wiring,
        first=msg(1, Channel.X, Kind.DIRECT_MESSAGE, "ciao, ho un problema"),
        racer=msg(2, Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "ciao, ho un problema"),
        customer="cust-zed",
    )
    assert final.interaction_count == 2
    assert len(wiring.case_queries.customer_cases("cust-zed")) == 1


def test_outbound_reply_stops_the_first_response_clock(wiring: Wiring) -> None:
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert case is not None
    reply = msg(
        50,
        Channel.X,
        Kind.PUBLIC_REPLY,
        "Ci dispiace, ti scriviamo in DM",
        author="brand",
        direction=Direction.OUTBOUND,
        at=NOW + timedelta(minutes=12),
    )
    out = wiring.threading.on_interaction(reply, "cust-anna", {}, now=NOW + timedelta(minutes=12))
    assert out.work_items == [] and out.case is not None
    assert out.case.first_response_at == NOW + timedelta(minutes=12) and out.case.status is CaseStatus.OPEN
    later = wiring.case_actions.record_first_response(case.id, NOW + timedelta(minutes=40))
    assert later.first_response_at == NOW + timedelta(minutes=12), "a later reply must not move the first response"


def test_merge_customers_keeps_the_older_case(wiring: Wiring) -> None:
    threading, queries, merge = wiring.threading, wiring.case_queries, CaseMerge(wiring.cases_repo)
    older = threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    newer = threading.on_interaction(
        msg(1, Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "voglio il rimborso", author="u-anna-wa"),
        "cust-anna-2",
        {},
        now=NOW + timedelta(hours=1),
    ).case
    assert older is not None and newer is not None
    result = merge.merge_customers("cust-anna-2", "cust-anna", now=NOW + timedelta(hours=2))
    assert result.survivor is not None and result.merged is not None
    assert result.survivor.id == older.id and result.merged.id == newer.id
    merged = queries.get_case(newer.id)
    survivor = queries.get_case(older.id)
    assert merged.status is CaseStatus.MERGED and not merged.is_open and merged.merged_into == older.id
    assert survivor.merged_from == [newer.id] and set(survivor.channels) == {"x", "whatsapp"}
    assert {i.channel for i in survivor.interactions} == {"x", "whatsapp"}
    # a late message for either customer lands in the survivor
    late = threading.on_interaction(
        msg(9, Channel.WHATSAPP, Kind.DIRECT_MESSAGE, "allora?", author="u-anna-wa"),
        "cust-anna-2",
        {},
        now=NOW + timedelta(hours=3),
    )
    assert late.case is not None and late.case.id == older.id
    again = merge.merge_customers("cust-anna-2", "cust-anna", now=NOW + timedelta(hours=4))
    assert again.merged is None and again.survivor is not None and again.survivor.id == older.id


# ---------------------------------------------------------------- API
def call_api(
    app: Any,
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    agent: str | None = None,
    *,
    token: str | None = None,
) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if agent:
        headers["x-socialcare-agent"] = agent
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "queryStringParameters": query,
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "domainName": "localhost",
            "accountId": "123456789012",
            "apiId": "api",
            "time": "x",
            "timeEpoch": 0,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


Api = Callable[..., tuple[int, Any]]


@pytest.fixture
def api(aws: AwsStack, wiring: Wiring) -> Api:
    """The agent API over the test's wiring, called as an authenticated client."""
    app = build(wiring)

    def request(
        method: str, path: str, body: Any = None, query: dict[str, str] | None = None, agent: str | None = None
    ) -> tuple[int, Any]:
        return call_api(app, method, path, body, query, agent, token=aws.api_token)

    return request


def _open_three(wiring: Wiring, now: datetime) -> list[str]:
    ids = []
    for n, (text, followers) in enumerate(
        [("una domanda sul prodotto", None), ("Vergogna, pessimo servizio, avvocato!", 50_000), ("non funziona", None)]
    ):
        out = wiring.threading.on_interaction(
            msg(n, Channel.X, Kind.PUBLIC_POST, text, author=f"u{n}", followers=followers), f"c{n}", {}, now=now
        )
        assert out.case is not None
        ids.append(out.case.id)
    return ids


def test_api_lists_by_sla_due_with_a_cursor_and_get_changes_nothing(wiring: Wiring, api: Api) -> None:
    ids = _open_three(wiring, NOW)
    status, page1 = api("GET", "/api/cases", query={"team": "social", "status": "new", "limit": "2"})
    assert status == 200 and len(page1["cases"]) == 2 and page1["cursor"]
    status, page2 = api(
        "GET", "/api/cases", query={"team": "social", "status": "new", "limit": "2", "cursor": page1["cursor"]}
    )
    assert status == 200
    listed = [c["id"] for c in page1["cases"] + page2["cases"]]
    assert sorted(listed) == sorted(ids)
    dues = [c["sla"]["due"] for c in page1["cases"] + page2["cases"]]
    assert dues == sorted(dues) and listed[0] == ids[1], "the urgent public complaint comes first"
    before = wiring.case_queries.get_case(ids[0]).version
    status, one = api("GET", f"/api/cases/{ids[0]}")
    assert status == 200 and one["id"] == ids[0] and one["interactions"][0]["channel"] == "x" and one["is_open"]
    assert wiring.case_queries.get_case(ids[0]).version == before
    assert api("GET", "/api/cases/SC-2026-999999")[0] == 404
    assert api("GET", "/api/cases", query={"team": "marketing"})[0] == 422
    assert api("GET", "/api/cases", query={"team": "social", "cursor": "bm9wZQ"})[0] == 400


def test_api_claim_leases_the_most_urgent_and_release_frees_it(wiring: Wiring, api: Api) -> None:
    ids = _open_three(wiring, NOW)
    s1, first = api("POST", "/api/teams/social/claim", {"agent": "marta"})
    s2, second = api("POST", "/api/teams/social/claim", agent="luca")
    assert s1 == s2 == 200
    assert first["case"]["id"] == ids[1] and first["case"]["lease_owner"] == "marta"
    assert second["case"]["id"] != ids[1] and second["case"]["lease_owner"] == "luca"
    assert api("POST", f"/api/cases/{ids[1]}/release", agent="luca")[0] == 409  # not luca's lease
    status, released = api("POST", f"/api/cases/{ids[1]}/release", agent="marta")
    assert status == 200 and released["lease_owner"] is None
    _, third = api("POST", "/api/teams/social/claim", agent="sara")
    assert third["case"]["id"] == ids[1], "a released case is claimable again"
    # leases expire: after the lease the case is claimable by someone else
    later = wiring.case_actions.claim(Team.SOCIAL, "nina", now=datetime.now(UTC) + timedelta(hours=1))
    assert later is not None
    assert api("POST", "/api/teams/marketing/claim")[0] == 400
    for _ in range(3):
        wiring.case_actions.claim(Team.SOCIAL, "x", now=datetime.now(UTC) + timedelta(hours=1))
    assert api("POST", "/api/teams/callcentre/claim")[1] == {"case": None, "items": []}


def test_api_handoff_resolve_and_close_the_loop(aws: AwsStack, wiring: Wiring, api: Api) -> None:
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {"tier": "gold", "returning": True}, now=NOW).case
    assert case is not None
    assert [i["body"]["kind"] for i in drain(aws, "SocialTeamQueue")] == ["respond"]  # published by threading
    assert api("POST", f"/api/cases/{case.id}/handoff", {"to": "sales"})[0] == 422
    assert api("POST", f"/api/cases/{case.id}/handoff", {"to": "callcentre", "bogus": 1})[0] == 422
    status, moved = api(
        "POST", f"/api/cases/{case.id}/handoff", {"to": "callcentre", "note": "vuole parlare"}, agent="marta"
    )
    assert status == 200 and moved["team"] == "callcentre" and moved["handoffs"][-1]["note"] == "vuole parlare"
    items = drain(aws, "CallcentreTeamQueue")
    assert len(items) == 1 and items[0]["body"]["kind"] == "handoff" and items[0]["body"]["note"] == "vuole parlare"
    assert items[0]["attributes"]["MessageGroupId"] == case.id
    assert items[0]["body"]["case"]["id"] == case.id and items[0]["body"]["timeline"]
    assert items[0]["body"]["customer"]["customer_id"] == "cust-anna"
    assert api("POST", f"/api/cases/{case.id}/handoff", {"to": "callcentre"}, agent="luca")[0] == 409

    status, resolved = api("POST", f"/api/cases/{case.id}/resolve", {"note": "rimborsato"})
    assert status == 200 and resolved["status"] == "resolved" and resolved["is_open"] is False
    loop = drain(aws, "SocialTeamQueue")
    assert [i["body"]["kind"] for i in loop] == ["close_loop"]
    assert loop[0]["body"]["trigger"]["channel"] == "x"
    status, reopened = api("POST", f"/api/cases/{case.id}/reopen")
    assert status == 200 and reopened["status"] == "open" and reopened["is_open"]
    assert api("POST", f"/api/cases/{case.id}/reopen")[0] == 409
    assert api("POST", "/api/cases/SC-2026-424242/resolve")[0] == 404
    assert api("POST", f"/api/cases/{case.id}/resolve", {"note": 5})[0] == 400


# ---------------------------------------------------------------- team dispatcher
def test_dispatcher_holds_items_for_pull_and_reports_partial_failures(
    aws: AwsStack, wiring: Wiring, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW)
    assert out.case is not None
    messages = drain(aws, "SocialTeamQueue")  # the item threading published
    assert [m["body"]["item_id"] for m in messages] == [out.work_items[0].item_id]
    monkeypatch.setenv("SOCIALCARE_TEAM", "social")
    app = load_app("team_dispatcher")
    records = [
        _sqs_record("m1", json.dumps(messages[0]["body"]), out.case.id),
        _sqs_record("m2", "{not json", "other"),
    ]
    result = app.handler({"Records": records}, _context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    app.handler({"Records": records[:1]}, _context())  # redelivery: held once
    held = wiring.case_queries.get_case(out.case.id).pending_items
    assert [h["item_id"] for h in held] == [out.work_items[0].item_id]
    claimed = api("POST", "/api/teams/social/claim", agent="marta")[1]
    assert claimed["items"][0]["kind"] == "respond"


def _chat_webhooks(aws: AwsStack, urls: dict[str, str]) -> None:
    """What an admin does out of band: put the teams' incoming-webhook URLs in the secret."""
    from aws_lambda_powertools.utilities import parameters

    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arns["TeamChatWebhooks"], SecretString=json.dumps(urls)
    )
    parameters.clear_caches()


def _sqs_record(message_id: str, body: str, group: str) -> dict[str, Any]:
    """A record as Lambda's SQS event source hands it to the dispatcher."""
    return {
        "messageId": message_id,
        "receiptHandle": f"h-{message_id}",
        "body": body,
        "attributes": {
            "MessageGroupId": group,
            "MessageDeduplicationId": f"d-{message_id}",
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "0",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "0",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn",
        "awsRegion": "eu-west-1",
    }


def test_dispatcher_without_a_chat_webhook_secret_fails_closed(
    aws: AwsStack, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialcare.errors import SecretUnavailable

    out = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW)
    monkeypatch.setenv("SOCIALCARE_SOCIAL_DESTINATION", "chat")
    _chat_webhooks(aws, {"callcentre": "https://hooks.slack.test/cc"})  # nothing for social
    delivery = _dispatcher_delivery()
    # raised, so the SQS record is retried and finally kept in the DLQ - never posted anywhere else
    with pytest.raises(SecretUnavailable):
        delivery.deliver(out.work_items[0], Team.SOCIAL)


def test_dispatcher_posts_to_the_team_chat_once(aws: AwsStack, wiring: Wiring, monkeypatch: pytest.MonkeyPatch) -> None:
    import responses

    out = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW)
    item = out.work_items[0]
    monkeypatch.setenv("SOCIALCARE_SOCIAL_DESTINATION", "chat")
    _chat_webhooks(aws, {"social": "https://hooks.slack.test/services/T/B/X"})
    delivery = _dispatcher_delivery()
    with responses.RequestsMock() as mocked:
        mocked.post("https://hooks.slack.test/services/T/B/X", json={"ok": True})
        assert delivery.deliver(item, Team.SOCIAL) == "chat"
        assert delivery.deliver(item, Team.SOCIAL) == "chat"  # SQS redelivery
        assert len(mocked.calls) == 1, "the idempotency table must stop a second post"
        posted = json.loads(mocked.calls[0].request.body or b"{}")
    assert item.case.id in posted["text"] and "Suggested answer" in posted["text"]
    assert wiring.case_queries.get_case(item.case.id).pending_items == []


def test_dispatcher_chat_failure_is_retried(aws: AwsStack, wiring: Wiring, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests
    import responses

    out = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW)
    monkeypatch.setenv("SOCIALCARE_SOCIAL_DESTINATION", "chat")
    _chat_webhooks(aws, {"social": "https://hooks.slack.test/x"})
    delivery = _dispatcher_delivery()
    with responses.RequestsMock() as mocked:
        mocked.post("https://hooks.slack.test/x", status=500)
        with pytest.raises(requests.HTTPError):
            delivery.deliver(out.work_items[0], Team.SOCIAL)


def _dispatcher_delivery() -> Any:
    """A team dispatcher's delivery, from the environment as it is now, with the Lambda context
    registered on its idempotency guard (what ``Dispatcher.handle_batch`` does per invocation)."""
    w = Wiring(Settings())
    w.guard.register(_context())
    return w.delivery


def _context() -> Any:
    class Ctx:
        function_name = "TeamDispatcher"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:TeamDispatcher"
        aws_request_id = "req"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    return Ctx()


def test_resolved_case_cannot_be_handed_off(wiring: Wiring) -> None:
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert case is not None
    wiring.case_actions.resolve(case.id, now=NOW)
    with pytest.raises(Conflict):
        wiring.case_actions.handoff(case.id, Team.CALLCENTRE, now=NOW)


def test_crm_commands_change_the_case_like_an_agent(aws: AwsStack, wiring: Wiring) -> None:
    from socialcare.models.crm import CaseSnapshot

    queries = wiring.case_queries
    case = wiring.threading.on_interaction(story()[2], "cust-anna", {}, now=NOW).case  # private refund: call centre
    assert case is not None and case.team is Team.CALLCENTRE
    service = wiring.case_actions  # what the CRM webhook's commands call
    service.set_case_status(case.id, "pending", actor="crm:zendesk")
    assert queries.get_case(case.id).status is CaseStatus.PENDING
    service.set_case_status(case.id, "resolved", actor="crm:zendesk")
    resolved = queries.get_case(case.id)
    assert resolved.status is CaseStatus.RESOLVED
    assert drain(aws, "SocialTeamQueue") == [], "a case that began in private needs no public close-the-loop"
    service.set_case_status(case.id, "open", actor="crm:zendesk")
    reopened = queries.get_case(case.id)
    assert reopened.status is CaseStatus.OPEN and reopened.reopen_count == 1
    snapshot = CaseSnapshot.model_validate(crm_snapshot(reopened))
    assert snapshot.version == reopened.version and snapshot.is_open and snapshot.team == "callcentre"
    assert snapshot.first_response_due_at == reopened.sla.first_response_due


def test_an_interaction_without_a_customer_is_refused(wiring: Wiring) -> None:
    with pytest.raises(ValueError):
        wiring.threading.on_interaction(story()[0], "", {}, now=NOW)
    assert wiring.case_queries.open_case_for("") is None


def test_handoffs_read_from_and_to_in_json(wiring: Wiring, api: Api) -> None:
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert case is not None
    api("POST", f"/api/cases/{case.id}/handoff", {"to": "callcentre"}, agent="marta")
    _, body = api("GET", f"/api/cases/{case.id}")
    assert body["handoffs"][-1]["from"] == "social" and body["handoffs"][-1]["to"] == "callcentre"
    assert body["handoffs"][-1]["by"] == "marta"


def test_case_routes_are_served_by_the_api_function_with_its_auth(aws: AwsStack, wiring: Wiring) -> None:
    case = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW).case
    assert case is not None
    app = load_app("api").app  # the ApiFunction, built from its own settings at cold start
    assert call_api(app, "GET", f"/api/cases/{case.id}")[0] == 401
    status, body = call_api(app, "GET", f"/api/cases/{case.id}", token=aws.api_token)
    assert status == 200 and body["id"] == case.id
    assert call_api(app, "POST", "/api/teams/social/claim", token=aws.api_token)[1]["case"]["id"] == case.id


def test_every_case_version_is_queued_for_the_crm_even_bookkeeping_ones(
    aws: AwsStack, wiring: Wiring, case_versions: CaseVersions
) -> None:
    """Escalations, leases and held items change the case too: the CRM must not lag any of them."""
    out = wiring.threading.on_interaction(story()[0], "cust-anna", {}, now=NOW)
    assert out.case is not None
    wiring.delivery.hold_for_pull(out.work_items[0])
    claimed = wiring.case_actions.claim(Team(out.work_items[0].team.value), "marta", now=NOW)
    assert claimed is not None and claimed.version > out.case.version

    assert case_versions.relay() == {"batchItemFailures": []}
    sqs = boto3.client("sqs")
    queued: set[int] = set()
    while batch := sqs.receive_message(QueueUrl=aws.queue_urls["CrmSyncQueue"], MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in batch:
            body = json.loads(message["Body"])
            if body["case_id"] == out.case.id:
                queued.add(body["version"])
            sqs.delete_message(QueueUrl=aws.queue_urls["CrmSyncQueue"], ReceiptHandle=message["ReceiptHandle"])
    assert set(range(out.case.version + 1, claimed.version + 1)) <= queued


def test_an_agent_sees_one_pending_job_per_kind_and_team_about_the_newest_message(wiring: Wiring) -> None:
    first, second = story()[0], story()[0].model_copy(update={"id": "x:second-post", "platform_message_id": "2"})
    out1 = wiring.threading.on_interaction(first, "cust-anna", {}, now=NOW)
    out2 = wiring.threading.on_interaction(second, "cust-anna", {}, now=NOW)
    assert out1.case is not None and out2.case is not None and out1.case.id == out2.case.id
    for item in [*out1.work_items, *out2.work_items]:
        wiring.delivery.hold_for_pull(item)
    pending = wiring.case_queries.get_case(out1.case.id).pending_items
    jobs = [(p["kind"], p["team"]) for p in pending]
    assert len(jobs) == len(set(jobs)), pending
    newest = {(i.kind.value, i.team.value): i.item_id for i in out2.work_items}
    assert set(newest) & {(i.kind.value, i.team.value) for i in out1.work_items}, "both posts must ask the same job"
    assert all(p["item_id"] == newest[(p["kind"], p["team"])] for p in pending if (p["kind"], p["team"]) in newest)
