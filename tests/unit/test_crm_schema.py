"""The case.upserted contract: published schema, delivery ids, merged cases, sync messages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from socialcare.crm.samples import sample_view
from socialcare.models.crm import (
    CaseUpserted,
    CrmSyncRequest,
    delivery_id,
    render_case_upserted_json_schema,
)
from socialcare.publish import dedupe_id

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "case-upserted.v1.json"


def test_published_schema_matches_the_model() -> None:
    # Given the JSON Schema receivers download, when the model changes, this fails until
    # `python -m socialcare.models.crm` republishes it.
    assert PUBLISHED.read_text(encoding="utf-8") == render_case_upserted_json_schema()


def test_a_real_payload_validates_against_the_published_schema() -> None:
    payload = json.loads(
        CaseUpserted.from_view(sample_view(channels=("x", "facebook", "messenger", "whatsapp"))).model_dump_json()
    )
    jsonschema.validate(payload, json.loads(PUBLISHED.read_text(encoding="utf-8")))
    assert payload["event"] == "case.upserted"
    assert payload["schema_version"] == 1
    assert payload["case"]["channels"] == ["x", "facebook", "messenger", "whatsapp"]
    assert {"id", "status", "priority", "team", "channels"} <= set(payload["case"])
    assert payload["customer"]["id"] == "cus-giulia"
    assert len(payload["interactions"]) == 4


def test_schema_rejects_a_payload_without_a_case() -> None:
    schema = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"event": "case.upserted", "schema_version": 1, "delivery_id": "x"}, schema)


def test_delivery_id_is_stable_per_version_and_unique_across_versions() -> None:
    assert delivery_id("SC-2026-7", 3) == delivery_id("SC-2026-7", 3)
    assert delivery_id("SC-2026-7", 3) != delivery_id("SC-2026-7", 4)
    assert delivery_id("SC-2026-7", 3) != delivery_id("SC-2026-70", 3)
    first = CaseUpserted.from_view(sample_view(version=3))
    again = CaseUpserted.from_view(sample_view(version=3))
    assert first.delivery_id == again.delivery_id


def test_merged_case_is_sent_closed_with_a_pointer_to_the_survivor() -> None:
    view = sample_view("SC-2026-9", status="merged", merged_into="SC-2026-1")
    view = view.model_copy(update={"case": view.case.model_copy(update={"is_open": True})})
    event = CaseUpserted.from_view(view)
    assert event.case.status == "merged"
    assert event.case.is_open is False
    assert event.case.merged_into == "SC-2026-1"


def test_sync_request_is_versioned_and_deduped_per_case_version() -> None:
    request = CrmSyncRequest.model_validate_json('{"case_id": "SC-2026-1", "version": 4}')
    assert request.schema_version == 1
    assert request.group_id == "SC-2026-1"
    assert request.dedupe_key == "crm-sync|SC-2026-1|4"
    assert dedupe_id(request) == hashlib.sha256(b"crm-sync|SC-2026-1|4").hexdigest()
    assert dedupe_id(request) == dedupe_id(CrmSyncRequest(case_id="SC-2026-1", version=4, reason="reconcile"))
    assert dedupe_id(request) != dedupe_id(CrmSyncRequest(case_id="SC-2026-1", version=5))
    with pytest.raises(ValidationError):
        CrmSyncRequest.model_validate_json('{"case_id": "SC-2026-1", "version": 0}')
    with pytest.raises(ValidationError):
        CrmSyncRequest.model_validate_json('{"schema_version": 2, "case_id": "SC-2026-1", "version": 1}')
