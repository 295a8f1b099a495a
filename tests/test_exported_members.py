"""What the package exports: ``__all__`` matches its public names, every error is
exported, and every error raised in the library comes from `aind_session.errors`.

After httpx's ``tests/test_exported_members.py``: an exported name cannot go
missing, and a raised error cannot go unexported.
"""

from __future__ import annotations

import ast
import builtins
import types
from pathlib import Path

import aind_session
from aind_session import errors

SOURCE = Path(aind_session.__file__).parent
# attribute-protocol methods, where Python's own AttributeError is the contract
ATTRIBUTE_PROTOCOL = frozenset({"__getattr__", "__setattr__", "__delattr__"})


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a module defines or imports for its users: not private, not a submodule."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def _exception_classes(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }


def test_all_is_sorted():
    assert aind_session.__all__ == sorted(aind_session.__all__)


def test_all_lists_every_public_name_of_the_package_and_nothing_else():
    lazy = set(aind_session._LAZY)
    assert set(aind_session.__all__) == _public_names(aind_session) | lazy | {"__version__"}


def test_every_name_in_all_can_be_got_from_the_package():
    missing = [name for name in aind_session.__all__ if not hasattr(aind_session, name)]
    assert missing == []


def test_errors_all_is_sorted_and_lists_every_exception_class():
    assert errors.__all__ == sorted(errors.__all__)
    assert set(errors.__all__) == _exception_classes(errors)


def test_every_error_class_is_exported_from_the_package():
    for name in _exception_classes(errors):
        assert name in aind_session.__all__, f"aind_session does not export {name}"
        assert getattr(aind_session, name) is getattr(errors, name)


def test_every_error_subclasses_the_base_and_a_builtin_users_already_catch():
    for name in _exception_classes(errors) - {"AindSessionError"}:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.AindSessionError), name
        builtin_bases = [b for b in cls.__mro__ if b.__module__ == "builtins"]
        assert builtin_bases[0] is not Exception, f"{name} subclasses no specific built-in"


# -- every raise in the library --------------------------------------------------------------
REQUESTS_CONTRACT = {"ReadTimeout", "ChunkedEncodingError"}


def _raised_name(node: ast.expr) -> tuple[str, bool]:
    """The name of what ``raise node`` raises, and whether it is called (``X(...)``)."""
    called = isinstance(node, ast.Call)
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr, called
    if isinstance(target, ast.Name):
        return target.id, called
    return ast.unparse(target), called


def _offenders(path: Path) -> list[str]:
    """``file:line raises X`` for each raise of ``path`` that does not raise an error of
    `aind_session.errors`, a re-raise (bare, or of a caught exception held in a
    variable), a private exception class of the same module (control flow that
    never leaves it), or an AttributeError of the attribute protocol."""
    tree = ast.parse(path.read_text(), str(path))
    ours = _exception_classes(errors)
    private = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.startswith("_")
    }
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                name, called = _raised_name(child.exc)
                is_class = called or name[:1].isupper()
                allowed = (
                    not is_class  # `raise exc`: a caught exception or a value being re-raised
                    or name in ours
                    or name in private
                    or (name == "AttributeError" and function in ATTRIBUTE_PROTOCOL)
                    # a requests adapter speaks requests' own errors to requests
                    or (path.name == "transport.py" and name in REQUESTS_CONTRACT)
                    # an argument's type function tells argparse what is wrong with it
                    or (path.name == "cli.py" and name == "argparse.ArgumentTypeError")
                    or (path.name == "cli.py" and name == "ArgumentTypeError")
                )
                if not allowed:
                    where = path.relative_to(SOURCE.parent)
                    builtin = " (a built-in)" if hasattr(builtins, name) else ""
                    found.append(f"{where}:{child.lineno} raises {name}{builtin}")
            visit(child, function)

    visit(tree, None)
    return found


def test_every_error_raised_in_the_library_comes_from_the_errors_module():
    paths = sorted(p for p in SOURCE.rglob("*.py") if "testing" not in p.relative_to(SOURCE).parts)
    assert len(paths) > 10
    offenders = [line for path in paths for line in _offenders(path)]
    assert offenders == []
