"""Routing: which team gets the work item for an interaction, and whether the case moves.

The rules are ``config/routing.yaml`` (``RoutingRules``: versioned, shipped with the code); each
decision records the rule name and the rules' version, so "why did this go to the call centre?"
always has an answer on the case and on the work item.
"""

from __future__ import annotations

from socialcare.config.rules import RoutingConditions, RoutingRule, RoutingRules
from socialcare.models.case import Team
from socialcare.models.interaction import Interaction
from socialcare.models.triage import Route, Triage


def _matches(when: RoutingConditions, interaction: Interaction, result: Triage, case_team: Team | None) -> bool:
    """All conditions of ``when`` hold (an absent condition always holds)."""
    checks = (
        when.channel is None or interaction.channel.value in when.channel,
        when.kind is None or interaction.kind.value in when.kind,
        when.public is None or when.public == interaction.is_public,
        when.categories_any is None or bool(set(when.categories_any) & set(result.categories)),
        when.sentiment is None or result.sentiment.label in when.sentiment,
        when.case_team is None or (case_team is not None and case_team.value in when.case_team),
    )
    return all(checks)


class Router:
    def __init__(self, rules: RoutingRules) -> None:
        self.rules = rules

    @property
    def version(self) -> int:
        return self.rules.version

    def route(self, interaction: Interaction, result: Triage, case_team: Team | None = None) -> Route:
        """The first matching rule's decision (or the default)."""
        chosen: RoutingRule = next(
            (r for r in self.rules.rules if _matches(r.when, interaction, result, case_team)), self.rules.default
        )
        return Route(
            rule=chosen.name,
            version=self.rules.version,
            team=chosen.team,
            item=chosen.item,
            assign=chosen.assign,
            reason=chosen.reason or f"rule {chosen.name}",
        )
