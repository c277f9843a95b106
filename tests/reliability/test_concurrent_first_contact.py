"""Concurrent first contact: one person who never wrote before reaches the brand twenty times at
once - seven WhatsApp messages, ten phone calls from the same number (Amazon Connect's caller
lookup) and three e-mails - each request in its own execution environment (its own cold-started
``functions/*/app.py``), then every inbound record processed at the same moment, each by its own
ProcessorFunction environment. Records that fail (a lost race is allowed to fail a record) are
handed back, as SQS does, until none fails.

Then: every contact is stored exactly once; the calls and the WhatsApp messages, which assert the
same phone, belong to one customer; the e-mails, which assert one address, to one customer; and
no other customer exists.

Payloads: tests/fixtures/channels/meta_whatsapp_messages.json (one message per POST, as WhatsApp
sends them one by one), connect_contact_flow.json (its ContactId varied per call, as each call has
its own), gateway_email.json (its message_id varied per e-mail).

In-process moto keeps its state in plain dicts with no locking: two threads inside one request
corrupt it ("dictionary changed size during iteration") and a conditional write would not be
atomic. ``atomic_moto_requests`` serialises each moto request - only that, as DynamoDB serves each
request atomically - while the functions' threads interleave freely between requests, which is
where a first-contact race lives (as in tests/integration/test_identity_race.py).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from harness import CHANNELS, Stack, as_bytes  # tests/reliability/harness.py
from moto.core.botocore_stubber import BotocoreStubber
from webhook_calls import Context, drain_messages, http_event, signed_headers

from socialcare import aws as aws_clients
from socialcare.models.interaction import InboundEvent
from socialcare_infra.esm import lambda_sqs_record
from socialcare_infra.handlers import load_app

pytestmark = pytest.mark.integration
PHONE = "+393331112222"


@pytest.fixture
def atomic_moto_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def locked(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)


def contacts(stack: Stack, sent: list[str]) -> list[Callable[[], Any]]:
    """Twenty first contacts, each a call into a freshly cold-started function."""
    whatsapp = json.loads((CHANNELS / "meta_whatsapp_messages.json").read_text(encoding="utf-8"))
    value = whatsapp["entry"][0]["changes"][0]["value"]
    connect = json.loads((CHANNELS / "connect_contact_flow.json").read_text(encoding="utf-8"))
    email = json.loads((CHANNELS / "gateway_email.json").read_text(encoding="utf-8"))
    calls: list[Callable[[], Any]] = []

    def post(endpoint: str, function: str, body: bytes) -> Callable[[], Any]:
        module = load_app(function)
        secret = stack.aws.secret_values["MetaAppSecret" if endpoint == "meta" else "InboundSecret"]
        # signed when sent, as a platform does (the gateway's signature is timestamped)
        return lambda: module.handler(http_event("POST", f"/webhooks/{endpoint}", body,
                                                 signed_headers(endpoint, secret, body)), Context())["statusCode"]

    for message in value["messages"]:
        one = copy.deepcopy(whatsapp)
        one["entry"][0]["changes"][0]["value"]["messages"] = [message]
        sent.append(message["id"])
        calls.append(post("meta", "webhook_meta", as_bytes(one)))
    for n in range(10):
        call = copy.deepcopy(connect)
        call["Details"]["ContactData"]["ContactId"] = call["Details"]["ContactData"]["InitialContactId"] = (
            f"5ca32fbd-8f92-46af-92a5-6b0f970f0e{n:02d}")
        sent.append(call["Details"]["ContactData"]["ContactId"])
        lookup = load_app("caller_lookup")
        context = Context(7_000, function_name="CallerLookupFunction", memory_limit_in_mb=256)
        calls.append(lambda lookup=lookup, call=call, context=context: lookup.handler(call, context) and 200)
    for n in range(3):
        mail = {**email, "message_id": f"<CAF=abc12{n}@mail.example.com>"}
        sent.append(mail["message_id"])
        calls.append(post("inbound", "webhook_inbound", as_bytes(mail)))
    return calls


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = calls[n]()
        except BaseException as exc:  # the test thread looks at it below
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def warm_shared_state(stack: Stack) -> None:
    """What real execution environments never share but threads of one process do: the boto3
    clients (``socialcare.aws``) and Powertools' secrets provider with its cache. Created once
    here, before the threads: botocore's session and loader are not safe to build from many
    threads at once (a racing thread fails to read the secret and the webhook, failing closed,
    answers 401)."""
    for service in ("dynamodb", "sqs", "s3", "sns"):
        aws_clients.client(service)
    for name in ("MetaAppSecret", "InboundSecret"):
        parameters.get_secret(stack.aws.secret_arns[name], max_age=300)


@pytest.mark.usefixtures("atomic_moto_requests")
def test_twenty_first_contacts_at_once_make_one_customer_per_identity(stack: Stack) -> None:
    warm_shared_state(stack)
    sent: list[str] = []
    answers = at_once(contacts(stack, sent))
    assert answers == [200] * 20, answers
    messages = drain_messages(stack.aws.queue_urls["InboundQueue"])
    queued = sorted(InboundEvent.model_validate_json(m["Body"]).event_id for m in messages)
    assert len(queued) == 20, f"acknowledged but not on inbound.fifo: {sorted(set(sent) - set(queued))}"

    arn = stack.aws.queue_arns["InboundQueue"]
    pending = [{"Records": [lambda_sqs_record(m, arn, stack.aws_region)]} for m in messages]
    for _ in range(5):  # SQS hands a failed record back after its visibility timeout
        processors = [load_app("processor") for _ in pending]
        results = at_once([lambda p=p, e=e: p.handler(e, Context()) for p, e in zip(processors, pending, strict=True)])
        pending = [e for e, r in zip(pending, results, strict=True) if r != {"batchItemFailures": []}]
        if not pending:
            break
    assert pending == [], "records still failing after five receives"

    owners = customers_of(stack)
    events = [InboundEvent.model_validate_json(m["Body"]) for m in messages]
    phone = {owners[e.interaction.id] for e in events if e.interaction and e.interaction.channel.value != "email"}
    mail = {owners[e.interaction.id] for e in events if e.interaction and e.interaction.channel.value == "email"}
    assert len(owners) == 20  # every contact stored, once
    assert len(phone) == 1 and len(mail) == 1, (phone, mail)
    assert stack.counts()["customers"] == len(phone | mail)


def customers_of(stack: Stack) -> dict[str, str]:
    """interaction id -> the customer whose timeline holds it (each interaction once)."""
    owners: dict[str, str] = {}
    for pk, sk in stack.items()["ProfilesTable"]:
        if sk.startswith("TS#"):
            interaction = sk.split("#", 2)[2]
            assert interaction not in owners, f"{interaction} stored twice"
            owners[interaction] = pk.removeprefix("CUSTOMER#")
    return owners
