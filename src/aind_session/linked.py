"""What DocDB adds to CodeOcean's answers: the assets a record links, its
folder, and the sessions only DocDB knows.

CodeOcean finds a session's assets by name (and a subject's by name and the
``subject id`` custom metadata field); some assets have neither. DocDB's
record of the session links its CodeOcean assets (``other_identifiers`` in
the 2.x collection, ``external_links`` in the 1.x one, in both forms) and
says where its folder is (``location``). So:

- a session's assets are those named after it **and** those its record
  links (:func:`session_data_assets`); a linked asset no other rule calls raw
  is the raw one when nothing else is (:func:`session_raw_data_asset`);
- the record's ``location`` (an ``s3://`` URL) is a place to look for the raw
  data folder (:func:`joined`, used by :func:`aind_session.folders.raw_data_dir`);
- a subject's sessions include those DocDB has records of
  (:func:`subject_session_names`).

DocDB only helps here: it is asked at the same time as CodeOcean (its
collections at once, a summary of each record), so it adds requests but no
round trip, and many sessions' records come in one ``$in`` query. When it
cannot be asked (see :func:`aind_session.docdb_api.at_once` for how long it
is waited for, and left alone after), these questions are answered from
CodeOcean and S3 alone: said once in the log, never raised. An answer so made
is given, never kept (a cached function answers :func:`unless_complete`,
which raises it through the cache, and :func:`complete` gives it), so the
next question asks DocDB again.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from aind_session import batch, cache, calls, codeocean, docdb, errors, forks

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

LINKED = "DocDB's record of the session links it"  # the weakest reason an asset is raw


def linked_codeocean_ids(found: dict[str, Any]) -> tuple[str, ...]:
    """The CodeOcean data asset ids a record links: ``other_identifiers["Code
    Ocean"]`` (v2), or ``external_links`` (v1: a list of ``{"Code Ocean": id}``
    dicts at first, a dict of lists from late 2024).

    >>> linked_codeocean_ids({'_id': 'x', 'other_identifiers': {'Code Ocean': ['a', 'b']}})
    ('a', 'b')
    >>> linked_codeocean_ids({'_id': 'x', 'external_links': [{'Code Ocean': 'a'}]})
    ('a',)
    >>> linked_codeocean_ids({'_id': 'x', 'external_links': {'Code Ocean': ['a']}})
    ('a',)
    """
    ids: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            ids.append(value.strip())
        elif isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
            for item in value:
                add(item)

    other = found.get("other_identifiers")
    if isinstance(other, dict):
        add(other.get("Code Ocean"))
    links = found.get("external_links")
    if isinstance(links, dict):
        add(links.get("Code Ocean"))
    elif isinstance(links, list):
        for link in links:
            if isinstance(link, dict):
                add(link.get("Code Ocean"))
    return tuple(dict.fromkeys(ids))


# -- answers made without DocDB ---------------------------------------------------------
_lock = forks.free_after_fork(threading.Lock())
_said: set[int] = set()  # the clears (calls.generation) in which "without DocDB" was said


def helping(ask: Callable[[], T]) -> tuple[T | None, str | None]:
    """``(ask(), None)``, or ``(None, why)`` when DocDB could not be asked; never raised.

    >>> helping(lambda: docdb.summary('780345_2025-02-20_00-00-00'))[0]['_id']
    'v2-780345-2025-02-20'
    """
    try:
        return ask(), None
    except errors.ServiceError as exc:
        return None, " ".join(str(exc).split())


def without(why: str | None) -> None:
    """Say, once per :func:`aind_session.clear_cache`, that an answer is given
    without DocDB (``why`` it could not be asked); nothing when ``why`` is None.

    >>> without(None)
    """
    if why is None:
        return
    with _lock:
        if calls.generation() in _said:
            return
        _said.add(calls.generation())
    logger.warning("DocDB could not be asked (%s); answering without it.", why)


class _Incomplete(Exception):
    """An answer made without DocDB (``answer``; ``why`` it could not be asked):
    raised through the cache so that it is never kept (see :func:`unless_complete`)."""

    def __init__(self, answer: Any, why: str) -> None:
        super().__init__(why)
        self.answer = answer
        self.why = why


def unless_complete(answer: T, why: str | None) -> T:
    """``answer`` when ``why`` is None; else it is raised as an answer made
    without DocDB, through the cache that would keep it, to :func:`complete`.

    >>> unless_complete(42, None)
    42
    """
    if why is not None:
        raise _Incomplete(answer, why)
    return answer


def complete(fn: Callable[P, T]) -> Callable[P, T]:
    """Wrap a (cached) function that may answer :func:`unless_complete`: its
    answer is given, and said (:func:`without`), but never kept.

    >>> @complete
    ... def ask() -> int:
    ...     return unless_complete(42, 'DocDB is down')
    >>> ask()
    42
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except _Incomplete as exc:
            without(exc.why)
            return exc.answer

    return wrapper


def record(name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The whole record of ``name`` where DocDB only helps (see :func:`helping`).

    >>> record('780345_2025-02-20_00-00-00')[0]['_id']
    'v2-780345-2025-02-20'
    """
    return helping(lambda: docdb.record(name, helping=True))


# -- a session, as both indexes know it --------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Joined:
    """A session as CodeOcean and DocDB know it: its data assets (named after it,
    or linked by its record), its raw data asset among them, and the ``s3://``
    location of its record."""

    assets: tuple[DataAsset, ...]
    raw: DataAsset | None
    location: str | None


def joined(session_id: str) -> tuple[Joined, str | None]:
    """The session as both indexes know it, and why DocDB could not be asked
    (None when it was). The search and DocDB are asked at once; linked assets
    the search did not find are then fetched together. Cached when complete.

    >>> found, why = joined('ecephys_733691_2025-06-03_10-15-00')
    >>> [a.name for a in found.assets], found.raw.name, why
    (['Neuropixels recording, rig NP3, 3 June 2025'], 'Neuropixels recording, rig NP3, 3 June 2025', None)
    """
    try:
        return _joined(session_id), None
    except _Incomplete as exc:
        return exc.answer, exc.why


@cache.cached
def _joined(session_id: str) -> Joined:
    by_name, (found, why) = errors.raise_first(
        batch.gather(
            [
                functools.partial(codeocean.get_session_data_assets, session_id),
                functools.partial(helping, functools.partial(docdb.summary, session_id)),
            ]
        )
    )
    links = linked_codeocean_ids(found or {})
    known = {a.id for a in by_name}
    ids = [i for i in links if i not in known]
    fetched = []
    asked = batch.gather([functools.partial(codeocean.get_data_asset, i) for i in ids])
    for asset_id, asset in zip(ids, asked, strict=True):
        # an id CodeOcean does not know, or this token may not see: the others stand
        if isinstance(asset, (errors.NotFoundError, ValueError, PermissionError)):
            logger.info("DocDB's record of %s links %r: skipped (%s)", session_id, asset_id, asset)
        elif isinstance(asset, Exception):
            raise asset
        else:
            fetched.append(asset)
    assets = codeocean.sort_by_created([*by_name, *fetched])
    raw = codeocean.choose_raw_data_asset(assets, session_id)
    if raw is None:
        candidates = [a for a in assets if a.id in links and _may_be_raw(a)]
        if candidates:
            raw = max(candidates, key=lambda a: (a.created, a.name))
            logger.info("raw data asset of %s: %s (%s): %s", session_id, raw.id, raw.name, LINKED)
    location = (found or {}).get("location")
    if not (isinstance(location, str) and location.strip().startswith("s3://")):
        location = None  # (another scheme would be taken unchecked: not from this field)
    return unless_complete(Joined(assets, raw, location.strip() if location else None), why)


def _may_be_raw(asset: DataAsset) -> bool:
    from aind_session.asset_names import is_sorted_data_asset

    level = str((asset.custom_metadata or {}).get("data level", "")).strip().lower()
    return level in ("", "raw data") and not is_sorted_data_asset(asset)


def session_data_assets(session_id: str) -> tuple[DataAsset, ...]:
    """The session's data assets, oldest first: those named after it (see
    :func:`aind_session.codeocean.get_session_data_assets`) and those DocDB's
    record of it links (see :func:`joined`).

    >>> [a.name for a in session_data_assets('ecephys_733691_2025-06-03_10-15-00')]
    ['Neuropixels recording, rig NP3, 3 June 2025']
    """
    found, why = joined(session_id)
    without(why)
    return found.assets


def session_raw_data_asset(session_id: str) -> DataAsset | None:
    """The session's raw data asset among :func:`session_data_assets` (see
    :func:`aind_session.codeocean.choose_raw_data_asset`); else the latest
    asset DocDB's record of the session links that says nothing against it
    (no other data level in its custom metadata, not a sorted asset); else None.

    >>> session_raw_data_asset('ecephys_733691_2025-06-03_10-15-00').name
    'Neuropixels recording, rig NP3, 3 June 2025'
    """
    found, why = joined(session_id)
    without(why)
    return found.raw


# -- a subject's sessions ----------------------------------------------------------------
def subject_session_names(subject_id: str) -> tuple[tuple[str, ...], str | None]:
    """The names of the subject's records in DocDB, and why DocDB could not be
    asked (then no names; see :func:`without`).

    >>> subject_session_names('780345')
    (('780345_2025-02-20_00-00-00',), None)
    """
    found, why = helping(functools.partial(docdb.subject_records, subject_id, True))
    return tuple(str(r.get("name")) for r in found or ()), why
