"""The S3 layer: the only module that imports ``s3fs`` and ``upath``.

Folders are listed with one ``ListObjectsV2`` request each (with ``/`` as
delimiter, so a listing holds one level), several at once on s3fs's event loop
when they do not depend on each other. A listing is cached, so finding a raw
data folder, its modalities and its metadata files costs one request.

Credentials come from the usual AWS chain (environment, ``~/.aws``, the
capsule's assumable role); ``AWS_ENDPOINT_URL`` points elsewhere (the sandbox).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aind_session import batch as _batch
from aind_session import cache, errors, persistent, transport
from aind_session.conventions import PROTOCOLS  # noqa: F401 (a name of this module too)

if TYPE_CHECKING:
    from upath import UPath

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Listing:
    """One level of an S3 folder: sub-folder names and file names with sizes."""

    path: str  # bucket/prefix, no trailing slash
    folders: tuple[str, ...]
    files: tuple[tuple[str, int], ...]

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.files)

    @property
    def exists(self) -> bool:
        return bool(self.folders or self.files)


LISTING = persistent.Codec(
    lambda v: {"path": v.path, "folders": list(v.folders), "files": [list(f) for f in v.files]},
    lambda o: Listing(o["path"], tuple(o["folders"]), tuple((n, size) for n, size in o["files"])),
)


@cache.on_clear
def _forget_filesystem() -> None:
    global _fs
    with _fs_lock:
        if _fs is not None:
            _fs.invalidate_cache()
        _fs = None
    s3fs = sys.modules.get("s3fs")  # not imported: no instance to forget
    if s3fs is not None:
        # fsspec keeps instances by their arguments, and credentials are not among
        # them: without this a changed key or token would not take effect (in
        # UPath paths made before we built ours, too)
        s3fs.S3FileSystem.clear_instance_cache()


_fs: Any = None
_fs_lock = threading.Lock()  # threads starting at once build one filesystem, not one each


def storage_options() -> dict[str, Any]:
    """Keyword arguments for ``s3fs.S3FileSystem`` (and ``UPath``) from the settings."""
    from aind_session.config import get_settings

    settings = get_settings()
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": settings.connect_timeout,
            "read_timeout": settings.read_timeout,
            # one try each: our own loop (see `_request_all`) retries, so that a cut
            # mid-body is retried too, deadlines hold and try counts are honest
            "retries": {"total_max_attempts": 1, "mode": "standard"},
            "max_pool_connections": settings.s3_max_concurrency,
        },
        "listings_expiry_time": settings.cache_ttl,
    }
    if settings.s3_endpoint_url:
        options["endpoint_url"] = settings.s3_endpoint_url
    return options


def get_filesystem() -> Any:
    """The ``s3fs.S3FileSystem`` used for everything, built once per settings."""
    global _fs
    if _fs is not None:
        return _fs
    with _fs_lock:
        if _fs is None:
            import fsspec

            # fsspec's shared instance, the one UPath gets for the same options
            fs = fsspec.filesystem("s3", **storage_options())
            fs.retries = 1  # for UPath's own calls: ours are retried by `_request_all`
            _fs = fs
        return _fs


def connect() -> None:
    """Set up the S3 client now (imports, credentials, service model), before it is needed."""
    from fsspec.asyn import sync

    fs = get_filesystem()
    sync(fs.loop, fs.set_session)


def upath(path: str) -> UPath:
    """A ``UPath`` for ``s3://bucket/prefix`` (or another protocol) sharing our filesystem."""
    from upath import UPath

    if path.startswith("s3://"):
        return UPath(path, **storage_options())
    return UPath(path)


def split(path: str) -> tuple[str, str]:
    """``'s3://bucket/a/b'`` or ``'bucket/a/b'`` -> ``('bucket', 'a/b')``."""
    bucket, _, prefix = path.removeprefix("s3://").strip("/").partition("/")
    return bucket, prefix


class _Malformed(Exception):
    """An answer that is not what S3 sends: asked again, then a ServiceError."""


async def _list_one(client: Any, path: str) -> Listing:
    from aind_session.config import get_settings

    bucket, prefix = split(path)
    folders: list[str] = []
    files: list[tuple[str, int]] = []
    kwargs: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": f"{prefix}/" if prefix else "",
        "Delimiter": "/",
    }
    seen: set[str] = set()
    max_pages = get_settings().max_pages
    for _ in range(max_pages):
        page = await client.list_objects_v2(**kwargs)
        if not isinstance(page.get("IsTruncated"), bool):
            raise _Malformed("a listing without IsTruncated (not a ListObjectsV2 answer)")
        folders += [
            p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in page.get("CommonPrefixes", [])
        ]
        files += [(c["Key"].rsplit("/", 1)[-1], c.get("Size", 0)) for c in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page.get("NextContinuationToken")
        if not token:
            raise _Malformed("a truncated listing without a NextContinuationToken")
        if token in seen:
            raise _Malformed("a listing whose continuation token repeats (its paging loops)")
        seen.add(token)
        kwargs["ContinuationToken"] = token
    else:
        raise errors.ServiceError(
            f"S3 still had more of s3://{path} after {max_pages} pages: stopped "
            "(AIND_SESSION_MAX_PAGES)."
        )
    return Listing(f"{bucket}/{prefix}".rstrip("/"), tuple(sorted(folders)), tuple(sorted(files)))


def clean(path: str) -> str:
    """``path`` as the cache and :func:`fetch`'s answers name it: no ``s3://``, no edge slashes.

    >>> clean('s3://bucket/a/b/')
    'bucket/a/b'
    """
    return path.removeprefix("s3://").strip("/")


def _key(kind: str, path: str) -> tuple[str, str]:
    """Cache key of a listing (``kind`` "list") or a read ("read") of a cleaned path."""
    return (f"s3.{kind}", path)


# a block within which each folder and file is asked once (kept for callers of old)
batch = _batch.once


def fetch(
    listings: Iterable[str] = (), reads: Iterable[str] = ()
) -> tuple[dict[str, Listing | Exception], dict[str, bytes | Exception]]:
    """List folders and read files, all at once, in one round of concurrent requests.

    Each folder's value is its listing (one level) or the error met; each
    file's value is its bytes or the error met. Answers already cached, or
    being fetched by another thread, are not asked again. Listings that hold
    something and files read are cached (files on disk too when small); an
    empty folder, a missing file or a failure is asked again next time,
    except within a batch (:mod:`aind_session.batch`), which asks each once.
    Inside :func:`aind_session.batch.gather`, what is not known yet is
    deferred to the batch's next round.

    Errors: a missing bucket lists as empty; access denied is a
    ``PermissionError``; a missing file a ``FileNotFoundError``; a service
    failure after retries an :class:`~aind_session.errors.ServiceError`.

    >>> listed, read = fetch(['s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'])
    >>> listed['aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'].folders[:2]
    ('behavior', 'ecephys_clipped')
    """
    jobs = [("list", p) for p in dict.fromkeys(map(clean, listings))]
    jobs += [("read", p) for p in dict.fromkeys(map(clean, reads))]
    if _batch.active():
        answers = {}
        misses = []
        for job in jobs:
            known = _batch.recall(fetch_jobs, job)
            if known is _batch.NOT_ASKED:
                known = cache.peek(_key(*job), _CODECS[job[0]])
            if persistent.is_missing(known):
                misses.append(job)
            else:
                answers[job] = known
        if misses:
            _batch.defer(fetch_jobs, misses)  # inside gather: Pending
            fetched = fetch_jobs(misses)
            _batch.remember(fetch_jobs, fetched)
            answers.update(fetched)
    else:
        answers = fetch_jobs(jobs)
    return (
        {path: answers[(kind, path)] for kind, path in jobs if kind == "list"},
        {path: answers[(kind, path)] for kind, path in jobs if kind == "read"},
    )


def hint(listings: Iterable[str] = (), reads: Iterable[str] = ()) -> None:
    """Inside :func:`aind_session.batch.gather`: list ``listings`` and read
    ``reads`` with the next round (guesses; see :func:`aind_session.batch.hint`).
    Nothing elsewhere, nor offline (a guess that is not cached could not be asked).

    >>> hint(reads=['s3://aind-ephys-data/x/processing.json'])  # outside a batch: nothing
    """
    if not _batch.deferring():
        return
    from aind_session.config import get_settings

    if get_settings().offline:
        return
    jobs = [("list", clean(p)) for p in listings] + [("read", clean(p)) for p in reads]
    _batch.hint(fetch_jobs, jobs)


def hint_connect() -> None:
    """Inside :func:`aind_session.batch.gather`: set up the S3 client (:func:`connect`)
    during the next round, for work that will need S3 after it. Nothing elsewhere."""
    if not _batch.deferring():
        return
    from aind_session.config import get_settings

    if not get_settings().offline:  # credentials may be fetched from the network
        _batch.hint(_connect_all, ["connect"])


def _connect_all(requests: list[str]) -> dict[str, None]:
    connect()
    return dict.fromkeys(requests)


_CODECS = {"list": LISTING, "read": persistent.SMALL_BYTES}


def fetch_jobs(jobs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The fetcher of S3's leaves (see :mod:`aind_session.batch`): each job,
    ``("list", path)`` or ``("read", path)`` of a cleaned path, to its answer
    or the error met, in one round of concurrent requests; the cache first.

    >>> fetch_jobs([('list', 'aind-ephys-data/none-such')])[('list', 'aind-ephys-data/none-such')].exists
    False
    """
    keys = {job: _key(*job) for job in jobs}
    found: dict[Any, Any] = {}
    waiting: dict[Any, Any] = {}
    mine: list[Any] = []
    answers: dict[tuple[str, str], Any] = {}
    try:
        for kind in ("list", "read"):
            part = [keys[j] for j in jobs if j[0] == kind]
            f, w, m = cache.claim(part, _CODECS[kind])
            found.update(f)
            waiting.update(w)
            mine += m
        todo = [job for job in jobs if keys[job] in mine]
        answers.update({job: found[keys[job]] for job in jobs if keys[job] in found})
        if todo:
            persistent.refuse_if_offline(f"s3://{todo[0][1]}")
            results = _request_all(todo)
            for job, value in zip(todo, results, strict=True):
                answers[job] = value
                # an empty folder may fill soon and an error may pass: neither is kept
                keep = isinstance(value, bytes) or (isinstance(value, Listing) and value.exists)
                mine.remove(keys[job])
                cache.settle(keys[job], value, keep=keep, codec=_CODECS[job[0]])
    except BaseException as exc:  # never leave a key in flight: its waiters would hang
        cache.settle_all(mine, exc)
        raise
    for job in jobs:
        if keys[job] in waiting:
            answers[job] = waiting[keys[job]].result()
    return answers


# errors raised before any request was sent: a retry cannot help
_CLIENT_ERRORS = (
    "ParamValidationError",
    "NoCredentialsError",
    "PartialCredentialsError",
    "NoRegionError",
)
_MISSING_CODES = ("NoSuchKey", "NoSuchBucket", "NotFound", "404")
_DENIED_CODES = ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "403")
# a continuation token S3 refuses: the listing is started again
_RESTART_CODES = ("InvalidArgument",)


def _outcome(exc: BaseException) -> tuple[str, str]:
    """What a failed try means: ("missing" | "denied" | "config" | "retry" | "fail", why)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = str(response["Error"].get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        why = f"{code or 'HTTP ' + str(status)}: {transport.excerpt(response['Error'].get('Message', ''))}"
        if code in _MISSING_CODES:
            return "missing", why
        if code in _DENIED_CODES:
            return "denied", why
        if status == 429 or status >= 500 or code in _RESTART_CODES or status == 200:
            return "retry", why
        return "fail", why
    name = type(exc).__name__
    if name in _CLIENT_ERRORS:
        return "config", f"{name}: {exc}"
    if isinstance(exc, _Malformed):
        return "retry", f"a malformed answer ({exc})"
    if isinstance(exc, (OSError, EOFError)) or _is_transport_error(exc):
        return "retry", f"{name}: {transport.excerpt(exc)}"
    return "fail", f"{name}: {transport.excerpt(exc)}"


def _is_transport_error(exc: BaseException) -> bool:
    """A dropped or cut connection, a timeout or an unparseable answer (botocore, aiohttp)."""
    import botocore.exceptions
    import botocore.parsers

    kinds: tuple[type[BaseException], ...] = (
        botocore.exceptions.HTTPClientError,
        botocore.exceptions.ResponseStreamingError,
        botocore.exceptions.IncompleteReadError,
        botocore.parsers.ResponseParserError,
    )
    try:
        import aiohttp

        kinds += (aiohttp.ClientError,)
    except ImportError:  # pragma: no cover - aiobotocore needs it
        pass
    return isinstance(exc, kinds)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return transport.retry_after(headers.get("retry-after"))


def _request_all(todo: list[tuple[str, str]]) -> list[Any]:
    """Run the listings and reads of ``todo`` at once; each result is a value or an error.

    Each is tried up to ``max_retries + 1`` times (throttling, 5xx, a dropped
    or cut connection, a malformed answer), all within one deadline
    (:func:`aind_session.transport.deadline`).
    """
    from fsspec.asyn import sync

    from aind_session.config import get_settings

    settings = get_settings()
    most = settings.max_retries + 1
    fs = get_filesystem()
    until = transport.deadline()
    started = time.monotonic()

    async def gather() -> list[Any]:
        client = await fs.set_session()
        limit = asyncio.Semaphore(settings.s3_max_concurrency)

        async def one(job: tuple[str, str]) -> Any:
            kind, path = job
            what = "a listing" if kind == "list" else "a read"
            tries = 0
            while True:
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return errors.ServiceError(
                        f"S3 {transport.deadline_message(until - started)} to {what} of "
                        f"s3://{path} ({errors.tries(tries)})."
                    )
                tries += 1
                try:
                    async with limit:  # the time spent waiting here counts too
                        remaining = until - time.monotonic()
                        if remaining <= 0:
                            tries -= 1  # not sent: said at the top of the loop
                            continue
                        work = (
                            _list_one(client, path) if kind == "list" else _read_one(client, path)
                        )
                        return await asyncio.wait_for(work, remaining)
                except asyncio.TimeoutError:
                    continue  # the deadline passed: said at the top of the loop
                except errors.ServiceError as exc:
                    return exc
                except Exception as exc:
                    outcome, why = _outcome(exc)
                    asked = _retry_after(exc)
                if outcome == "missing":
                    if kind == "list":  # no such bucket
                        return Listing(path, (), ())
                    return FileNotFoundError(f"s3://{path} does not exist ({why})")
                if outcome == "denied":
                    logger.debug("access denied to s3://%s: %s", path, why)
                    return errors.AccessDeniedError(
                        f"Access to s3://{path} was denied: check your AWS credentials."
                    )
                if outcome == "config":
                    return errors.ConfigurationError(
                        f"S3 could not be asked about s3://{path}: {why}. Check the AWS "
                        "credentials and region, and that the path is an S3 one."
                    )
                if outcome == "fail" or tries >= most:
                    return errors.ServiceError(
                        f"S3 did not answer {what} of s3://{path} after {errors.tries(tries)}: "
                        f"{why}"
                    )
                wait = transport.backoff(tries) if asked is None else asked
                if time.monotonic() + wait >= until:
                    return errors.ServiceError(
                        f"S3 {transport.deadline_message(until - started)} to {what} of "
                        f"s3://{path} ({errors.tries(tries)}; the last: {why})."
                    )
                logger.debug("S3 %s of s3://%s failed (%s); trying again", what, path, why)
                await asyncio.sleep(wait)

        return await asyncio.gather(*(one(job) for job in todo))

    logger.debug("S3: %d request(s) at once: %s", len(todo), todo)
    return sync(fs.loop, gather)


def list_folders(paths: Iterable[str]) -> dict[str, Listing | Exception]:
    """List several folders at once (see :func:`fetch`)."""
    return fetch(listings=paths)[0]


def cached_listing(path: str) -> Listing | None:
    """The cached listing of ``path`` (it holds something), or None; asks nothing."""
    listing = cache.peek(_key("list", clean(path)), LISTING)
    return None if persistent.is_missing(listing) else listing


def is_listed(path: str) -> bool:
    """True when a listing of ``path`` that holds something is cached (asks nothing)."""
    return cached_listing(path) is not None


def list_folder(path: str) -> Listing:
    """List one folder (cached). An empty listing means nothing is there.

    Raises
    ------
    PermissionError
        When S3 denies access.
    aind_session.errors.ServiceError
        When S3 fails after retries.
    """
    value = list_folders([path])[clean(path)]
    if isinstance(value, Exception):
        raise value
    return value


async def _read_one(client: Any, path: str) -> bytes:
    bucket, key = split(path)
    response = await client.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        data: bytes = await body.read()
    expected = response.get("ContentLength")
    if isinstance(expected, int) and expected != len(data):
        raise _Malformed(f"{len(data)} bytes of the {expected} announced")
    problem = transport.etag_mismatch(str(response.get("ETag", "")), data)
    if problem is not None:
        raise _Malformed(f"an object answer that {problem}")
    return data


def read_bytes(path: str) -> bytes:
    """The bytes of one S3 object (cached), in one ``GetObject`` request.

    Raises
    ------
    FileNotFoundError
        When it does not exist.
    PermissionError
        When S3 denies access.
    aind_session.errors.ServiceError
        When S3 fails after retries.
    """
    value = fetch(reads=[path])[1][clean(path)]
    if isinstance(value, Exception):
        raise value
    return value


def read_json(path: str) -> Any:
    """Parse the JSON object at ``path``; a clear ``ValueError`` when it is corrupt."""
    data = read_bytes(path)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise errors.CorruptFileError(
            f"s3://{path.removeprefix('s3://')} is not valid JSON ({exc}); the file is "
            "corrupt or truncated: check it, or ask the data's owners to re-upload it."
        ) from None
