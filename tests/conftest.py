"""Fixtures shared by the test modules: running the command line in-process.

The sandbox's own fixtures (``aind_sandbox``, ``aind_settings``, ...) come from the
package's pytest plugin, :mod:`aind_session.testing.pytest_plugin`.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
from collections.abc import Callable, Iterator

import pytest

from aind_session.cli import main


@dataclasses.dataclass(frozen=True)
class Run:
    """What one command line run did: its exit code and what it printed."""

    code: int | str | None
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


@pytest.fixture
def cli(aind_sandbox, capsys) -> Callable[..., Run]:
    """Run ``aind-session ARGS...`` in-process; returns a `Run`.

    `main` configures logging on the root logger, as the real entry point
    does once per process. Each run starts from a root logger with no handler,
    so that logging lands on the captured stderr exactly as it would in a
    terminal; the root logger and ``aind_session.codeocean`` (whose level
    `main` has set in the past) are put back afterwards. Usage errors raise
    ``SystemExit`` in argparse; its code is the exit code. Every run is
    checked for the token.
    """

    def run(*argv: str) -> Run:
        root = logging.getLogger()
        codeocean_logger = logging.getLogger("aind_session.codeocean")
        saved = (root.handlers[:], root.level, codeocean_logger.level)
        secrets = {aind_sandbox.token, os.environ.get("CODE_OCEAN_API_TOKEN")} - {None, ""}
        root.handlers.clear()
        try:
            code: int | str | None = main(list(argv))
        except SystemExit as exc:
            code = exc.code
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            codeocean_logger.setLevel(saved[2])
        out, err = capsys.readouterr()
        for secret in secrets:
            assert secret not in out + err, f"the token was printed by aind-session {argv}"
        return Run(code, out, err)

    return run


@pytest.fixture
def no_collection_pauses() -> Iterator[None]:
    """No garbage collection while requests are counted: the sandbox runs in this
    process, and a full collection (0.3 s late in a long test run) stalls the
    requests being sent together, so that they look like one more round trip."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
