"""What the fuzzers found, each as its smallest reproducer, kept as a regression test: a Connect
event holding a lone surrogate failed the caller-lookup invocation (the call record could not be
serialised for SQS) instead of answering the contact flow."""

from __future__ import annotations

import copy
import json

from seeds import seeds  # tests/fuzz/seeds.py
from targets import REGION, KeptEvents, Nobody  # tests/fuzz/targets.py

from socialcare.flows.caller_lookup import CallerLookup


def test_a_connect_event_with_a_lone_surrogate_still_records_the_call() -> None:
    event = copy.deepcopy(seeds("connect")[0])
    # Connect passes contact-flow parameters through; the Lambda runtime decodes "\ud800" alone
    event["Details"]["Parameters"] = json.loads('{"note": "\\ud800"}')
    kept = KeptEvents()
    answer = CallerLookup(Nobody(), kept, REGION).handle(event)
    assert answer["lookupStatus"] == "ok"
    (call,) = kept.events
    call.queue_body().encode("utf-8")  # what Publisher.inbound sends to SQS
