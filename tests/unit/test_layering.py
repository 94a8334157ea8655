"""The layers point only down, and no two modules import each other, read from the import graph.

``visualization_web``, ``input_worker`` and ``trainer_worker`` import ``common``; ``common`` imports none
of them, and they never import each other. ``orchestration_driver`` (the Azure deployment driver) imports
``common`` only, and nothing imports it. Every ``import`` counts, at module level or inside a function,
and so does a string that is exactly a module's dotted name (``importlib.import_module("x.y")``, a
tuple of plugin modules). A cycle (modules in one strongly
connected component) is an error too: it is how a side effect on import or a half-initialised module
sneaks in.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "input_worker", "trainer_worker", "visualization_web", "orchestration_driver")
UPPER = ("input_worker", "trainer_worker", "visualization_web")
MODULE_PATH = re.compile(
    r"(?:common|input_worker|trainer_worker|visualization_web|orchestration_driver)(?:\.[a-z_][a-z0-9_]*)+"
)
DRIVER = "orchestration_driver"
STRING_REFERENCE = "str:"  # marks a name read from a string: it counts only when it is exactly a module


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every import in ``tree``; ``from x import y`` yields ``x.y``, which resolves to
    the module ``x.y`` when y is one, else to ``x``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.fullmatch(node.value):
            # a module named in a string: ``importlib.import_module("x.y")`` or a tuple of plugin modules;
            # only strings that are exactly a dotted module name count (see ``string_references``)
            yield STRING_REFERENCE + node.value, node.lineno


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to: itself, or its longest prefix that is a module."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: first line}."""
    modules = project_modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for name, line in imported_names(tree, module, path.name == "__init__.py"):
            if name.startswith(STRING_REFERENCE):  # "input_worker.cli" is a module, "input_worker.ingest_job" a task
                name = name.removeprefix(STRING_REFERENCE)
                target = name if name in modules else None
            else:
                target = resolve(name, modules)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def package_of(module: str) -> str:
    return module.partition(".")[0]


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def edge_lines(edges: list[tuple[str, str, int]]) -> str:
    return "\n".join(f"  {source} -> {target} (line {line})" for source, target, line in sorted(edges))


def test_common_imports_no_worker_and_not_the_web_app():
    graph = import_graph()
    upward = [(source, target, line) for source, targets in graph.items() if package_of(source) == "common"
              for target, line in targets.items() if package_of(target) in UPPER]  # fmt: skip
    assert not upward, "common/ imports a package above it:\n" + edge_lines(upward)


def test_workers_and_web_app_never_import_each_other():
    graph = import_graph()
    across = [(source, target, line) for source, targets in graph.items() if package_of(source) in UPPER
              for target, line in targets.items()
              if package_of(target) in UPPER and package_of(target) != package_of(source)]  # fmt: skip
    assert not across, "a worker or the web app imports another one (share it through common/):\n" + edge_lines(across)


def test_the_driver_imports_common_only_and_nothing_imports_it():
    graph = import_graph()
    wrong = [(source, target, line) for source, targets in graph.items() for target, line in targets.items()
             if (package_of(source) == DRIVER and package_of(target) not in ("common", DRIVER))
             or (package_of(target) == DRIVER and package_of(source) != DRIVER)]  # fmt: skip
    assert not wrong, "orchestration_driver imports a service, or something imports the driver:\n" + edge_lines(wrong)
    assert any(package_of(module) == DRIVER for module in graph), "the driver's modules are not in the graph"


def test_no_import_cycles():
    graph = import_graph()
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    edges = [(source, target, graph[source][target]) for component in cycles for source in component
             for target in graph[source] if target in component]  # fmt: skip
    assert not cycles, "modules that import each other (directly or around a cycle):\n" + edge_lines(edges)


def test_the_graph_sees_every_kind_of_import():
    """The checks above are only as good as the graph: each kind of import yields its edge."""
    source = (
        "import common.infra.settings\n"
        "from common.infra import celery_app\n"
        "from .sibling import thing\n"
        "def f():\n"
        "    import importlib\n"
        "    importlib.import_module('input_worker.cli')\n"
        "TASK = 'input_worker.ingest_job'\n"
    )
    names = {name for name, _ in imported_names(ast.parse(source), "trainer_worker.x", is_package=False)}
    assert {"common.infra.settings", "common.infra.celery_app", "trainer_worker.sibling.thing"} <= names
    assert {STRING_REFERENCE + "input_worker.cli", STRING_REFERENCE + "input_worker.ingest_job"} <= names
    modules = project_modules()
    assert resolve("common.infra.settings", modules) == "common.infra.settings"
    assert resolve("common.images.load_image", modules) == "common.images"  # a name from a package


# Inside common, each subpackage may import only those on a lower rank (and itself).
COMMON_RANKS = {
    "infra": 0,  # settings, Celery app, messages, Redis: imports nothing else of the project
    "db": 1,
    "storage": 1,
    "images": 1,
    "repositories": 2,
    "face_models": 2,
    "classifier": 3,
    "task_runtime": 3,
    "ingest": 4,
    "labeling": 4,
    "operations": 5,  # the CLI and health: may use any of common
}


def common_subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "common" and len(parts) > 1 else None


def test_common_is_grouped_into_ranked_subpackages():
    modules = [module for module in project_modules() if package_of(module) == "common" and module != "common"]
    loose = [module for module in modules if common_subpackage(module) not in COMMON_RANKS]
    assert not loose, "a module of common/ outside its ranked subpackages (add it to one):\n  " + "\n  ".join(loose)


def test_common_subpackages_point_down():
    graph = import_graph()
    upward = [(source, target, line) for source, targets in graph.items() if common_subpackage(source)
              for target, line in targets.items() if common_subpackage(target)
              and common_subpackage(target) != common_subpackage(source)
              and COMMON_RANKS[common_subpackage(target)] >= COMMON_RANKS[common_subpackage(source)]]  # fmt: skip
    assert not upward, "a subpackage of common/ imports one on its own rank or above:\n" + edge_lines(upward)
