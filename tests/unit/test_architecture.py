"""The shape a newcomer can rely on (docs/architecture.md): small modules and functions, DynamoDB
only behind the storage layer, Lambda entry points that only call a flow, and documentation that
only cites files the repository holds. import-linter (``make lint``) checks the layers themselves."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "socialcare"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# boto3 DynamoDB operations (client and resource style).
DYNAMODB_CALLS = frozenset({
    "get_item", "put_item", "update_item", "delete_item", "query", "scan", "batch_get_item", "batch_write_item",
    "transact_write_items", "transact_get_items", "execute_statement", "batch_execute_statement",
})


def python_files(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((ROOT / root).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_no_module_is_longer_than_400_lines() -> None:
    long = {rel(p): n for p in python_files("shared", "infra", "functions")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules by concern: {long}"


def test_no_function_is_longer_than_60_lines() -> None:
    long = []
    for path in python_files("shared", "infra", "functions"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{rel(path)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "split these functions: " + "; ".join(long)


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def test_only_the_storage_layer_calls_dynamodb() -> None:
    offenders = []
    for path in python_files("shared", "functions"):
        if PACKAGE / "store" in path.parents:
            continue
        for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call.func, ast.Attribute) and call.func.attr in DYNAMODB_CALLS:
                offenders.append(f"{rel(path)}:{call.lineno} .{call.func.attr}(...)")
    assert not offenders, "DynamoDB belongs in socialcare.store: " + "; ".join(offenders)


@pytest.mark.parametrize("app", sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py")))
def test_function_entry_points_only_build_and_call_a_flow(app: str) -> None:
    tree = ast.parse((ROOT / "functions" / app / "app.py").read_text(encoding="utf-8"))
    ours = [node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("socialcare")]
    wrong = [m for m in ours if not (m.startswith("socialcare.flows") or m == "socialcare.observability")]
    assert not wrong, f"functions/{app}/app.py imports {wrong}: entry points call flows only"
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    assert len(handlers) == 1 and len(handlers[0].body) == 1, "the handler is decorators plus one call"


# Paths the documents and the code cite: docs/..., shared/..., infra/..., tests/..., functions/...
_CITED = re.compile(r"(?<![\w/.-])((?:docs|shared|infra|tests|functions|events)/[\w./*<>{}-]*[\w*>}])")


def _documents() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").rglob("*.md"))
    yield from python_files("shared", "infra", "functions")
    yield ROOT / "template.yaml"
    yield ROOT / "Makefile"


def test_every_file_the_docs_and_code_cite_is_in_the_repository() -> None:
    missing = []
    for document in _documents():
        text = document.read_text(encoding="utf-8")
        for name in ("ARCHITECTURE.md", "PROTOCOLS.md"):
            if name in text:
                missing.append(f"{rel(document)} cites {name}, which is not in the repository")
        for cited in set(_CITED.findall(text)):
            if any(ch in cited for ch in "*<{"):
                found = any(ROOT.glob(re.sub(r"<[^>]*>|\{[^}]*\}", "*", cited)))  # a pattern: something matches
            else:
                found = (ROOT / cited).exists()
            if not found:
                missing.append(f"{rel(document)} cites {cited}")
    assert not missing, "; ".join(sorted(missing))
