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
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from aind_session import batch, cache, conventions, errors, persistent, transport
from aind_session.codeocean.client import record_of, request, search_page
from aind_session.codeocean.models import ASSET, build_data_asset, data_asset_class

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


UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def normalize_id(value: Any, what: str = "data asset") -> str:
    """A UUID (with or without hyphens, ``uuid.UUID`` or a model with ``.id``) as a hyphenated string.

    >>> normalize_id('16d46411540a4122b47f8cb2a15d593a')
    '16d46411-540a-4122-b47f-8cb2a15d593a'
    """
    raw = value.id if hasattr(value, "id") else value
    if isinstance(raw, uuid.UUID):
        return str(raw)
    if isinstance(raw, str) and UUID_PATTERN.match(raw.strip()):
        return str(uuid.UUID(raw.strip()))
    raise errors.InvalidInputError(
        f"{value!r} is not a {what} id: expected a UUID like "
        "'16d46411-540a-4122-b47f-8cb2a15d593a' (hyphens optional), a uuid.UUID or a model."
    )


def get_data_asset(asset: Any) -> DataAsset:
    """One data asset by id (with or without hyphens, ``uuid.UUID``) or model (re-fetched).

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
    """One data asset asked for now (not from the cache)."""
    record = request(
        f"getting data asset {asset_id}",
        "GET",
        f"data_assets/{asset_id}",
        record_of(data_asset_class),
    )
    return build_data_asset(record)


def sort_by_created(assets: Iterable[DataAsset]) -> tuple[DataAsset, ...]:
    """Oldest first; ties broken by name so the order is stable."""
    return tuple(sorted(assets, key=lambda a: (a.created, a.name)))


def get_session_raw_data_asset(session_id: str) -> DataAsset | None:
    """The raw data asset of a session (see :func:`choose_raw_data_asset`), or None.

    Cached like the search it is chosen from, so the choice is made (and
    logged) once.
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
    become models.
    """
    records = search_records(_session_search(session_id))
    mine = (r for r in records if str(r.get("name", "")).startswith(session_id))
    return sort_by_created(map(build_data_asset, mine))


def _session_search(session_id: str) -> str:
    """Key of the search a session's assets come from: its first 20 characters."""
    return _search_key({"query": f"name:{session_id[:NAME_TERM_LIMIT]}"})


def cached_session_data_assets(session_id: str) -> tuple[DataAsset, ...] | None:
    """:func:`get_session_data_assets` when its search is cached; else None (asks nothing)."""
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
    keys = [
        _search_key({"query": f"subject id:{subject}"}),
        _search_key({"query": f"name:{subject}"}),
    ]
    # at once (in a batch, with the other questions asked together)
    answers = batch.gather([functools.partial(search_records, k) for k in keys])
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    by_metadata, by_name = cast("list[tuple[dict[str, Any], ...]]", answers)
    holds_id = re.compile(rf"(?<![0-9]){re.escape(subject)}(?![0-9])")
    unique = {r["id"]: r for r in by_metadata}
    unique.update({r["id"]: r for r in by_name if holds_id.search(str(r.get("name", "")))})
    return sort_by_created(map(build_data_asset, unique.values()))


def raw_data_asset_reason(asset: DataAsset, session_id: str | None = None) -> str | None:
    """Why ``asset`` counts as raw data, or None when it does not.

    In order: custom metadata ``"data level": "raw data"``; a tag containing
    ``raw``; its name equal to ``session_id``.
    """
    level = str((asset.custom_metadata or {}).get("data level", "")).strip().lower()
    if level == "raw data":
        return 'custom metadata "data level" is "raw data"'
    if level:  # an explicit other level wins over tags and names
        return None
    if any("raw" in tag.lower() for tag in asset.tags or ()):
        return "a tag contains 'raw'"
    if session_id is not None and asset.name == session_id:
        return "its name equals the session ID"
    return None


def is_raw_data_asset(asset: DataAsset, session_id: str | None = None) -> bool:
    """True when the asset holds a session's raw data (see :func:`raw_data_asset_reason`).

    Without ``session_id``, a name that is exactly a session ID counts too.
    """
    if session_id is None:
        try:
            session_id = conventions.parse_session_id(asset.name)
        except ValueError:
            session_id = None
    return raw_data_asset_reason(asset, session_id) is not None


def choose_raw_data_asset(assets: Sequence[DataAsset], session_id: str) -> DataAsset | None:
    """The raw data asset among a session's assets, by the strongest reason, latest first."""
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
    """``s3://bucket/prefix`` (or ``gs://``, ``file://``) from the asset's ``source_bucket``."""
    bucket = asset.source_bucket
    if bucket is None or not bucket.bucket:
        return None
    protocol = conventions.PROTOCOLS.get(
        str(bucket.origin.value if hasattr(bucket.origin, "value") else bucket.origin), "s3"
    )
    prefix = (bucket.prefix or "").strip("/")
    return f"{protocol}://{bucket.bucket}/{prefix}".rstrip("/")
