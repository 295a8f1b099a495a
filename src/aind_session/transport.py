"""Retries and deadlines: one policy for every request, to CodeOcean or to S3.

The network is hostile: a server may stall, trickle its answer a byte a
second, ask for a day's wait, cut the connection halfway through a body or
answer 200 with something that is not what was asked. Whatever it does, a
request ends:

- every try has a connect and a read timeout (``connect_timeout``,
  ``read_timeout``), and all tries of one request together end within
  ``request_deadline`` seconds, waits between them included;
- every public call (a property, a function) ends within ``call_deadline``
  seconds, all its requests together (see :func:`aind_session.cache.public_call`);
- a try that fails in a way another try may not (a 429 or 5xx answer, a
  dropped or cut connection, a malformed body) is tried again, up to
  ``max_retries`` times, after an exponential backoff of ``backoff_factor``
  seconds doubled each time (at most :data:`BACKOFF_MAX`), or after the
  ``Retry-After`` the server asked for, up to ``retry_after_max``;
- the number of tries an error reports is the number of requests sent.

With the defaults the worst a caller can wait for one public call is
``call_deadline``: 5 minutes.

:class:`Adapter` applies this to the ``requests`` session of the CodeOcean
SDK; the S3 layer runs its own tries with :func:`deadline`, :func:`pause`
and :func:`backoff`.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Any

from aind_session import cache, errors

BACKOFF_MAX = 10.0
RETRY_STATUSES = (429, 500, 502, 503, 504)
EXCERPT = 300  # characters of a service's own text quoted in a message


def excerpt(text: Any, limit: int = EXCERPT) -> str:
    """``text`` on one line, cut to ``limit`` characters (a proxy's HTML page is 56 kB).

    >>> excerpt('<html>\\n  <body>Bad gateway</body>\\n</html>')
    '<html> <body>Bad gateway</body> </html>'
    >>> excerpt('x' * 1000, limit=10)
    'xxxxxxx...'
    """
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def deadline() -> float:
    """``time.monotonic()`` by which a request starting now must end.

    ``request_deadline`` seconds from now, or the end of the public call it
    serves (``call_deadline``) when that comes first.

    >>> import time
    >>> 0 < deadline() - time.monotonic() <= 120  # the default request_deadline
    True
    """
    from aind_session.config import get_settings

    own = time.monotonic() + get_settings().request_deadline
    call = cache.call_deadline()
    return own if call is None else min(own, call)


def backoff(tries: int) -> float:
    """Seconds to wait after the ``tries``-th failed try: ``backoff_factor`` doubled
    each time, at most :data:`BACKOFF_MAX`.

    >>> [backoff(n) for n in (1, 2, 3, 10)]  # the default backoff_factor, 0.2 s
    [0.2, 0.4, 0.8, 10.0]
    """
    from aind_session.config import get_settings

    return min(get_settings().backoff_factor * 2 ** (tries - 1), BACKOFF_MAX)


def retry_after(value: str | None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds or an HTTP date), capped at
    ``retry_after_max``; None when absent or unreadable.

    A date in the past gives ``0.0``.

    >>> retry_after('5'), retry_after('Wed, 21 Oct 2015 07:28:00 GMT')
    (5.0, 0.0)
    >>> retry_after(None), retry_after('soon'), retry_after('nan')
    (None, None, None)
    """
    from aind_session.config import get_settings

    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, min(seconds, get_settings().retry_after_max))


def etag_mismatch(etag: str, data: bytes) -> str | None:
    """Why ``data`` is not the S3 object whose ``ETag`` header is ``etag``, or None.

    S3 sends an ETag with every object, and a single-part upload's is the MD5
    of its bytes: a body cut short, an error page or a proxy's HTML passed off
    as the object is caught before it is parsed or cached.

    >>> etag_mismatch('"900150983cd24fb0d6963f7d28e17f72"', b"abc") is None
    True
    >>> etag_mismatch("", b"abc")
    "came without the object's ETag"
    """
    import hashlib

    etag = etag.strip('"')
    if not etag:
        return "came without the object's ETag"
    if len(etag) == 32 and "-" not in etag and hashlib.md5(data).hexdigest() != etag:
        return "does not match the object's ETag (cut short or replaced)"
    return None


def try_again(sent: int, until: float) -> bool:
    """After ``sent`` requests whose answers were unusable: wait the backoff and
    say True when another try is allowed (``max_retries``) and fits before ``until``.

    False at once (no wait) when the tries are used up or there is no time left.

    >>> import time
    >>> try_again(1, until=time.monotonic() + 60)  # waits backoff(1), 0.2 s
    True
    >>> try_again(11, until=time.monotonic() + 60)  # the default max_retries is 10
    False
    >>> try_again(1, until=time.monotonic())
    False
    """
    from aind_session.config import get_settings

    return sent <= get_settings().max_retries and pause(backoff(sent), until)


def pause(seconds: float, until: float) -> bool:
    """Sleep ``seconds`` unless that would pass ``until``; False when there is no time.

    >>> import time
    >>> pause(0.01, until=time.monotonic() + 1), pause(5, until=time.monotonic() + 1)
    (True, False)
    """
    if time.monotonic() + seconds >= until:
        return False
    time.sleep(seconds)
    return True


class _OutOfTime(Exception):
    """The body was still coming when the request's deadline passed."""


def deadline_message(seconds: float) -> str:
    """The end of a message for a request that ran out of time, naming the settings.

    >>> deadline_message(120)
    'gave no complete answer within the deadline of 120 s (AIND_SESSION_REQUEST_DEADLINE, AIND_SESSION_CALL_DEADLINE)'
    """
    return (
        f"gave no complete answer within the deadline of {seconds:.0f} s "
        "(AIND_SESSION_REQUEST_DEADLINE, AIND_SESSION_CALL_DEADLINE)"
    )


def _adapter_class() -> type:
    import requests
    import requests.adapters

    class _Adapter(requests.adapters.HTTPAdapter):
        """A ``requests`` adapter that tries, waits and gives up as the module says.

        ``retry_sent`` says whether a request that may have reached the server
        (a timeout or a cut after sending, a 5xx answer) is tried again: not
        for starting a run, which must never start twice (a 429 and a refused
        connection are retried for every request: nothing was done).
        """

        def __init__(self, retry_sent: bool, **kwargs: Any) -> None:
            self.retry_sent = retry_sent
            super().__init__(max_retries=0, **kwargs)

        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            from aind_session.config import get_settings

            settings = get_settings()
            until = deadline()
            started = time.monotonic()
            tries = 0
            while True:
                remaining = until - time.monotonic()
                if remaining <= 0:
                    raise errors.DeadlineExceededError(tries, until - started)
                tries += 1
                kwargs["timeout"] = (
                    min(settings.connect_timeout, remaining),
                    min(settings.read_timeout, remaining),
                )
                kwargs["stream"] = True
                wait: float | None
                try:
                    response = super().send(request, **kwargs)
                    _read_body(response, until)
                except _OutOfTime:
                    raise errors.DeadlineExceededError(tries, until - started) from None
                except requests.exceptions.ConnectionError as exc:
                    never_sent = _never_sent(exc)
                    if tries > settings.max_retries or not (self.retry_sent or never_sent):
                        setattr(exc, "aind_tries", tries)  # noqa: B010
                        raise
                    wait = backoff(tries)
                except (
                    requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError,
                ) as exc:
                    if time.monotonic() >= until:
                        raise errors.DeadlineExceededError(tries, until - started) from None
                    if tries > settings.max_retries or not self.retry_sent:
                        setattr(exc, "aind_tries", tries)  # noqa: B010
                        raise
                    wait = backoff(tries)
                else:
                    setattr(response, "aind_tries", tries)  # noqa: B010
                    status = response.status_code
                    retryable = status == 429 or (self.retry_sent and status in RETRY_STATUSES)
                    if not retryable or tries > settings.max_retries:
                        return response
                    asked = retry_after(response.headers.get("Retry-After"))
                    wait = backoff(tries) if asked is None else asked
                    if time.monotonic() + wait >= until:
                        return response  # no time to wait: the caller says what was answered
                    response.close()
                if not pause(wait, until):
                    raise errors.DeadlineExceededError(tries, until - started)

    return _Adapter


def tries_of(failure_or_response: Any) -> int:
    """How many requests the :func:`adapter` sent for an answer or a failure (it
    marks each with ``aind_tries``; an SDK error carries the failure it wraps as
    ``http_err``); 1 when it is not marked.

    >>> class Answer:
    ...     aind_tries = 3
    >>> tries_of(Answer()), tries_of(ValueError())
    (3, 1)
    """
    response = getattr(failure_or_response, "response", None)
    http_err = getattr(failure_or_response, "http_err", None)
    if http_err is not None:
        response = getattr(http_err, "response", None)
    for holder in (failure_or_response, response):
        tries = getattr(holder, "aind_tries", None)
        if isinstance(tries, int):
            return tries
    return 1


def _never_sent(exc: BaseException) -> bool:
    """True when a connection error happened before the request could reach the server."""
    text = f"{exc!r} {exc.__context__!r}"
    return any(
        marker in text
        for marker in ("NewConnectionError", "ConnectionRefused", "NameResolutionError")
    )


def _read_body(response: Any, until: float) -> None:
    """Read the whole body now, a piece at a time, giving up at ``until`` (a server
    trickling a byte a second never trips the read timeout, which counts per read;
    and no read waits past ``until``)."""
    import requests

    pieces = []
    raw = response.raw
    # the socket of this answer (urllib3 2), so that no single read outlasts the deadline
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    try:
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                response.close()
                raise _OutOfTime()
            if sock is not None and sock.gettimeout() is not None:
                sock.settimeout(min(sock.gettimeout(), remaining))
            if hasattr(raw, "read1"):  # urllib3 2: at most one read of the socket
                piece = raw.read1(65536, decode_content=True)
            else:
                piece = raw.read(65536, decode_content=True)
            if not piece:
                break
            pieces.append(piece)
    except _OutOfTime:
        raise
    except Exception as exc:
        import urllib3.exceptions

        if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
            raise requests.exceptions.ReadTimeout(exc) from exc
        if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        raise
    response._content = b"".join(pieces)
    response._content_consumed = True


_classes: dict[str, type] = {}


def adapter(retry_sent: bool, pool_maxsize: int) -> Any:
    """A ``requests`` adapter applying this module's tries and deadlines.

    Parameters
    ----------
    retry_sent
        Whether a request that may have reached the server (a timeout, a cut
        after sending, a 5xx answer) is tried again; False for starting runs.
    pool_maxsize
        Connections kept open per host.

    Examples
    --------
    >>> import requests
    >>> http = requests.Session()
    >>> http.mount('http://', adapter(retry_sent=False, pool_maxsize=4))
    >>> http.get_adapter('http://127.0.0.1/').retry_sent
    False
    """
    cls = _classes.get("adapter")
    if cls is None:
        cls = _classes["adapter"] = _adapter_class()
    return cls(retry_sent, pool_connections=4, pool_maxsize=pool_maxsize)
