"""The DocDB layer: the institute's index of data assets, through its read-only REST API.

DocDB holds a record per data asset (``_id``, ``name``, ``location``: the S3
folder, ``subject``, ``data_description``, ... and links to CodeOcean assets).
Two collections are asked, in order (``Settings.docdb_collections``): the
2.x schema's ``metadata_index_v2/data_assets`` first, then the 1.x
``metadata_index/data_assets``.

The API (the one ``aind-data-access-api`` speaks): ``GET
{docdb_url}/v1/{db}/{collection}/find`` with ``filter``, ``projection`` and
``sort`` as JSON text and ``limit``/``skip`` as integers answers a JSON list.
The gateway cuts an answer near 10 MB, so a page may hold fewer records than
asked: the client pages with ``skip`` until a page is empty. Here a page
shorter than asked and well under that size (:data:`FULL_PAGE_BYTES`) is
taken as the last, so a lookup by name is one request.

We speak the API ourselves rather than depend on ``aind-data-access-api``:
its 1.10 pins ``pydantic<2.12`` (a conflict for users' environments), needs
``boto3`` for reads that need no signing, and builds ``https://`` URLs only,
so it cannot reach a local sandbox. Requests share the library's tries,
deadlines (:mod:`aind_session.transport`), cache, single flight, batching
and offline mode.

Many sessions' records are one ``$in`` query per collection: the fetchers of
:mod:`aind_session.batch`, ``fetch_records`` and ``fetch_summaries``, ask for all.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from aind_session import batch, cache, calls, errors, persistent, store, transport

logger = logging.getLogger(__name__)

# a page this much smaller than the gateway's 10 MB cut is not a cut one
FULL_PAGE_BYTES = 5_000_000
PAGE_LIMIT = 1000  # records asked per page
# names per $in query: API Gateway takes a request line and headers of 10,240
# bytes at most, and a session ID is up to ~70 bytes once URL-encoded
NAMES_PER_QUERY = 100


class _WrongShape(TypeError):
    """A stored or sent value that is not a DocDB record (or a list of them)."""


def _record(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("_id"), str):
        raise _WrongShape("a DocDB record is a dict with an _id")
    return obj


def _records(obj: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(obj, (list, tuple)):
        raise _WrongShape("DocDB records are a list")
    return tuple(r for r in map(_record, obj) if r is not None)


RECORD = persistent.Codec(lambda v: v, _record)  # a record, or None: no such record
RECORDS = persistent.Codec(list, _records)

_http: Any = None


@cache.on_clear
def _forget_session() -> None:
    global _http
    if _http is not None:
        _http.close()
    _http = None


def _no_auth(request: Any) -> Any:
    return request


def _session() -> Any:
    global _http
    if _http is None:
        import requests

        from aind_session.config import get_settings

        http = requests.Session()
        http.auth = _no_auth  # the API is open: never a ~/.netrc login sent along
        adapter = transport.adapter(True, get_settings().max_concurrency)
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        _http = http
    return _http


class _Malformed(Exception):
    """An answer that is not what DocDB sends: asked again, then a ServiceError."""


def _get(what: str, collection: str, action: str, params: dict[str, str]) -> tuple[Any, int]:
    """One ``GET`` of the API: its JSON answer and its size in bytes.

    Raises
    ------
    aind_session.errors.ServiceError
        DocDB did not answer, or answered an error, within the deadline.
    """
    import requests

    from aind_session.config import get_settings

    persistent.refuse_if_offline(what)
    url = f"{get_settings().docdb_url}/v1/{collection}/{action}"
    sent = 0
    until = transport.deadline()
    while True:
        try:
            response = _session().get(url, params=params)
        except errors.DeadlineExceededError as exc:
            raise errors.ServiceError(
                f"DocDB at {url} {transport.deadline_message(exc.seconds)} while {what} "
                f"({errors.tries(sent + exc.tries)})."
            ) from None
        except requests.RequestException as exc:
            tries = sent + transport.tries_of(exc)
            raise errors.ServiceError(
                f"DocDB at {url} did not answer while {what} ({errors.tries(tries)}): "
                f"{type(exc).__name__}. Check the network and AIND_SESSION_DOCDB_URL."
            ) from None
        sent += transport.tries_of(response)
        if response.status_code == 400 and params.get("skip", "0") != "0":
            # a later page refused: the paging is started again (see find)
            raise _Malformed(f"a page refused ({transport.excerpt(response.text)})")
        if response.status_code != 200:
            raise errors.ServiceError(
                f"DocDB at {url} answered HTTP {response.status_code} while {what} "
                f"({errors.tries(sent)}): {transport.excerpt(response.text) or 'an empty body'}"
            )
        try:
            return json.loads(response.content), len(response.content)
        except ValueError:
            problem = "is not JSON"
        if not transport.try_again(sent, until):
            raise errors.ServiceError(
                f"DocDB at {url} answered HTTP 200 while {what}, but its answer {problem} "
                f"({errors.tries(sent)}): {transport.excerpt(response.text) or 'an empty body'}"
            )
        logger.debug("DocDB's answer while %s %s; asking again", what, problem)


def find(
    collection: str, filter: dict[str, Any], projection: dict[str, Any] | None = None
) -> tuple[dict[str, Any], ...]:
    """Every record of ``collection`` (``<db>/<collection>``) matching ``filter``.

    Pages with ``skip`` until the last page (see the module's docstring); a
    page that repeats records already given, or is not a list of records, is
    asked again from the first page.

    >>> [r['name'] for r in find('metadata_index_v2/data_assets', {'name': '780345_2025-02-20_00-00-00'})]
    ['780345_2025-02-20_00-00-00']

    Raises
    ------
    aind_session.errors.ServiceError
        DocDB did not answer, or its paging went wrong after every try.
    """
    from aind_session.config import get_settings

    what = f"finding {json.dumps(filter)} in {collection}"
    params = {"filter": json.dumps(filter), "limit": str(PAGE_LIMIT)}
    if projection is not None:
        params["projection"] = json.dumps(projection)
    until = transport.deadline()
    rounds = 0
    while True:
        rounds += 1
        try:
            return _pages(what, collection, params, get_settings().max_pages)
        except _Malformed as exc:
            if not transport.try_again(rounds, until):
                raise errors.ServiceError(
                    f"DocDB's answers while {what} were unusable ({exc}) after "
                    f"{errors.tries(rounds)} from the first page."
                ) from None
            logger.debug("DocDB's paging while %s went wrong (%s); from the start", what, exc)


def _pages(
    what: str, collection: str, params: dict[str, str], max_pages: int
) -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(max_pages):
        page, size = _get(what, collection, "find", {**params, "skip": str(len(found))})
        try:
            records = _records(page)
        except TypeError as exc:
            raise _Malformed(f"a page that {exc}") from None
        ids = [r["_id"] for r in records]
        if seen.intersection(ids) or len(set(ids)) != len(ids):
            raise _Malformed("a page repeating records already given")
        seen.update(ids)
        found += records
        if records and len(records) < PAGE_LIMIT and size < FULL_PAGE_BYTES:
            return tuple(found)  # short, and not cut by the gateway: the last
        if not records:
            if len(found) > 0:  # an empty page after cut ones: was it the end?
                _check_count(what, collection, params, len(found))
            return tuple(found)
    raise errors.ServiceError(
        f"DocDB still had more while {what} after {max_pages} pages: stopped "
        "(AIND_SESSION_MAX_PAGES)."
    )


def _check_count(what: str, collection: str, params: dict[str, str], got: int) -> None:
    """Raise :class:`_Malformed` when ``count_documents`` says the filter matches
    other than ``got`` records (an empty page came before the end)."""
    answer, _ = _get(what, collection, "count_documents", {"filter": params["filter"]})
    count = answer.get("filtered_record_count") if isinstance(answer, dict) else None
    if not isinstance(count, int):
        raise _Malformed("a count that is not a count_documents answer")
    if count != got:
        raise _Malformed(f"an empty page after {got} of {count} records")


# -- records by name: one query for many ------------------------------------------------
SUMMARY_FIELDS = {  # what a question DocDB only helps with needs: links, folder
    "name": 1,
    "location": 1,
    "other_identifiers": 1,
    "external_links": 1,
    "subject.subject_id": 1,
    "data_description.data_level": 1,
}


def _key(kind: str, name: str) -> tuple[str, str]:
    return (f"docdb.{kind}", name)


def _across(
    filter: dict[str, Any], projection: dict[str, Any] | None, at_once: bool
) -> list[tuple[dict[str, Any], ...]]:
    """Each collection's records matching ``filter``, in the order of the setting;
    every collection asked at the same time when ``at_once``, for a question
    DocDB only helps with: it must add no round trip, and is waited for at most
    ``Settings.docdb_help_deadline``. Else one after another."""
    from aind_session.config import get_settings

    settings = get_settings()
    if not at_once:
        return [find(c, filter, projection) for c in settings.docdb_collections]
    asks = [
        (functools.partial(find, c, filter, projection), ()) for c in settings.docdb_collections
    ]
    with calls.within(settings.docdb_help_deadline):  # where DocDB only helps
        answers = batch.call_each(asks)
    found = [answers[ask] for ask in asks]
    for answer in found:
        if isinstance(answer, Exception):
            raise answer
    return found


def _named(kind: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """The records (or summaries) named ``names`` that some collection has."""
    from aind_session.config import get_settings

    chunks = [names[i : i + NAMES_PER_QUERY] for i in range(0, len(names), NAMES_PER_QUERY)]
    records: dict[str, dict[str, Any]] = {}
    if kind == "summary":  # every collection at once
        for chunk in chunks:
            for answer in _across({"name": {"$in": chunk}}, SUMMARY_FIELDS, at_once=True):
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
    """Each name to its record (``kind`` "record") or summary (:data:`SUMMARY_FIELDS`,
    the collections at once), the first collection's winning; None when none has
    one, or the error met. One ``$in`` query per collection for the names not cached."""
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
                    # no record is kept too, as CodeOcean's empty searches are
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


# the fetcher of summaries by name (SUMMARY_FIELDS): as fetch_records, collections at once
fetch_summaries = functools.partial(_by_name, "summary")


def _one(fetcher: batch.Fetcher, kind: str, name: str, cached: Any = None) -> dict[str, Any] | None:
    peek = cached or (lambda n: cache.peek(_key(kind, n), RECORD))
    known = batch.ask(fetcher, [name], peek)[name]
    if isinstance(known, Exception):
        raise known
    return known


def record(name: str) -> dict[str, Any] | None:
    """The DocDB record of the data asset named ``name``, or None when no
    collection has one (cached; inside :func:`aind_session.batch.gather`, many
    names are asked in one query).

    >>> record('780345_2025-02-20_00-00-00')['location']
    's3://aind-private-data-prod-o5171v/780345_2025-02-20_00-00-00'

    Raises
    ------
    aind_session.errors.ServiceError
        When DocDB could not be asked.
    """
    return _one(fetch_records, "record", name)


def summary(name: str) -> dict[str, Any] | None:
    """The summary of the record named ``name`` (:data:`SUMMARY_FIELDS`: its
    links and folder), or None when no collection has one; as :func:`record`,
    with every collection asked at once.

    >>> summary('780345_2025-02-20_00-00-00')['other_identifiers']
    {'Code Ocean': ['944059e0-f1a7-45cd-a188-6a42b674b682']}

    Raises
    ------
    aind_session.errors.ServiceError
        When DocDB could not be asked.
    """
    return _one(fetch_summaries, "summary", name, _cached_summary)


def _cached_summary(name: str) -> Any:
    found = cache.peek(_key("summary", name), RECORD)
    if persistent.is_missing(found):  # a whole record known holds the summary
        whole = cache.peek(_key("record", name), RECORD)
        if not persistent.is_missing(whole):
            return whole
    return found


@cache.cached(persist=RECORDS, remote=True)
def subject_records(subject_id: str, summaries: bool = False) -> tuple[dict[str, Any], ...]:
    """Every record of a subject (``subject.subject_id``), one per asset name (the
    first collection's wins), sorted by name; with ``summaries``, only their
    :data:`SUMMARY_FIELDS`, every collection asked at once.

    >>> [r['name'] for r in subject_records('780345')][:1]
    ['780345_2025-02-20_00-00-00']
    """
    by_name: dict[str, dict[str, Any]] = {}
    projection = SUMMARY_FIELDS if summaries else None
    for answer in _across({"subject.subject_id": subject_id}, projection, summaries):
        for found in answer:
            by_name.setdefault(str(found.get("name")), found)
    return tuple(by_name[n] for n in sorted(by_name))
