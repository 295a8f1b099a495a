"""Faults the sandbox makes, and the middleware that makes them.

Every response of each sandbox service (CodeOcean, S3, DocDB) passes one :class:`Middleware` that
adds the sandbox's ``latency``, injects its :class:`Faults` and records the
request for :meth:`Sandbox.requests <aind_session.testing.sandbox.Sandbox.requests>`.

The faults (:class:`Faults` ``kinds``), each for every service, and what each
stands for (DocDB answers as CodeOcean does: JSON):

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

DocDB pages by ``skip`` with no cursor, so there the paged kinds stand for the
same paging bugs without one: ``repeat_token`` answers the first page again
(``skip`` ignored), ``missing_token`` an empty page where records remain (the
listing ends early), ``bogus_token`` refuses the page with a 400.
"""

from __future__ import annotations

import dataclasses
import functools
import http
import io
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlencode
from xml.sax.saxutils import escape

from aind_session.testing import http_server
from aind_session.testing.codeocean_server import page_token

if TYPE_CHECKING:
    from aind_session.testing.sandbox import Sandbox

Service = Literal["codeocean", "s3", "docdb"]
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
          ``ListObjectsV2``, DocDB ``GET .../find``): the true page saying more
          pages follow, with the cursor the request sent (on a first page, one
          asking for it again), with no cursor, or with a cursor the next
          request is refused (400). DocDB: the first page again, an empty page,
          a 400 (see the module's docstring).
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
    services: tuple[str, ...] = ("codeocean", "s3", "docdb")
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
class _Page:
    """A request for a page of a listing: the cursor it sent, the offset it asked for."""

    token: str | None
    offset: int = 0
    path: str = ""  # DocDB's: the find asked for again by a repeat_token fault
    query: str = ""


class Middleware:
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
            sandbox._record(service, method, path, status, query, started, time.monotonic(), fault)

        if service == "s3" and path.strip("/").partition("/")[0] in sandbox.denied_buckets:
            record(403)
            return _access_denied(start_response)
        expired = _expired(query, sandbox) if service == "s3" else None
        if expired is not None:  # moto checks no pre-signed URL's expiry: S3 does
            record(403)
            return _access_denied(start_response, expired)
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
    if service == "docdb":
        if method != "GET" or not re.fullmatch(r"/v1/[^/]+/[^/]+/find/?", path):
            return None
        skip = parse_qs(query).get("skip", ["0"])[-1].strip()
        return _Page(None, int(skip) if skip.isdigit() else 0, path, query)
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
    if service == "docdb":
        return _spoil_docdb_page(fault, status, headers, body, page, sandbox)
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
    first_page = page_token(page.offset, sandbox.codeocean.last_search_key())
    token = _next_token(fault, page, first_page, sandbox)
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


def _spoil_docdb_page(
    fault: str,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    page: _Page,
    sandbox: Sandbox,
) -> tuple[str, list[tuple[str, str]], Iterable[bytes], int] | None:
    """A DocDB ``find`` page spoilt by a paged fault (see the module's docstring), or None
    when there is nothing to spoil (a first page to repeat, an empty page to empty)."""
    if page.offset == 0:
        # DocDB's pages carry no "more" marker: an empty or refused first page is,
        # to any client (the official one too), the API's "none" or an error; the
        # paged faults stand for a later page lost (repeat_token: nothing to repeat)
        return None
    if fault == "bogus_token":
        message = "skip is not valid for this query; start again from skip=0."
        return (
            "400 Bad Request",
            [("Content-Type", "application/json")],
            [json.dumps({"message": message}).encode()],
            400,
        )
    if body.strip() in (b"[]", b""):
        return None
    if fault == "missing_token":
        return status, headers, [b"[]"], 200
    kept = [(k, v) for k, v in parse_qsl(page.query, keep_blank_values=True) if k != "skip"]
    code, first = sandbox.docdb.answer("GET", page.path, urlencode([*kept, ("skip", "0")]))
    return (status, headers, [first], 200) if code == 200 else None


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


def _access_denied(start_response: Any, message: str = "Access Denied") -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    )
    return _respond(start_response, 403, "application/xml", body.encode())


def _expired(query: str, sandbox: Sandbox) -> str | None:
    """S3's refusal of a pre-signed URL past its expiry (by the CodeOcean app's clock,
    which signed it), or None."""
    if "X-Amz-Expires=" not in query:
        return None
    from urllib.parse import parse_qsl

    from aind_session.testing.codeocean_assets import presigned_url_problem

    return presigned_url_problem(dict(parse_qsl(query)), sandbox.codeocean.wall_clock())


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
