"""The S3 client: one ``s3fs`` filesystem per settings, built once, ahead of its first
use where a question will need it (:func:`warm_up`), forgotten at a clear and in a
forked child. :mod:`aind_session.s3` asks it; with it and
:mod:`aind_session.s3_requests`, the only importers of ``s3fs`` and ``upath``
(:mod:`aind_session.s3_loader`: botocore's loader, set up faster).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from aind_session import cache, forks

if TYPE_CHECKING:
    from upath import UPath

logger = logging.getLogger(__name__)


@cache.on_clear
def _forget_filesystem() -> None:
    global _fs
    _plain_http.cache_clear()  # the environment's proxies and fsspec's config read again
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
_fs_lock = forks.free_after_fork(threading.Lock())  # threads starting at once build one fs
forks.forget_after_fork(globals(), "_fs")  # its event loop runs in a thread of the parent's


def storage_options() -> dict[str, Any]:
    """Keyword arguments for ``s3fs.S3FileSystem`` (and ``UPath``) from the settings.

    >>> options = storage_options()
    >>> options['listings_expiry_time'], options['config_kwargs']['retries']
    (600.0, {'total_max_attempts': 1, 'mode': 'standard'})
    """
    from aind_session.config import get_settings

    settings = get_settings()
    options: dict[str, Any] = {
        "config_kwargs": {
            "connect_timeout": settings.connect_timeout,
            "read_timeout": settings.read_timeout,
            # one try each: our own loop (see `request_all`) retries, so that a cut
            # mid-body is retried too, deadlines hold and try counts are honest
            "retries": {"total_max_attempts": 1, "mode": "standard"},
            "max_pool_connections": settings.s3_max_concurrency,
        },
        "listings_expiry_time": settings.cache_ttl,
    }
    if settings.s3_endpoint_url:
        options["endpoint_url"] = settings.s3_endpoint_url
        if _plain_http(settings.s3_endpoint_url):
            # no TLS to verify: without this aiobotocore still reads the CA bundle
            # (25 ms of CPU) for the first request; an https endpoint is verified
            options["client_kwargs"] = {"verify": False}
    return options


@functools.lru_cache(maxsize=8)
def _plain_http(endpoint: str) -> bool:
    """Whether every S3 request goes over plain HTTP, with no TLS anywhere: an ``http://``
    endpoint, no proxy for it (a proxy over https would be verified by the same
    setting), and no ``client_kwargs`` of the user's fsspec config (which ours would
    replace: fsspec merges its config one level deep). Worked out once per endpoint
    until a clear (every ``UPath`` asks it), so the filesystem and the paths made
    after it agree."""
    import urllib.request

    from fsspec.config import conf

    if not endpoint.lower().startswith("http://"):
        return False
    proxies = urllib.request.getproxies()  # the environment's, as botocore reads them
    if proxies.get("http") or proxies.get("all"):
        return False
    return "client_kwargs" not in conf.get("s3", {})


def get_filesystem() -> Any:
    """The ``s3fs.S3FileSystem`` used for everything, built once per settings.

    >>> fs = get_filesystem()
    >>> type(fs).__name__, fs is get_filesystem()
    ('S3FileSystem', True)
    """
    global _fs
    _after_warm_up()
    if _fs is not None:
        return _fs
    with _fs_lock:
        if _fs is None:
            import fsspec

            from aind_session import exits

            exits.quick_exit_if_asked()
            # fsspec's shared instance, the one UPath gets for the same options
            fs = fsspec.filesystem("s3", **storage_options())
            fs.retries = 1  # for UPath's own calls: ours are retried by `request_all`
            if getattr(fs, "session", None) is None:  # not set up yet (by a UPath of the user's)
                from aind_session import s3_loader

                # the session s3fs would make (its session arguments: a profile from the
                # fsspec config, say), loading models faster; a refresh by s3fs makes
                # its own plain one, as it owns this one
                try:
                    fs.session = s3_loader.quick_session(**fs.kwargs)
                except Exception as exc:  # a profile not found, say: s3fs's own session
                    # raises it where it always did, when it is set up
                    logger.debug("S3 session with the quick loader not made: %r", exc)
            _fs = fs
        return _fs


def connect() -> None:
    """Set up the S3 client now (imports, credentials, service model), before it is needed."""
    # requests silences urllib3's DependencyWarning by a filter set at its import, and
    # botocore's import saves and restores the filters (warnings.catch_warnings, not
    # thread-safe): requests first (the CodeOcean side imports it anyway), or that
    # filter may be undone by a set-up in another thread and the warning printed
    import requests  # noqa: F401
    from fsspec.asyn import sync

    fs = get_filesystem()
    sync(fs.loop, fs.set_session)


_warming: Any = None  # the thread setting up the S3 client ahead of its first use


@cache.on_clear  # (a clear during a set-up waits for its filesystem, then forgets it: _fs_lock)
@forks.after_fork
def _forget_warm_up() -> None:
    global _warming
    _warming = None  # a clear forgets the client it set up; a child has not its thread


def warm_up() -> None:
    """Start setting up the S3 client (:func:`connect`: s3fs imported, credentials read,
    the service model loaded) in a daemon thread, and return at once.

    For a question that will need S3 after asking CodeOcean: the set-up, a
    third of a second, runs while that request waits on the network (a request
    waiting releases the interpreter) instead of after its answer. Once per
    process (and after each clear); nothing when the client is there already.
    A failure is only logged (debug): the same set-up runs again where S3 is
    first used, and its error is raised there. Whoever needs the client
    meanwhile waits for this one (:func:`get_filesystem`), never builds a second.

    >>> warm_up()  # returns at once
    >>> get_filesystem() is get_filesystem()  # waits for it: one filesystem, never two
    True
    """
    global _warming
    if _warming is not None or _fs is not None:
        return
    thread = threading.Thread(target=_warm_up, name="aind-session-s3-warm-up", daemon=True)
    _warming = thread
    thread.start()


def _warm_up() -> None:
    try:
        connect()
    except Exception as exc:  # said where S3 is first used, by the same set-up
        logger.debug("setting up the S3 client ahead of use failed: %r", exc)


def _after_warm_up() -> None:
    """Wait for a set-up in flight (it does what the caller would do next, on the
    same event loop), within the deadline of the request it serves."""
    thread = _warming
    if thread is None or thread is threading.current_thread() or not thread.is_alive():
        return
    import time

    from aind_session import transport

    thread.join(max(0.0, transport.deadline() - time.monotonic()))


def upath(path: str) -> UPath:
    """A ``UPath`` for ``s3://bucket/prefix`` (or another protocol) sharing our filesystem.

    >>> path = upath('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/subject.json')
    >>> path.name, path.exists(), path.fs is get_filesystem()
    ('subject.json', True, True)
    """
    from upath import UPath

    if path.startswith("s3://"):
        return UPath(path, **storage_options())
    return UPath(path)
