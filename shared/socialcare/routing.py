"""Routing: which team gets the work item for an interaction, and whether the case moves.

The rules are ``config/routing.yaml`` (versioned, shipped with the code); each decision records
the rule name and the rules' version, so "why did this go to the call centre?" always has an
answer on the case and on the work item.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from socialcare import config
from socialcare.models.case import Team
from socialcare.models.interaction import Interaction
from socialcare.models.triage import Route, Triage


class _Rule(BaseModel):
    name: str
    when: dict[str, Any]
    team: Team
    item: str = "respond"
    assign: bool = False
    reason: str = ""


@lru_cache(maxsize=1)
def _rules() -> tuple[int, list[_Rule], _Rule]:
    data = config.load("routing.yaml")
    version = int(data["version"])  # required: an unversioned rule set is a config error
    rules = [_Rule.model_validate(rule) for rule in data.get("rules") or []]
    default = _Rule.model_validate({"name": "default", "when": {}, **(data.get("default") or {"team": "social"})})
    return version, rules, default


def reset() -> None:
    _rules.cache_clear()


def rules_version() -> int:
    return _rules()[0]


def _matches(when: dict[str, Any], interaction: Interaction, result: Triage, case_team: Team | None) -> bool:
    for key, expected in when.items():
        if key == "channel" and interaction.channel.value not in expected:
            return False
        if key == "kind" and interaction.kind.value not in expected:
            return False
        if key == "public" and bool(expected) != interaction.is_public:
            return False
        if key == "categories_any" and not set(expected) & set(result.categories):
            return False
        if key == "sentiment" and result.sentiment.label not in expected:
            return False
        if key == "case_team" and (case_team is None or case_team.value not in expected):
            return False
        if key not in {"channel", "kind", "public", "categories_any", "sentiment", "case_team"}:
            raise ValueError(f"routing rule uses unknown condition {key!r}")
    return True


def route(interaction: Interaction, result: Triage, case_team: Team | None = None) -> Route:
    """The first matching rule's decision (or the default)."""
    version, rules, default = _rules()
    chosen = next((r for r in rules if _matches(r.when, interaction, result, case_team)), default)
    return Route(
        rule=chosen.name,
        version=version,
        team=chosen.team,
        item=chosen.item,
        assign=chosen.assign,
        reason=chosen.reason or f"rule {chosen.name}",
    )
