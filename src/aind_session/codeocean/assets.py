"""Data assets: searches, a session's and a subject's assets, and the rules for
which asset holds raw data.

Searches ask for 1000 results a page (the most the service allows) and follow
``next_token``. Answers are cached (see :mod:`aind_session.cache`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import batch, cache, conventions, errors, persistent, transport
from aind_session.asset_names import (  # noqa: F401 (names of this module too)
    UUID_PATTERN,
    is_raw_data_asset,
    normalize_id,
    raw_data_asset_reason,
)
from aind_session.codeocean.client import request
from aind_session.codeocean.models import ASSET, build_data_asset, data_asset_class
from aind_session.codeocean.shapes import record_of, search_page

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset, DataAssetSearchParams

logger = logging.getLogger(__name__)

MAX_PAGE = 1000

NAME_TERM_LIMIT = 20  # the service matches nothing for longer `name:` terms


def search_data_assets(params: DataAssetSearchParams | dict[str, Any]) -> tuple[DataAsset, ...]:
    """Every data asset matching a search, over all pages, as the SDK's ``DataAsset``.

    Pages hold the most the service allows (1000) and are followed by
    ``next_token``. The answer is cached; an empty tuple means no match.

    Parameters
    ----------
    params
        A ``codeocean.data_asset.DataAssetSearchParams`` or the dict of its fields.

    Examples
    --------
    >>> from codeocean.data_asset import DataAssetSearchParams
    >>> assets = search_data_assets(DataAssetSearchParams(query='subject id:676909'))
    >>> '16d46411-540a-4122-b47f-8cb2a15d593a' in [a.id for a in assets]
    True
    """
    return _search_models(_search_key(params))


def _search_key(params: DataAssetSearchParams | dict[str, Any]) -> str:
    """The search body as canonical JSON: the cache key, and what is sent."""
    fields = params if isinstance(params, dict) else params.to_dict()
    body = {k: v for k, v in fields.items() if v is not None and k not in ("next_token", "offset")}
    body["limit"] = MAX_PAGE  # every page is fetched anyway: fewest round trips
    return json.dumps(body, sort_keys=True, default=str)


@cache.cached
def _search_models(key: str) -> tuple[DataAsset, ...]:
    return tuple(map(build_data_asset, search_records(key)))


@cache.cached(persist=persistent.RECORDS, remote=True)
def search_records(key: str) -> tuple[dict[str, Any], ...]:
    """Every page of one search, as the JSON records the service sent (cached).

    Records are turned into models only where they are needed (see
    :func:`build_data_asset`): a session's search returns its subject's
    assets of a whole year, of which only a few are the session's.

    >>> records = search_records(_search_key({'query': 'name:ecephys_676909_2023'}))
    >>> '16d46411-540a-4122-b47f-8cb2a15d593a' in [r['id'] for r in records]
    True
    """
    from aind_session.config import get_settings

    body = json.loads(key)
    what = f"searching data assets with {body.get('query')!r}"
    settings = get_settings()
    until = transport.deadline()
    attempt = 0
    while True:  # paging that goes wrong is started again from the first page
        attempt += 1
        try:
            found = _all_pages(body, what, settings.max_pages)
            break
        except _PagingError as exc:
            if attempt > settings.max_retries or not transport.pause(
                transport.backoff(attempt), until
            ):
                raise errors.ServiceError(
                    f"CodeOcean {exc} while {what}, in each of {attempt} searches from the "
                    "first page: stopped. Try again later."
                ) from None
            logger.debug("CodeOcean %s while %s; searching again", exc, what)
    logger.debug("search %r found %d data asset(s)", body.get("query"), len(found))
    return tuple(found)


class _PagingError(Exception):
    """The pages of a search did not chain up; the search may be started again."""


def _all_pages(body: dict[str, Any], what: str, max_pages: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    seen: set[str] = set()
    for _ in range(max_pages):
        try:
            page = request(
                what, "POST", "data_assets/search", _SEARCH_PAGE, json={**body, "next_token": token}
            )
        except errors.ServiceError as exc:
            if token is not None and "HTTP 400" in str(exc):
                raise _PagingError(
                    f"refused its own next_token (after {len(found)} results)"
                ) from None
            raise
        found += page["results"]
        if not page.get("has_more"):
            return found
        token = page.get("next_token")
        if not isinstance(token, str) or not token:
            raise _PagingError(
                f"said there are more results but gave no next_token (after {len(found)})"
            )
        if token in seen:
            raise _PagingError(f"sent the same next_token twice (after {len(found)} results)")
        seen.add(token)
    raise errors.ServiceError(
        f"CodeOcean still had more results after {max_pages} pages while {what} "
        f"({len(found)} results): stopped (AIND_SESSION_MAX_PAGES)."
    )


_SEARCH_PAGE = search_page(record_of(data_asset_class))


def get_data_asset(asset: Any) -> DataAsset:
    """One data asset by id (with or without hyphens, ``uuid.UUID``) or model (re-fetched).

    >>> get_data_asset('16d46411540a4122b47f8cb2a15d593a').name
    'ecephys_676909_2023-12-13_13-43-40'

    Raises
    ------
    ValueError
        When the id is not a UUID.
    aind_session.errors.NotFoundError
        When CodeOcean does not know it.
    """
    asset_id = normalize_id(asset)
    return _get_data_asset(asset_id)


@cache.cached(persist=ASSET, remote=True)
def _get_data_asset(asset_id: str) -> DataAsset:
    try:
        return fetch_data_asset(asset_id)
    except errors.NotFoundError:
        raise errors.NotFoundError(
            f"CodeOcean has no data asset {asset_id!r}, or the token cannot see it; check the id."
        ) from None


def fetch_data_asset(asset_id: str) -> DataAsset:
    """One data asset asked for now (not from the cache).

    >>> fetch_data_asset('16d46411-540a-4122-b47f-8cb2a15d593a').name
    'ecephys_676909_2023-12-13_13-43-40'

    Raises
    ------
    aind_session.errors.NotFoundError
        When CodeOcean does not know it.
    """
    record = request(
        f"getting data asset {asset_id}",
        "GET",
        f"data_assets/{asset_id}",
        record_of(data_asset_class),
    )
    return build_data_asset(record)


def sort_by_created(assets: Iterable[DataAsset]) -> tuple[DataAsset, ...]:
    """Oldest first; ties broken by name so the order is stable.

    >>> assets = [get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'), get_data_asset('16d46411-540a-4122-b47f-8cb2a15d593a')]
    >>> [a.name for a in sort_by_created(assets)]
    ['ecephys_676909_2023-12-13_13-43-40', 'ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45']
    """
    return tuple(sorted(assets, key=lambda a: (a.created, a.name)))


def get_session_raw_data_asset(session_id: str) -> DataAsset | None:
    """The raw data asset of a session (see :func:`choose_raw_data_asset`), or None.

    Cached like the search it is chosen from, so the choice is made (and
    logged) once.

    >>> get_session_raw_data_asset('ecephys_676909_2023-12-13_13-43-40').id
    '16d46411-540a-4122-b47f-8cb2a15d593a'
    >>> get_session_raw_data_asset('ecephys_686740_2024-01-20_12-00-00') is None  # no asset
    True
    """
    return _session_raw_data_asset(session_id)


@cache.cached
def _session_raw_data_asset(session_id: str) -> DataAsset | None:
    return choose_raw_data_asset(get_session_data_assets(session_id), session_id)


@cache.cached
def get_session_data_assets(session_id: str) -> tuple[DataAsset, ...]:
    """Every data asset whose name starts with ``session_id``, oldest first.

    The service matches nothing for ``name:`` terms over 20 characters, so this
    searches on the first 20 and filters exactly here; sessions that share a
    prefix share the (cached) search, and only the session's own records
    become models. An empty tuple when there are none.

    >>> [a.name for a in get_session_data_assets('ecephys_676909_2023-12-13_13-43-40')][:3]
    ['ecephys_676909_2023-12-13_13-43-40', 'ecephys_676909_2023-12-13_13-43-40_sorted_2023-12-20_10-11-12',
     'ecephys_676909_2023-12-13_13-43-40_sorted_2024-01-10_08-31-07']
    >>> get_session_data_assets('ecephys_686740_2024-01-20_12-00-00')
    ()
    """
    records = search_records(_session_search(session_id))
    mine = (r for r in records if str(r.get("name", "")).startswith(session_id))
    return sort_by_created(map(build_data_asset, mine))


def _session_search(session_id: str) -> str:
    """Key of the search a session's assets come from: its first 20 characters."""
    return _search_key({"query": f"name:{session_id[:NAME_TERM_LIMIT]}"})


def cached_session_data_assets(session_id: str) -> tuple[DataAsset, ...] | None:
    """:func:`get_session_data_assets` when its search is cached; else None (asks nothing).

    >>> cached_session_data_assets('ecephys_676909_2023-12-13_13-43-40') is None
    True
    >>> len(get_session_data_assets('ecephys_676909_2023-12-13_13-43-40')), len(cached_session_data_assets('ecephys_676909_2023-12-13_13-43-40'))
    (6, 6)
    """
    if persistent.is_missing(cache.peek_call(search_records, _session_search(session_id))):
        return None
    return get_session_data_assets(session_id)


def get_subject_data_assets(subject_id: str | int) -> tuple[DataAsset, ...]:
    """Every data asset of a subject, oldest first: custom metadata ``subject id``
    matching, plus names holding the subject ID (as a whole number).

    Two searches, made at once.

    Examples
    --------
    >>> assets = get_subject_data_assets(676909)
    >>> all('676909' in a.name or (a.custom_metadata or {}).get('subject id') == '676909' for a in assets)
    True
    """
    return _subject_data_assets(conventions.normalize_subject_id(subject_id))


@cache.cached
def _subject_data_assets(subject: str) -> tuple[DataAsset, ...]:
    return sort_by_created(map(build_data_asset, _subject_records(subject)))


def get_subject_data_asset_names(subject_id: str | int) -> tuple[str, ...]:
    """The names of :func:`get_subject_data_assets`, from the same (cached) searches,
    with no model built: what a subject's sessions are found in. In no order.

    >>> sorted(get_subject_data_asset_names(676909)) == sorted(a.name for a in get_subject_data_assets(676909))
    True
    """
    subject = conventions.normalize_subject_id(subject_id)
    names = (r.get("name") for r in _subject_records(subject))
    return tuple(n for n in names if isinstance(n, str))  # (a model would refuse another)


@cache.cached
def _subject_records(subject: str) -> tuple[dict[str, Any], ...]:
    """The records of the subject's data assets, once each: two searches, made at once.
    Kept: both the names and the models are taken from them."""
    keys = [
        _search_key({"query": f"subject id:{subject}"}),
        _search_key({"query": f"name:{subject}"}),
    ]
    # at once (in a batch, with the other questions asked together)
    answers = batch.gather([functools.partial(search_records, k) for k in keys])
    by_metadata, by_name = errors.raise_first(answers)
    holds_id = re.compile(rf"(?<![0-9]){re.escape(subject)}(?![0-9])")
    # a search also returns near misses (other subjects sharing digits, text that
    # merely mentions the ID): only the subject's own are kept
    unique = {r["id"]: r for r in by_metadata if _subject_of(r) == subject}
    unique.update({r["id"]: r for r in by_name if holds_id.search(str(r.get("name", "")))})
    return tuple(unique.values())


def _subject_of(record: dict[str, Any]) -> str | None:
    """The subject a data asset's custom metadata names, normalized; None when none."""
    value = (record.get("custom_metadata") or {}).get("subject id")
    try:
        return conventions.normalize_subject_id(str(value)) if value is not None else None
    except ValueError:
        return None


def choose_raw_data_asset(assets: Sequence[DataAsset], session_id: str) -> DataAsset | None:
    """The raw data asset among a session's assets, by the strongest reason, latest first.

    None when no asset counts as raw data. Two raw assets by tag, the later chosen:

    >>> session_id = 'ecephys_699846_2024-01-25_15-38-41'
    >>> choose_raw_data_asset(get_session_data_assets(session_id), session_id).id
    '281cac9e-ccb2-467d-8d2e-1a6aaab699a1'
    >>> choose_raw_data_asset([], session_id) is None
    True
    """
    ranks = (
        'custom metadata "data level" is "raw data"',
        "a tag contains 'raw'",
        "its name equals the session ID",
    )
    for reason in ranks:
        matches = [a for a in assets if raw_data_asset_reason(a, session_id) == reason]
        if matches:
            chosen = max(matches, key=lambda a: (a.created, a.name))
            if len(matches) > 1:
                logger.info(
                    "%d raw data assets for %s (%s): using the latest, %s (%s)",
                    len(matches),
                    session_id,
                    reason,
                    chosen.id,
                    chosen.name,
                )
            return chosen
    return None


def source_url(asset: DataAsset) -> str | None:
    """``s3://bucket/prefix`` (or ``gs://``, ``file://``) from the asset's ``source_bucket``.

    None when the asset has no ``source_bucket``.

    >>> source_url(get_data_asset('16d46411-540a-4122-b47f-8cb2a15d593a'))
    's3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'
    >>> source_url(get_data_asset('e7f467f7-8ce3-4173-b593-3e53948adb30')) is None
    True
    """
    bucket = asset.source_bucket
    if bucket is None or not bucket.bucket:
        return None
    protocol = conventions.PROTOCOLS.get(
        str(bucket.origin.value if hasattr(bucket.origin, "value") else bucket.origin), "s3"
    )
    prefix = (bucket.prefix or "").strip("/")
    return f"{protocol}://{bucket.bucket}/{prefix}".rstrip("/")
