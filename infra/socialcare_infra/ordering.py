"""Creation order of a template's resources: what each refers to, and a topological sort."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")  # ${Name} / ${Res.Attr} in an Fn::Sub string


class CircularReference(Exception):
    """Two resources refer to each other (directly or through others)."""


def references(resource: Mapping[str, Any]) -> set[str]:
    """Every logical id the resource's properties and DependsOn name."""
    found: set[str] = set()
    _collect_refs(resource.get("Properties"), found)
    depends = resource.get("DependsOn") or []
    found.update([depends] if isinstance(depends, str) else depends)
    return found


def topological_order(wanted: list[str], dependencies: Callable[[str], set[str]]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(node: str) -> None:
        if node in order:
            return
        if node in visiting:
            raise CircularReference(f"circular reference through {node}")
        visiting.add(node)
        for dep in sorted(dependencies(node)):
            if dep in wanted:
                visit(dep)
        visiting.discard(node)
        order.append(node)

    for node in wanted:
        visit(node)
    return order


def _collect_refs(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item.split(".")[0] if isinstance(item, str) else item[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                for expr in SUB_VARIABLE.findall(str(text)):
                    if not expr.startswith("!"):
                        found.add(expr.split(".")[0])
                if isinstance(item, list) and len(item) > 1:
                    _collect_refs(item[1], found)
            else:
                _collect_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_refs(item, found)
