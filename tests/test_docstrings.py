"""Every public function has a docstring, and every one that returns data shows
a ``>>>`` example (STYLE item 6: doctests are tests, run against the sandbox).

Read from the source with ``ast``, so nothing is imported or run. Public means
no leading underscore: module-level functions, and the methods (properties
included) of public classes. ``testing/`` (the sandbox) is left out. A function
returns data when its return annotation is not ``None``, ``NoReturn`` or
``Iterator[None]``; ``@overload`` stubs are skipped (the implementation counts).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

import aind_session

SOURCE = Path(aind_session.__file__).parent
NO_DATA = frozenset({"None", "NoReturn", "typing.NoReturn", "Iterator[None]"})

# Modules whose data-returning public functions must each show a `>>>` example.
EXAMPLE_MODULES = frozenset(
    {
        "aind_session",  # the package __init__
        "aind_session.asset_names",
        "aind_session.batch",
        "aind_session.cache",
        "aind_session.calls",
        "aind_session.cards",
        "aind_session.card_parts",
        "aind_session.cli",
        "aind_session.cli_commands",
        "aind_session.cli_cache",
        "aind_session.cli_output",
        "aind_session.cli_progress",
        "aind_session.cli_text",
        "aind_session.codeocean",
        "aind_session.codeocean.assets",
        "aind_session.codeocean.client",
        "aind_session.codeocean.computations",
        "aind_session.codeocean.models",
        "aind_session.codeocean.sdk",
        "aind_session.codeocean.shapes",
        "aind_session.config",
        "aind_session.conventions",
        "aind_session.dates",
        "aind_session.outcomes",
        "aind_session.sqlite_cache",
        "aind_session.disk_codecs",
        "aind_session.docdb",
        "aind_session.errors",
        "aind_session.exits",
        "aind_session.extension",
        "aind_session.extensions.ecephys",
        "aind_session.extensions.metadata",
        "aind_session.extensions.sorted_assets",
        "aind_session.extensions.sorted_layouts",
        "aind_session.extensions.sorters",
        "aind_session.folders",
        "aind_session.forks",
        "aind_session.identity",
        "aind_session.docdb_api",
        "aind_session.linked",
        "aind_session.persistent",
        "aind_session.rawdata",
        "aind_session.report",
        "aind_session.s3",
        "aind_session.s3_client",
        "aind_session.s3_loader",
        "aind_session.s3_requests",
        "aind_session.session",
        "aind_session.store",
        "aind_session.settings_checks",
        "aind_session.settings_sources",
        "aind_session.subject",
        "aind_session.table_files",
        "aind_session.tables",
        "aind_session.transport",
        "aind_session.verdicts",
    }
)

# Data-returning functions of EXAMPLE_MODULES without a `>>>` example, and why.
ALLOW_NO_EXAMPLE = {
    # starts a capsule run: an example would change the world for every later test
    "aind_session.codeocean.computations.run_capsule": "starts a run",
    # coroutines on s3fs's event loop with an S3 client: s3.fetch shows them at work
    "aind_session.s3_requests.list_one": "a coroutine needing an S3 client",
    "aind_session.s3_requests.read_one": "a coroutine needing an S3 client",
    "aind_session.s3_requests.request_all": "needs the filesystem; s3.fetch shows it",
}


class Function(NamedTuple):
    qualname: str  # module.function or module.Class.method
    module: str
    docstring: str | None
    returns_data: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(SOURCE.rglob("*.py"))
        if "testing" not in path.relative_to(SOURCE).parts
    }


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(ast.unparse(d) in ("overload", "typing.overload") for d in node.decorator_list)


def _returns_data(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return node.returns is None or ast.unparse(node.returns) not in NO_DATA


def _public_functions(module: str, path: Path) -> Iterator[Function]:
    def functions(body: list[ast.stmt], prefix: str) -> Iterator[Function]:
        for node in body:
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not node.name.startswith("_")
                and not _is_overload(node)
            ):
                yield Function(
                    f"{prefix}.{node.name}", module, ast.get_docstring(node), _returns_data(node)
                )

    tree = ast.parse(path.read_text(encoding="utf-8"))
    yield from functions(tree.body, module)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield from functions(node.body, f"{module}.{node.name}")


FUNCTIONS = [f for module, path in _modules().items() for f in _public_functions(module, path)]
BY_NAME = {f.qualname: f for f in FUNCTIONS}


def _has_example(function: Function) -> bool:
    return ">>>" in (function.docstring or "")


def test_every_module_is_checked_for_examples() -> None:
    modules = set(_modules())
    assert modules - EXAMPLE_MODULES == set(), "add it to EXAMPLE_MODULES"
    assert EXAMPLE_MODULES - modules == set(), "no such module"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_every_public_function_has_a_docstring(module: str) -> None:
    missing = [f.qualname for f in FUNCTIONS if f.module == module and not f.docstring]
    assert missing == []


@pytest.mark.parametrize("module", sorted(EXAMPLE_MODULES))
def test_every_public_function_returning_data_has_an_example(module: str) -> None:
    missing = [
        f.qualname
        for f in FUNCTIONS
        if f.module == module
        and f.returns_data
        and not _has_example(f)
        and f.qualname not in ALLOW_NO_EXAMPLE
    ]
    assert missing == []


def test_allowed_without_example_are_data_functions_still_without_one() -> None:
    stale = [
        name
        for name in ALLOW_NO_EXAMPLE
        if name not in BY_NAME
        or not BY_NAME[name].returns_data
        or _has_example(BY_NAME[name])
        or BY_NAME[name].module not in EXAMPLE_MODULES
    ]
    assert stale == [], "remove these from ALLOW_NO_EXAMPLE"
    assert all(reason.strip() for reason in ALLOW_NO_EXAMPLE.values())
