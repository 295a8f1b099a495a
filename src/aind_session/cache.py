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

import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

if TYPE_CHECKING:
    from aind_session.persistent import Codec

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_store: Any = None  # cachetools.TLRUCache, built on first use
_inflight: dict[Hashable, Future[Any]] = {}
_owners: dict[Hashable, int] = {}  # thread computing each key: a cycle raises, never hangs
_on_clear: list[Callable[[], None]] = []
_stats = {"hits": 0, "misses": 0}


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
    given to compute. (Offline mode is enforced where requests are made: see
    :func:`aind_session.persistent.refuse_if_offline`.)
    """
    from aind_session import persistent

    found: dict[Hashable, Any] = {}
    waiting: dict[Hashable, Future[Any]] = {}
    mine: list[Hashable] = []
    with _lock:
        store = _get_store()
        for key in keys:
            entry = store.get(key)
            if entry is not None:
                found[key] = entry[1]
            elif key in _inflight:
                if _owners.get(key) == threading.get_ident():
                    raise RuntimeError(
                        f"{key!r} is being computed by this thread already (a cycle)"
                    )
                waiting[key] = _inflight[key]
            else:
                _inflight[key] = Future()
                _owners[key] = threading.get_ident()
                mine.append(key)
    try:
        for key in list(mine):
            value = persistent.lookup(key, codec) if codec is not None else persistent.MISSING
            if not persistent.is_missing(value):
                found[key] = value
                mine.remove(key)
                settle(key, value)
    except BaseException as exc:  # never leave a key in flight: its waiters would hang
        for key in mine:
            settle(key, error=exc)
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
    a ``codec`` is given and the persistent cache is on."""
    with _lock:
        future = _inflight.pop(key, None)
        _owners.pop(key, None)
    try:
        ttl = _ttl()
        kept = error is None and keep and ttl > 0
        if kept:
            with _lock:
                _get_store()[key] = (time.monotonic() + ttl, value)
    finally:  # waiters get the answer first; the disk can wait
        if future is not None:
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
    if kept and codec is not None:
        _store_on_disk(key, value, codec, ttl)


def _store_on_disk(key: Hashable, value: Any, codec: Codec, ttl: float) -> None:
    from aind_session import persistent

    try:
        persistent.store(key, value, codec, ttl)
    except Exception as exc:  # a full disk must not fail the call that got the answer
        logger.warning("could not write the persistent cache: %s: %s", type(exc).__name__, exc)


@overload
def cached(fn: Callable[P, R]) -> Callable[P, R]: ...


@overload
def cached(*, persist: Codec) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def cached(fn: Callable[P, R] | None = None, *, persist: Codec | None = None) -> Any:
    """Keep ``fn``'s answers for the cache's time-to-live, keyed by its arguments.

    Threads asking the same question at once share one computation. With
    ``persist``, answers are also kept in the opt-in persistent cache, encoded
    by that codec.
    """
    if fn is None:
        return functools.partial(cached, persist=persist)
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        key = _call_key(name, args, kwargs)
        found, waiting, _ = claim([key], persist)
        if found:
            return found[key]
        if waiting:
            return waiting[key].result()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            settle(key, error=exc)
            raise
        settle(key, result, codec=persist)
        return result

    wrapper.cache_name = name  # type: ignore[attr-defined]
    wrapper.cache_codec = persist  # type: ignore[attr-defined]
    return wrapper


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
    global _store
    from aind_session.config import reset_settings

    if persistent:
        from aind_session.persistent import get_disk_cache

        disk = get_disk_cache()
        if disk is not None:
            disk.clear()

    with _lock:
        _store = None
    reset_settings()
    from aind_session.persistent import forget_disk_cache

    forget_disk_cache()
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
    persistent.delete(key)


def peek_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The cached answer of ``fn(*args, **kwargs)`` (a function wrapped by :func:`cached`),
    or :data:`aind_session.persistent.MISSING`; never computes or waits."""
    key = _call_key(fn.cache_name, args, kwargs)  # type: ignore[attr-defined]
    return peek(key, fn.cache_codec)  # type: ignore[attr-defined]


def prime(fn: Callable[..., Any], *args: Any, value: Any) -> None:
    """Store ``value`` as the answer of ``fn(*args)`` (a function wrapped by :func:`cached`),
    for batch code that worked out many answers at once; on disk too when ``fn``
    persists its answers."""
    key = _call_key(fn.cache_name, args, {})  # type: ignore[attr-defined]
    ttl = _ttl()
    if ttl <= 0:
        return
    with _lock:
        if key in _inflight:  # its own computation will settle it
            return
        _get_store()[key] = (time.monotonic() + ttl, value)
    if fn.cache_codec is not None:  # type: ignore[attr-defined]
        _store_on_disk(key, value, fn.cache_codec, ttl)  # type: ignore[attr-defined]
