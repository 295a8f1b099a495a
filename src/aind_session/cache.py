"""Time-limited, thread-safe memoization of remote answers.

:func:`cached` wraps a function whose arguments are hashable. Answers are kept
in one :class:`cachetools.TLRUCache` bounded by ``Settings.cache_maxsize``,
each for ``Settings.cache_ttl`` seconds. Only answers are kept: an exception
propagates and nothing is stored, so a failed lookup is asked again next time.

Concurrent callers asking the same question wait for the first one's answer
instead of all asking the service (no thundering herd): each key has its own
lock while it is being computed.

:func:`clear_cache` forgets every answer, the settings and the clients built
from them (so changed environment variables take effect).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_store: Any = None  # cachetools.TLRUCache, built on first use
_key_locks: dict[tuple[Any, ...], threading.Lock] = {}
_on_clear: list[Callable[[], None]] = []
_stats = {"hits": 0, "misses": 0}


def _get_store() -> Any:
    global _store
    if _store is None:
        import cachetools

        from aind_session.config import get_settings

        maxsize = get_settings().cache_maxsize
        # each entry carries its own expiry time (see `_put`)
        _store = cachetools.TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: value[0], timer=time.monotonic
        )
    return _store


def _ttl() -> float:
    from aind_session.config import get_settings

    return get_settings().cache_ttl


def cached(fn: Callable[P, R]) -> Callable[P, R]:
    """Keep ``fn``'s answers for the cache's time-to-live, keyed by its arguments."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        key = (name, args, tuple(sorted(kwargs.items())))
        found, value = _get(key)
        if found:
            return value
        with _lock:
            key_lock = _key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found, value = _get(key)  # answered while we waited
            if found:
                return value
            _stats["misses"] += 1
            result = fn(*args, **kwargs)
            _put(key, result)
        with _lock:
            _key_locks.pop(key, None)
        return result

    wrapper.cache_name = name  # type: ignore[attr-defined]
    return wrapper


def _get(key: tuple[Any, ...]) -> tuple[bool, Any]:
    with _lock:
        entry = _get_store().get(key)
    if entry is None:
        return False, None
    _stats["hits"] += 1
    return True, entry[1]


def _put(key: tuple[Any, ...], value: Any) -> None:
    ttl = _ttl()
    if ttl <= 0:
        return
    with _lock:
        _get_store()[key] = (time.monotonic() + ttl, value)


def on_clear(callback: Callable[[], None]) -> Callable[[], None]:
    """Register ``callback`` to run on every :func:`clear_cache` (used by the layers)."""
    _on_clear.append(callback)
    return callback


def clear_cache() -> None:
    """Forget every cached answer, the settings and the clients built from them.

    Call it after changing environment variables or `.env` files, or to see
    changes made in CodeOcean or S3 within the cache's time-to-live.

    Examples
    --------
    >>> import aind_session
    >>> aind_session.clear_cache()
    """
    global _store
    from aind_session.config import reset_settings

    with _lock:
        _store = None
        _key_locks.clear()
    reset_settings()
    for callback in _on_clear:
        callback()
    logger.debug("cache cleared")


def cache_info() -> dict[str, int]:
    """Counts of answers served from the cache (``hits``) and computed (``misses``)."""
    with _lock:
        size = 0 if _store is None else len(_store)
    return {**_stats, "size": size}


def forget(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Drop the cached answer of ``fn(*args, **kwargs)`` (a function wrapped by :func:`cached`)."""
    key = (fn.cache_name, args, tuple(sorted(kwargs.items())))  # type: ignore[attr-defined]
    with _lock:
        if _store is not None:
            _store.pop(key, None)
