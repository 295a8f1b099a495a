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
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # imported where used: the disk cache is opt-in, `import aind_session` cheap
    import sqlite3
    from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "aind-session-cache.sqlite3"
MISSING: Any = object()


class _WrongSchema(Exception):
    """A cache file whose table is not this version's."""


class DiskCache:
    """A key -> JSON value store with expiry times, safe across threads and processes.

    Parameters
    ----------
    folder
        Where the database file (:data:`FILE_NAME`) is kept; created
        (``0700``) when missing.

    Raises
    ------
    sqlite3.DatabaseError, _WrongSchema
        When the file there is not SQLite, or not a cache of this version.
    OSError
        When the folder cannot be created or the file not opened.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     disk = DiskCache(Path(folder))
    ...     disk.set('answer', {'id': 'x'}, ttl=60)
    ...     print(len(disk), disk.get('answer'))
    1 {"id":"x"}
    """

    COLUMNS = ("key", "expires", "value")

    def __init__(self, folder: Path) -> None:
        from pathlib import Path

        self.folder = Path(folder).expanduser()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.folder / FILE_NAME
        self._local = threading.local()
        connection = self._connect()
        connection.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, expires REAL, value TEXT)"
        )
        columns = tuple(row[1] for row in connection.execute("PRAGMA table_info(answers)"))
        if columns != self.COLUMNS:
            # a database file of another program, or of another version of this one
            raise _WrongSchema(f"its table 'answers' has the columns {columns}, not {self.COLUMNS}")
        os.chmod(self.path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            import sqlite3

            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            self._local.connection = connection
        return connection

    def get(self, key: str) -> Any:
        """The JSON text stored under ``key``, or :data:`MISSING` when absent or expired.

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     disk = DiskCache(Path(folder))
        ...     disk.set('kept', [1, 2], ttl=60)
        ...     disk.set('stale', [3], ttl=-1)
        ...     print(disk.get('kept'), disk.get('stale') is MISSING, disk.get('never') is MISSING)
        [1,2] True True
        """
        row = (
            self._connect()
            .execute("SELECT value FROM answers WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return MISSING if row is None else row[0]  # JSON text, decoded by `lookup`

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` as JSON under ``key`` for ``ttl`` seconds, replacing any entry.

        A value JSON cannot encode is stored as its ``str``.

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     disk = DiskCache(Path(folder))
        ...     disk.set('when', {'at': Path('/data')}, ttl=60)
        ...     print(disk.get('when'))
        {"at":"/data"}
        """
        import json

        text = json.dumps(value, separators=(",", ":"), default=str)
        self._connect().execute(
            "INSERT OR REPLACE INTO answers (key, expires, value) VALUES (?, ?, ?)",
            (key, time.time() + ttl, text),
        )

    def delete(self, key: str) -> None:
        """Remove the entry under ``key`` (nothing when there is none).

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     disk = DiskCache(Path(folder))
        ...     disk.set('a', 1, ttl=60)
        ...     disk.delete('a')
        ...     disk.delete('never stored')
        ...     print(disk.get('a') is MISSING)
        True
        """
        self._connect().execute("DELETE FROM answers WHERE key = ?", (key,))

    def clear(self) -> None:
        """Remove every entry; the database file is kept.

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     disk = DiskCache(Path(folder))
        ...     disk.set('a', 1, ttl=60)
        ...     disk.set('b', 2, ttl=60)
        ...     disk.clear()
        ...     print(len(disk), disk.path.exists())
        0 True
        """
        self._connect().execute("DELETE FROM answers")

    def __len__(self) -> int:
        row = (
            self._connect()
            .execute("SELECT COUNT(*) FROM answers WHERE expires > ?", (time.time(),))
            .fetchone()
        )
        return int(row[0])


_disk: DiskCache | None = None
_disk_lock = threading.Lock()
_broken: Path | None = None  # a cache folder found unusable: not tried again until a clear


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
