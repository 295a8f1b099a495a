"""pytest fixtures for code that uses aind-session, registered as a pytest plugin.

Installed with the ``sandbox`` extra (``pip install '.[sandbox]'`` from a clone); pytest finds it by its ``pytest11``
entry point, so any project can use the fixtures without importing anything:

- ``aind_sandbox_session`` (session scope): one running :class:`Sandbox` for
  the whole test run.
- ``aind_sandbox``: the same sandbox, reset before each test (world, latency,
  faults, request log, aind-session's caches).
- ``aind_sandbox_world`` (session scope): the world to load; ``None`` (the
  bundled sample) unless you override this fixture in your ``conftest.py``
  or pass ``--aind-world PATH``.
- ``aind_settings``: :class:`AindSettings` for one test; ``aind_settings.set(
  AIND_SESSION_CACHE_TTL="0")`` sets environment variables and clears
  aind-session's caches, so the settings are read again; at teardown the
  environment is restored and the caches cleared once more.

This module imports nothing heavy at collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aind_session.testing.sandbox import Sandbox


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aind-session")
    group.addoption(
        "--aind-world",
        default=None,
        help="World JSON file for the aind-session sandbox fixtures (default: the bundled sample).",
    )


@pytest.fixture(scope="session")
def aind_sandbox_world(request: pytest.FixtureRequest) -> Any:
    """The world the sandbox loads: a path, a dict, or None for the bundled sample."""
    return request.config.getoption("--aind-world")


@pytest.fixture(scope="session")
def aind_sandbox_session(aind_sandbox_world: Any) -> Iterator[Sandbox]:
    """One sandbox for the whole test session (not reset between tests)."""
    from aind_session.testing.sandbox import Sandbox

    with Sandbox(aind_sandbox_world) as sandbox:
        yield sandbox


@pytest.fixture
def aind_sandbox(aind_sandbox_session: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox, reset to its world before the test."""
    aind_sandbox_session.reset()
    yield aind_sandbox_session


class AindSettings:
    """aind-session's settings for one test, given as environment variables.

    Each :meth:`set` clears aind-session's caches (the settings among them), so
    the next question reads the new values; :meth:`undo` restores the
    environment, then clears the caches again.
    """

    def __init__(self) -> None:
        self._patch = pytest.MonkeyPatch()

    def set(self, **env: str | None) -> None:
        """Set environment variables (``None`` removes one), then clear the caches."""
        from aind_session import clear_cache

        for name, value in env.items():
            if value is None:
                self._patch.delenv(name, raising=False)
            else:
                self._patch.setenv(name, value)
        clear_cache()

    def undo(self) -> None:
        """Restore the environment as it was before the first :meth:`set`, then clear the caches."""
        from aind_session import clear_cache

        self._patch.undo()
        clear_cache()


@pytest.fixture
def aind_settings() -> Iterator[AindSettings]:
    """Set aind-session's settings for one test: ``aind_settings.set(AIND_SESSION_X="1")``."""
    settings = AindSettings()
    yield settings
    settings.undo()
