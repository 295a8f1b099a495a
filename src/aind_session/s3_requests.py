"""One round of S3 requests: listings and reads sent at once, each with our own retries.

The S3 layer (:mod:`aind_session.s3`) decides what to ask and caches the
answers; this module sends the requests on s3fs's event loop and judges each
answer: what S3 says (missing, denied, throttled, failed), what the network
did (dropped, cut, timed out) and whether the answer is one S3 sends (a
listing with ``IsTruncated``, an object whose bytes match its length and
ETag). Each result is a value or the error to report, never raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from aind_session import errors, transport

logger = logging.getLogger("aind_session.s3")  # the S3 layer's log, as before the split


def split(path: str) -> tuple[str, str]:
    """``'s3://bucket/a/b'`` or ``'bucket/a/b'`` -> ``('bucket', 'a/b')``.

    >>> split('s3://bucket/a/b')
    ('bucket', 'a/b')
    """
    bucket, _, prefix = path.removeprefix("s3://").strip("/").partition("/")
    return bucket, prefix


@dataclasses.dataclass(frozen=True)
class Listing:
    """One level of an S3 folder: sub-folder names and file names with sizes."""

    path: str  # bucket/prefix, no trailing slash
    folders: tuple[str, ...]
    files: tuple[tuple[str, int], ...]

    @property
    def file_names(self) -> tuple[str, ...]:
        """The files' names, without their sizes.

        >>> Listing('b/p', ('sub',), (('a.json', 3),)).file_names
        ('a.json',)
        """
        return tuple(name for name, _ in self.files)

    @property
    def exists(self) -> bool:
        """True when the folder holds anything (S3 has no empty folders: an empty
        listing means nothing is there).

        >>> Listing('b/p', (), ()).exists
        False
        """
        return bool(self.folders or self.files)


class _Malformed(Exception):
    """An answer that is not what S3 sends: asked again, then a ServiceError."""


async def list_one(client: Any, path: str) -> Listing:
    """One level of the folder ``path``, every page of it (``ListObjectsV2``).

    Raises
    ------
    _Malformed
        When a page is not a ListObjectsV2 answer, or its paging loops.
    aind_session.errors.ServiceError
        After ``AIND_SESSION_MAX_PAGES`` pages.
    """
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


def judge(exc: BaseException) -> tuple[str, str]:
    """What a failed try means: ("missing" | "denied" | "config" | "retry" | "fail", why).

    >>> judge(ConnectionResetError('reset by peer'))
    ('retry', 'ConnectionResetError: reset by peer')
    """
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
    if isinstance(exc, (OSError, EOFError)) or is_transport_error(exc):
        return "retry", f"{name}: {transport.excerpt(exc)}"
    return "fail", f"{name}: {transport.excerpt(exc)}"


def is_transport_error(exc: BaseException) -> bool:
    """A dropped or cut connection, a timeout or an unparseable answer (botocore, aiohttp).

    >>> is_transport_error(ValueError('not a transport error'))
    False
    """
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


def retry_after_of(exc: BaseException) -> float | None:
    """The wait S3 asked for in its ``Retry-After`` header (capped), or None.

    >>> class Throttled(Exception):
    ...     response = {'ResponseMetadata': {'HTTPHeaders': {'retry-after': '2'}}}
    >>> retry_after_of(Throttled())
    2.0
    """
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return transport.retry_after(headers.get("retry-after"))


def request_all(fs: Any, todo: list[tuple[str, str]]) -> list[Any]:
    """Run the listings and reads of ``todo`` at once; each result is a value or an error.

    Each is tried up to ``max_retries + 1`` times (throttling, 5xx, a dropped
    or cut connection, a malformed answer), all within one deadline
    (:func:`aind_session.transport.deadline`).
    """
    from fsspec.asyn import sync

    from aind_session.config import get_settings

    settings = get_settings()
    most = settings.max_retries + 1
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
                        work = list_one(client, path) if kind == "list" else read_one(client, path)
                        return await asyncio.wait_for(work, remaining)
                except asyncio.TimeoutError:
                    continue  # the deadline passed: said at the top of the loop
                except errors.ServiceError as exc:
                    return exc
                except Exception as exc:
                    outcome, why = judge(exc)
                    asked = retry_after_of(exc)
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


async def read_one(client: Any, path: str) -> bytes:
    """The bytes of the object ``path`` (``GetObject``), checked against its
    length and ETag.

    Raises
    ------
    _Malformed
        When the bytes do not match the length or the ETag announced.
    """
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
