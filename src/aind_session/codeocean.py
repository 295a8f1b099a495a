"""The CodeOcean layer: the only module that imports the ``codeocean`` SDK.

Everything returned is the SDK's own model (``DataAsset``, ``Computation``).
The client is built once per settings, with what the SDK leaves out: a
connect and read timeout on every request, and retries with exponential
backoff on 429 and 5xx answers and dropped connections (honouring
``Retry-After``). Starting a run (``POST computations``) is retried only when
the service said 429, so a capsule never runs twice by accident.

Searches ask for 1000 results a page (the most the service allows) and follow
``next_token``. Answers are cached (see :mod:`aind_session.cache`).
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import functools
import json
import logging
import re
import threading
import typing
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import cache, errors, persistent, transport

if TYPE_CHECKING:
    from codeocean import CodeOcean
    from codeocean.computation import Computation
    from codeocean.data_asset import DataAsset, DataAssetSearchParams

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PAGE = 1000
NAME_TERM_LIMIT = 20  # the service matches nothing for longer `name:` terms
SCOPE_HELP = (
    'The token needs the "Datasets - Read" scope: create one in CodeOcean under '
    "Account > Access Tokens and set it as CODE_OCEAN_API_TOKEN."
)

_clients: dict[str, Any] = {}
_sdk_lock = threading.Lock()
_sdk_loaded = False


@cache.on_clear
def _forget_clients() -> None:
    _clients.clear()


def load_sdk() -> None:
    """Import the whole SDK once, one thread at a time, before any of it is used.

    The SDK's modules import each other in a circle (``codeocean`` imports its
    client, which imports ``codeocean.capsule``, which imports
    ``codeocean.models.computation``, ...). Two threads importing two ends of
    that circle at once (one decoding a cached data asset, one a cached
    computation) deadlock: Python raises ``_DeadlockError``.
    """
    global _sdk_loaded
    if _sdk_loaded:
        return
    with _sdk_lock:
        if not _sdk_loaded:
            import codeocean
            import codeocean.computation
            import codeocean.data_asset
            import codeocean.error  # noqa: F401

            _sdk_loaded = True


def _make_client(retry_sent: bool) -> CodeOcean:
    load_sdk()
    from codeocean import CodeOcean

    class _Client(CodeOcean):
        """The SDK's client, whose dataclass repr would show the token."""

        def __repr__(self) -> str:
            return f"<CodeOcean client for {self.domain}>"

    from aind_session.config import TOKEN_VARIABLE, get_settings

    settings = get_settings()
    if settings.codeocean_token is None:
        raise errors.MissingTokenError(
            f"No CodeOcean API token was found. Set {TOKEN_VARIABLE} (or any environment "
            "variable whose value starts with 'COP_') in the environment or in a .env file "
            f"in the current or home directory. {SCOPE_HELP}"
        )
    client = _Client(
        domain=settings.codeocean_domain, token=settings.codeocean_token.get_secret_value()
    )
    client.session.mount(
        settings.codeocean_domain, transport.adapter(retry_sent, settings.max_concurrency)
    )
    return client


def _download_session() -> Any:
    """A plain session (no token: download URLs are pre-signed) with the same tries."""
    session = _clients.get("download")
    if session is None:
        import requests

        from aind_session.config import get_settings

        session = requests.Session()
        adapter = transport.adapter(True, get_settings().max_concurrency)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _clients["download"] = session
    return session


def get_client(*, for_runs: bool = False) -> CodeOcean:
    """The SDK client for the current settings, built on first use.

    ``for_runs``: the client that starts runs, which never tries a request
    again once it may have reached the server.

    Raises
    ------
    aind_session.errors.MissingTokenError
        When no token is set; the message names the variables to set.
    """
    key = "runs" if for_runs else "default"
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = _make_client(retry_sent=not for_runs)
    return client


def _tries_of(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    http_err = getattr(exc, "http_err", None)
    if http_err is not None:
        response = getattr(http_err, "response", None)
    for holder in (exc, response):
        tries = getattr(holder, "aind_tries", None)
        if isinstance(tries, int):
            return tries
    return 1


def _call(what: str, fn: Callable[..., T], *args: Any, _sent: int = 0, **kwargs: Any) -> T:
    """Run one SDK call, turning its failures into aind-session errors that say ``what``.

    ``_sent``: requests already sent for the same question (their tries are
    counted in the message too)."""
    import requests

    load_sdk()
    from codeocean.error import Error

    from aind_session.config import get_settings

    settings = get_settings()
    persistent.refuse_if_offline(what)
    domain = settings.codeocean_domain
    try:
        return fn(*args, **kwargs)
    except Error as exc:
        status = exc.status_code
        if status in (401, 403):
            raise errors.AuthenticationError(
                f"CodeOcean at {domain} refused the token (HTTP {status}) "
                f"while {what}. {SCOPE_HELP}"
            ) from None
        message = transport.excerpt(exc.message)
        if status == 404:
            raise errors.NotFoundError(
                f"CodeOcean has no such item: {what} answered HTTP 404 ({message})."
            ) from None
        tries = _sent + _tries_of(exc)
        retried = f" after {errors.tries(tries)}" if tries > 1 else ""
        raise errors.ServiceError(
            f"CodeOcean at {domain} answered HTTP {status}{retried} while {what}: {message}"
        ) from None
    except errors.DeadlineExceededError as exc:
        raise errors.ServiceError(
            f"CodeOcean at {domain} {transport.deadline_message(exc.seconds)} while {what} "
            f"({errors.tries(_sent + exc.tries)}). Check the network and CODE_OCEAN_DOMAIN."
        ) from None
    except requests.RequestException as exc:
        raise errors.ServiceError(
            f"CodeOcean at {domain} did not answer while {what} "
            f"({errors.tries(_sent + _tries_of(exc))}): {type(exc).__name__}. Check the network "
            "and CODE_OCEAN_DOMAIN."
        ) from None


class _Malformed(Exception):
    """A 200 answer whose body is not JSON, or not of the shape asked for."""


@cache.public_call()  # every try within the deadline of the call it serves
def _request(
    what: str,
    method: str,
    path: str,
    check: Callable[[Any], Any],
    *,
    for_runs: bool = False,
    **kwargs: Any,
) -> Any:
    """``method path`` on the CodeOcean API; its JSON answer, checked by ``check``
    (which raises ``_Malformed``, ``TypeError``, ``ValueError`` or ``KeyError``
    on the wrong shape and returns what to use).

    A malformed answer (truncated JSON, a proxy's HTML page, the wrong shape)
    is asked again like a 5xx, except when starting a run; after the last try
    it is a :class:`~aind_session.errors.ServiceError` quoting the start of
    the body.
    """
    from aind_session.config import get_settings

    persistent.refuse_if_offline(what)  # before a client (and a token) is needed
    settings = get_settings()
    client = get_client(for_runs=for_runs)
    sent = 0
    until = transport.deadline()
    while True:
        response = _call(what, client.session.request, method, path, _sent=sent, **kwargs)
        sent += _tries_of(response)
        try:
            try:
                body = response.json()
            except ValueError as exc:
                raise _Malformed("is not JSON") from exc
            return check(body)
        except (_Malformed, TypeError, ValueError, KeyError) as exc:
            problem = str(exc) if isinstance(exc, _Malformed) else f"has the wrong shape ({exc})"
            if for_runs or sent > settings.max_retries:
                break
            if not transport.pause(transport.backoff(sent), until):
                break
            logger.debug("CodeOcean's answer while %s %s; asking again", what, problem)
    kind = response.headers.get("Content-Type", "no content type")
    raise errors.ServiceError(
        f"CodeOcean at {settings.codeocean_domain} answered HTTP {response.status_code} "
        f"while {what}, but its answer {problem} ({kind}, {errors.tries(sent)}): "
        f"{transport.excerpt(response.text) or 'an empty body'}"
    )


def _record_of(cls: Callable[[], type]) -> Callable[[Any], dict[str, Any]]:
    """A check that a JSON value is a record of the SDK's ``cls()``: an object with
    its required fields."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Malformed(f"is a JSON {type(value).__name__}, not an object")
        missing = _required_fields(cls()) - value.keys()
        if missing:
            raise _Malformed(f"lacks {', '.join(sorted(missing))}")
        return value

    return check


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Malformed(f"is a JSON {type(value).__name__}, not a list")
        return [item(v) for v in value]

    return check


@functools.cache
def _required_fields(cls: type) -> frozenset[str]:
    return frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def data_asset_class() -> type[DataAsset]:
    """The SDK's ``DataAsset`` (for subclasses such as the sorted assets of ``session.ecephys``)."""
    load_sdk()
    from codeocean.data_asset import DataAsset

    return DataAsset


def _computation_class() -> type[Computation]:
    load_sdk()
    from codeocean.computation import Computation

    return Computation


# answers kept on disk: the service's own JSON, rebuilt as models
ASSET = persistent.Codec(lambda v: v.to_dict(), lambda o: build_data_asset(o))
COMPUTATIONS = persistent.Codec(
    lambda v: [c.to_dict() for c in v],
    lambda o: tuple(map(build_computation, o)),
)


# -- data assets -----------------------------------------------------------------
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


@cache.cached(persist=persistent.RECORDS)
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
            page = _request(
                what, "POST", "data_assets/search", _search_page, json={**body, "next_token": token}
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


def _search_page(page: Any) -> dict[str, Any]:
    if not isinstance(page, dict):
        raise _Malformed(f"is a JSON {type(page).__name__}, not a search page")
    if not isinstance(page.get("results"), list):
        raise _Malformed("has no list of 'results'")
    page["results"] = _list_of(_record_of(data_asset_class))(page["results"])
    return page


def build_data_asset(record: dict[str, Any]) -> DataAsset:
    """The SDK's ``DataAsset`` from a JSON record, as ``DataAsset.from_dict`` makes it.

    ``from_dict`` inspects the class's types on every call (~0.5 ms an asset);
    this builds the same object from converters worked out once per class.
    """
    return _builder(data_asset_class())(record)  # type: ignore[arg-type]


def build_computation(record: dict[str, Any]) -> Computation:
    """The SDK's ``Computation`` from a JSON record (see :func:`build_data_asset`)."""
    return _builder(_computation_class())(record)  # type: ignore[arg-type]


@functools.cache
def _builder(cls: type) -> Callable[[dict[str, Any]], Any]:
    hints = typing.get_type_hints(cls)
    fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls)]

    def build(record: dict[str, Any]) -> Any:
        values = {}
        for name, convert in fields:
            if name in record:
                value = record[name]
                if convert is not None and value is not None:
                    value = convert(value)
                elif isinstance(value, (list, dict)):  # a copy: the cached record stays as sent
                    value = copy.deepcopy(value)
                values[name] = value
        return cls(**values)

    return build


def _converter(kind: Any) -> Callable[[Any], Any] | None:
    """How to turn a JSON value into ``kind``; None when it is used as it is."""
    import enum
    import types

    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return _converter(options[0]) if len(options) == 1 else None
    if origin is list and args:
        item = _converter(args[0])
        return None if item is None else (lambda values: [item(v) for v in values])
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _builder(kind)
    return None


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


@cache.cached(persist=ASSET)
def _get_data_asset(asset_id: str) -> DataAsset:
    try:
        return _fetch_data_asset(asset_id)
    except errors.NotFoundError:
        raise errors.NotFoundError(
            f"CodeOcean has no data asset {asset_id!r}, or the token cannot see it; check the id."
        ) from None


def _fetch_data_asset(asset_id: str) -> DataAsset:
    record = _request(
        f"getting data asset {asset_id}",
        "GET",
        f"data_assets/{asset_id}",
        _record_of(data_asset_class),
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
    from aind_session.subject import normalize_subject_id  # the rule lives with Subject

    return _subject_data_assets(normalize_subject_id(subject_id))


@cache.cached
def _subject_data_assets(subject: str) -> tuple[DataAsset, ...]:
    from concurrent.futures import ThreadPoolExecutor

    keys = [
        _search_key({"query": f"subject id:{subject}"}),
        _search_key({"query": f"name:{subject}"}),
    ]
    with ThreadPoolExecutor(2) as pool:  # each in a copy of this call's context: its deadline
        jobs = [pool.submit(contextvars.copy_context().run, search_records, k) for k in keys]
        by_metadata, by_name = (job.result() for job in jobs)
    holds_id = re.compile(rf"(?<![0-9]){re.escape(subject)}(?![0-9])")
    unique = {r["id"]: r for r in by_metadata}
    unique.update({r["id"]: r for r in by_name if holds_id.search(str(r.get("name", "")))})
    return sort_by_created(map(build_data_asset, unique.values()))


# -- raw data assets ---------------------------------------------------------------
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
        from aind_session.session import parse_session_id

        try:
            session_id = parse_session_id(asset.name)
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
    from aind_session.s3 import PROTOCOLS

    protocol = PROTOCOLS.get(
        str(bucket.origin.value if hasattr(bucket.origin, "value") else bucket.origin), "s3"
    )
    prefix = (bucket.prefix or "").strip("/")
    return f"{protocol}://{bucket.bucket}/{prefix}".rstrip("/")


# -- computations --------------------------------------------------------------------
def list_computations(capsule_or_pipeline_id: str) -> tuple[Computation, ...]:
    """Every computation of a capsule or pipeline (cached), oldest first."""
    return _list_computations(str(capsule_or_pipeline_id))


@cache.cached(persist=COMPUTATIONS)
def _list_computations(capsule_id: str) -> tuple[Computation, ...]:
    what = f"listing computations of capsule or pipeline {capsule_id}"
    check = _list_of(_record_of(_computation_class))
    records = None
    for route in ("capsules", "pipelines"):
        try:
            records = _request(what, "GET", f"{route}/{capsule_id}/computations", check)
            break
        except errors.NotFoundError:
            continue
    if records is None:
        raise errors.NotFoundError(
            f"CodeOcean has no capsule or pipeline {capsule_id!r} with computations the "
            "token can see; check the id."
        )
    runs = map(build_computation, records or [])
    return tuple(sorted(runs, key=lambda c: (c.created, c.id)))


def run_capsule(capsule_id: str, asset: DataAsset, parameters: list[str]) -> Computation:
    """Start a capsule (or pipeline) run with ``asset`` attached, and return it.

    Never asked again once the request may have reached the service (only a
    refused connection and a 429 are retried), so a capsule cannot start
    twice. Once the service has said the run started, the run is returned
    whatever fails afterwards (forgetting the capsule's cached computation
    list is only warned about), so a caller never starts it again by mistake.

    Raises
    ------
    aind_session.errors.ServiceError
        When the service did not say the run started; or said so with an
        answer that holds no computation (the message says so: look at the
        capsule's runs before starting another).
    """
    load_sdk()
    from codeocean.computation import DataAssetsRunParam, RunParams

    params = RunParams(
        capsule_id=capsule_id,
        data_assets=[DataAssetsRunParam(id=asset.id, mount=asset.mount)],
        parameters=parameters,
    )
    what = f"starting a run of capsule {capsule_id}"
    try:
        record = _request(
            what,
            "POST",
            "computations",
            _record_of(_computation_class),
            for_runs=True,
            json=params.to_dict(),
        )
    except errors.ServiceError as exc:
        if isinstance(exc, errors.OfflineCacheMissError) or "answered HTTP 4" in str(exc):
            raise  # nothing was sent, or it was refused: nothing was started
        # the request may have reached the service (a cut, a stall, a gateway's
        # 5xx, a malformed answer to a POST that worked): say so, never retry
        raise errors.ServiceError(
            f"{exc} The run may have been started all the same: look at the runs of "
            f"capsule {capsule_id} before starting another."
        ) from None
    run = build_computation(record)
    try:
        cache.forget(_list_computations, capsule_id)
    except Exception as exc:  # the run is started: never make the caller start it again
        logger.warning(
            "run %s started, but the cached runs of %s could not be forgotten (%s: %s)",
            run.id,
            capsule_id,
            type(exc).__name__,
            exc,
        )
    return run


def refresh_computations(capsule_or_pipeline_id: str) -> tuple[Computation, ...]:
    """:func:`list_computations`, asked again now (not from the cache)."""
    cache.forget(_list_computations, str(capsule_or_pipeline_id))
    return list_computations(capsule_or_pipeline_id)


def get_computation(computation: Any) -> Computation:
    """One computation by id (with or without hyphens) or model (re-fetched, not cached).

    Raises
    ------
    ValueError
        When the id is not a UUID.
    aind_session.errors.NotFoundError
        When CodeOcean does not know it.
    """
    comp_id = normalize_id(computation, "computation")
    try:
        record = _request(
            f"getting computation {comp_id}",
            "GET",
            f"computations/{comp_id}",
            _record_of(_computation_class),
        )
        return build_computation(record)
    except errors.NotFoundError:
        raise errors.NotFoundError(
            f"CodeOcean has no computation {comp_id!r}, or the token cannot see it; check the id."
        ) from None


IN_PROGRESS_STATES = ("initializing", "running", "finalizing")


def _state(computation: Computation) -> str:
    state = computation.state
    return str(getattr(state, "value", state))


def search_computations(
    capsule_or_pipeline_id: str,
    name: str | None = None,
    attached_data_asset_id: str | None = None,
    has_results: bool | None = None,
    in_progress: bool | None = None,
    state: str | None = None,
    date: Any = None,
    start_date: Any = None,
    end_date: Any = None,
) -> tuple[Computation, ...]:
    """Computations of a capsule or pipeline matching every filter given, oldest first.

    Parameters
    ----------
    capsule_or_pipeline_id
        The capsule or pipeline that ran them.
    name
        Exact computation name.
    attached_data_asset_id
        Keep runs with this data asset attached (id, ``uuid.UUID`` or model).
    has_results, in_progress
        ``True`` or ``False`` keeps runs with or without results / still running
        (initializing, running or finalizing); ``None`` keeps both.
    state
        One of ``initializing``, ``running``, ``finalizing``, ``completed``, ``failed``.
    date, start_date, end_date
        Creation date (any form of :func:`aind_session.dates.parse_date`), or
        an inclusive range.

    Returns
    -------
    tuple[Computation, ...]
        ``()`` when nothing matches.

    Examples
    --------
    >>> runs = search_computations('1f8f159a-7670-47a9-baf1-078905fc9c2e', in_progress=True)
    >>> all(r.state in ('initializing', 'running', 'finalizing') for r in runs)
    True
    """
    from aind_session.dates import date_range, from_timestamp

    states = (*IN_PROGRESS_STATES, "completed", "failed")
    if state is not None and state not in states:
        raise errors.InvalidInputError(f"state must be one of {', '.join(states)}, not {state!r}.")
    window = date_range(date, start_date, end_date)
    asset_id = None if attached_data_asset_id is None else normalize_id(attached_data_asset_id)
    matches = []
    for run in list_computations(capsule_or_pipeline_id):
        if name is not None and run.name != name:
            continue
        if asset_id is not None and asset_id not in {a.id for a in run.data_assets or ()}:
            continue
        if has_results is not None and bool(run.has_results) != has_results:
            continue
        if in_progress is not None and (_state(run) in IN_PROGRESS_STATES) != in_progress:
            continue
        if state is not None and _state(run) != state:
            continue
        if from_timestamp(run.created) not in window:
            continue
        matches.append(run)
    return tuple(matches)


# -- output text and errors ---------------------------------------------------------
OUTPUT_ERRORS = (
    "Essential container in task exited",
    "Out of memory.",
    "Task failed to start - DockerTimeoutError",
    "Traceback (most recent call last):",
    "Command error:",
    "WARN: Killing running tasks",
)
CUDA_ERROR = "The CUDA error was:"
_SORTING_HINTS = (
    "spike sorting",
    "spikesort",
    "spike-sort",
    "kilosort",
    "spykingcircus",
    "spikeinterface",
)


def is_sorting_output(text: str) -> bool:
    """True when ``text`` looks like output of the spike-sorting pipeline."""
    lowered = text.lower()
    return any(hint in lowered for hint in _SORTING_HINTS)


def is_output_error(text: str, *, sorting: bool | None = None, source: str = "") -> bool:
    """True when a run's output text shows it failed.

    "The CUDA error was:" counts as an error except in spike-sorting output
    (``sorting=True``, or detected from the text), where some probes may still
    be usable: a warning naming ``source`` (what the output belongs to) is
    logged instead.

    >>> is_output_error('...\\nOut of memory.\\n')
    True
    >>> is_output_error('all probes sorted')
    False
    """
    if any(marker in text for marker in OUTPUT_ERRORS):
        return True
    if CUDA_ERROR in text:
        if sorting if sorting is not None else is_sorting_output(text):
            logger.warning(
                "spike-sorting output%s reports a CUDA error; some probes may still be usable, "
                "so it is not counted as a failed run",
                f" of {source}" if source else "",
            )
            return False
        return True
    return False


def _download(url: str, what: str) -> str:
    """The text at a pre-signed download URL (an S3 object), checked against the
    object's ``ETag``: a body cut short, an error page or a proxy's HTML passed
    off as the file is asked again, then a ServiceError; never returned."""
    import hashlib

    import requests

    from aind_session.config import get_settings

    persistent.refuse_if_offline(f"downloading {what}")
    settings = get_settings()
    until = transport.deadline()
    sent = 0
    while True:
        try:
            response = _download_session().get(url)
            sent += _tries_of(response)
            response.raise_for_status()
        except errors.DeadlineExceededError as exc:
            raise errors.ServiceError(
                f"Downloading {what}: the server {transport.deadline_message(exc.seconds)} "
                f"({errors.tries(sent + exc.tries)})."
            ) from None
        except requests.RequestException as exc:
            tried = sent if exc.response is not None else sent + _tries_of(exc)
            quoted = transport.excerpt(exc.response.text) if exc.response is not None else ""
            raise errors.ServiceError(
                f"Downloading {what} failed ({errors.tries(tried)}): {type(exc).__name__}"
                f"{': ' + quoted if quoted else ''}."
            ) from None
        etag = response.headers.get("ETag", "").strip('"')
        if not etag:  # S3 sends one with every object: this answer is not the file
            problem = "came without the object's ETag"
        elif (
            len(etag) == 32
            and "-" not in etag
            and hashlib.md5(response.content).hexdigest() != etag
        ):
            problem = "does not match the object's ETag (cut short or replaced)"
        else:
            return response.text
        if sent > settings.max_retries or not transport.pause(transport.backoff(sent), until):
            raise errors.ServiceError(
                f"Downloading {what}: the answer {problem} ({errors.tries(sent)}): "
                f"{transport.excerpt(response.text) or 'an empty body'}"
            )
        logger.debug("downloading %s: the answer %s; asking again", what, problem)


def _is_computation(item: Any) -> bool:
    return isinstance(item, _computation_class())


def get_output_text(item: Any) -> str:
    """Text of the ``output`` file of a data asset's folder or a computation's results.

    ``item`` is a ``DataAsset``, a ``Computation``, or the id of either.

    Returns
    -------
    str
        ``''`` when there is no ``output`` file.
    """
    DataAsset = data_asset_class()
    if not isinstance(item, DataAsset) and not _is_computation(item):
        item_id = normalize_id(item, "data asset or computation")
        try:
            item = get_data_asset(item_id)
        except errors.NotFoundError:
            item = get_computation(item_id)
    if isinstance(item, DataAsset):
        return _asset_output(item)
    return _computation_output(item.id)


def data_asset_dir(asset: DataAsset) -> str | None:
    """URL of a data asset's folder (cached once found), or None when no candidate holds files.

    Raises
    ------
    aind_session.errors.AccessDeniedError
        When nothing was found and S3 denied access to a candidate: the folder
        may be there, so "not found" would be a wrong answer.
    """
    try:
        return _data_asset_dir(source_url(asset), asset.id, asset.name)
    except _NotFound:
        return None


class _NotFound(Exception):
    """Nothing there, now: raised (so never cached) rather than returned."""


@cache.cached(persist=persistent.TEXT)
def _data_asset_dir(source: str | None, asset_id: str, name: str) -> str:
    from aind_session import s3

    located = s3.locate(s3.data_asset_dir_candidates(source, asset_id, name))
    if located.url is not None:
        return located.url
    if located.denied:
        raise errors.AccessDeniedError(
            f"The files of data asset {asset_id} ({name}) were not found, and access was denied "
            f"to {', '.join(located.denied)}: check your AWS credentials."
        )
    raise _NotFound(asset_id)


def _asset_output(asset: DataAsset) -> str:
    from aind_session import s3

    folder = data_asset_dir(asset)
    if folder is None or not folder.startswith("s3://"):
        return ""
    return _read_output(folder, s3.list_folder(folder))


def _read_output(folder: str, listing: Any) -> str:
    """Text of ``<folder>/output`` (``''`` when the listing has none)."""
    from aind_session import s3

    if "output" not in listing.file_names:
        return ""
    return s3.read_bytes(f"{folder}/output").decode("utf-8", errors="replace")


@cache.cached(persist=persistent.TEXT)
def _computation_output(comp_id: str) -> str:
    what = f"the output of computation {comp_id}"
    try:
        url = _request(
            f"getting {what}",
            "GET",
            f"computations/{comp_id}/results/urls",
            _download_url,
            params={"path": "output"},
        )
    except errors.NotFoundError:
        return ""
    return _download(url, what)


def _download_url(value: Any) -> str:
    url = value.get("download_url") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _Malformed("has no 'download_url'")
    return url


@cache.cached(persist=persistent.STRINGS)
def list_result_files(comp_id: str) -> tuple[str, ...]:
    """Top-level names in a computation's results folder (cached)."""
    try:
        return _request(
            f"listing the results of computation {comp_id}",
            "POST",
            f"computations/{comp_id}/results",
            _folder_names,
            json={"path": ""},
        )
    except errors.NotFoundError:
        return ()


def _folder_names(value: Any) -> tuple[str, ...]:
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise _Malformed("has no list of 'items'")
    names = tuple(item.get("name") if isinstance(item, dict) else None for item in items)
    if not all(isinstance(name, str) for name in names):
        raise _Malformed("has items without a 'name'")
    return names  # type: ignore[return-value]


_LOG_ONLY = {"output", "nextflow"}
_SORTING_FOLDERS = {"spikesorted", "curated", "sorting_precurated"}


def is_computation_error(computation: Any) -> bool:
    """True when a computation failed: by its state, its results or its output.

    Failed state or end status; no result files, or only ``output`` and
    ``nextflow``; an error in the output (see :func:`is_output_error`); or
    spike-sorting results without an NWB file. A run still in progress is not
    an error.
    """
    run = computation if _is_computation(computation) else get_computation(computation)
    if _state(run) in IN_PROGRESS_STATES:
        return False
    end = getattr(run.end_status, "value", run.end_status)
    if _state(run) == "failed" or end == "failed":
        return True
    names = set(list_result_files(run.id))
    output = _computation_output(run.id) if "output" in names else ""
    return _results_failed(names, output, False, f"computation {run.id} ({run.name})")


def is_data_asset_error(asset: Any) -> bool:
    """True when a data asset holds a failed run's results.

    No files, or only ``output`` and ``nextflow``; an error in its ``output``
    file; or spike-sorting results without an NWB file. The verdict is cached
    with the answers it is built on.

    Raises
    ------
    aind_session.errors.AccessDeniedError
        When its folder could not be looked at.
    """
    model = asset if hasattr(asset, "source_bucket") else get_data_asset(asset)
    folder = data_asset_dir(model)
    if folder is None:
        return True  # no files anywhere
    if not folder.startswith("s3://"):
        return False  # cannot look inside gs:// or file:// folders from here
    return _data_asset_error(folder, model.id, model.name)


@cache.cached(persist=persistent.FLAG)
def _data_asset_error(folder: str, asset_id: str, name: str) -> bool:
    from aind_session import s3

    listing = s3.list_folder(folder)
    names = set(listing.folders) | set(listing.file_names)
    output = _read_output(folder, listing)
    return _results_failed(names, output, "_sorted" in name, f"data asset {asset_id} ({name})")


def _results_failed(names: set[str], output: str, sorting: bool, source: str) -> bool:
    """The verdict on a run's results: the top-level ``names`` and its ``output`` text."""
    if not names or names <= _LOG_ONLY:
        return True
    sorting = sorting or is_sorting_output(output) or bool(names & _SORTING_FOLDERS)
    if is_output_error(output, sorting=sorting, source=source):
        return True
    return sorting and not any(n == "nwb" or n.endswith(".nwb") for n in names)


def wait_until_ready(
    asset: Any, check_files: bool = True, timeout: float = 60, interval: float = 5
) -> DataAsset:
    """Poll until a data asset is ready (and, with ``check_files``, its files are visible).

    Raises
    ------
    aind_session.errors.NotReadyError
        (a ``TimeoutError``) when it is not ready within ``timeout`` seconds; says
        its last state.
    aind_session.errors.ServiceError
        When the asset's state is ``failed``.
    """
    import time

    asset_id = normalize_id(asset)
    deadline = time.monotonic() + timeout
    while True:
        model = _fetch_data_asset(asset_id)
        state = str(getattr(model.state, "value", model.state))
        if state == "failed":
            raise errors.ServiceError(
                f"Data asset {asset_id} failed to build: {model.failure_reason or 'no reason given'}."
            )
        if state == "ready":
            if not check_files:
                return model
            files = _request(
                f"listing the files of data asset {asset_id}",
                "POST",
                f"data_assets/{asset_id}/files",
                _folder_names,
                json={"path": ""},
            )
            if files:
                return model
            state = "ready, but no files visible yet"
        if time.monotonic() + interval > deadline:
            raise errors.NotReadyError(
                f"Data asset {asset_id} was not ready within {timeout} s (last state: {state})."
            )
        time.sleep(interval)
