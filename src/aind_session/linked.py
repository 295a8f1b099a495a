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
- the record's ``location`` is a place to look for the raw data folder
  (:func:`raw_location`);
- a subject's sessions include those DocDB has records of
  (:func:`subject_session_names`).

DocDB only helps here: it is asked at the same time as CodeOcean (its
collections at once, a summary of each record), so it adds requests but no
round trip, and many sessions' records come in one ``$in`` query. When it
cannot be asked, these questions are answered from CodeOcean and S3 alone:
said once in the log, never raised, and the answer so made is not kept, so the
next question asks DocDB again (after :data:`QUIET_FOR` seconds, so that a
DocDB that is down costs one wait, not one per question).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import batch, cache, calls, codeocean, docdb, errors

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)

T = TypeVar("T")

QUIET_FOR = 60.0  # seconds DocDB is not asked again after it could not be asked
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


# -- asking DocDB where it only helps ----------------------------------------------------
_lock = threading.Lock()
_down: dict[int, tuple[float, str]] = {}  # clear (calls.generation) -> (until, why)
_said: set[int] = set()  # the clears in which "answering without DocDB" was said


def helping(ask: Callable[[], T]) -> tuple[T | None, str | None]:
    """``(ask(), None)``, or ``(None, why)`` when DocDB could not be asked: then
    not asked again for :data:`QUIET_FOR` seconds (per
    :func:`aind_session.clear_cache`); never raised. The caller that answers
    without it says so with :func:`without`.

    >>> helping(lambda: docdb.record('780345_2025-02-20_00-00-00'))[0]['_id']
    'v2-780345-2025-02-20'
    """
    generation = calls.generation()
    with _lock:
        until, why = _down.get(generation, (0.0, ""))
        if time.monotonic() < until:
            return None, why
    try:
        return ask(), None
    except errors.ServiceError as exc:
        why = " ".join(str(exc).split())
        with _lock:
            _down[generation] = (time.monotonic() + QUIET_FOR, why)
        return None, why


def without(why: str | None) -> None:
    """Say, once per :func:`aind_session.clear_cache`, that an answer is given
    without DocDB (``why`` it could not be asked); nothing when ``why`` is None.

    >>> without(None)
    """
    if why is None:
        return
    generation = calls.generation()
    with _lock:
        if generation in _said:
            return
        _said.add(generation)
    logger.warning("DocDB could not be asked (%s); answering without it.", why)


def record(name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The whole record of ``name`` where DocDB only helps (see :func:`helping`).

    >>> record('780345_2025-02-20_00-00-00')[0]['_id']
    'v2-780345-2025-02-20'
    """
    return helping(lambda: docdb.record(name))


def raw_location(session_id: str) -> str | None:
    """The ``location`` of the session's record (its raw data folder), or None
    (no record, no location, or DocDB not asked).

    >>> raw_location('780345_2025-02-20_00-00-00')
    's3://aind-private-data-prod-o5171v/780345_2025-02-20_00-00-00'
    """
    found, why = helping(lambda: docdb.summary(session_id))
    without(why)
    location = (found or {}).get("location")
    return location.strip() if isinstance(location, str) and location.strip() else None


# -- a session's data assets -------------------------------------------------------------
class _Incomplete(Exception):
    """An answer made without DocDB: given, never kept (raised through the cache)."""

    def __init__(self, answer: Any, why: str) -> None:
        super().__init__(why)
        self.answer = answer
        self.why = why


def _complete(fn: Callable[[str], T]) -> Callable[[str], T]:
    @functools.wraps(fn)
    def wrapper(session_id: str) -> T:
        try:
            return fn(session_id)
        except _Incomplete as exc:
            without(exc.why)
            return exc.answer  # type: ignore[no-any-return]

    return wrapper


@_complete
@cache.cached
def session_data_assets(session_id: str) -> tuple[DataAsset, ...]:
    """The session's data assets, oldest first: those named after it (see
    :func:`aind_session.codeocean.get_session_data_assets`) and those DocDB's
    record of it links. The search and DocDB are asked at once; linked assets
    not found by name are then fetched together.

    >>> [a.name for a in session_data_assets('ecephys_733691_2025-06-03_10-15-00')]
    ['Neuropixels recording, rig NP3, 3 June 2025']
    """
    by_name, (found, why) = _raise(
        batch.gather(
            [
                functools.partial(codeocean.get_session_data_assets, session_id),
                functools.partial(helping, functools.partial(docdb.summary, session_id)),
            ]
        )
    )
    known = {a.id for a in by_name}
    ids = [i for i in linked_codeocean_ids(found or {}) if i not in known]
    linked = []
    for asset_id, asset in zip(
        ids,
        batch.gather([functools.partial(codeocean.get_data_asset, i) for i in ids]),
        strict=False,
    ):
        if isinstance(asset, (errors.NotFoundError, errors.InvalidInputError, ValueError)):
            logger.info("DocDB's record of %s links %r: skipped (%s)", session_id, asset_id, asset)
        elif isinstance(asset, Exception):
            raise asset
        else:
            linked.append(asset)
    if linked:
        logger.debug("%s: %d data asset(s) linked by DocDB only", session_id, len(linked))
    answer = codeocean.sort_by_created([*by_name, *linked])
    if why is not None:
        raise _Incomplete(answer, why)
    return answer


def _raise(answers: list[Any]) -> list[Any]:
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


@_complete
@cache.cached
def session_raw_data_asset(session_id: str) -> DataAsset | None:
    """The session's raw data asset among :func:`session_data_assets` (see
    :func:`aind_session.codeocean.choose_raw_data_asset`); else the latest
    asset DocDB's record of the session links that says nothing against it
    (no other data level in its custom metadata, not a sorted asset); else None.

    >>> session_raw_data_asset('ecephys_733691_2025-06-03_10-15-00').name
    'Neuropixels recording, rig NP3, 3 June 2025'
    """
    assets = session_data_assets(session_id)
    found, why = helping(functools.partial(docdb.summary, session_id))  # (asked already)
    chosen = codeocean.choose_raw_data_asset(assets, session_id)
    if chosen is None:
        ids = set(linked_codeocean_ids(found or {}))
        candidates = [a for a in assets if a.id in ids and _may_be_raw(a)]
        if candidates:
            chosen = max(candidates, key=lambda a: (a.created, a.name))
            logger.info(
                "raw data asset of %s: %s (%s): %s", session_id, chosen.id, chosen.name, LINKED
            )
    if why is not None:
        raise _Incomplete(chosen, why)
    return chosen


def _may_be_raw(asset: DataAsset) -> bool:
    from aind_session.conventions import is_sorted_data_asset

    level = str((asset.custom_metadata or {}).get("data level", "")).strip().lower()
    return level in ("", "raw data") and not is_sorted_data_asset(asset)


def docdb_not_asked(session_id: str) -> str | None:
    """Why DocDB could not be asked for the session's links, or None when it was.

    >>> docdb_not_asked('ecephys_676909_2023-12-13_13-43-40') is None
    True
    """
    return helping(functools.partial(docdb.summary, session_id))[1]


# -- a subject's sessions ----------------------------------------------------------------
def subject_session_names(subject_id: str) -> tuple[tuple[str, ...], str | None]:
    """The names of the subject's records in DocDB, and why DocDB could not be
    asked (then no names; see :func:`without`).

    >>> subject_session_names('780345')
    (('780345_2025-02-20_00-00-00',), None)
    """
    found, why = helping(functools.partial(docdb.subject_records, subject_id, True))
    return tuple(str(r.get("name")) for r in found or ()), why
