"""The layers of the package: the lower ones import no circle, and the CodeOcean
package imports nothing above it nor the other service.

Read from the source with ``ast``: an import inside a function counts (it runs
all the same); one under ``if TYPE_CHECKING:`` does not (it never runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import aind_session

SOURCE = Path(aind_session.__file__).parent
PACKAGE = "aind_session"
CODEOCEAN = "aind_session.codeocean"
LOWER = {
    CODEOCEAN,
    "aind_session.s3",
    "aind_session.transport",
    "aind_session.cache",
    "aind_session.persistent",
    "aind_session.disk_codecs",
    "aind_session.config",
    "aind_session.settings_checks",
    "aind_session.settings_sources",
    "aind_session.errors",
    "aind_session.dates",
}
ABOVE_CODEOCEAN = {
    "aind_session.s3",
    "aind_session.s3_client",
    "aind_session.folders",
    "aind_session.rawdata",
    "aind_session.session",
    "aind_session.subject",
    "aind_session.extensions",
    "aind_session.report",
    "aind_session.cli",
    "aind_session.cli_commands",
    "aind_session.cli_output",
    "aind_session.cli_cache",
    "aind_session.cli_progress",
    "aind_session.cli_text",
    "aind_session.verdicts",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The aind_session modules ``module`` imports, outside ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package this module is in
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            # `from pkg import module` imports that module; `from pkg import name`
            # the module defining the name (see import_graph)
            found.update(f"{base}.{a.name}" for a in node.names)
        visit(node)

    visit(tree)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def import_graph() -> dict[str, set[str]]:
    """Each module of the package (outside ``testing/``) and the modules it imports."""
    paths = [p for p in SOURCE.rglob("*.py") if "testing" not in p.relative_to(SOURCE).parts]
    modules = {_module_name(p): p for p in paths}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        imported = _imported(tree, name, path.name == "__init__.py")
        targets = {m if m in modules else m.rpartition(".")[0] for m in imported}
        graph[name] = {m for m in targets if m in modules and m != name}
    return graph


def _layer(module: str, layers: set[str]) -> str | None:
    """The layer (a module or a package of ``layers``) that ``module`` belongs to."""
    for layer in layers:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of ``graph``, as the path around it, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def lower_layer_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph among the lower layers, each package seen as one node."""
    lower: dict[str, set[str]] = {}
    for module, imported in graph.items():
        layer = _layer(module, LOWER)
        if layer is None:
            continue
        targets = {_layer(m, LOWER) for m in imported} - {None, layer}
        lower.setdefault(layer, set()).update(t for t in targets if t is not None)
    return lower


def codeocean_imports_above(graph: dict[str, set[str]]) -> list[str]:
    """``module imports other`` for each import from the CodeOcean package upward."""
    return sorted(
        f"{module} imports {other}"
        for module, imported in graph.items()
        if _layer(module, {CODEOCEAN})
        for other in imported
        if _layer(other, ABOVE_CODEOCEAN)
    )


def test_the_graph_sees_the_codeocean_package_and_its_imports():
    graph = import_graph()
    assert {f"{CODEOCEAN}.client", f"{CODEOCEAN}.assets", "aind_session.verdicts"} <= set(graph)
    assert f"{CODEOCEAN}.client" in graph[f"{CODEOCEAN}.assets"]
    assert "aind_session.s3" in graph["aind_session.verdicts"]  # imports inside functions count


def test_the_lower_layers_import_no_circle():
    assert _cycle(lower_layer_graph(import_graph())) is None


def test_the_codeocean_package_imports_no_layer_above_it_nor_s3():
    assert codeocean_imports_above(import_graph()) == []


def test_folders_uses_both_services_and_neither_imports_it():
    graph = import_graph()
    assert {CODEOCEAN, "aind_session.s3"} <= graph["aind_session.folders"]
    importers = {m for m, imported in graph.items() if "aind_session.folders" in imported}
    assert not {m for m in importers if _layer(m, LOWER)}
    assert not graph["aind_session.folders"] & {
        "aind_session.session",
        "aind_session.verdicts",
        "aind_session.rawdata",
    }


def test_the_settings_checks_import_only_the_errors_module():
    graph = import_graph()
    allowed = {"aind_session.errors", "aind_session.settings_sources"}
    assert graph["aind_session.settings_checks"] <= allowed
    assert graph["aind_session.settings_sources"] <= {"aind_session.errors"}


def test_a_circle_or_an_upward_import_would_be_seen():
    graph = import_graph()
    graph[f"{CODEOCEAN}.assets"] = graph[f"{CODEOCEAN}.assets"] | {"aind_session.s3"}
    graph["aind_session.s3"] = graph["aind_session.s3"] | {f"{CODEOCEAN}.models"}
    assert codeocean_imports_above(graph) == [f"{CODEOCEAN}.assets imports aind_session.s3"]
    assert _cycle(lower_layer_graph(graph)) is not None


def test_an_import_under_type_checking_does_not_count_and_one_in_a_function_does():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from aind_session.session import Session\n"
        "def f():\n"
        "    from aind_session import s3\n"
    )
    imported = _imported(ast.parse(source), f"{CODEOCEAN}.assets", False)
    assert "aind_session.session" not in imported
    assert "aind_session.s3" in imported


# -- the whole street: top to bottom, each layer importing only its own and those below --
STREET = [
    {
        PACKAGE,
        "aind_session.cli",
        "aind_session.cli_cache",
        "aind_session.cli_commands",
        "aind_session.cli_text",
        "aind_session.cli_progress",
        "aind_session.cli_output",
    },
    {"aind_session.report", "aind_session.subject", "aind_session.tables"},
    {"aind_session.table_files"},
    {"aind_session.session", "aind_session.rawdata"},
    {"aind_session.extensions"},
    {"aind_session.verdicts"},
    {"aind_session.folders"},
    {"aind_session.linked"},
    {
        CODEOCEAN,
        "aind_session.s3",
        "aind_session.s3_client",
        "aind_session.s3_requests",
        "aind_session.docdb",
    },
    {"aind_session.docdb_api"},
    {"aind_session.transport"},
    {
        "aind_session.cache",
        "aind_session.store",
        "aind_session.persistent",
        "aind_session.sqlite_cache",
        "aind_session.asset_names",
        "aind_session.outcomes",
        "aind_session.disk_codecs",
        "aind_session.batch",
    },
    {"aind_session.config", "aind_session.dates", "aind_session.calls", "aind_session.exits"},
    {
        "aind_session.settings_checks",
        "aind_session.settings_sources",
        "aind_session.conventions",
        "aind_session.extension",
        "aind_session.errors",
        "aind_session.cards",
        "aind_session.card_parts",
        "aind_session.identity",
        "aind_session.forks",
        "aind_session.s3_loader",
    },
]


def _rank(module: str) -> int:
    """The floor of ``module`` on the street: 0 at the top."""
    best = None
    for rank, layer in enumerate(STREET):
        for name in layer:
            inside = module == name or (name != PACKAGE and module.startswith(name + "."))
            if inside and (best is None or len(name) > best[1]):
                best = (rank, len(name))
    assert best is not None, f"{module} has no place on the street: add it to STREET"
    return best[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``module imports other`` for each import from a layer to one above it."""
    return sorted(
        f"{module} imports {other}"
        for module, imported in graph.items()
        for other in imported
        if _rank(other) < _rank(module)
    )


def test_every_module_has_its_place_on_the_street():
    for module in import_graph():
        _rank(module)


def test_no_module_imports_a_layer_above_it():
    assert upward_imports(import_graph()) == []


def test_the_whole_import_graph_has_no_circle():
    assert _cycle(import_graph()) is None


def test_an_upward_import_on_the_street_would_be_seen():
    graph = {"aind_session.session": {"aind_session.report"}, "aind_session.report": set()}
    assert upward_imports(graph) == ["aind_session.session imports aind_session.report"]


LIMIT = 400  # lines: a module read in one sitting (STYLE.md); the sandbox is exempt


def test_no_module_outside_the_sandbox_is_over_the_limit():
    paths = [p for p in SOURCE.rglob("*.py") if "testing" not in p.relative_to(SOURCE).parts]
    long = {
        str(p.relative_to(SOURCE)): n
        for p in paths
        if (n := len(p.read_text().splitlines())) > LIMIT
    }
    assert long == {}
