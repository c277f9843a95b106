"""Satisfaction on the profile (docs/satisfaction.md): the survey a customer was last asked
(``last_survey_at``, and ``survey_case_id`` while its answer is awaited: the processor reads it
with the profile, so a customer with no survey pending costs nothing more) and their ratings
(``csat_score``/``csat_at``, the latest; ``csat_history``, every one)."""

from __future__ import annotations

from typing import Any

from socialcare.store.codec import attribute_value, conditionally, key
from socialcare.store.profiles.items import ALIAS_HOPS, PROFILE, customer_pk, now_iso, threaded_onto_ops
from socialcare.store.profiles.reads import ProfileReads

_LIVE = "attribute_exists(pk) AND attribute_not_exists(merged_into)"


class SatisfactionWrites(ProfileReads):

    def note_survey(self, customer_id: str, case_id: str, at: str) -> bool:
        """The customer was asked about ``case_id`` at ``at``: the quiet period starts, and the
        processor watches their next message for the answer. ``customer_id`` is the profile as the
        survey read it; one merged away since is noted on its survivor. False: no such (live) customer."""
        values = {":at": {"S": at}, ":case": {"S": case_id}}
        for _ in range(ALIAS_HOPS):
            update = {"TableName": self.table, "Key": key(customer_pk(customer_id), PROFILE),
                      "UpdateExpression": "SET last_survey_at = :at, survey_case_id = :case, updated_at = :now",
                      "ConditionExpression": _LIVE,
                      "ExpressionAttributeValues": {**values, ":now": {"S": now_iso()}}}
            if conditionally(lambda: self.client.update_item(**update)):  # noqa: B023 - called at once
                return True
            survivor = self.get_profile(customer_id)  # read only when the profile was merged meanwhile
            if survivor is None or survivor.id == customer_id:
                return False
            customer_id = survivor.id
        return False

    def rating_ops(self, customer_id: str, interaction_id: str, timeline_sk: str, case_id: str,
                   rating: dict[str, Any]) -> list[dict[str, Any]]:
        """Transaction items for the case's own transaction: the rating on the profile (latest and
        history; the survey no longer awaited) and the answer marked threaded into ``case_id``
        (its guard and timeline item), like ``threaded_ops`` does for an ordinary message."""
        return [
            {"Update": {
                "TableName": self.table, "Key": key(customer_pk(customer_id), PROFILE),
                "UpdateExpression": "SET csat_score = :score, csat_at = :at, updated_at = :now, "
                                    "csat_history = list_append(if_not_exists(csat_history, :empty), :entry) "
                                    "REMOVE survey_case_id",
                "ConditionExpression": _LIVE,
                "ExpressionAttributeValues": {
                    ":score": {"N": str(int(rating["score"]))}, ":at": {"S": str(rating["answered_at"])},
                    ":now": {"S": now_iso()}, ":empty": {"L": []}, ":entry": {"L": [attribute_value(rating)]},
                },
            }},
            *threaded_onto_ops(self.table, customer_id, interaction_id, timeline_sk, case_id),
        ]
