r"""The answers kept in memory, and single flight: the store under :mod:`aind_session.cache`.

One :class:`cachetools.TLRUCache` (``Settings.cache_maxsize`` entries, each for
``Settings.cache_ttl`` seconds) holds the answers. A question being answered
is a *flight*: later askers wait on its future instead of asking the service
again (:func:`claim`), and the thread that claimed it :func:`settle`\ s it.
Storing an answer and ending its flight are one step under one lock, and an
answer whose flight began before a clear (:func:`clear`) reaches its own
waiters only. :mod:`aind_session.cache` builds the ``cached`` decorator and
``clear_cache`` on this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from aind_session import calls, errors, forks

if TYPE_CHECKING:
    from concurrent.futures import Future

    from aind_session.persistent import Codec

logger = logging.getLogger("aind_session.cache")  # the cache's log, as before the split

_lock = forks.free_after_fork(threading.Lock())
_store: Any = None  # cachetools.TLRUCache, built on first use
_inflight: dict[Hashable, _Flight] = {}
_local = threading.local()  # .flights: the keys this thread claimed, and their flights
_stats = {"hits": 0, "misses": 0}
# held while writing to disk and while clearing, so a disk write of an old
# generation cannot land after a clear that emptied the disk
_disk_gate = forks.free_after_fork(threading.Lock())


@forks.after_fork
def _forget_parents_flights() -> None:
    """In a forked child, the questions the parent's other threads were answering
    are asked again: those threads are not here to answer them."""
    me = threading.get_ident()  # the thread that forked, the child's one thread
    for key in [key for key, flight in _inflight.items() if flight.owner != me]:
        del _inflight[key]


class _Flight:
    """A question being answered: its waiters' future, who asks, and since when."""

    __slots__ = ("future", "generation", "owner")

    def __init__(self, future: Future[Any], owner: int, generation: int) -> None:
        self.future = future
        # thread computing it: the same thread asking again is a cycle, never a hang
        self.owner = owner
        self.generation = generation


def _my_flights() -> dict[Hashable, _Flight]:
    flights: dict[Hashable, _Flight] | None = getattr(_local, "flights", None)
    if flights is None:
        flights = _local.flights = {}
    return flights


def _get_store() -> Any:
    global _store
    if _store is None:
        import cachetools

        from aind_session.config import get_settings

        maxsize = get_settings().cache_maxsize
        # each entry carries its own expiry time (see `settle`)
        _store = cachetools.TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: value[0], timer=time.monotonic
        )
    return _store


def _ttl() -> float:
    from aind_session.config import get_settings

    return get_settings().cache_ttl


def claim(
    keys: Iterable[Hashable], codec: Codec | None = None
) -> tuple[dict[Hashable, Any], dict[Hashable, Future[Any]], list[Hashable]]:
    """Split ``keys`` into answers cached, answers being computed by another
    thread (futures to wait on), and keys this caller must compute.

    With a ``codec``, the persistent cache (if on) is asked before a key is
    given to the caller. The caller must :func:`settle` every key it was
    given to compute, from the same thread. (Offline mode is enforced where
    requests are made: see :func:`aind_session.persistent.refuse_if_offline`.)

    >>> claim(['an example key'])
    ({}, {}, ['an example key'])
    >>> settle('an example key', 42)
    >>> claim(['an example key'])
    ({'an example key': 42}, {}, [])
    """
    from concurrent.futures import Future

    from aind_session import persistent

    found: dict[Hashable, Any] = {}
    waiting: dict[Hashable, Future[Any]] = {}
    mine: list[Hashable] = []
    me = threading.get_ident()
    flights = _my_flights()
    with _lock:
        store = _get_store()
        for key in keys:
            entry = store.get(key)
            flight = _inflight.get(key)
            if entry is not None:
                found[key] = entry[1]
            elif flight is not None:
                if flight.owner == me:
                    raise errors.InternalError(
                        f"{key!r} is being computed by this thread already (a cycle)"
                    )
                waiting[key] = flight.future
            else:
                flight = _inflight[key] = flights[key] = _Flight(Future(), me, calls.generation())
                mine.append(key)
    try:
        for key in list(mine):
            value = persistent.lookup(key, codec) if codec is not None else persistent.MISSING
            if not persistent.is_missing(value):
                found[key] = value
                mine.remove(key)
                settle(key, value)
    except BaseException as exc:  # never leave a key in flight: its waiters would hang
        settle_all(mine, exc)
        raise
    with _lock:
        _stats["hits"] += len(found)
        _stats["misses"] += len(mine)
    return found, waiting, mine


def peek(key: Hashable, codec: Codec | None = None) -> Any:
    """The answer cached for ``key`` (in memory, then on disk with a ``codec``),
    or :data:`aind_session.persistent.MISSING`; never computes or waits.

    >>> from aind_session import persistent
    >>> persistent.is_missing(peek('an example key'))
    True
    >>> _, _, mine = claim(['an example key'])
    >>> settle('an example key', 42)
    >>> peek('an example key')
    42
    """
    from aind_session import persistent

    with _lock:
        entry = _get_store().get(key)
    if entry is not None:
        return entry[1]
    return persistent.lookup(key, codec) if codec is not None else persistent.MISSING


def settle(
    key: Hashable,
    value: Any = None,
    error: BaseException | None = None,
    keep: bool = True,
    codec: Codec | None = None,
) -> None:
    """Hand a computed answer (or the error met) to the threads waiting for it;
    store the answer when ``keep`` (errors are never stored), on disk too when
    a ``codec`` is given and the persistent cache is on.

    Storing the answer and ending the flight are one step under the lock: a
    caller arriving meanwhile either joins the flight or reads the answer,
    never neither. An answer whose flight began before a :func:`clear_cache`
    goes to its waiters only.
    """
    flight = _my_flights().pop(key, None)
    if flight is None:
        raise errors.InternalError(
            f"{key!r} was not claimed by this thread, so it cannot be settled"
        )
    kept = False
    ttl = 0.0
    try:
        ttl = _ttl() if error is None and keep else 0.0
        with _lock:
            # not stored when a clear or a forget came since the flight began
            current = _inflight.get(key) is flight and flight.generation == calls.generation()
            kept = error is None and keep and ttl > 0 and current
            if kept:
                _get_store()[key] = (time.monotonic() + ttl, value)
    finally:  # whatever happened above, the flight ends and its waiters are answered
        with _lock:
            if _inflight.get(key) is flight:
                del _inflight[key]
        if error is None:
            flight.future.set_result(value)
        elif isinstance(error, Exception):
            flight.future.set_exception(error)
        else:  # a Ctrl-C of the thread that asked is not the waiters' to receive
            failure = errors.InternalError(
                f"the thread answering {key!r} was stopped ({type(error).__name__})"
            )
            failure.__cause__ = error
            flight.future.set_exception(failure)
    if kept and codec is not None:
        _store_on_disk(key, value, codec, ttl, flight.generation)


def settle_all(keys: Iterable[Hashable], error: BaseException) -> None:
    """:func:`settle` with ``error`` every key of ``keys`` this thread still claims."""
    flights = _my_flights()
    for key in list(keys):
        if key in flights:
            try:
                settle(key, error=error)
            except Exception:  # the waiters are answered all the same (see settle)
                logger.debug("settling %r after a failure failed", key, exc_info=True)


def _store_on_disk(key: Hashable, value: Any, codec: Codec, ttl: float, since: int) -> None:
    from aind_session import persistent

    with _disk_gate:
        if since != calls.generation():  # cleared meanwhile: the answer may be the old settings'
            return
        persistent.store(key, value, codec, ttl)  # never raises: a broken disk is skipped


def offer(key: Hashable, value: Any, codec: Codec | None, since: int) -> None:
    """Keep ``value``, worked out inside a batch from the :func:`calls.generation`
    ``since``, as the answer of ``key``: not after a clear since then, nor when the
    key is being answered by a flight of its own."""
    ttl = _ttl()
    if ttl <= 0:
        return
    with _lock:
        if key in _inflight or since != calls.generation():
            return
        _get_store()[key] = (time.monotonic() + ttl, value)
    if codec is not None:
        _store_on_disk(key, value, codec, ttl, since)


def drop(key: Hashable) -> None:
    """Forget the answer of ``key`` in memory, and end its flight in progress: an
    answer being worked out now may predate what made the caller forget (a run
    just started), so it reaches its own waiters and is not stored.

    >>> settle(claim(['a dropped key'])[2][0], 1)
    >>> drop('a dropped key')
    >>> peek('a dropped key') is peek('never asked')
    True
    """
    with _lock:
        if _store is not None:
            _store.pop(key, None)
        _inflight.pop(key, None)


def clear(then: Callable[[], None]) -> None:
    """Count a clear, forget every answer and end every flight (they answer their
    own waiters only), then run ``then`` while no disk write of before can land.

    >>> clear(lambda: None)
    """
    global _store
    with _disk_gate:
        with _lock:
            calls.next_generation()
            _store = None
            _inflight.clear()
        then()


def count_hit() -> None:
    """Count an answer served from the store outside :func:`claim` (inside a batch)."""
    with _lock:
        _stats["hits"] += 1


def info() -> dict[str, int]:
    """Answers served from the store (``hits``), computed (``misses``), kept now (``size``).

    >>> sorted(info())
    ['hits', 'misses', 'size']
    """
    with _lock:
        size = 0 if _store is None else len(_store)
    return {**_stats, "size": size}
