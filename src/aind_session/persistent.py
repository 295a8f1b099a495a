"""The opt-in persistent cache: answers kept on disk across processes, in SQLite.

Turned on by the setting ``cache_dir`` (``AIND_SESSION_CACHE_DIR``). Kept there,
each with the cache's time-to-live: data asset searches and fetches, S3
folder listings, small S3 files (JSON metadata) and computation listings.
Values are stored as JSON (never pickle), so a cache file cannot run code; the
codecs that write and read them are in :mod:`aind_session.disk_codecs`.

Several processes may share one folder: SQLite serialises writers, readers use
its write-ahead log, and a busy database is waited on for up to 30 s. The
folder is created readable by its owner only (``0700``) and the database file
``0600``; the token is never stored (keys hold the domain, not credentials).

With ``offline`` (``AIND_SESSION_OFFLINE=1``) nothing is asked of the network:
an answer that is not cached raises
:class:`~aind_session.errors.OfflineCacheMissError`, never a silent fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aind_session import forks
from aind_session.disk_codecs import (  # noqa: F401  (re-exported: `persistent.TEXT`, ...)
    FLAG,
    PLAIN,
    RECORDS,
    SKIP,
    SMALL_BYTES,
    SMALL_FILE_BYTES,
    STRINGS,
    TEXT,
    Codec,
    disk_key,
)
from aind_session.sqlite_cache import FILE_NAME, MISSING, DiskCache

if TYPE_CHECKING:  # imported where used: the disk cache is opt-in, `import aind_session` cheap
    from pathlib import Path

logger = logging.getLogger(__name__)


_disk: DiskCache | None = None
_disk_lock = forks.free_after_fork(threading.Lock())
_broken: Path | None = None  # a cache folder found unusable: not tried again until a clear
forks.forget_after_fork(globals(), "_disk")  # SQLite: a connection is not for two processes


def get_disk_cache() -> DiskCache | None:
    """The disk cache of the current settings, built on first use.

    Returns
    -------
    DiskCache or None
        None when ``cache_dir`` is unset, or when its folder cannot be used (a
        warning says why, once; calls go on without it, and the folder is not
        tried again until :func:`forget_disk_cache`).

    Examples
    --------
    With ``AIND_SESSION_CACHE_DIR`` unset (as in the sandbox), there is none:

    >>> get_disk_cache() is None
    True
    """
    global _disk
    from aind_session.config import get_settings

    folder = get_settings().cache_dir
    if folder is None:
        return None
    from pathlib import Path

    folder = Path(folder).expanduser()
    with _disk_lock:
        if folder == _broken:
            return None
        if _disk is None or _disk.folder != folder:
            try:
                _disk = DiskCache(folder)
            except Exception as exc:
                _give_up(folder, exc)
                return None
            logger.debug("persistent cache at %s", _disk.path)
        return _disk


def _give_up(folder: Path, exc: BaseException) -> None:
    """Stop using the disk cache at ``folder`` until the next clear, saying so once."""
    global _broken, _disk
    if _broken != folder:
        logger.warning(
            "The persistent cache in %s cannot be used (%s: %s); going on without it. "
            "Remove or repair %s, or unset AIND_SESSION_CACHE_DIR.",
            folder,
            type(exc).__name__,
            exc,
            folder / FILE_NAME,
        )
    _broken = folder
    _disk = None


def _use_disk(action: Callable[[DiskCache], Any], default: Any = None) -> Any:
    """Run ``action`` on the disk cache; a broken disk gives ``default``, never an error."""
    disk = get_disk_cache()
    if disk is None:
        return default
    import sqlite3

    try:
        return action(disk)
    except (sqlite3.Error, OSError) as exc:
        with _disk_lock:
            _give_up(disk.folder, exc)
        return default


def forget_disk_cache() -> None:
    """Drop the handle (the next use re-reads the settings, and tries a broken
    folder again); the file is kept.

    >>> forget_disk_cache()
    >>> get_disk_cache() is None  # cache_dir is unset here
    True
    """
    global _disk, _broken
    with _disk_lock:
        _disk = None
        _broken = None


def clear_disk() -> None:
    """Empty the disk cache of the current settings (nothing when off or broken).

    >>> clear_disk()  # cache_dir is unset here: nothing to empty, no error
    """
    _use_disk(lambda disk: disk.clear())


def refuse_if_offline(what: str) -> None:
    """Raise :class:`~aind_session.errors.OfflineCacheMissError` in offline mode.

    Called by the CodeOcean and S3 layers just before a request, so offline
    mode blocks the network and nothing else: answers built from cached ones
    still work.

    Parameters
    ----------
    what
        The question that would be asked, for the message
        (``"the listing of s3://bucket/folder"``).

    Raises
    ------
    aind_session.errors.OfflineCacheMissError
        When the setting ``offline`` is on; otherwise nothing happens.

    Examples
    --------
    >>> refuse_if_offline('the listing of s3://aind-ephys-data/')  # online: nothing happens
    """
    from aind_session.config import get_settings

    if get_settings().offline:
        from aind_session.errors import OfflineCacheMissError

        raise OfflineCacheMissError(
            f"Offline mode is on (AIND_SESSION_OFFLINE), so nothing is asked of the network, "
            f"and {what} is not in the persistent cache. Run the same call once online with "
            "AIND_SESSION_CACHE_DIR set, or turn offline mode off."
        )


def lookup(key: Any, codec: Codec) -> Any:
    """The answer kept on disk for ``key``, decoded by ``codec``.

    Returns
    -------
    Any
        :data:`MISSING` when the disk cache is off, when nothing (or nothing
        unexpired) is kept, and when the entry cannot be read or has the wrong
        shape (it is then dropped and asked again, never raised).

    Examples
    --------
    >>> lookup(['get_data_asset', '16d46411-540a-4122-b47f-8cb2a15d593a'], RECORDS) is MISSING
    True
    """
    disk = get_disk_cache()
    if disk is None:
        return MISSING
    from aind_session.config import get_settings

    if get_settings().cache_refresh:  # asked again, and kept anew by store()
        return MISSING
    text_key = disk_key(key)
    stored = _use_disk(lambda d: d.get(text_key), MISSING)
    if stored is MISSING:
        return MISSING
    import json

    try:
        return codec.decode(json.loads(stored))
    except Exception as exc:
        logger.warning(
            "dropping an unreadable entry of the persistent cache (%s: %s); asking again",
            type(exc).__name__,
            exc,
        )
        _use_disk(lambda d: d.delete(text_key))
        return MISSING


def delete(key: Any) -> None:
    """Forget the answer kept on disk for ``key`` (nothing when the disk cache is off).

    >>> delete(['get_data_asset', '16d46411-540a-4122-b47f-8cb2a15d593a'])  # off here: nothing
    """
    if get_disk_cache() is not None:
        text_key = disk_key(key)
        _use_disk(lambda d: d.delete(text_key))


def store(key: Any, value: Any, codec: Codec, ttl: float) -> None:
    """Keep ``value`` on disk for ``ttl`` seconds, encoded by ``codec``.

    Nothing is kept when the disk cache is off, or when ``codec.encode`` gives
    :data:`SKIP` (a file too big) or fails (logged as a warning); a broken or
    full disk is warned about, never raised.

    >>> store(['note'], 'kept in memory only', TEXT, ttl=60)  # off here: nothing kept
    >>> lookup(['note'], TEXT) is MISSING
    True
    """
    if get_disk_cache() is None:
        return
    try:
        encoded = codec.encode(value)
    except Exception as exc:  # a value that cannot be encoded is kept in memory only
        logger.warning("not keeping an answer on disk (%s: %s)", type(exc).__name__, exc)
        return
    if encoded is not SKIP:
        text_key = disk_key(key)
        _use_disk(lambda d: d.set(text_key, encoded, ttl))


def is_missing(value: Any) -> bool:
    """True when ``value`` is :data:`MISSING` (what :func:`lookup` gives for no answer).

    >>> is_missing(MISSING), is_missing(None), is_missing('')
    (True, False, False)
    """
    return value is MISSING
