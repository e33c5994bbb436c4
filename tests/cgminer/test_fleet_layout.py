"""The cgminer pipeline's modules import one way: read from the source with `ast`.

Every import counts, including those under TYPE_CHECKING and inside functions:
a lazy import is still a dependency, and the way a cycle used to be hidden.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from tests.support.paths import REPO

PACKAGE = REPO / "exporters" / "cgminer"
PREFIX = "exporters.cgminer"


def _modules() -> dict[str, Path]:
    """Module name (relative to exporters.cgminer, "" for the package itself) -> file."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the exporters.cgminer modules it imports (by the deepest existing name)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = [part for part in package if part]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name.removeprefix(PREFIX).lstrip(".") for alias in node.names if alias.name.startswith(PREFIX)]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)] + ([node.module] if node.module else [])
                    base_name = ".".join(base)
                elif node.module and node.module.startswith(PREFIX):
                    base_name = node.module.removeprefix(PREFIX).lstrip(".")
                else:
                    continue
                names = [f"{base_name}.{alias.name}".lstrip(".") for alias in node.names] + [base_name]
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name in modules and name != module and name:
                    graph[module].add(name)
    return graph


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph[current])
    return seen


def test_the_graph_sees_relative_absolute_and_lazy_imports():
    graph = import_graph()
    assert {"fleet_scrape", "targets", "metrics"} <= graph["workers"]
    assert "firmware.registry" in graph["firmware"]  # from .registry inside the package
    assert "client" in graph["scrape"]


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Pairs of modules each reaching the other (directly or through others)."""
    return sorted(f"{a} <-> {b}" for a in graph for b in _reaches(graph, a) if a < b and a in _reaches(graph, b))


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(import_graph()) == []


def test_the_cycle_check_sees_an_indirect_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a <-> b", "a <-> c", "b <-> c"]


def test_fleet_modules_point_down():
    """server -> fleet -> workers -> fleet_scrape -> targets -> labels -> metrics, never back.

    config sits below them all (it needs only labels and client); fleet and
    targets name it for type checking only, and a worker never loads it.
    """
    graph = import_graph()
    chain = ["server", "fleet", "workers", "fleet_scrape", "targets", "labels", "metrics"]
    for upper, lower in zip(chain, chain[1:]):
        assert lower in graph[upper], (upper, lower)
    for index, module in enumerate(chain):
        assert not (_reaches(graph, module) & set(chain[: index + 1])), module
    assert _reaches(graph, "config") <= {"labels", *_reaches(graph, "labels"), "client", *_reaches(graph, "client")}
    assert not (_reaches(graph, "discover") & set(chain[:-2]))


def test_every_module_opens_with_a_docstring():
    missing = [name for name, path in _modules().items() if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []


def test_a_worker_process_loads_neither_the_facade_nor_the_config():
    """Workers import only what scraping needs (no pydantic, no aiohttp, no Fleet)."""
    code = (
        "import sys, exporters.cgminer.workers\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('exporters.cgminer.', 'pydantic', 'aiohttp')))))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent.parent).stdout.split())
    assert "exporters.cgminer.fleet_scrape" in loaded
    assert not loaded & {"exporters.cgminer.fleet", "exporters.cgminer.config", "exporters.cgminer.server"}
    assert not any(name.startswith(("pydantic", "aiohttp")) for name in loaded)
