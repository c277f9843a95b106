"""The report's pure parts: what a stream record counts, the journey before a call, the period
a command line asks for, last week's dates - and that a section is drawn as a chart, a table and
a CSV from one series."""

from __future__ import annotations

from datetime import date

import pytest

from socialcare.domain.reporting import charts
from socialcare.domain.reporting.facts import journey, record_work, response_bucket
from socialcare.domain.reporting.model import Aggregates, Section, Series
from socialcare.domain.reporting.page import page
from socialcare.domain.reporting.report import csv_text, last_week, period
from socialcare.store.codec import to_item


def timeline_record(kind: str, direction: str = "inbound", followers: int | None = 500) -> dict[str, object]:
    image = {"pk": {"S": "CUSTOMER#c1"}, "sk": {"S": "TS#2026-03-02T09:00:00.000000Z#x:1"}, "id": {"S": "x:1"},
             "channel": {"S": "x"}, "kind": {"S": kind}, "direction": {"S": direction},
             "occurred_at": {"S": "2026-03-02T09:00:00.000000Z"}, "text": {"S": "never counted"}}
    if followers is not None:
        image["followers"] = {"N": str(followers)}
    return {"eventName": "INSERT", "dynamodb": {"NewImage": image, "SequenceNumber": "7"}}


def test_a_public_mention_counts_its_volume_reach_and_customer_day() -> None:
    work = record_work(timeline_record("public_post"))

    assert work is not None and work.gate is not None and work.gate.key == "ix:x:1"
    assert work.gate.increments.by_item == {
        ("2026-03-02", "VOL"): {"in#x": 1},
        ("2026-03-02", "REACH"): {"mentions": 1, "reach": 500, "mentions#x": 1, "reach#x": 500},
    }
    assert work.customer_day is not None and (work.customer_day.customer_id, work.customer_day.day) == (
        "c1", "2026-03-02")


def test_our_own_reply_counts_as_sent_and_not_as_a_customer() -> None:
    work = record_work(timeline_record("public_reply", direction="outbound"))

    assert work is not None and work.gate is not None
    assert work.gate.increments.by_item == {("2026-03-02", "VOL"): {"out#x": 1}}
    assert work.customer_day is None and work.call is None


def case_record(first_response_at: str) -> dict[str, object]:
    """A case version as CasesTable's stream carries it: opened 22:00 UTC, answered at ``first_response_at``."""
    image = to_item({"pk": "CASE#SC-1", "sk": "CASE", "status": "open", "team": "callcentre", "reopen_count": 0,
                     "opened_at": "2026-03-02T22:00:00Z", "updated_at": "2026-03-02T22:00:00Z",
                     "first_response_at": first_response_at, "categories": ["billing"],
                     "sla": {"started_at": "2026-03-02T22:00:00Z", "first_response_due": "2026-03-02T22:30:00Z"}})
    return {"eventName": "MODIFY", "dynamodb": {"NewImage": image, "SequenceNumber": "8"}}


@pytest.mark.parametrize("answered", ["2026-03-03T00:20:00+02:00", "2026-03-02T22:20:00"])
def test_a_first_response_counts_on_its_utc_day_whatever_offset_it_was_stored_with(answered: str) -> None:
    # 00:20 in Rome is 22:20 UTC the day before; a time stored without an offset is UTC
    work = record_work(case_record(answered))

    assert work is not None
    (response,) = [f for f in work.facts if f.key == "fr:SC-1:0"]
    assert response.increments.by_item == {("2026-03-02", "FR"): {
        "n#callcentre": 1, "met#callcentre": 1, "secs#callcentre": 1200, "target#callcentre": 1800,
        "bucket#50–75%": 1}}
    assert {f.key for f in work.facts} == {"open:SC-1", "cat:SC-1:billing", "fr:SC-1:0"}


def test_removed_and_modified_timeline_items_count_nothing() -> None:
    record = timeline_record("direct_message")
    assert record_work({**record, "eventName": "MODIFY"}) is None
    assert record_work({**record, "eventName": "REMOVE"}) is None


def test_a_journey_collapses_repeats_and_keeps_the_last_four_steps() -> None:
    assert journey(["x", "x", "facebook", "x", "whatsapp", "whatsapp", "email"]) == ["facebook", "x", "whatsapp",
                                                                                      "email"]
    assert journey([]) == []


@pytest.mark.parametrize(("ratio", "bucket"), [(0.1, "≤25%"), (1.0, "75–100%"), (1.01, "100–150%"),
                                               (9.0, ">200%")])
def test_first_responses_fall_in_the_bucket_of_their_share_of_the_target(ratio: float, bucket: str) -> None:
    assert response_bucket(ratio) == bucket


def test_since_is_a_number_of_days_or_a_date() -> None:
    today = date(2026, 3, 31)
    assert period("30d", today=today) == (date(2026, 3, 2), today)
    assert period("2026-01-01", date(2026, 1, 31)) == (date(2026, 1, 1), date(2026, 1, 31))
    for bad in ("0d", "yesterday", "2026-04-01"):
        with pytest.raises(ValueError):
            period(bad, today=today)


def test_last_week_is_the_last_complete_iso_week() -> None:
    assert last_week(date(2026, 3, 11)) == (date(2026, 3, 2), date(2026, 3, 8), "2026-W10")
    assert last_week(date(2026, 1, 4)) == (date(2025, 12, 22), date(2025, 12, 28), "2025-W52")


def test_a_section_is_drawn_with_its_table_and_csv_from_one_series() -> None:
    section = Section("csat", "Customer satisfaction", "Survey answers.", "bar", ("CSAT",),
                      lambda agg: Series("day", ["2026-03-02"], {"answers": [4]}, extra={"mean": [4.5]}))
    series = section.series(Aggregates(date(2026, 3, 2), date(2026, 3, 2)))
    svg = charts.svg(section, series)
    html = page("t", "s", [], [(section, series, svg)])

    assert "<script" not in svg and '<desc class="value">4</desc>' in svg
    assert '<th scope="row">2026-03-02</th><td>4</td><td>4.5</td>' in html
    assert csv_text(series) == "day,answers,mean\n2026-03-02,4,4.5\n"
