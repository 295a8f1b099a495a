"""After a fork: what a child process must not take over from its parent.

A process started by ``fork`` (``multiprocessing``'s ``"fork"`` context, a
``ProcessPoolExecutor`` on Linux before Python 3.14, a WSGI server's workers)
begins as a copy of its parent running one thread, the one that forked. What
the parent's other threads were doing is lost with them: a lock one of them
held stays locked, a question one of them was answering never gets its answer.
And what the parent built to talk to the services (HTTP connections, s3fs's
event loop and its thread, SQLite connections) is the parent's: used from two
processes, one connection would carry both processes' requests.

So the layers that keep such things register here, and in a forked child,
before anything else runs there:

- every lock handed to :func:`free_after_fork` (module-level locks) is free;
- every reset registered with :func:`after_fork` runs (clients and handles
  are forgotten, to be built again on first use);
- what a reset hands to :func:`keep` stays alive, unused: its finalizers
  (closing a connection, stopping an event loop) must not run in the child,
  where they would act on what is the parent's.

Answers already cached are kept: the child starts with its parent's memory.
``spawn`` and ``forkserver`` children start afresh and need none of this.

>>> import multiprocessing, operator
>>> from aind_session import Session
>>> raw_asset_id = operator.attrgetter('raw_data_asset.id')
>>> raw_asset_id(Session('ecephys_676909_2023-12-13_13-43-40'))  # the parent's clients exist
'16d46411-540a-4122-b47f-8cb2a15d593a'
>>> with multiprocessing.get_context('fork').Pool(1) as pool:  # nothing to call first
...     pool.apply(raw_asset_id, (Session('ecephys_699846_2024-01-25_15-38-41'),))
'281cac9e-ccb2-467d-8d2e-1a6aaab699a1'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

L = TypeVar("L")

_locks: list[Any] = []  # threading.Lock and RLock objects, made fresh in a child
_resets: list[Callable[[], None]] = []
_kept: list[Any] = []  # the parents' objects, never used nor finalized in a child


def free_after_fork(lock: L) -> L:
    """``lock`` (a ``threading.Lock`` or ``RLock``), made free in a forked child
    whoever held it at the fork; returns ``lock``.

    For locks that live as long as the process (at module level): each is kept
    in a list for the process's lifetime.

    >>> import threading
    >>> _lock = free_after_fork(threading.Lock())
    >>> with _lock:
    ...     pass
    >>> _locks.remove(_lock)  # the example's lock is not kept
    """
    _locks.append(lock)
    return lock


def after_fork(reset: Callable[[], None]) -> Callable[[], None]:
    """Register ``reset`` to run in a forked child, after its locks are made free.

    Returns ``reset``, so it serves as a decorator. A reset forgets what the
    parent built (hand it to :func:`keep`), and must not ask the network.

    >>> @after_fork
    ... def forget_nothing() -> None:
    ...     pass
    >>> forget_nothing in _resets
    True
    >>> _resets.remove(forget_nothing)  # the example's reset is not kept
    """
    _resets.append(reset)
    return reset


def forget_after_fork(namespace: dict[str, Any], *names: str) -> None:
    """In a forked child, set ``names`` of ``namespace`` (a module's ``globals()``)
    to None: a client or handle of the parent's, built again on first use. What
    they held is kept alive, unused (see :func:`keep`).

    >>> _client = object()
    >>> forget_after_fork(globals(), '_client')
    >>> _resets.pop()()  # what a forked child runs (the example's reset is not kept)
    >>> _client is None
    True
    """

    def forget() -> None:
        for name in names:
            keep(namespace[name])
            namespace[name] = None

    after_fork(forget)


def keep(*objects: Any) -> None:
    """Keep ``objects`` (the parent's clients and handles) alive in this child,
    never to be used or finalized here. None is skipped.

    >>> keep(None)
    """
    _kept.extend(o for o in objects if o is not None)


def _in_child() -> None:
    for held in _locks:
        # what CPython's own modules (threading, logging, concurrent.futures) do after a fork
        held._at_fork_reinit()
    for reset in _resets:
        try:
            reset()
        except Exception:  # a fork must not fail for a reset: the child may never ask
            logger.warning("resetting %r after a fork failed", reset, exc_info=True)


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_in_child)
