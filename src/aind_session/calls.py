"""The public call being answered: its deadline, and the clears since it began.

A public property or function is a :func:`public_call`: the requests made
inside it share one deadline (``Settings.call_deadline``), and what it works
out is kept only if no :func:`aind_session.clear_cache` came since it began
(its settings, domain or credentials may be the old ones). The count of
clears (:func:`generation`) is bumped by :mod:`aind_session.cache`, under its
lock, when it empties the cache.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

# bumped by every clear: an answer asked for before a clear is never stored after it
_generation = 0
_call: contextvars.ContextVar[tuple[int, float] | None] = contextvars.ContextVar(
    "aind_session_call", default=None
)


def generation() -> int:
    """How many times the cache was cleared.

    >>> isinstance(generation(), int)
    True
    """
    return _generation


def next_generation() -> None:
    """Count a clear (called by :func:`aind_session.cache.clear_cache`, under its lock)."""
    global _generation
    _generation += 1


@contextlib.contextmanager
def public_call() -> Iterator[None]:
    """Mark a public call: requests made inside it share one deadline
    (``Settings.call_deadline``), and answers worked out inside it are stored
    only if no clear came since it began. Nested calls join the outer one.

    >>> with public_call():
    ...     call_deadline() is not None
    True
    """
    if _call.get() is not None:
        yield
        return
    from aind_session.config import get_settings

    token = _call.set((_generation, time.monotonic() + get_settings().call_deadline))
    try:
        yield
    finally:
        _call.reset(token)


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Requests made in the block end within ``seconds`` from now (or by the
    end of the public call, when that comes first).

    >>> with within(5):
    ...     0 < call_deadline() - time.monotonic() <= 5
    True
    """
    current = _call.get()
    until = time.monotonic() + seconds
    began = _generation if current is None else current[0]
    token = _call.set((began, until if current is None else min(until, current[1])))
    try:
        yield
    finally:
        _call.reset(token)


def call_generation() -> int:
    """The :func:`generation` the current public call began in (now, outside one).

    >>> call_generation() == generation()
    True
    """
    current = _call.get()
    return _generation if current is None else current[0]


def call_deadline() -> float | None:
    """``time.monotonic()`` by which the current public call must end, or None outside one.

    >>> call_deadline() is None
    True
    """
    current = _call.get()
    return None if current is None else current[1]
