"""The package's layout holds: folders are layers whose imports point one way, there are no import cycles,
no module uses another's private names, and the code that serves every model never names one.

Read from the source with `ast` (nothing is imported), counting every import: module level, inside
functions (lazy imports are dependencies too) and under `TYPE_CHECKING`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ganhelpers"

# layer -> the layers it may import (itself included). Bottom to top: data and nn know no training loop,
# core knows no model, eval and viz know no model, models know no search; cli, runs and the package's
# __init__ (the "top" layer) may use everything.
ALLOWED = {
    "data": {"data"},
    "nn": {"nn", "data"},
    "core": {"core", "data", "nn"},
    "eval": {"eval", "core", "data", "nn"},
    "viz": {"viz", "core", "data", "nn"},
    "models": {"models", "core", "data", "nn", "eval", "viz"},
    "search": {"search", "models", "core", "data", "nn", "eval", "viz"},
}
LAYERS = set(ALLOWED)
# files that run for every model: they must ask the model's spec, never test its name
GENERIC = ["cli.py", "runs.py", "models/spec.py", "models/tasks.py", "models/__init__.py", "search"]


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py of the package (a package is its __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("ganhelpers",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "top"


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` reads from."""
    if not node.level:
        return node.module or ""
    base = _package_of(module).split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str):
    """(imported module, name imported from it or None, line) for every import of `module` within ganhelpers."""
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ganhelpers":
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _base(module, node)
            if target.split(".")[0] != "ganhelpers":
                continue
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:  # `from . import plot`: the module itself
                    yield f"{target}.{alias.name}", None, node.lineno
                else:
                    yield target, alias.name, node.lineno


def _module_aliases(module: str) -> dict[str, str]:
    """Local names bound to package modules (`from . import plot`, `from ..data import datasets`)."""
    aliases = {}
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if f"{_base(module, node)}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{_base(module, node)}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    aliases[alias.asname] = alias.name
    return aliases


def _graph() -> dict[str, set[str]]:
    return {m: {target for target, _, _ in _imports(m) if target in MODULES and target != m} for m in MODULES}


def test_the_package_is_read():
    """The test sees the layers it checks (a moved package would otherwise pass vacuously)."""
    assert {_layer(m) for m in MODULES} == LAYERS | {"top"}
    assert any(target == "ganhelpers.core.trainer" for target, _, _ in _imports("ganhelpers.cli"))
    assert "ganhelpers.core.config" in _graph()["ganhelpers.core.trainer"]


def test_layers_import_only_downwards():
    wrong = []
    for module in MODULES:
        layer = _layer(module)
        if layer == "top":
            continue
        for target, _, line in _imports(module):
            if target in MODULES and _layer(target) not in ALLOWED[layer]:
                wrong.append(f"{MODULES[module].relative_to(PACKAGE)}:{line} ({layer}) imports {target} "
                             f"({_layer(target)})")
    assert not wrong, "imports against the direction of the layers:\n" + "\n".join(wrong)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_private_names_across_modules():
    wrong = []
    for module in MODULES:
        for target, name, line in _imports(module):
            if name and name.startswith("_") and not name.startswith("__") and target != module:
                wrong.append(f"{MODULES[module].relative_to(PACKAGE)}:{line} imports {target}.{name}")
        aliases = _module_aliases(module)
        for node in ast.walk(ast.parse(MODULES[module].read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{MODULES[module].relative_to(PACKAGE)}:{node.lineno} uses "
                             f"{aliases[node.value.id]}.{node.attr}")
    assert not wrong, "private names used outside their module:\n" + "\n".join(wrong)


def _generic_files() -> list[Path]:
    files = []
    for entry in GENERIC:
        path = PACKAGE / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


@pytest.mark.parametrize("path", _generic_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_generic_code_never_names_a_model(path):
    """The command line, run folders, the registry's machinery and the search ask `ModelSpec`; a model's name
    in a string there would be a branch on it (the registry itself builds MODELS from the families' SPECS)."""
    from ganhelpers.models import MODELS
    named = [(node.lineno, node.value) for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in MODELS]
    assert not named, f"{path.relative_to(PACKAGE)} names models: {named}"
