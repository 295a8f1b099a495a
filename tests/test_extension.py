"""Namespaces: registration, lazy building, caching, errors and tab completion."""

from __future__ import annotations

import warnings

import pytest

import aind_session
from aind_session import ExtensionBaseClass, NamespaceError, Session, Subject, register_namespace
from aind_session.extension import registered_namespaces, unregister_namespace

MAIN = "ecephys_676909_2023-12-13_13-43-40"


@pytest.fixture
def cleanup():
    """Remove every custom namespace a test registers."""
    before = {cls: set(registered_namespaces(cls)) for cls in (Session, Subject)}
    yield
    for cls, names in before.items():
        for name in set(registered_namespaces(cls)) - names:
            unregister_namespace(name, cls)


def test_registered_namespace_is_built_on_first_access_with_the_session(cleanup):
    built = []

    @register_namespace("probe_count")
    class ProbeCount(ExtensionBaseClass):
        def __init__(self, base):
            super().__init__(base)
            built.append(base)

    session = Session(MAIN)
    assert built == []
    namespace = session.probe_count
    assert built == [session] and namespace._base is session


def test_namespace_is_cached_on_the_instance(cleanup):
    @register_namespace("cached_ns")
    class Cached(ExtensionBaseClass):
        pass

    session = Session(MAIN)
    assert session.cached_ns is session.cached_ns
    assert Session(MAIN).cached_ns is not session.cached_ns


def test_registered_names_show_in_dir(cleanup):
    @register_namespace("tab_complete_me")
    class Shown(ExtensionBaseClass):
        pass

    names = dir(Session(MAIN))
    assert "tab_complete_me" in names
    assert {"metadata", "ecephys"} <= set(names)


def test_registering_a_builtin_name_raises(cleanup):
    for name in ("metadata", "raw_data_asset", "id"):
        with pytest.raises(NamespaceError, match=name):
            register_namespace(name)(type("X", (ExtensionBaseClass,), {}))


def test_re_registering_a_custom_namespace_warns_at_the_callers_line(cleanup):
    register_namespace("twice")(type("First", (ExtensionBaseClass,), {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        register_namespace("twice")(type("Second", (ExtensionBaseClass,), {}))
    assert len(caught) == 1 and "replaced" in str(caught[0].message)
    assert caught[0].filename == __file__
    assert type(Session(MAIN).twice).__name__ == "Second"


@pytest.mark.parametrize("name", ["", "1abc", "has space", "_private", 3])
def test_invalid_namespace_names_are_refused(name):
    with pytest.raises(NamespaceError):
        register_namespace(name)


def test_attribute_error_while_building_names_the_namespace(cleanup):
    @register_namespace("broken")
    class Broken(ExtensionBaseClass):
        def __init__(self, base):
            raise AttributeError("missing piece")

    session = Session(MAIN)
    with pytest.raises(NamespaceError, match=r"'broken'.*missing piece"):
        session.broken
    assert not isinstance(NamespaceError("x"), AttributeError)


def test_namespace_on_subject(cleanup):
    @register_namespace("summary", cls=Subject)
    class SubjectSummary(ExtensionBaseClass):
        @property
        def text(self):
            return f"subject {self._base.id}"

    assert Subject(676909).summary.text == "subject 676909"
    assert not hasattr(Session(MAIN), "summary")


def test_namespace_using_the_session_against_the_sandbox(aind_sandbox, cleanup):
    @register_namespace("asset_count")
    class AssetCount(ExtensionBaseClass):
        @property
        def value(self):
            return len(self._base.data_assets)

    assert Session(MAIN).asset_count.value == len(Session(MAIN).data_assets) > 0


def test_builtin_namespaces_are_not_imported_until_used():
    import subprocess
    import sys

    code = (
        "import sys, aind_session; s = aind_session.Session('" + MAIN + "'); "
        "print('aind_session.extensions.ecephys' in sys.modules, 'aind_session.extensions.metadata' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_exported_names_match_all():
    exported = {name for name in dir(aind_session) if not name.startswith("_")}
    assert set(aind_session.__all__) - {"__version__"} <= exported
    assert aind_session.__all__ == sorted(aind_session.__all__)
    for name in aind_session.__all__:
        assert getattr(aind_session, name) is not None
