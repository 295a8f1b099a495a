"""Asking many things in few rounds: the one batching mechanism.

The properties are the only statement of what is read. To ask many of them
together, :func:`gather` runs them as tasks, in a *batch*:

1. Every task runs. A read that misses the cache (an S3 listing or file, a
   CodeOcean request: the *leaves*) does not fetch: it records what it needs
   and raises :class:`_Pending`.
2. When each task has finished or is pending, everything pending, with the
   guesses given as :func:`hint`\\ s, is fetched in one round: each service's
   requests together (S3's at once on one event loop, CodeOcean's in a thread
   each), every service at the same time.
3. The pending tasks run again from the start. What they waited for is
   answered now, so each gets further, until none is pending.

Within a batch every question is asked once. The answers the cache does not
keep (an empty folder, a missing file, an error met) are remembered by the
batch until it ends, so running a task again never asks again; :func:`once`
opens a batch that fetches at once (no deferring) for code that wants only that.

Inside a task, :func:`gather` is the way to say "these questions are
independent": its tasks all run, and when any is pending the whole is, so
their reads go in the same round instead of one round after another.

Why this shape. Before it, seven mechanisms served this one goal, and each
"prefetch" restated what some property reads, in batch form, and drifted
from it. Here a property says what it reads once, and batching it costs
running cheap code again (a replay is answered from memory). ``_Pending`` is a
``BaseException``, so the ``except Exception`` handlers a read passes through
on its way up (those that turn errors into "unknown") let it by.

A leaf takes part through a *fetcher*: a function from a list of requests
(hashable) to a mapping of each request to its answer or the exception met.
The leaf asks through :func:`ask`: the cache, then :func:`recall`, then on a
miss :func:`defer` (which raises :class:`_Pending` inside :func:`gather`, and
returns outside one so that the leaf fetches at once) and :func:`remember`. See
:func:`aind_session.s3.fetch` and :func:`aind_session.cache.cached`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from aind_session import calls, errors, persistent

logger = logging.getLogger(__name__)

T = TypeVar("T")
Fetcher = Callable[[list[Any]], Mapping[Any, Any]]


class _Pending(BaseException):
    """A read deferred to the batch's next round (raised and caught inside :func:`gather` only).

    A ``BaseException``: the ``except Exception`` handlers on its way up let it by.
    """


class _NotAsked:
    def __repr__(self) -> str:
        return "NOT_ASKED"


NOT_ASKED: Any = _NotAsked()
"""What :func:`recall` returns for a request the batch has no answer to."""


class _Batch:
    __slots__ = ("deferring", "generation", "hints", "lock", "memo", "pending", "rounds")

    def __init__(
        self,
        deferring: bool,
        memo: dict[tuple[Fetcher, Hashable], Any] | None = None,
        lock: threading.Lock | None = None,
        generation: int | None = None,
    ) -> None:
        self.deferring = deferring
        self.memo: dict[tuple[Fetcher, Hashable], Any] = {} if memo is None else memo
        self.pending: dict[Fetcher, dict[Hashable, None]] = {}
        self.hints: dict[Fetcher, dict[Hashable, None]] = {}
        # tasks may ask from threads of their own (run in a copy of the context)
        self.lock = threading.Lock() if lock is None else lock
        self.rounds = 0
        # the clears counted when the memo was begun: after a clear its answers are
        # the old settings', so it is emptied (see _fresh)
        self.generation = calls.generation() if generation is None else generation


def _fresh(batch: _Batch) -> None:
    """Empty the memo when a clear came since it was begun (call under ``batch.lock``)."""
    now = calls.generation()
    if batch.generation != now:
        batch.memo.clear()
        batch.generation = now


# far more than any chain of reads the library makes (a few candidate groups, a
# few layouts): reaching it means a leaf that never settles, which must not hang
MAX_ROUNDS = 100

_current: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "aind_session_batch", default=None
)


def active() -> bool:
    """True inside a batch (:func:`gather` or :func:`once`).

    >>> active()
    False
    >>> with once():
    ...     active()
    True
    """
    return _current.get() is not None


def deferring() -> bool:
    """True where a miss is deferred to a round (inside :func:`gather`), so a hint can help.

    >>> deferring()
    False
    """
    batch = _current.get()
    return batch is not None and batch.deferring


def recall(fetcher: Fetcher, request: Hashable) -> Any:
    """The answer (or the exception) this batch has for ``request`` of ``fetcher``,
    or :data:`NOT_ASKED` (always, outside a batch).

    >>> recall(dict, 'x')
    NOT_ASKED
    """
    batch = _current.get()
    if batch is None:
        return NOT_ASKED
    with batch.lock:
        _fresh(batch)
        return batch.memo.get((fetcher, request), NOT_ASKED)


def defer(fetcher: Fetcher, requests: Iterable[Hashable]) -> None:
    """Inside :func:`gather`: record ``requests`` for the next round and raise
    :class:`_Pending`. Elsewhere: return, and the caller fetches them now.

    Raises
    ------
    _Pending
        Inside :func:`gather` (never seen outside it).
    """
    batch = _current.get()
    if batch is None or not batch.deferring:
        return
    with batch.lock:
        new = [r for r in requests if (fetcher, r) not in batch.memo]
        if new:
            batch.pending.setdefault(fetcher, {}).update(dict.fromkeys(new))
    raise _Pending


def remember(fetcher: Fetcher, answers: Mapping[Any, Any]) -> None:
    """Keep ``answers`` (request -> answer or exception) until the batch ends;
    nothing outside a batch."""
    batch = _current.get()
    if batch is not None:
        with batch.lock:
            _fresh(batch)
            batch.memo.update({(fetcher, r): v for r, v in answers.items()})


def now(fetcher: Fetcher, requests: list[Any]) -> dict[Any, Any]:
    """Fetch ``requests`` for real, now (the batch, if any, set aside while the
    fetcher runs, so that its own reads are not deferred): each request's answer
    or the exception met; a fetcher that raises answers each request with it.

    >>> now(lambda rs: {r: r * 2 for r in rs}, [1, 2])
    {1: 2, 2: 4}
    """
    token = _current.set(None)
    try:
        answers = dict(fetcher(requests))
    except Exception as exc:
        answers = dict.fromkeys(requests, exc)
    finally:
        _current.reset(token)
    for request in requests:
        answers.setdefault(
            request, errors.InternalError(f"{request!r} was asked for but not answered")
        )
    return answers


def ask(fetcher: Fetcher, requests: Iterable[Any], cached: Callable[[Any], Any]) -> dict[Any, Any]:
    """What a leaf does: each request's answer (or the exception met) from
    ``cached`` (the cache; :data:`aind_session.persistent.MISSING` when it has
    none), else this batch's memory; the rest deferred inside :func:`gather`,
    fetched now (and remembered) elsewhere.

    >>> ask(lambda rs: {r: r * 2 for r in rs}, [1, 2], lambda r: 10 if r == 1 else persistent.MISSING)
    {1: 10, 2: 4}

    Raises
    ------
    _Pending
        Inside :func:`gather`, when something is not known yet.
    """
    answers: dict[Any, Any] = {}
    misses = []
    for request in dict.fromkeys(requests):
        known = cached(request)
        if persistent.is_missing(known):
            known = recall(fetcher, request)
        if known is NOT_ASKED:
            misses.append(request)
        else:
            answers[request] = known
    if misses:
        defer(fetcher, misses)  # inside gather: pending
        fetched = now(fetcher, misses)
        remember(fetcher, fetched)
        answers.update(fetched)
    return answers


def hint(fetcher: Fetcher, requests: Iterable[Hashable]) -> None:
    """A guess: fetch ``requests`` with the next round, if one is made anyway.

    For reads likely to be needed once the pending ones are answered (a file
    likely in a folder not listed yet). Nothing outside :func:`gather`. A
    guess that turns out wrong costs one request, sent with the others.
    """
    batch = _current.get()
    if batch is None or not batch.deferring:
        return
    with batch.lock:
        guesses = batch.hints.setdefault(fetcher, {})
        guesses.update(dict.fromkeys(r for r in requests if (fetcher, r) not in batch.memo))


@contextlib.contextmanager
def once() -> Iterator[None]:
    """A block within which each question is asked once, fetched when asked.

    What the cache does not keep (an empty folder, a missing file, an error)
    is remembered until the block ends. Blocks nest (the outer one's memory is
    kept), and :func:`gather` inside one shares it.

    >>> with once():
    ...     active()
    True
    """
    if _current.get() is not None:
        yield
        return
    token = _current.set(_Batch(deferring=False))
    try:
        yield
    finally:
        _current.reset(token)


def gather(tasks: Iterable[Callable[[], T]]) -> list[T | Exception]:
    """Run ``tasks`` together: each one's value, or the exception it raised.

    Their reads are fetched in as few rounds as they allow (see the module's
    docstring). Inside another :func:`gather`'s task, the tasks run once, and
    the caller is pending if any of them is.

    >>> gather([lambda: 1, lambda: {}['x']])
    [1, KeyError('x')]

    Raises
    ------
    aind_session.errors.InternalError
        When a task stays pending with nothing left to fetch, or after
        :data:`MAX_ROUNDS` rounds (a leaf that never settles): never a hang.
    """
    work = list(tasks)
    outer = _current.get()
    if outer is not None and outer.deferring:
        results, pending = _run(work, range(len(work)))
        if pending:
            raise _Pending
        return [results[i] for i in range(len(work))]
    if outer is None:
        batch = _Batch(deferring=True)
    else:  # inside once(): its memory, under its lock
        batch = _Batch(True, outer.memo, lock=outer.lock, generation=outer.generation)
    token = _current.set(batch)
    try:
        with calls.public_call():  # one deadline for every round
            results = _drive(batch, work)
    finally:
        _current.reset(token)
    return [results[i] for i in range(len(work))]


def _drive(batch: _Batch, work: Sequence[Callable[[], Any]]) -> dict[int, Any]:
    """Run, fetch, replay until no task is pending: each task's result by index."""
    results, todo = _run(work, range(len(work)))
    while todo:
        if not any(batch.pending.values()):
            raise errors.InternalError(
                f"{len(todo)} task(s) stayed pending with nothing to fetch (a leaf that "
                "does not use what it was given)"
            )
        if batch.rounds >= MAX_ROUNDS:
            raise errors.InternalError(
                f"{len(todo)} task(s) still pending after {MAX_ROUNDS} rounds (a leaf "
                "that asks something new each time)"
            )
        _fetch_round(batch)
        done, todo = _run(work, todo)
        results.update(done)
    return results


def _run(
    work: Sequence[Callable[[], Any]], indices: Iterable[int]
) -> tuple[dict[int, Any], list[int]]:
    """Run the tasks at ``indices``: their results by index, and the indices still pending."""
    results: dict[int, Any] = {}
    pending: list[int] = []
    for i in indices:
        try:
            results[i] = work[i]()
        except _Pending:
            pending.append(i)
        except Exception as exc:
            results[i] = exc
    return results, pending


def _fetch_round(batch: _Batch) -> None:
    """Fetch everything pending (and the hints) at once, each fetcher in a thread."""
    with batch.lock:
        groups: dict[Fetcher, list[Hashable]] = {}
        for fetcher in {**batch.pending, **batch.hints}:
            wanted = {**batch.pending.get(fetcher, {}), **batch.hints.get(fetcher, {})}
            todo = [r for r in wanted if (fetcher, r) not in batch.memo]
            if todo:
                groups[fetcher] = todo
        batch.pending, batch.hints = {}, {}
    batch.rounds += 1
    logger.debug(
        "batch round %d: %s",
        batch.rounds,
        {getattr(f, "__qualname__", f): len(r) for f, r in groups.items()},
    )

    began = calls.generation()
    items = list(groups.items())
    if len(items) == 1:
        answered = [now(*items[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(items)) as pool:
            jobs = [pool.submit(contextvars.copy_context().run, now, f, r) for f, r in items]
            answered = [job.result() for job in jobs]
    with batch.lock:
        _fresh(batch)
        if began != batch.generation:  # a clear came during the round: its answers are old
            return
        for (fetcher, _), answers in zip(items, answered, strict=True):
            batch.memo.update({(fetcher, r): v for r, v in answers.items()})


def call_each(requests: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> dict[Any, Any]:
    """A fetcher for calls: ``(fn, args)`` -> ``fn(*args)``, or the exception raised;
    each in a thread of its own (up to ``Settings.max_concurrency``), in a copy
    of the caller's context (its deadline).

    >>> call_each([(abs, (-1,)), (int, ('x',))])[(abs, (-1,))]
    1
    """
    from aind_session.config import get_settings

    def one(request: tuple[Callable[..., Any], tuple[Any, ...]]) -> Any:
        fn, args = request
        try:
            return fn(*args)
        except Exception as exc:
            return exc

    if len(requests) == 1:
        return {requests[0]: one(requests[0])}
    from concurrent.futures import ThreadPoolExecutor

    bound = max(1, min(len(requests), get_settings().max_concurrency))
    with ThreadPoolExecutor(bound) as pool:
        jobs = [pool.submit(contextvars.copy_context().run, one, r) for r in requests]
        return {r: job.result() for r, job in zip(requests, jobs, strict=True)}
