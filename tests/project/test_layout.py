"""The layout's promises, read from the source: app → services → kit, no import cycles, small files.

Every import statement of every module counts, those inside functions too (a lazy
import is still a dependency). Layers:

- kit: `hashwatch` except `hashwatch.app` (shared by every service)
- services: `exporters`, `profitability`, `simulator`, `alertmanager` (its receiver)
- app: `hashwatch.app` (the `hashwatch` command: CLI, settings, demo) and `grafana` (the dashboards,
  built from the alerting config and every service's metrics)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from tests.support.paths import REPO

ROOT = REPO
PACKAGES = ("hashwatch", "exporters", "profitability", "simulator", "alertmanager", "grafana")
SERVICES = ("exporters", "profitability", "simulator", "alertmanager")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports (the deepest existing module of each name)."""
    sources = _sources()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in sources.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in sources:
                    target = target.rpartition(".")[0]
                if target and target != module and target.split(".")[0] in PACKAGES:
                    graph[module].add(target)
    return graph


def _layer(module: str) -> str:
    if module == "hashwatch.app" or module.startswith("hashwatch.app.") or module.split(".")[0] == "grafana":
        return "app"
    return "kit" if module.split(".")[0] == "hashwatch" else "service"


def test_dependencies_point_from_app_to_services_to_kit():
    rank = {"kit": 0, "service": 1, "app": 2}
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if rank[_layer(target)] > rank[_layer(module)]
    )
    assert upward == []


def test_the_app_layer_exists_and_uses_the_services():
    graph = import_graph()
    assert any(_layer(t) == "service" for m, ts in graph.items() if _layer(m) == "app" for t in ts)
    assert not any(m.startswith("hashwatch.app") for m, ts in graph.items() if _layer(m) != "app" for _ in ts)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_file_over_400_lines_without_a_reason():
    """A longer module says why in its opening docstring (a line naming the reason it is long)."""
    long = []
    for package in (*PACKAGES, "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text().count("\n")
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            if lines > MAX_LINES and "lines" not in docstring.lower():
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert long == []


def test_where_things_live_maps_match_their_packages():
    """A package docstring's "Where things live" map names every module of the package, and only those."""
    import re

    checked = 0
    for package in PACKAGES:
        for init in sorted((ROOT / package).rglob("__init__.py")):
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            if "Where things live" not in doc:
                continue
            checked += 1
            listed = set(re.findall(r"^\s+([\w/]+(?:\.py|/))\s", doc.split("Where things live", 1)[1], re.M))
            present = {p.name for p in init.parent.glob("*.py") if p.name != "__init__.py"}
            present |= {f"{p.name}/" for p in init.parent.iterdir() if (p / "__init__.py").exists()}
            assert listed == present, (str(init.relative_to(ROOT)), sorted(listed ^ present))
    assert checked >= 5


def test_no_service_imports_another():
    def service(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "exporters" else parts[0]

    crossing = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if _layer(module) == "service"
        for target in targets
        if _layer(target) == "service" and service(target) != service(module) and target != "exporters"
    )
    assert crossing == []
