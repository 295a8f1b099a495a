"""Doctests (in src/ and README.md) run against the bundled sandbox world; fixtures
shared by the test modules; and a guard: no test reaches beyond this machine.

Every host name a test's process looks up is checked (``socket.getaddrinfo``,
which requests, urllib3, aiohttp and botocore all go through): one other than
this machine's is refused, as if unreachable, and the test that asked fails.
Subprocesses (the CLI's entry point) are given their URLs by their tests.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}
_reached: list[str] = []


def _local(host: Any) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    return name in LOCAL or (isinstance(name, str) and name.startswith("127."))


@pytest.fixture(autouse=True, scope="session")
def _only_this_machine() -> Iterator[None]:
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):
            _reached.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: tests reach 127.0.0.1 only")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def _nothing_reached_beyond() -> Iterator[None]:
    _reached.clear()
    yield
    reached, _reached[:] = sorted(set(_reached)), []
    assert not reached, f"the test tried to reach {', '.join(reached)} (only 127.0.0.1 is allowed)"
