"""Time-limited, thread-safe memoization of remote answers: the ``cached`` decorator.

:func:`cached` wraps a function whose arguments are hashable. Its answers are
kept in the store (:mod:`aind_session.store`: bounded by
``Settings.cache_maxsize``, each for ``Settings.cache_ttl`` seconds). Only
answers are kept: an exception propagates and nothing is stored, so a failed
lookup is asked again next time. Concurrent callers asking the same question
wait for the first one's answer instead of all asking the service (single
flight, see :func:`aind_session.store.claim`).

:func:`clear_cache` forgets every answer, the settings and the clients built
from them (so changed environment variables take effect). Public calls (their
deadline, and the clears since they began) are in :mod:`aind_session.calls`;
inside a batch (:mod:`aind_session.batch`) a remote function's miss is deferred.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from aind_session import batch, calls, store
from aind_session.calls import call_deadline, call_generation, public_call  # noqa: F401
from aind_session.store import claim, peek, settle, settle_all  # noqa: F401 (names of cache too)

if TYPE_CHECKING:
    from aind_session.persistent import Codec

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_on_clear: list[Callable[[], None]] = []  # the layers' own clears (see on_clear)


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

    >>> calls = []
    >>> @cached
    ... def double(x: int) -> int:
    ...     calls.append(x)
    ...     return 2 * x
    >>> double(21), double(21), calls
    (42, 42, [21])
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
        store.count_hit()
        return value
    if not remote or kwargs:
        since = calls.generation()
        with public_call():
            value = fn(*args, **kwargs)
        store.offer(key, value, codec, since)
        return value
    request = (wrapper, args)  # the cache was asked above
    known = batch.ask(batch.call_each, [request], lambda _: persistent.MISSING)[request]
    if isinstance(known, Exception):
        raise known
    return known


def hint_call(fn: Callable[..., Any], *args: Any) -> None:
    """Inside :func:`aind_session.batch.gather`: fetch ``fn(*args)`` (a function
    wrapped by :func:`cached` with ``remote``) with the next round, unless it
    is cached. Nothing elsewhere."""
    from aind_session import persistent
    from aind_session.config import get_settings

    if not batch.deferring() or get_settings().offline:  # offline: a guess cannot be asked
        return
    if persistent.is_missing(peek_call(fn, *args)):
        batch.hint(batch.call_each, [(fn, args)])


def _call_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    return (name, args, tuple(sorted(kwargs.items())))


def on_clear(callback: Callable[[], None]) -> Callable[[], None]:
    """Register ``callback`` to run on every :func:`clear_cache` (used by the layers).

    Returns ``callback``, so it serves as a decorator.

    >>> cleared = []
    >>> @on_clear
    ... def note() -> None:
    ...     cleared.append('cleared')
    >>> clear_cache()
    >>> cleared
    ['cleared']
    >>> _on_clear.remove(note)  # the example's callback is not kept
    """
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
    from aind_session import persistent as disk_cache
    from aind_session.config import reset_settings

    def then() -> None:  # under the disk gate: no disk write of before lands after it
        if persistent:
            disk_cache.clear_disk()
        reset_settings()
        disk_cache.forget_disk_cache()

    store.clear(then)
    for callback in _on_clear:
        callback()
    logger.debug("cache cleared")


def cache_info() -> dict[str, int]:
    """Counts of answers served from the cache (``hits``) and computed (``misses``),
    and the number of answers kept now (``size``).

    >>> @cached
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> before = cache_info()
    >>> double(21), double(21)
    (42, 42)
    >>> after = cache_info()
    >>> {count: after[count] - before[count] for count in ('hits', 'misses')}
    {'hits': 1, 'misses': 1}
    """
    return store.info()


def forget(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Drop the cached answer of ``fn(*args, **kwargs)`` (a function wrapped by
    :func:`cached`), in memory and on disk, so the next call asks again."""
    from aind_session import persistent

    key = _call_key(fn.cache_name, args, kwargs)  # type: ignore[attr-defined]
    store.drop(key)
    persistent.delete(key)


def peek_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The cached answer of ``fn(*args, **kwargs)`` (a function wrapped by :func:`cached`),
    or :data:`aind_session.persistent.MISSING`; never computes or waits.

    >>> from aind_session import persistent
    >>> @cached
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> persistent.is_missing(peek_call(double, 21))
    True
    >>> double(21)
    42
    >>> peek_call(double, 21)
    42
    """
    key = _call_key(fn.cache_name, args, kwargs)  # type: ignore[attr-defined]
    return peek(key, fn.cache_codec)  # type: ignore[attr-defined]
