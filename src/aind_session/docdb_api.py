"""DocDB's read-only REST API: one query, its pages and tries (records by name
are in :mod:`aind_session.docdb`).

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

Where DocDB only helps (:mod:`aind_session.linked`), :func:`at_once` asks
every collection at the same time, waits at most
``Settings.docdb_help_deadline``, and after a failure leaves DocDB alone for
:data:`QUIET_FOR` seconds, so that a DocDB that is down costs one wait, not
one per question.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from aind_session import batch, cache, calls, errors, forks, persistent, transport

logger = logging.getLogger(__name__)

# a page this much smaller than the gateway's 10 MB cut is not a cut one
FULL_PAGE_BYTES = 5_000_000
PAGE_LIMIT = 1000  # records asked per page
QUIET_FOR = 60.0  # seconds DocDB is not asked where it only helps, after it could not be


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
forks.forget_after_fork(globals(), "_http")  # its connections are the parent's


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
            ended = transport.deadline_message(exc.seconds)
            if _helping.get():
                ended = ended.replace("(", "(AIND_SESSION_DOCDB_HELP_DEADLINE, ", 1)
            raise errors.ServiceError(
                f"DocDB at {url} {ended} while {what} ({errors.tries(sent + exc.tries)})."
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


# -- where DocDB only helps: every collection at once, a short wait, then quiet --------
_helping: contextvars.ContextVar[bool] = contextvars.ContextVar("aind_docdb_helping", default=False)
_lock = forks.free_after_fork(threading.Lock())
_quiet: dict[int, tuple[float, str]] = {}  # clear (calls.generation) -> (failed at, why)


def at_once(
    filters: list[dict[str, Any]], projection: dict[str, Any] | None
) -> list[list[tuple[dict[str, Any], ...]]]:
    """For each collection (in the order of the setting), for each filter, its
    records: every query at the same time, waited for at most
    ``Settings.docdb_help_deadline``, for a question DocDB only helps with.

    After a failure DocDB is not asked this way for :data:`QUIET_FOR` seconds
    (per :func:`aind_session.clear_cache`): the failure is raised again, dated.

    >>> [r['name'] for r in at_once([{'name': '780345_2025-02-20_00-00-00'}], {'name': 1})[0][0]]
    ['780345_2025-02-20_00-00-00']

    Raises
    ------
    aind_session.errors.ServiceError
        When a query could not be answered, now or within the quiet period.
    """
    from aind_session.config import get_settings

    settings, generation = get_settings(), calls.generation()
    with _lock:
        failed, why = _quiet.get(generation, (-QUIET_FOR, ""))
    if time.monotonic() < failed + QUIET_FOR:
        raise errors.ServiceError(
            f"DocDB is left alone for {QUIET_FOR:.0f} s (or until aind_session.clear_cache()) "
            f"since it could not be asked {time.monotonic() - failed:.0f} s ago: {why}"
        )
    asks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (functools.partial(find, c, f, projection), ())
        for c in settings.docdb_collections
        for f in filters
    ]
    token = _helping.set(True)
    try:
        with calls.within(settings.docdb_help_deadline):
            answers = batch.call_each(asks)
    finally:
        _helping.reset(token)
    try:
        found = errors.raise_first([answers[ask] for ask in asks])
    except errors.ServiceError as exc:
        with _lock:
            _quiet[generation] = (time.monotonic(), str(exc))
        raise
    return [found[i : i + len(filters)] for i in range(0, len(found), len(filters))]
