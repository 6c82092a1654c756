"""The shape of the code, checked: no import cycles, each layer imports only what it may, and nothing
registers itself when it is imported (the composition root lists the use cases)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bot", "handlers", "governance_store", "notifications")
CHAT_SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every module this one imports at run time (also inside functions), ``if TYPE_CHECKING:`` excepted."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    internal = {m: {t for t in targets if t in graph} for m, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(internal[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(internal):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle(graph: dict[str, set[str]]) -> None:
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_a_cycle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _offending(graph: dict[str, set[str]], package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, targets in graph.items() if m.split(".")[0] == package
                  for t in targets if t.split(".")[0] in forbidden)


def test_each_layer_imports_only_what_it_may(graph: dict[str, set[str]]) -> None:
    assert _offending(graph, "governance_store", ("bot", "handlers", "notifications")) == []
    assert _offending(graph, "handlers", ("bot", *CHAT_SDKS)) == []
    assert _offending(graph, "notifications", ("bot", *CHAT_SDKS)) == []


def test_only_the_adapters_import_chat_sdks(graph: dict[str, set[str]]) -> None:
    users = sorted(m for m, targets in graph.items() if any(t.split(".")[0] in CHAT_SDKS for t in targets))
    assert all(m.startswith(("bot.slack.", "bot.teams.", "bot.web")) for m in users), users


def test_importing_the_core_registers_nothing() -> None:
    """The router's tables come from the composition root's explicit list; importing a module has no effect
    on them, and no module reaches into another through ``sys.modules``."""
    code = ("import sys, handlers.router, handlers.services; "
            "print(sorted(m for m in sys.modules if m in ('handlers.changes', 'handlers.ownership', "
            "'handlers.dashboard', 'handlers.home')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    for name, path in _modules().items():
        assert "sys.modules" not in path.read_text(encoding="utf-8"), name


def test_the_use_cases_are_listed_once_in_the_composition_root() -> None:
    from bot import bootstrap
    from handlers.routes import Route

    assert bootstrap.USE_CASES, "the composition root lists the use cases"
    for module in bootstrap.USE_CASES:
        assert all(isinstance(r, Route) for r in module.ROUTES), module.__name__
    handlers_with_routes = {p.stem for p in (ROOT / "handlers").glob("*.py") if "\nROUTES" in p.read_text()}
    assert handlers_with_routes == {m.__name__.split(".")[1] for m in bootstrap.USE_CASES}
