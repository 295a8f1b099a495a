"""The file of the persistent cache: a key -> JSON text store with expiry times, in
SQLite, safe across threads and processes (:class:`DiskCache`). What is kept, and
when it is asked, is decided by :mod:`aind_session.persistent`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: the disk cache is opt-in, `import aind_session` cheap
    import sqlite3
    from pathlib import Path

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
