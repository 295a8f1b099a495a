"""Doctests (in src/ and README.md) run against the bundled sandbox world; fixtures
shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aind_session.testing.pytest_plugin import AindSettings


@pytest.fixture(autouse=True)
def _sandbox_for_doctests(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        request.getfixturevalue("aind_sandbox")


@pytest.fixture
def fast_backoff(aind_settings: AindSettings) -> None:
    """Retries without waiting, so fault tests check behaviour, not the clock."""
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")


@pytest.fixture
def cache_dir(
    aind_settings: AindSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Path]:
    """A persistent cache in a fresh folder, for one test."""
    folder = tmp_path / "cache"
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(folder))
    yield folder
    monkeypatch.delenv("AIND_SESSION_OFFLINE", raising=False)
