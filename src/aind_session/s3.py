"""The S3 layer: with :mod:`aind_session.s3_requests`, the only importer of ``s3fs`` and ``upath``.

Folders are listed with one ``ListObjectsV2`` request each (with ``/`` as
delimiter, so a listing holds one level), several at once on s3fs's event loop
when they do not depend on each other. A listing is cached, so finding a raw
data folder, its modalities and its metadata files costs one request.

The requests themselves, their retries and the checks of S3's answers are in
:mod:`aind_session.s3_requests`.

Credentials come from the usual AWS chain (environment, ``~/.aws``, the
capsule's assumable role); ``AWS_ENDPOINT_URL`` points elsewhere (the sandbox).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aind_session import batch as _batch
from aind_session import cache, errors, persistent
from aind_session.conventions import PROTOCOLS  # noqa: F401 (a name of this module too)
from aind_session.s3_client import (  # noqa: F401 (names of this module too)
    connect,
    get_filesystem,
    storage_options,
    upath,
    warm_up,
)
from aind_session.s3_requests import (  # noqa: F401 (names of this module too)
    Listing,
    request_all,
    split,
)

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


LISTING = persistent.Codec(
    lambda v: {"path": v.path, "folders": list(v.folders), "files": [list(f) for f in v.files]},
    lambda o: Listing(o["path"], tuple(o["folders"]), tuple((n, size) for n, size in o["files"])),
)


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
    if _batch.active():  # the cache first: an answer kept there beats one remembered
        answers = _batch.ask(fetch_jobs, jobs, lambda job: cache.peek(_key(*job), _CODECS[job[0]]))
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
    """Set up the S3 client (:func:`connect`) for work that will need S3 after what it
    asks first: inside :func:`aind_session.batch.gather`, during the next round;
    elsewhere, in a thread started now (:func:`warm_up`). Nothing offline."""
    from aind_session.config import get_settings

    if get_settings().offline:  # credentials may be fetched from the network
        return
    if _batch.deferring():
        _batch.hint(_connect_all, ["connect"])
    else:
        warm_up()  # nothing when the client is there already


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
            try:
                persistent.refuse_if_offline(f"s3://{todo[0][1]}")
                results = request_all(get_filesystem(), todo)
            except Exception as exc:  # offline, or no filesystem: each job's answer
                results = [exc] * len(todo)
            for job, value in zip(todo, results, strict=True):
                answers[job] = value
                # an empty folder may fill soon and an error may pass: neither is kept
                keep = isinstance(value, bytes) or (isinstance(value, Listing) and value.exists)
                mine.remove(keys[job])
                cache.settle(keys[job], value, keep=keep, codec=_CODECS[job[0]])
    except BaseException as exc:  # never leave a key in flight: its waiters would hang
        cache.settle_all(mine, exc)
        raise
    for job in jobs:  # another thread's answers, each its own (a failure too)
        if keys[job] in waiting:
            try:
                answers[job] = waiting[keys[job]].result()
            except Exception as exc:
                answers[job] = exc
    return answers


def list_folders(paths: Iterable[str]) -> dict[str, Listing | Exception]:
    """List several folders at once (see :func:`fetch`).

    Keyed by the cleaned path; an empty listing where nothing is there, the
    error met where a folder could not be listed.

    >>> listings = list_folders(['s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40', 'aind-ephys-data/none-such'])
    >>> listings['aind-ephys-data/ecephys_676909_2023-12-13_13-43-40'].folders
    ('behavior', 'ecephys_clipped', 'ecephys_compressed')
    >>> listings['aind-ephys-data/none-such'].exists
    False
    """
    return fetch(listings=paths)[0]


def cached_listing(path: str) -> Listing | None:
    """The cached listing of ``path`` (it holds something), or None; asks nothing.

    >>> cached_listing('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40') is None
    True
    >>> cached_listing('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40') == list_folder('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40')
    False
    >>> cached_listing('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40') == list_folder('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40')
    True
    """
    listing = cache.peek(_key("list", clean(path)), LISTING)
    return None if persistent.is_missing(listing) else listing


def is_listed(path: str) -> bool:
    """True when a listing of ``path`` that holds something is cached (asks nothing).

    >>> is_listed('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40')
    False
    >>> list_folder('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40').exists
    True
    >>> is_listed('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40')
    True
    """
    return cached_listing(path) is not None


def list_folder(path: str) -> Listing:
    """List one folder (cached). An empty listing means nothing is there.

    >>> list_folder('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/behavior').file_names
    ('Body_Camera.mp4', 'Face_Camera.mp4', 'opto_stim_log.csv', 'running_wheel.csv')
    >>> list_folder('aind-ephys-data/none-such').exists
    False

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


def read_bytes(path: str) -> bytes:
    """The bytes of one S3 object (cached), in one ``GetObject`` request.

    >>> read_bytes('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/behavior/running_wheel.csv')[:28]
    b'time_s,encoder_deg\\n0.000,0.0'

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
    """Parse the JSON object at ``path``; a clear ``ValueError`` when it is corrupt.

    >>> read_json('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/subject.json')['subject_id']
    '676909'

    Raises
    ------
    aind_session.errors.CorruptFileError
        (a ``ValueError``) when the file is not valid JSON; and as :func:`read_bytes`.
    """
    data = read_bytes(path)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise errors.CorruptFileError(
            f"s3://{path.removeprefix('s3://')} is not valid JSON ({exc}); the file is "
            "corrupt or truncated: check it, or ask the data's owners to re-upload it."
        ) from None
