"""`Sandbox`: a local CodeOcean API, S3 (moto) and DocDB API on 127.0.0.1, from one world.

Use it as a context manager::

    from aind_session.testing import Sandbox

    with Sandbox(latency=0.02) as sb:   # the bundled sample world
        ...                             # os.environ now points clients at it
        print(len(sb.requests()), "requests served")

The three servers run in threads of this process, on ports the OS picks. Every
response of each passes one middleware that adds ``latency``, injects
``faults`` and records the request (service, method, path, status, fault) for
:meth:`Sandbox.requests`. The token and the AWS keys are never logged.

moto keeps its state per process, so one sandbox runs in a process at a time;
starting a second raises :class:`RuntimeError`.

The faults the sandbox can make, and what each stands for, are listed in
:mod:`aind_session.testing.faults`; :class:`Faults` and the fault kinds are
importable from here too.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aind_session.testing import http_server
from aind_session.testing.codeocean_server import CodeOceanApp
from aind_session.testing.docdb_server import DocDBApp
from aind_session.testing.faults import (
    BODY_KINDS,
    DEFAULT_KINDS,
    FAULT_KINDS,
    PAGED_KINDS,
    S3_FIRST_PAGE_TOKEN,
    Faults,
    Middleware,
    Service,
)
from aind_session.testing.world import World, load_world

__all__ = [
    "BODY_KINDS",
    "DEFAULT_KINDS",
    "FAULT_KINDS",
    "PAGED_KINDS",
    "REGION",
    "S3_FIRST_PAGE_TOKEN",
    "Faults",
    "Request",
    "Sandbox",
    "Service",
]

logger = logging.getLogger(__name__)

REGION = "us-west-2"
_running: list[Sandbox] = []


@dataclasses.dataclass(frozen=True)
class Request:
    """One request served by the sandbox."""

    service: Service
    method: str
    path: str
    status: int  # 0 when no complete answer was sent (drop, stall, cut)
    query: str = ""
    # when it arrived and when its answer was ready (time.monotonic()); see round_trips
    started: float = dataclasses.field(default=0.0, compare=False, repr=False)
    ended: float = dataclasses.field(default=0.0, compare=False, repr=False)
    fault: str | None = None  # the kind of fault injected into this answer


class Sandbox:
    """A local CodeOcean API server, S3 server and DocDB API server holding one world.

    Parameters
    ----------
    world
        ``None`` for the bundled sample world, a path to a world JSON file, or
        a dict in the same format (see :mod:`aind_session.testing.world`).
    latency
        Seconds added to every response of every service.
    faults
        A :class:`Faults`, a failure rate, or a dict of :class:`Faults` fields.
    name_quirk
        Reproduce the real service's quirk that a ``name:`` search term longer
        than 20 characters matches nothing.
    search
        ``"loose"`` (the default, unless the environment variable
        ``AIND_SANDBOX_SEARCH`` says ``strict``): CodeOcean searches also return
        the near misses a real search index returns, so code that trusts a
        search too much fails here as it would in production. ``"strict"``:
        only what the documented rules match.
    server_version
        The CodeOcean version the sandbox says it is (default: the one the
        installed SDK needs). An SDK that needs a newer server gets 400, as
        from a real server.
    run_seconds
        How long a run takes, from ``initializing`` to ``completed`` (a
        capsule's ``run_seconds`` in the world overrides it).
    codeocean_port, s3_port, docdb_port
        Ports to bind; 0 lets the OS choose a free one.

    Attributes
    ----------
    denied_buckets
        Buckets whose every S3 request is answered 403 AccessDenied (a set you
        may change while it runs; :meth:`reset` empties it).
    tokens
        The world's named tokens: name -> secret value. Each has only the
        scopes the world gives it (``sb.token`` has every scope).
    codeocean
        The CodeOcean API (:class:`~aind_session.testing.codeocean_server.CodeOceanApp`);
        its ``server_version``, ``search_mode``, ``run_seconds``, ``name_quirk``,
        clocks (``clock``, ``wall_clock``) and delays may be changed while it runs
        (:meth:`reset` restores them).
    docdb
        The DocDB API (:class:`~aind_session.testing.docdb_server.DocDBApp`);
        its ``max_page_bytes`` may be lowered to make clients page
        (:meth:`reset` restores it). ``docdb_url`` is its address once started.
    """

    def __init__(
        self,
        world: str | Path | Mapping[str, Any] | World | None = None,
        latency: float = 0.0,
        faults: Faults | float | Mapping[str, Any] | None = None,
        *,
        name_quirk: bool = True,
        search: str | None = None,
        server_version: str | None = None,
        run_seconds: float = 3.0,
        codeocean_port: int = 0,
        s3_port: int = 0,
        docdb_port: int = 0,
    ) -> None:
        self.world = world if isinstance(world, World) else load_world(world)
        self.token = "COP_sandbox_" + secrets.token_hex(16)
        self.latency = float(latency)
        self.faults = Faults.coerce(faults)
        self._initial = (self.world, self.latency, self.faults)
        self.denied_buckets: set[str] = set()
        self._ports = (codeocean_port, s3_port, docdb_port)
        self._log: list[Request] = []
        self._in_flight = self._peak = 0
        self._log_lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        # handed out by bogus_token faults: refused for ever, as a server refuses what it never issued
        self._bogus_tokens: set[str] = set()
        self._s3_dirty = False
        self._servers: list[tuple[Any, threading.Thread]] = []
        self._saved_env: dict[str, str | None] = {}
        self.codeocean = CodeOceanApp(
            self.world,
            self.token,
            name_quirk=name_quirk,
            search=search or os.environ.get("AIND_SANDBOX_SEARCH") or "loose",
            server_version=server_version,
            run_seconds=run_seconds,
        )
        self.docdb = DocDBApp(self.world)
        self._docdb_page_bytes = self.docdb.max_page_bytes
        # what a test may change on the app, restored by reset()
        self._codeocean_initial = {
            name: getattr(self.codeocean, name)
            for name in (
                "server_version",
                "search_mode",
                "run_seconds",
                "name_quirk",
                "clock",
                "wall_clock",
                "asset_ready_seconds",
                "url_seconds",
            )
        }
        self.env: dict[str, str] = {}

    @property
    def tokens(self) -> dict[str, str]:
        return dict(self.codeocean.named_tokens)

    def __repr__(self) -> str:
        state = "running" if self._servers else "stopped"
        return f"<Sandbox {state} world={self.world.source!r} latency={self.latency}>"

    # -- settings that may change while running --------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults | float | Mapping[str, Any] | None) -> None:
        self._faults = Faults.coerce(value)
        self._rng = random.Random(self._faults.seed)
        self._faults_made = 0

    # -- life cycle --------------------------------------------------------------
    def start(self) -> Sandbox:
        """Start the servers, load the world and set ``os.environ``; returns self."""
        if _running:
            raise RuntimeError(
                "A Sandbox is already running in this process (moto keeps one S3 state per "
                "process); stop it first or use it."
            )
        _running.append(self)
        try:
            from moto.server import create_backend_app

            # the S3 app itself: moto's dispatcher would work out the service of
            # every request again (a third of the time an S3 request takes)
            s3_app = create_backend_app("s3")
            co_url = self._serve(self.codeocean, "codeocean", self._ports[0])
            self.codeocean.base_url = co_url
            s3_url = self._serve(s3_app, "s3", self._ports[1])
            self.s3_url = s3_url
            self.codeocean_url = co_url
            self.docdb_url = self._serve(self.docdb, "docdb", self._ports[2])
            self._load_s3()
            _warm_up(s3_app)
        except BaseException:
            self.stop()
            raise
        self.env = {
            "CODE_OCEAN_DOMAIN": co_url,
            "CODE_OCEAN_API_TOKEN": self.token,
            "AWS_ENDPOINT_URL": s3_url,
            "AWS_ENDPOINT_URL_S3": s3_url,
            "AWS_ACCESS_KEY_ID": "sandbox-access-key",
            "AWS_SECRET_ACCESS_KEY": "sandbox-secret-key",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AIND_SESSION_DOCDB_URL": self.docdb_url,
        }
        from aind_session.testing.codeocean_assets import S3Link

        # file URLs are pre-signed for this S3; objects put for them make a reset reload S3
        self.codeocean.s3 = S3Link(
            s3_url,
            self.env["AWS_ACCESS_KEY_ID"],
            self.env["AWS_SECRET_ACCESS_KEY"],
            REGION,
            on_put=lambda: setattr(self, "_s3_dirty", True),
        )
        unset = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
        for key in (*self.env, *unset):
            self._saved_env[key] = os.environ.get(key)
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(self.env)
        _clear_library_cache()
        logger.info(
            "sandbox running: CodeOcean at %s, S3 at %s, DocDB at %s",
            co_url,
            s3_url,
            self.docdb_url,
        )
        return self

    def stop(self) -> None:
        """Stop the servers, free their ports and restore the environment."""
        for server, thread in self._servers:
            server.stop()
            thread.join(timeout=5)
        self._servers.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self in _running:
            _running.remove(self)
            _clear_library_cache()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the state just after start: world, latency, faults, empty request log."""
        world, self.latency, self.faults = self._initial
        for name, value in self._codeocean_initial.items():
            setattr(self.codeocean, name, value)
        self.denied_buckets.clear()
        self.docdb.max_page_bytes = self._docdb_page_bytes
        if self.world is not world:
            self.load(world)
        else:
            self.codeocean.load(world)
            self.docdb.load(world)
            if self._s3_dirty:
                self._load_s3()
        self.clear_requests()
        _clear_library_cache()

    def load(self, world: str | Path | Mapping[str, Any] | World | None) -> None:
        """Serve another world from now on (every service); :meth:`reset` restores the first."""
        self.world = world if isinstance(world, World) else load_world(world)
        self.codeocean.load(self.world)
        self.docdb.load(self.world)
        if self._servers:
            self._load_s3()
        _clear_library_cache()

    # -- request log -------------------------------------------------------------
    def requests(self, service: Service | None = None) -> list[Request]:
        """Requests served since start or the last :meth:`clear_requests`, oldest first."""
        with self._log_lock:
            return [r for r in self._log if service is None or r.service == service]

    def clear_requests(self) -> None:
        """Empty the request log (and the peak of :meth:`max_in_flight`)."""
        with self._log_lock:
            self._log.clear()
            self._peak = self._in_flight

    def round_trips(self, service: Service | None = None) -> int:
        """Sequential round trips among the requests logged: the longest chain of
        requests each of which arrived after the one before it was answered.

        Requests a client sends together count once; a client that waits for
        each answer before asking again counts each. Answers that come back
        faster than ``latency`` blur this, so set a latency when you measure.
        """
        import heapq

        answered: list[tuple[float, int]] = []  # (ended, chain length ending there)
        best = 0  # the longest chain answered before the current request arrived
        longest = 0
        for request in sorted(self.requests(service), key=lambda r: r.started):
            while answered and answered[0][0] <= request.started:
                best = max(best, heapq.heappop(answered)[1])
            heapq.heappush(answered, (request.ended, best + 1))
            longest = max(longest, best + 1)
        return longest

    def max_in_flight(self) -> int:
        """The most requests (all services) being served at once since the log was cleared:
        above 1 shows that a client asked things concurrently."""
        with self._log_lock:
            return self._peak

    def _enter(self) -> None:
        with self._log_lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def _leave(self) -> None:
        with self._log_lock:
            self._in_flight -= 1

    # -- internals -----------------------------------------------------------------
    def _serve(self, app: Any, service: Service, port: int) -> str:
        try:
            server, thread = http_server.serve(
                Middleware(app, service, self), "127.0.0.1", port, f"sandbox-{service}"
            )
        except OSError as exc:
            raise OSError(
                f"The sandbox cannot listen on 127.0.0.1:{port} for {service} ({exc.strerror}): "
                "pick another port, or 0 to let the system choose."
            ) from None
        self._servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    def _load_s3(self) -> None:
        """Empty moto's S3 and write the world's buckets and objects into it.

        moto serves from this process, so the objects go straight into its
        backend (milliseconds for hundreds of objects) rather than one HTTP
        PUT each.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        s3_backends.reset()
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        for bucket in sorted({key.partition("/")[0] for key in self.world.s3}):
            backend.create_bucket(bucket, REGION)
        for key, data in self.world.s3.items():
            bucket, _, name = key.partition("/")
            backend.put_object(bucket, name, data)
        self._s3_dirty = False

    def _record(
        self,
        service: Service,
        method: str,
        path: str,
        status: int,
        query: str,
        started: float,
        ended: float,
        fault: str | None,
    ) -> None:
        """Log one request served by :class:`~aind_session.testing.faults.Middleware`."""
        request = Request(service, method, path, status, query, started, ended, fault)
        with self._log_lock:
            self._log.append(request)
        if request.service == "s3" and request.method not in ("GET", "HEAD"):
            self._s3_dirty = True

    def _draw_fault(self, service: Service) -> str | None:
        """A kind of ``faults.kinds`` for a request that may fail, or None (no fault)."""
        faults = self._faults
        if faults.rate <= 0 or service not in faults.services:
            return None
        with self._log_lock:
            if faults.limit is not None and self._faults_made >= faults.limit:
                return None
            if self._rng.random() >= faults.rate:
                return None
            self._faults_made += 1
            return self._rng.choice(faults.kinds)

    def _draw_again(self, kinds: list[str]) -> str:
        with self._log_lock:
            return self._rng.choice(kinds)

    def _fault_not_made(self) -> None:
        with self._log_lock:
            self._faults_made = max(0, self._faults_made - 1)

    def _bogus_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._log_lock:
            self._bogus_tokens.add(token)
        return token


def _warm_up(s3_app: Any) -> None:
    """Serve one S3 request straight to moto's app (not logged), before clients come:
    moto sets itself up on its first request (~0.1 s), and clients that open many
    connections to a new sandbox would otherwise each pay for it, one after another."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/", method="GET").get_environ()  # ListBuckets
    for _ in s3_app(environ, lambda status, headers, exc_info=None: None):
        pass


def _clear_library_cache() -> None:
    """The library's settings and clients depend on the environment just changed."""
    import sys

    cache = sys.modules.get("aind_session.cache")
    if cache is not None:
        cache.clear_cache()
