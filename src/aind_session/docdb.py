"""The DocDB layer: the institute's index of data assets, records by name and by subject.

DocDB holds a record per data asset (``_id``, ``name``, ``location``: the S3
folder, ``subject``, ``data_description``, ... and links to CodeOcean assets).
Two collections are asked, in order (``Settings.docdb_collections``): the
2.x schema's ``metadata_index_v2/data_assets`` first, then the 1.x
``metadata_index/data_assets``. The API itself (queries, pages, tries, why we
speak it ourselves) is :mod:`aind_session.docdb_api`.

Three ways to ask for a record by name, each a fetcher of
:mod:`aind_session.batch` so that many names are one ``$in`` query per
collection:

- :func:`record`: the whole record, for ``session.docdb``: the next
  collection asked only for the names the first lacks, so a 2.x session's
  record is one request;
- ``record(name, helping=True)``: the same record, for a question DocDB only
  helps with (a metadata file the raw folder lacks): every collection at
  once (see :func:`aind_session.docdb_api.at_once`);
- :func:`summary`: only :data:`SUMMARY_FIELDS` (links, folder), every
  collection at once: what :mod:`aind_session.linked` needs for every session.

A name no collection has is ``None``, kept for the cache's time-to-live as
CodeOcean's empty searches are.
"""

from __future__ import annotations

import functools
from typing import Any

from aind_session import batch, cache, persistent, store
from aind_session.docdb_api import (  # (names of this module too)
    RECORD,
    RECORDS,
    at_once,
    find,
)

# names per $in query: API Gateway takes a request line and headers of 10,240
# bytes at most, and a session ID is up to ~70 bytes once URL-encoded
NAMES_PER_QUERY = 100
SUMMARY_FIELDS = {  # what a question DocDB only helps with needs: links, folder
    "name": 1,
    "location": 1,
    "other_identifiers": 1,
    "external_links": 1,
    "subject.subject_id": 1,
    "data_description.data_level": 1,
}


def _key(kind: str, name: str) -> tuple[str, str]:
    # a whole record is the same answer however it was asked
    return (f"docdb.{'summary' if kind == 'summary' else 'record'}", name)


def _named(kind: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """The records (whole, or summaries) named ``names`` that some collection has."""
    from aind_session.config import get_settings

    chunks = [names[i : i + NAMES_PER_QUERY] for i in range(0, len(names), NAMES_PER_QUERY)]
    records: dict[str, dict[str, Any]] = {}
    if kind != "record":  # where DocDB only helps: every chunk of every collection at once
        projection = SUMMARY_FIELDS if kind == "summary" else None
        for answers in at_once([{"name": {"$in": c}} for c in chunks], projection):
            for answer in answers:
                for one in answer:
                    records.setdefault(str(one.get("name")), one)
        return records
    for collection in get_settings().docdb_collections:  # the next only for names left
        left = [n for n in names if n not in records]
        for start in range(0, len(left), NAMES_PER_QUERY):
            for one in find(collection, {"name": {"$in": left[start : start + NAMES_PER_QUERY]}}):
                records.setdefault(str(one.get("name")), one)
    return records


def _by_name(kind: str, names: list[str]) -> dict[str, Any]:
    """Each name to its record (``kind`` "record", or "help": the collections at
    once) or summary ("summary"), the first collection's winning; None when none
    has one, or the error met. One ``$in`` query per collection for the names not cached."""
    keys = {name: _key(kind, name) for name in names}
    found, waiting, mine = store.claim(keys.values(), RECORD)
    answers: dict[str, Any] = {n: found[k] for n, k in keys.items() if k in found}
    todo = [n for n, k in keys.items() if k in mine]
    try:
        if todo:
            try:
                records = _named(kind, todo)
                for name in todo:
                    answers[name] = records.get(name)
                    store.settle(keys[name], answers[name], codec=RECORD)
            except Exception as exc:  # each name's answer: the failure, not kept
                for name in todo:
                    answers[name] = exc
                    store.settle(keys[name], exc, keep=False)
    except BaseException as exc:
        store.settle_all(keys.values(), exc)
        raise
    for name, key in keys.items():
        if key in waiting:
            try:
                answers[name] = waiting[key].result()
            except Exception as exc:
                answers[name] = exc
    return answers


def fetch_records(names: list[str]) -> dict[str, Any]:
    """The fetcher of whole records by name (see :mod:`aind_session.batch`), as
    :func:`_by_name`: the next collection asked only for the names the first lacks.

    >>> fetch_records(['780345_2025-02-20_00-00-00', 'no-such-name'])['no-such-name'] is None
    True
    """
    return _by_name("record", names)


# the fetchers where DocDB only helps: every collection at once (see the module's docstring)
fetch_help_records = functools.partial(_by_name, "help")
fetch_summaries = functools.partial(_by_name, "summary")


def _one(fetcher: batch.Fetcher, name: str, cached: Any) -> dict[str, Any] | None:
    known = batch.ask(fetcher, [name], cached)[name]
    if isinstance(known, Exception):
        raise known
    return known


def record(name: str, helping: bool = False) -> dict[str, Any] | None:
    """The DocDB record of the data asset named ``name``, or None when no
    collection has one (cached; inside :func:`aind_session.batch.gather`, many
    names are asked in one query). With ``helping``, for a question DocDB only
    helps with: every collection at once, waited for a short while.

    >>> record('780345_2025-02-20_00-00-00')['location']
    's3://aind-private-data-prod-o5171v/780345_2025-02-20_00-00-00'

    Raises
    ------
    aind_session.errors.ServiceError
        When DocDB could not be asked.
    """
    fetcher = fetch_help_records if helping else fetch_records
    return _one(fetcher, name, lambda n: cache.peek(_key("record", n), RECORD))


def summary(name: str) -> dict[str, Any] | None:
    """The summary of the record named ``name`` (:data:`SUMMARY_FIELDS`: its
    links and folder), or None when no collection has one; a whole record
    already known serves. Every collection is asked at once.

    >>> summary('780345_2025-02-20_00-00-00')['other_identifiers']
    {'Code Ocean': ['944059e0-f1a7-45cd-a188-6a42b674b682']}

    Raises
    ------
    aind_session.errors.ServiceError
        When DocDB could not be asked.
    """
    return _one(fetch_summaries, name, _cached_summary)


def _cached_summary(name: str) -> Any:
    found = cache.peek(_key("summary", name), RECORD)
    if persistent.is_missing(found) or found is None:  # a whole record known since serves
        whole = cache.peek(_key("record", name), RECORD)
        if isinstance(whole, dict):
            return whole
    return found


@cache.cached(persist=RECORDS, remote=True)
def subject_records(subject_id: str, summaries: bool = False) -> tuple[dict[str, Any], ...]:
    """Every record of a subject (``subject.subject_id``), one per asset name (the
    first collection's wins), sorted by name; with ``summaries``, only their
    :data:`SUMMARY_FIELDS`, every collection asked at once (where DocDB only helps).

    >>> [r['name'] for r in subject_records('780345')][:1]
    ['780345_2025-02-20_00-00-00']
    """
    from aind_session.config import get_settings

    query = {"subject.subject_id": subject_id}
    if summaries:
        answers = [answer for (answer,) in at_once([query], SUMMARY_FIELDS)]
    else:
        answers = [find(c, query) for c in get_settings().docdb_collections]
    by_name: dict[str, dict[str, Any]] = {}
    for answer in answers:
        for found in answer:
            by_name.setdefault(str(found.get("name")), found)
    return tuple(by_name[n] for n in sorted(by_name))
