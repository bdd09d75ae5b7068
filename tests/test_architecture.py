"""The arrows that must never exist (docs/architecture.md), read from the source's own imports.

Each module's imports (at any depth in the file, lazy ones included) are
followed through silosim's own modules, so a forbidden package reached
through a third module counts too.
"""

import ast

import pytest

from tests.helpers import ROOT

SRC = ROOT / "src"


def _module_name(path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in (SRC / "silosim").rglob("*.py")}


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports, absolute names, at any depth of its file (``if TYPE_CHECKING:`` aside)."""
    found = set()
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):  # type-only imports never run: drop them before the walk
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES}
    return found


def reached(name: str) -> set[str]:
    """Everything importing ``name`` may import, following silosim's modules (and their packages)."""
    seen, todo = set(), [name]
    while todo:
        module = todo.pop()
        for target in _imports(module):
            if target in seen:
                continue
            seen.add(target)
            parents = [".".join(target.split(".")[:k]) for k in range(2, target.count(".") + 2)]
            todo += [m for m in (*parents, target) if m in MODULES and m != module]
    return seen


def _roots(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names} | {".".join(n.split(".")[:2]) for n in names if n.startswith("silosim.")}


def test_the_import_walk_sees_lazy_imports_and_follows_silosim_modules():
    assert "mesa" in _roots(reached("silosim.model"))  # a direct import
    assert "matplotlib" in _roots(reached("silosim.runner"))  # lazy, inside write_results, through analysis.plots
    assert "silosim.model" in reached("silosim.experiments.sweep")  # through silosim.runner


@pytest.mark.parametrize(
    "module",
    [
        "silosim.metrics",
        "silosim.network",
        "silosim.ona.read",
        "silosim.ona.scenario",
        "silosim.stats",
        "silosim.needs",
        "silosim.rules",
        "silosim.analysis.text",
        "silosim.analysis.conclusion",
        "silosim.analysis.sweep_conclusion",
        "silosim.analysis.sensitivity",
        "silosim.analysis.prim",
    ],
)
def test_pure_functions_never_import_mesa_or_a_screen(module):
    assert not {"mesa", "solara", "matplotlib", "silosim.model", "silosim.viz", "silosim.cli"} & _roots(reached(module))


@pytest.mark.parametrize("module", ["silosim.model", "silosim.world", "silosim.agents", "silosim.dynamics"])
def test_the_model_knows_no_screen_and_no_command_line(module):
    assert not {"solara", "matplotlib", "silosim.viz", "silosim.cli", "silosim.analysis", "argparse"} & _roots(
        reached(module)
    )


@pytest.mark.parametrize(
    "module", ["silosim.experiments.sweep", "silosim.experiments.executor", "silosim.experiments.design"]
)
def test_sweeps_run_headless(module):
    assert not {"solara", "silosim.viz", "silosim.cli", "silosim.app"} & _roots(reached(module))


def test_the_scenario_language_needs_no_model():
    assert not {"mesa", "silosim.model", "silosim.viz", "silosim.cli"} & _roots(reached("silosim.scenario"))
