"""Time-limited, thread-safe memoization of remote answers.

:func:`cached` wraps a function whose arguments are hashable. Answers are kept
in one :class:`cachetools.TLRUCache` bounded by ``Settings.cache_maxsize``,
each for ``Settings.cache_ttl`` seconds. Only answers are kept: an exception
propagates and nothing is stored, so a failed lookup is asked again next time.

Concurrent callers asking the same question wait for the first one's answer
instead of all asking the service (no thundering herd): a question being
answered has a future that later askers wait on (see :func:`claim`).

:func:`clear_cache` forgets every answer, the settings and the clients built
from them (so changed environment variables take effect).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from aind_session import batch, errors

if TYPE_CHECKING:
    from aind_session.persistent import Codec

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_store: Any = None  # cachetools.TLRUCache, built on first use
_inflight: dict[Hashable, _Flight] = {}
_local = threading.local()  # .flights: the keys this thread claimed, and their flights
_on_clear: list[Callable[[], None]] = []
_stats = {"hits": 0, "misses": 0}
# bumped by every clear: an answer asked for before a clear is never stored
# after it (its settings, domain or credentials may be the old ones)
_generation = 0
# held while writing to disk and while clearing, so a disk write of an old
# generation cannot land after a clear that emptied the disk
_disk_gate = threading.Lock()


@dataclasses.dataclass
class _Flight:
    """A question being answered: its waiters' future, who asks, and since when."""

    future: Future[Any]
    owner: int  # thread computing it: the same thread asking again is a cycle, never a hang
    generation: int


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
    """
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
                flight = _inflight[key] = flights[key] = _Flight(Future(), me, _generation)
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
    or :data:`aind_session.persistent.MISSING`; never computes or waits."""
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
            current = _inflight.get(key) is flight and flight.generation == _generation
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
    """:func:`settle` every key of ``keys`` still claimed by this thread with ``error``
    (for the way out of a failure: a key already settled is skipped)."""
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
        if since != _generation:  # cleared meanwhile: the answer may be the old settings'
            return
        persistent.store(key, value, codec, ttl)  # never raises: a broken disk is skipped


@overload
def cached(fn: Callable[P, R]) -> Callable[P, R]: ...


@overload
def cached(
    *, persist: Codec | None = None, remote: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def cached(
    fn: Callable[P, R] | None = None, *, persist: Codec | None = None, remote: bool = False
) -> Any:
    """Keep ``fn``'s answers for the cache's time-to-live, keyed by its arguments.

    Threads asking the same question at once share one computation. With
    ``persist``, answers are also kept in the opt-in persistent cache, encoded
    by that codec.

    Inside a batch (:mod:`aind_session.batch`), a ``remote`` function (one
    that asks a service, a leaf) is not called on a miss: the call is deferred
    to the batch's next round. Any other function runs as usual, its reads
    deferred in turn, and its answer is kept once it has one.
    """
    if fn is None:
        return functools.partial(cached, persist=persist, remote=remote)
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        key = _call_key(name, args, kwargs)
        if batch.active():
            return _in_batch(wrapper, fn, key, persist, remote, args, kwargs)
        found, waiting, _ = claim([key], persist)
        if found:
            return found[key]
        if waiting:
            return waiting[key].result()
        try:
            with public_call():
                result = fn(*args, **kwargs)
        except BaseException as exc:
            settle(key, error=exc)
            raise
        settle(key, result, codec=persist)
        return result

    wrapper.cache_name = name  # type: ignore[attr-defined]
    wrapper.cache_codec = persist  # type: ignore[attr-defined]
    return wrapper


def _in_batch(
    wrapper: Callable[..., Any],
    fn: Callable[..., Any],
    key: Hashable,
    codec: Codec | None,
    remote: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A cached call inside a batch: the cache, then the batch's memory; a leaf
    missing from both is deferred (or fetched now and remembered, outside
    :func:`~aind_session.batch.gather`); any other call runs."""
    from aind_session import persistent

    value = peek(key, codec)
    if not persistent.is_missing(value):
        with _lock:
            _stats["hits"] += 1
        return value
    if not remote or kwargs:
        with public_call():
            value = fn(*args, **kwargs)
        _offer(key, value, codec)
        return value
    request = (wrapper, args)
    known = batch.recall(batch.call_each, request)
    if known is batch.NOT_ASKED:
        batch.defer(batch.call_each, [request])  # inside gather: Pending
        known = batch.call_each([request])[request]  # inside once(): now
        batch.remember(batch.call_each, {request: known})
    if isinstance(known, Exception):
        raise known
    return known


def _offer(key: Hashable, value: Any, codec: Codec | None) -> None:
    """Keep ``value``, worked out inside a batch, as the answer of ``key``: not
    when the key is being answered by a flight of its own, nor after a clear
    since the public call began."""
    ttl = _ttl()
    began = call_generation()
    if ttl <= 0:
        return
    with _lock:
        if key in _inflight or began != _generation:
            return
        _get_store()[key] = (time.monotonic() + ttl, value)
    if codec is not None:
        _store_on_disk(key, value, codec, ttl, began)


def hint_call(fn: Callable[..., Any], *args: Any) -> None:
    """Inside :func:`aind_session.batch.gather`: fetch ``fn(*args)`` (a function
    wrapped by :func:`cached` with ``remote``) with the next round, unless it
    is cached. Nothing elsewhere."""
    from aind_session import persistent

    if batch.deferring() and persistent.is_missing(peek_call(fn, *args)):
        batch.hint(batch.call_each, [(fn, args)])


def _call_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    return (name, args, tuple(sorted(kwargs.items())))


def on_clear(callback: Callable[[], None]) -> Callable[[], None]:
    """Register ``callback`` to run on every :func:`clear_cache` (used by the layers)."""
    _on_clear.append(callback)
    return callback


def clear_cache(persistent: bool = False) -> None:
    """Forget every cached answer, the settings and the clients built from them.

    With ``persistent=True``, also empty the on-disk cache (when one is set).

    Call it after changing environment variables or `.env` files, or to see
    changes made in CodeOcean or S3 within the cache's time-to-live.

    Examples
    --------
    >>> import aind_session
    >>> aind_session.clear_cache()
    """
    global _store, _generation
    from aind_session import persistent as disk_cache
    from aind_session.config import reset_settings

    with _disk_gate:  # no disk write of an older generation lands after this
        with _lock:
            _generation += 1
            _store = None
            # flights begun before now answer their own waiters only: a caller
            # from now on asks afresh, with the new settings
            _inflight.clear()
        if persistent:
            disk_cache.clear_disk()
        reset_settings()
        disk_cache.forget_disk_cache()
    for callback in _on_clear:
        callback()
    logger.debug("cache cleared")


def cache_info() -> dict[str, int]:
    """Counts of answers served from the cache (``hits``) and computed (``misses``)."""
    with _lock:
        size = 0 if _store is None else len(_store)
    return {**_stats, "size": size}


def forget(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Drop the cached answer of ``fn(*args, **kwargs)`` (a function wrapped by
    :func:`cached`), in memory and on disk, so the next call asks again."""
    from aind_session import persistent

    key = _call_key(fn.cache_name, args, kwargs)  # type: ignore[attr-defined]
    with _lock:
        if _store is not None:
            _store.pop(key, None)
        # an answer being worked out now may predate what made the caller forget
        # (a run just started): it reaches its own waiters, and is not stored
        _inflight.pop(key, None)
    persistent.delete(key)


def peek_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The cached answer of ``fn(*args, **kwargs)`` (a function wrapped by :func:`cached`),
    or :data:`aind_session.persistent.MISSING`; never computes or waits."""
    key = _call_key(fn.cache_name, args, kwargs)  # type: ignore[attr-defined]
    return peek(key, fn.cache_codec)  # type: ignore[attr-defined]


# -- the public call being answered: its generation and its deadline -----------------
_call: contextvars.ContextVar[tuple[int, float] | None] = contextvars.ContextVar(
    "aind_session_call", default=None
)


@contextlib.contextmanager
def public_call() -> Iterator[None]:
    """Mark a public call: requests made inside it share one deadline
    (``Settings.call_deadline``), and answers worked out inside it are stored
    only if no clear came since it began. Nested calls join the outer one."""
    if _call.get() is not None:
        yield
        return
    from aind_session.config import get_settings

    token = _call.set((_generation, time.monotonic() + get_settings().call_deadline))
    try:
        yield
    finally:
        _call.reset(token)


def call_generation() -> int:
    """The :func:`generation` the current public call began in (now, outside one)."""
    current = _call.get()
    return _generation if current is None else current[0]


def call_deadline() -> float | None:
    """``time.monotonic()`` by which the current public call must end, or None outside one."""
    current = _call.get()
    return None if current is None else current[1]
