"""Customer data out of log lines (observability.erase_for_log, Powertools data masking): what a
payload or a third party's error carries is erased field by field, the rest of the line stays,
and the masking costs a cold start nothing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from socialcare.flows.case_stream import sync_requests
from socialcare.observability import ERASED, erase_for_log, logger
from socialcare.store.cases.items import CASE_SK, case_pk

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PHONES = "anna.bianchi@example.com", ("+39 333 123 4567", "+39 (333) 123-4567", "0039 333 1234567")


def test_emails_and_phone_numbers_are_erased_from_a_third_partys_text_and_the_rest_is_kept() -> None:
    reason = (f"zendesk POST /api/v2/tickets answered 422: requester {EMAIL} / {' / '.join(PHONES)} is taken "
              "(ticket 48213, user ZD-778899, at 2026-03-01T10:00:00Z)")
    extra = {"reason": reason, "case_id": "SC-2026-000123"}

    logged = erase_for_log(extra, personal=["reason"])

    assert EMAIL not in logged["reason"] and not any(phone in logged["reason"] for phone in PHONES)
    assert logged["reason"].count(ERASED) == 4
    for kept in ("zendesk POST /api/v2/tickets answered 422", "ticket 48213", "ZD-778899", "2026-03-01T10:00:00Z"):
        assert kept in logged["reason"]
    assert logged["case_id"] == "SC-2026-000123"
    assert extra["reason"] == reason, "the caller's own dict must not change (it may still be sent to the DLQ)"


def test_values_are_erased_whole_and_a_path_that_is_not_there_is_skipped() -> None:
    errors = [{"loc": ["case_id"], "msg": "too long", "input": f"CASE of {EMAIL}"},
              {"loc": ["version"], "msg": "too small", "input": 0}]

    logged = erase_for_log({"errors": errors, "sequence": "42"}, values=["errors[*].input", "payload"],
                           personal=["reason"])

    assert [e["input"] for e in logged["errors"]] == [ERASED, ERASED]
    assert [(e["loc"], e["msg"]) for e in logged["errors"]] == [(["case_id"], "too long"), (["version"], "too small")]
    assert logged["sequence"] == "42" and "payload" not in logged and "reason" not in logged


def test_an_unrelayable_case_version_is_logged_where_and_why_without_its_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = {"pk": {"S": case_pk(f"{EMAIL}-" + "X" * 200)}, "sk": {"S": CASE_SK}, "version": {"N": "3"}}
    record = {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "900", "NewImage": image}}

    with caplog.at_level(logging.ERROR, logger=logger.name):
        assert [request for _, request in sync_requests({"Records": [record]})] == [None]

    (line,) = [logger.registered_formatter.format(r) for r in caplog.records
               if r.getMessage() == "case version not relayable"]
    assert EMAIL not in line
    (error,) = json.loads(line)["errors"]
    assert error["loc"] == ["case_id"] and "128" in error["msg"] and error["input"] == ERASED


def test_data_masking_is_loaded_by_the_first_log_line_that_needs_it_not_by_a_cold_start() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), "POWERTOOLS_TRACE_DISABLED": "true",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    script = (
        "import sys\n"
        "import socialcare.flows.crm_sync, socialcare.flows.responder, socialcare.flows.case_stream\n"
        "masking = 'aws_lambda_powertools.utilities.data_masking'\n"
        "print(masking in sys.modules)\n"
        "from socialcare.observability import erase_for_log\n"
        "erase_for_log({'reason': 'x'}, personal=['reason'])\n"
        "print(masking in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["False", "True"]
