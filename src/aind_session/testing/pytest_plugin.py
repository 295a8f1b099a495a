"""pytest fixtures for code that uses aind-session, registered as a pytest plugin.

Installed with ``aind-session[sandbox]``; pytest finds it by its ``pytest11``
entry point, so any project can use the fixtures without importing anything:

- ``aind_sandbox_session`` (session scope): one running :class:`Sandbox` for
  the whole test run.
- ``aind_sandbox``: the same sandbox, reset before each test (world, latency,
  faults, request log, aind-session's caches).
- ``aind_sandbox_world`` (session scope): the world to load; ``None`` (the
  bundled sample) unless you override this fixture in your ``conftest.py``
  or pass ``--aind-world PATH``.

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
