"""`Sandbox`: a local CodeOcean API and a local S3 (moto) on 127.0.0.1, from one world.

Use it as a context manager::

    from aind_session.testing import Sandbox

    with Sandbox(latency=0.02) as sb:   # the bundled sample world
        ...                             # os.environ now points clients at it
        print(len(sb.requests()), "requests served")

Both servers run in threads of this process, on ports the OS picks. Every
response of either passes one middleware that adds ``latency``, injects
``faults`` and records the request (service, method, path, status, fault) for
:meth:`Sandbox.requests`. The token and the AWS keys are never logged.

moto keeps its state per process, so one sandbox runs in a process at a time;
starting a second raises :class:`RuntimeError`.

The faults (:class:`Faults` ``kinds``), each for both services, and what each
stands for:

- ``429``: rate limiting (S3: ``SlowDown``); ``Retry-After`` may be long.
- ``500``: a server error (S3: ``InternalError``, "please try again").
- ``503``: an overloaded service or one being deployed (S3: ``SlowDown``).
- ``drop``: the connection closed before any answer (a kept-alive connection
  recycled by a load balancer, a server restarting).
- ``stall``: nothing comes back (a hung upstream, a network path that swallows
  packets); only the client's read timeout ends it.
- ``trickle``: the answer comes, a byte at a time (a congested or throttled
  link); a per-read timeout never fires, only an overall deadline does.
- ``truncated``: a 200 whose body is the first half of the answer, with a
  matching length (a proxy or cache that kept a partial answer).
- ``cut``: the connection dies half way through the body (a reset mid-download).
- ``badjson``: a 200 whose JSON or XML is broken off (a server's serialisation
  failing part way).
- ``html``: an HTML page instead of the API (a captive portal, an SSO login
  page, a proxy's or load balancer's error page, often with status 502).
- ``shape``: a 200 with valid JSON of the wrong shape (a gateway's
  ``{"message": "upstream request timeout"}``, an API that changed); S3: a 200
  whose XML is an ``<Error>`` (as S3 sends for some operations).
- ``repeat_token``: a page that hands back the cursor it was asked with (a
  paging bug: a client trusting ``has_more`` loops for ever).
- ``missing_token``: "more pages" without a cursor to ask for them.
- ``bogus_token``: a cursor that the next request is refused for with a 400
  (a cursor expired, or invalidated by changes between pages).
"""

from __future__ import annotations

import dataclasses
import functools
import http
import io
import json
import logging
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlencode
from xml.sax.saxutils import escape

from aind_session.testing import http_server
from aind_session.testing.codeocean_server import CodeOceanApp, page_token
from aind_session.testing.world import World, load_world

logger = logging.getLogger(__name__)

Service = Literal["codeocean", "s3"]
DEFAULT_KINDS = ("429", "500", "503", "drop")
PAGED_KINDS = ("repeat_token", "missing_token", "bogus_token")
FAULT_KINDS = (
    *DEFAULT_KINDS,
    *("stall", "trickle", "truncated", "cut", "badjson", "html", "shape"),
    *PAGED_KINDS,
)
BODY_KINDS = ("trickle", "truncated", "cut", "badjson", "shape")
# handed out by a repeat_token fault on the first page of an S3 listing; asks for that page again
S3_FIRST_PAGE_TOKEN = "sandbox-first-page"
REGION = "us-west-2"
_running: list[Sandbox] = []


@dataclasses.dataclass(frozen=True)
class Faults:
    """Make a fraction of responses fail, repeatably.

    Parameters
    ----------
    rate
        Chance (0 to 1) that a request which may fail (see Notes) does.
    kinds
        Failures drawn from (see the module's docstring for what each stands
        for; default: the first four):

        - ``"429"`` (with ``Retry-After``), ``"500"``, ``"503"``: that status,
          with a JSON message (CodeOcean) or an S3 XML error.
        - ``"drop"``: the connection is closed with no answer.
        - ``"stall"``: nothing is sent for ``stall_seconds``, then the
          connection is closed.
        - ``"trickle"``: the true answer, its body one byte every
          ``trickle_interval`` seconds.
        - ``"truncated"``: status 200, the first half of the true body, and a
          ``Content-Length`` saying that half.
        - ``"cut"``: the true status and headers, the full ``Content-Length``,
          half of the body, then the connection is closed.
        - ``"badjson"``: status 200, JSON (CodeOcean) or XML (S3) broken off.
        - ``"html"``: a 56 kB HTML page with status ``html_status``.
        - ``"shape"``: status 200 and valid JSON of the wrong shape: an object
          ``{"message": ...}`` where the answer is a list or a search page, a
          list where it is another object; S3: an ``<Error>`` document.
        - ``"repeat_token"``, ``"missing_token"``, ``"bogus_token"``, on paged
          answers only (CodeOcean ``POST /api/v1/data_assets/search``, S3
          ``ListObjectsV2``): the true page saying more pages follow, with the
          cursor the request sent (on a first page, one asking for it again),
          with no cursor, or with a cursor the next request is refused (400).
    seed
        Seed of the random draw, so a run repeats.
    retry_after
        Seconds sent in ``Retry-After`` with a 429 or 503 (any int, e.g. 86400).
    services
        Which services fail.
    limit
        At most this many faults in all (``None``: no limit).
    match
        Only requests whose path, or path ``?`` query, contains this may fail.
    stall_seconds, trickle_interval
        How long a stall lasts; seconds between the bytes of a trickle. Both
        end at once when the sandbox stops.
    html_status
        Status of the ``"html"`` page (e.g. 502 for a proxy's error page).

    Notes
    -----
    A request may fail when its service is in ``services``, ``match`` (if set)
    is in its path and ``limit`` is not reached. Kinds apply to requests as
    follows: the paged kinds to paged requests only, the body kinds
    (``trickle``, ``truncated``, ``cut``, ``badjson``, ``shape``) to all but
    ``HEAD`` requests, CodeOcean's ``shape`` to its ``/api/`` routes; the
    rest to all. A request that no kind of ``kinds`` applies to never fails
    (and draws nothing). Otherwise it draws: below ``rate`` it fails with a kind
    chosen among ``kinds``, and a kind that does not apply to it is drawn again
    among those that do. When the true answer leaves nothing to spoil (an empty
    body for ``trickle``, ``truncated``, ``cut``; an error instead of a page
    for the paged kinds), it passes unchanged, logged with ``fault`` ``None``,
    and does not count toward ``limit``. ``429``, ``500``, ``503``, ``drop``,
    ``stall``, ``badjson``, ``html`` and S3's ``shape`` never reach the
    service (nothing is written); the others spoil its true answer, so a write
    is done though its answer is lost.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_KINDS
    seed: int = 0
    retry_after: int = 1
    services: tuple[str, ...] = ("codeocean", "s3")
    limit: int | None = None
    match: str | None = None
    stall_seconds: float = 30.0
    trickle_interval: float = 1.0
    html_status: int = 200

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Faults rate must be between 0 and 1, got {self.rate!r}.")
        bad = sorted(set(self.kinds) - set(FAULT_KINDS))
        if bad or not self.kinds:
            raise ValueError(f"Fault kinds must be some of {FAULT_KINDS}, got {self.kinds!r}.")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 0):
            raise ValueError(
                f"Faults limit must be None or an int of at least 0, got {self.limit!r}."
            )
        if self.stall_seconds < 0 or self.trickle_interval < 0:
            raise ValueError(
                "Faults stall_seconds and trickle_interval must be at least 0, got "
                f"{self.stall_seconds!r} and {self.trickle_interval!r}."
            )
        if not 100 <= self.html_status <= 599:
            raise ValueError(
                f"Faults html_status must be an HTTP status, got {self.html_status!r}."
            )

    @classmethod
    def coerce(cls, value: Faults | float | Mapping[str, Any] | None) -> Faults:
        if value is None:
            return cls()
        if isinstance(value, Faults):
            return value
        if isinstance(value, (int, float)):
            return cls(rate=float(value))
        fields = dict(value)
        for key in ("kinds", "services"):
            if key in fields:
                fields[key] = tuple(fields[key])
        return cls(**fields)


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
    """A local CodeOcean API server and S3 server holding one world.

    Parameters
    ----------
    world
        ``None`` for the bundled sample world, a path to a world JSON file, or
        a dict in the same format (see :mod:`aind_session.testing.world`).
    latency
        Seconds added to every response of both services.
    faults
        A :class:`Faults`, a failure rate, or a dict of :class:`Faults` fields.
    name_quirk
        Reproduce the real service's quirk that a ``name:`` search term longer
        than 20 characters matches nothing.
    codeocean_port, s3_port
        Ports to bind; 0 lets the OS choose a free one.

    Attributes
    ----------
    denied_buckets
        Buckets whose every S3 request is answered 403 AccessDenied (a set you
        may change while it runs; :meth:`reset` empties it).
    """

    def __init__(
        self,
        world: str | Path | Mapping[str, Any] | World | None = None,
        latency: float = 0.0,
        faults: Faults | float | Mapping[str, Any] | None = None,
        *,
        name_quirk: bool = True,
        codeocean_port: int = 0,
        s3_port: int = 0,
    ) -> None:
        self.world = world if isinstance(world, World) else load_world(world)
        self.token = "COP_sandbox_" + secrets.token_hex(16)
        self.latency = float(latency)
        self.faults = Faults.coerce(faults)
        self._initial = (self.world, self.latency, self.faults)
        self.denied_buckets: set[str] = set()
        self._ports = (codeocean_port, s3_port)
        self._log: list[Request] = []
        self._in_flight = self._peak = 0
        self._log_lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        # handed out by bogus_token faults: refused for ever, as a server refuses what it never issued
        self._bogus_tokens: set[str] = set()
        self._s3_dirty = False
        self._servers: list[tuple[Any, threading.Thread]] = []
        self._saved_env: dict[str, str | None] = {}
        self.codeocean = CodeOceanApp(self.world, self.token, name_quirk=name_quirk)
        self.env: dict[str, str] = {}

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
        """Start both servers, load the world and set ``os.environ``; returns self."""
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
        }
        unset = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
        for key in (*self.env, *unset):
            self._saved_env[key] = os.environ.get(key)
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(self.env)
        _clear_library_cache()
        logger.info("sandbox running: CodeOcean at %s, S3 at %s", co_url, s3_url)
        return self

    def stop(self) -> None:
        """Stop both servers, free their ports and restore the environment."""
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
        self.denied_buckets.clear()
        if self.world is not world:
            self.load(world)
        else:
            self.codeocean.load(world)
            if self._s3_dirty:
                self._load_s3()
        self.clear_requests()
        _clear_library_cache()

    def load(self, world: str | Path | Mapping[str, Any] | World | None) -> None:
        """Serve another world from now on (both services); :meth:`reset` restores the first."""
        self.world = world if isinstance(world, World) else load_world(world)
        self.codeocean.load(self.world)
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
        """The most requests (both services) being served at once since the log was cleared:
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
                _Middleware(app, service, self), "127.0.0.1", port, f"sandbox-{service}"
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

    def _record(self, request: Request) -> None:
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


@dataclasses.dataclass(frozen=True)
class _Page:
    """A request for a page of a listing: the cursor it sent, the offset it asked for."""

    token: str | None
    offset: int = 0


class _Middleware:
    """Latency, faults and the request log, around one service's WSGI app."""

    def __init__(self, app: Any, service: Service, sandbox: Sandbox) -> None:
        self.app, self.service, self.sandbox = app, service, sandbox

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sandbox = self.sandbox
        sandbox._enter()
        try:
            return self._serve(environ, start_response)
        finally:
            sandbox._leave()

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sandbox, service, faults = self.sandbox, self.service, self.sandbox.faults
        started = time.monotonic()
        if sandbox.latency > 0:
            time.sleep(sandbox.latency)
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")

        def record(status: int, fault: str | None = None) -> None:
            sandbox._record(
                Request(service, method, path, status, query, started, time.monotonic(), fault)
            )

        if service == "s3" and path.strip("/").partition("/")[0] in sandbox.denied_buckets:
            record(403)
            return _access_denied(start_response)
        page = _page_request(service, method, path, query, environ)
        if page is not None and page.token in sandbox._bogus_tokens:
            record(400)  # the server refusing a cursor, not a new fault
            return _bogus_token_refused(service, page.token, start_response)
        if page is not None and service == "s3" and page.token == S3_FIRST_PAGE_TOKEN:
            _forget_s3_token(environ)
        fault = self._draw(faults, method, path, query, page is not None)
        if fault in ("drop", "stall"):
            record(0, fault)
            raise http_server.DroppedConnection(faults.stall_seconds if fault == "stall" else 0)
        canned = None if fault is None else _canned(fault, service, faults, start_response)
        if canned is not None:  # a fault that never reaches the service
            record(canned[0], fault)
            return canned[1]
        status, headers, body = self._call_app(environ)
        spoilt = None
        if fault is not None:
            spoilt = _spoil(fault, service, status, headers, body, page, faults, sandbox)
            if spoilt is None:
                sandbox._fault_not_made()
        if spoilt is None:
            record(int(status.split()[0]))
            start_response(status, headers)
            return [body]
        status, headers, result, logged = spoilt
        record(logged, fault)
        start_response(status, headers)
        return result

    def _draw(self, faults: Faults, method: str, path: str, query: str, paged: bool) -> str | None:
        if faults.match is not None and faults.match not in (f"{path}?{query}" if query else path):
            return None
        kinds = [k for k in faults.kinds if _applies(k, self.service, method, path, paged)]
        if not kinds:
            return None
        kind = self.sandbox._draw_fault(self.service)
        if kind is not None and kind not in kinds:
            kind = self.sandbox._draw_again(kinds)
        return kind

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        answer: list[Any] = ["500 Internal Server Error", []]

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = [status, list(headers)]
            return lambda data: None

        result = self.app(environ, keep)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return answer[0], answer[1], body


def _canned(
    fault: str, service: Service, faults: Faults, start_response: Any
) -> tuple[int, list[bytes]] | None:
    """The status and body of a fault made without asking the service, or None for a fault
    that spoils the service's true answer."""
    if fault in ("429", "500", "503"):
        return int(fault), _fault_response(service, int(fault), faults.retry_after, start_response)
    if fault == "html":
        page = _html()
        return faults.html_status, _respond(
            start_response, faults.html_status, "text/html; charset=utf-8", page
        )
    if service == "s3" and fault in ("badjson", "shape"):
        body = _S3_BROKEN if fault == "badjson" else _S3_200_ERROR
        return 200, _respond(start_response, 200, "application/xml", body)
    if fault == "badjson":
        return 200, _respond(start_response, 200, "application/json", _BROKEN)
    return None


def _applies(kind: str, service: Service, method: str, path: str, paged: bool) -> bool:
    """Whether a fault of ``kind`` can be made on this request (see :class:`Faults`)."""
    if kind in PAGED_KINDS:
        return paged
    if kind in BODY_KINDS and method == "HEAD":
        return False
    return not (kind == "shape" and service == "codeocean" and not path.startswith("/api/"))


def _page_request(
    service: Service, method: str, path: str, query: str, environ: dict[str, Any]
) -> _Page | None:
    """The page a request asks for, or None when it is not for a page of a listing."""
    if service == "codeocean":
        if method != "POST" or path.rstrip("/") != "/api/v1/data_assets/search":
            return None
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)  # for the app to read again
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        offset = body.get("offset")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            offset = 0
        return _Page(str(body["next_token"]) if body.get("next_token") else None, offset)
    bucket = path.strip("/")
    args = parse_qs(query, keep_blank_values=True)
    if method != "GET" or not bucket or "/" in bucket or args.get("list-type") != ["2"]:
        return None
    return _Page(args.get("continuation-token", [""])[0] or None)


def _forget_s3_token(environ: dict[str, Any]) -> None:
    """Ask moto for the first page: it does not know the token a repeat_token fault made up."""
    kept = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    query = urlencode([(k, v) for k, v in kept if k != "continuation-token"])
    environ["QUERY_STRING"] = query
    raw_path = str(environ.get("RAW_URI") or environ.get("PATH_INFO", "")).partition("?")[0]
    environ["RAW_URI"] = environ["REQUEST_URI"] = f"{raw_path}?{query}" if query else raw_path


def _spoil(
    fault: str,
    service: Service,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    page: _Page | None,
    faults: Faults,
    sandbox: Sandbox,
) -> tuple[str, list[tuple[str, str]], Iterable[bytes], int] | None:
    """The true answer spoilt by ``fault``: (status, headers, body, status logged), or None
    when it leaves nothing to spoil. ``Content-Length`` is set by the server."""
    code = int(status.split()[0])
    if fault in ("trickle", "cut", "truncated") and not body:
        return None
    if fault == "trickle":
        return (
            status,
            headers,
            http_server.Delivery(body, byte_interval=faults.trickle_interval),
            code,
        )
    if fault == "cut":
        return status, headers, http_server.Delivery(body, cut_after=len(body) // 2), 0
    if fault == "truncated":
        return "200 OK", headers, [body[: len(body) // 2]], 200
    if fault == "shape":  # CodeOcean's; S3's never reaches moto
        return "200 OK", [("Content-Type", "application/json")], [_wrong_shape(body)], 200
    if code != 200 or page is None:
        return None
    rewrite = _rewrite_codeocean_page if service == "codeocean" else _rewrite_s3_page
    new = rewrite(fault, body, page, sandbox)
    return None if new is None else (status, headers, [new], code)


def _next_token(fault: str, page: _Page, first_page: str, sandbox: Sandbox) -> str | None:
    if fault == "repeat_token":
        return page.token or first_page
    return sandbox._bogus_token() if fault == "bogus_token" else None


def _rewrite_codeocean_page(fault: str, body: bytes, page: _Page, sandbox: Sandbox) -> bytes | None:
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "results" not in answer:
        return None
    answer["has_more"] = True
    answer.pop("next_token", None)
    token = _next_token(fault, page, page_token(page.offset), sandbox)
    if token is not None:
        answer["next_token"] = token
    return json.dumps(answer).encode()


def _rewrite_s3_page(fault: str, body: bytes, page: _Page, sandbox: Sandbox) -> bytes | None:
    text = body.decode("utf-8", "replace")
    if "<ListBucketResult" not in text:
        return None
    text = re.sub(r"<NextContinuationToken>[^<]*</NextContinuationToken>", "", text)
    token = _next_token(fault, page, S3_FIRST_PAGE_TOKEN, sandbox)
    more = "<IsTruncated>true</IsTruncated>"
    if token is not None:
        more += f"<NextContinuationToken>{escape(token)}</NextContinuationToken>"
    text, found = re.subn(r"<IsTruncated>[^<]*</IsTruncated>", more, text, count=1)
    if not found:
        text = text.replace("</ListBucketResult>", more + "</ListBucketResult>")
    return text.encode()


def _wrong_shape(body: bytes) -> bytes:
    """A gateway's message where a list or a search page was due, a list where another object was."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    message = {"message": "upstream request timeout"}
    wrong = [message] if isinstance(answer, dict) and "results" not in answer else message
    return json.dumps(wrong).encode()


_BROKEN = b'{"results": [{"id": '
_S3_BROKEN = b'<?xml version="1.0"?><ListBucketResult><Name>'
_S3_200_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message>"
    b"<RequestId>sandbox</RequestId><HostId>sandbox</HostId></Error>"
)


@functools.cache
def _html() -> bytes:
    """A 56 kB sign-in page, as a captive portal or a single sign-on proxy sends."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>'
        '</head><body><h1>Sign in to continue</h1><form method="post" action="/login">'
        '<input name="username"><input name="password" type="password">'
        "<button>Sign in</button></form>\n<script>\n"
    )
    line = "window.portal = window.portal || []; window.portal.push({ready: false});\n"
    tail = "</script></body></html>\n"
    return (head + line * ((56_000 - len(head)) // len(line)) + tail).encode()


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _respond(
    start_response: Any,
    status: int,
    content_type: str,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    start_response(
        f"{status} {_reason(status)}",
        [*headers, ("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


def _bogus_token_refused(service: Service, token: Any, start_response: Any) -> list[bytes]:
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code>'
            "<Message>The continuation token provided is incorrect</Message>"
            "<ArgumentName>continuation-token</ArgumentName>"
            f"<ArgumentValue>{escape(str(token))}</ArgumentValue></Error>"
        )
        return _respond(start_response, 400, "application/xml", body.encode())
    message = "next_token is not valid; pass the token from the previous page as is."
    return _respond(
        start_response, 400, "application/json", json.dumps({"message": message}).encode()
    )


def _warm_up(s3_app: Any) -> None:
    """Serve one S3 request straight to moto's app (not logged), before clients come:
    moto sets itself up on its first request (~0.1 s), and clients that open many
    connections to a new sandbox would otherwise each pay for it, one after another."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/", method="GET").get_environ()  # ListBuckets
    for _ in s3_app(environ, lambda status, headers, exc_info=None: None):
        pass


def _access_denied(start_response: Any) -> list[bytes]:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message></Error>"
    )
    return _respond(start_response, 403, "application/xml", body)


def _fault_response(
    service: Service, status: int, retry_after: int, start_response: Any
) -> list[bytes]:
    headers = [("Retry-After", str(retry_after))] if status in (429, 503) else []
    if service == "s3":
        code = {429: "SlowDown", 500: "InternalError", 503: "SlowDown"}[status]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>sandbox fault {status}</Message></Error>"
        ).encode()
        return _respond(start_response, status, "application/xml", body, headers)
    body = f'{{"message": "sandbox fault: {_reason(status)}"}}'.encode()
    return _respond(start_response, status, "application/json", body, headers)


def _clear_library_cache() -> None:
    """The library's settings and clients depend on the environment just changed."""
    import sys

    cache = sys.modules.get("aind_session.cache")
    if cache is not None:
        cache.clear_cache()
