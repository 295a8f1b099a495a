"""Doctests (in src/ and README.md) run against the bundled sandbox world; fixtures
shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import aind_session


@pytest.fixture(autouse=True)
def _sandbox_for_doctests(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        request.getfixturevalue("aind_sandbox")


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries without waiting, so fault tests check behaviour, not the clock."""
    monkeypatch.setenv("AIND_SESSION_BACKOFF_FACTOR", "0")
    aind_session.clear_cache()
    yield
    aind_session.clear_cache()


@pytest.fixture
def cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A persistent cache in a fresh folder, for one test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("AIND_SESSION_CACHE_DIR", str(folder))
    aind_session.clear_cache()
    yield folder
    monkeypatch.delenv("AIND_SESSION_CACHE_DIR")
    monkeypatch.delenv("AIND_SESSION_OFFLINE", raising=False)
    aind_session.clear_cache()
