"""The disk cache of the command line: on by default, unlike the library's.

Answers are kept in the user's cache folder (:func:`user_cache_dir`) for the
cache's time-to-live (``AIND_SESSION_CACHE_TTL``), like a browser's or IBL ONE's
REST cache, so that asking again within minutes costs no request; ``--no-cache``
keeps nothing, ``--refresh`` asks again and keeps the new answers. The library's
own setting ``AIND_SESSION_CACHE_DIR`` wins where it is set. A CodeOcean on this
machine (a sandbox, whose world may change from one run to the next) gets none.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def user_cache_dir() -> str:
    """The folder the command line keeps answers in: the user's cache folder
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows), then ``aind-session``.

    >>> import os
    >>> os.path.basename(user_cache_dir()) in ('aind-session', 'Cache')
    True
    """
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "aind-session", "Cache")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "aind-session")
    return os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"), "aind-session"
    )


def is_local(domain: str) -> bool:
    """A CodeOcean on this machine: a sandbox, whose world may change from one run to the
    next, so its answers are not kept on disk by default.

    >>> is_local('http://127.0.0.1:51234'), is_local('https://codeocean.allenneuraldynamics.org')
    (True, False)
    """
    from urllib.parse import urlparse

    return urlparse(domain).hostname in ("127.0.0.1", "localhost", "::1")


@contextmanager
def disk_cache(args: argparse.Namespace) -> Iterator[None]:
    """The command line keeps answers on disk for the cache's time-to-live, like a
    browser, unless ``--no-cache``; the library's own setting ``AIND_SESSION_CACHE_DIR``
    wins where it is set. ``--refresh`` asks again (what the memory holds is dropped
    first) and keeps the new answers. Not for a CodeOcean on this machine (a sandbox).

    The settings are changed for the run only (:func:`aind_session.config.overridden`),
    the environment not at all.
    """
    from pathlib import Path

    from aind_session.config import get_settings, overridden

    changes: dict[str, object] = {}
    if getattr(args, "refresh", False):
        from aind_session import cache

        cache.clear_cache()  # answers in memory would be given again without asking
        changes["cache_refresh"] = True
    settings = get_settings()
    if getattr(args, "no_cache", False):
        changes["cache_dir"] = None
    elif settings.cache_dir is None and not is_local(settings.codeocean_domain):
        changes["cache_dir"] = Path(user_cache_dir())
    with overridden(**changes):  # nothing changed: the settings as they are
        yield
