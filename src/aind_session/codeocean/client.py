"""The CodeOcean client: the SDK loaded once, clients, requests and shape checks.

The client is built once per settings, with what the SDK leaves out: a
connect and read timeout on every request, and retries with exponential
backoff on 429 and 5xx answers and dropped connections (honouring
``Retry-After``). Starting a run (``POST computations``) is retried only when
the service said 429, so a capsule never runs twice by accident.

Every answer is checked for its shape (:func:`record_of`, :func:`list_of`,
...) before it is used; a malformed one is asked again like a 5xx.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import cache, errors, persistent, transport

if TYPE_CHECKING:
    from codeocean import CodeOcean

logger = logging.getLogger(__name__)

T = TypeVar("T")
SCOPE_HELP = (
    'The token needs the "Datasets - Read" scope: create one in CodeOcean under '
    "Account > Access Tokens and set it as CODE_OCEAN_API_TOKEN."
)

_clients: dict[str, Any] = {}

_sdk_lock = threading.Lock()

_sdk_loaded = False


@cache.on_clear
def _forget_clients() -> None:
    _clients.clear()


def load_sdk() -> None:
    """Import the whole SDK once, one thread at a time, before any of it is used.

    The SDK's modules import each other in a circle (``codeocean`` imports its
    client, which imports ``codeocean.capsule``, which imports
    ``codeocean.models.computation``, ...). Two threads importing two ends of
    that circle at once (one decoding a cached data asset, one a cached
    computation) deadlock: Python raises ``_DeadlockError``.
    """
    global _sdk_loaded
    if _sdk_loaded:
        return
    with _sdk_lock:
        if not _sdk_loaded:
            import codeocean
            import codeocean.computation
            import codeocean.data_asset
            import codeocean.error  # noqa: F401

            _sdk_loaded = True


def _make_client(retry_sent: bool) -> CodeOcean:
    load_sdk()
    from codeocean import CodeOcean

    class _Client(CodeOcean):
        """The SDK's client, whose dataclass repr would show the token."""

        def __repr__(self) -> str:
            return f"<CodeOcean client for {self.domain}>"

    from aind_session.config import TOKEN_VARIABLE, get_settings

    settings = get_settings()
    if settings.codeocean_token is None:
        raise errors.MissingTokenError(
            f"No CodeOcean API token was found. Set {TOKEN_VARIABLE} (or any environment "
            "variable whose value starts with 'COP_') in the environment or in a .env file "
            f"in the current or home directory. {SCOPE_HELP}"
        )
    client = _Client(
        domain=settings.codeocean_domain, token=settings.codeocean_token.get_secret_value()
    )
    client.session.mount(
        settings.codeocean_domain, transport.adapter(retry_sent, settings.max_concurrency)
    )
    return client


def _download_session() -> Any:
    """A plain session (no token: download URLs are pre-signed) with the same tries."""
    session = _clients.get("download")
    if session is None:
        import requests

        from aind_session.config import get_settings

        session = requests.Session()
        adapter = transport.adapter(True, get_settings().max_concurrency)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _clients["download"] = session
    return session


def get_client(*, for_runs: bool = False) -> CodeOcean:
    """The SDK client for the current settings, built on first use.

    ``for_runs``: the client that starts runs, which never tries a request
    again once it may have reached the server.

    Raises
    ------
    aind_session.errors.MissingTokenError
        When no token is set; the message names the variables to set.

    Examples
    --------
    >>> get_client()  # its repr never shows the token
    <CodeOcean client for http://127.0.0.1:...>
    >>> get_client() is get_client(), get_client() is get_client(for_runs=True)
    (True, False)
    """
    key = "runs" if for_runs else "default"
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = _make_client(retry_sent=not for_runs)
    return client


def _tries_of(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    http_err = getattr(exc, "http_err", None)
    if http_err is not None:
        response = getattr(http_err, "response", None)
    for holder in (exc, response):
        tries = getattr(holder, "aind_tries", None)
        if isinstance(tries, int):
            return tries
    return 1


def _call(what: str, fn: Callable[..., T], *args: Any, _sent: int = 0, **kwargs: Any) -> T:
    """Run one SDK call, turning its failures into aind-session errors that say ``what``.

    ``_sent``: requests already sent for the same question (their tries are
    counted in the message too)."""
    import requests

    load_sdk()
    from codeocean.error import Error

    from aind_session.config import get_settings

    settings = get_settings()
    persistent.refuse_if_offline(what)
    domain = settings.codeocean_domain
    try:
        return fn(*args, **kwargs)
    except Error as exc:
        status = exc.status_code
        if status in (401, 403):
            raise errors.AuthenticationError(
                f"CodeOcean at {domain} refused the token (HTTP {status}) "
                f"while {what}. {SCOPE_HELP}"
            ) from None
        message = transport.excerpt(exc.message)
        if status == 404:
            raise errors.NotFoundError(
                f"CodeOcean has no such item: {what} answered HTTP 404 ({message})."
            ) from None
        tries = _sent + _tries_of(exc)
        retried = f" after {errors.tries(tries)}" if tries > 1 else ""
        raise errors.ServiceError(
            f"CodeOcean at {domain} answered HTTP {status}{retried} while {what}: {message}"
        ) from None
    except errors.DeadlineExceededError as exc:
        raise errors.ServiceError(
            f"CodeOcean at {domain} {transport.deadline_message(exc.seconds)} while {what} "
            f"({errors.tries(_sent + exc.tries)}). Check the network and CODE_OCEAN_DOMAIN."
        ) from None
    except requests.RequestException as exc:
        raise errors.ServiceError(
            f"CodeOcean at {domain} did not answer while {what} "
            f"({errors.tries(_sent + _tries_of(exc))}): {type(exc).__name__}. Check the network "
            "and CODE_OCEAN_DOMAIN."
        ) from None


class _Malformed(Exception):
    """A 200 answer whose body is not JSON, or not of the shape asked for."""


@cache.public_call()  # every try within the deadline of the call it serves
def request(
    what: str,
    method: str,
    path: str,
    check: Callable[[Any], Any],
    *,
    for_runs: bool = False,
    **kwargs: Any,
) -> Any:
    """``method path`` on the CodeOcean API; its JSON answer, checked by ``check``
    (which raises ``_Malformed``, ``TypeError``, ``ValueError`` or ``KeyError``
    on the wrong shape and returns what to use).

    A malformed answer (truncated JSON, a proxy's HTML page, the wrong shape)
    is asked again like a 5xx, except when starting a run; after the last try
    it is a :class:`~aind_session.errors.ServiceError` quoting the start of
    the body.

    Parameters
    ----------
    what
        The question, for messages (``"getting data asset <id>"``).
    method, path
        The HTTP method and the path below the API's root.
    check
        Checks the JSON answer and returns what to use.
    for_runs
        Use the client that starts runs (see :func:`get_client`).
    **kwargs
        Passed to ``requests`` (``params``, ``json``).

    Raises
    ------
    aind_session.errors.NotFoundError
        On HTTP 404.
    aind_session.errors.AuthenticationError
        On HTTP 401 or 403.
    aind_session.errors.ServiceError
        When no usable answer came within the deadline and the tries allowed.

    Examples
    --------
    >>> from aind_session.codeocean.models import data_asset_class
    >>> record = request('getting data asset 16d46411-540a-4122-b47f-8cb2a15d593a', 'GET',
    ...                  'data_assets/16d46411-540a-4122-b47f-8cb2a15d593a', record_of(data_asset_class))
    >>> record['name'], record['custom_metadata']
    ('ecephys_676909_2023-12-13_13-43-40', {'data level': 'raw data', 'subject id': '676909'})
    """
    from aind_session.config import get_settings

    persistent.refuse_if_offline(what)  # before a client (and a token) is needed
    settings = get_settings()
    client = get_client(for_runs=for_runs)
    sent = 0
    until = transport.deadline()
    while True:
        response = _call(what, client.session.request, method, path, _sent=sent, **kwargs)
        sent += _tries_of(response)
        try:
            try:
                body = response.json()
            except ValueError as exc:
                raise _Malformed("is not JSON") from exc
            return check(body)
        except (_Malformed, TypeError, ValueError, KeyError) as exc:
            problem = str(exc) if isinstance(exc, _Malformed) else f"has the wrong shape ({exc})"
            if for_runs or not transport.try_again(sent, until):
                break
            logger.debug("CodeOcean's answer while %s %s; asking again", what, problem)
    kind = response.headers.get("Content-Type", "no content type")
    raise errors.ServiceError(
        f"CodeOcean at {settings.codeocean_domain} answered HTTP {response.status_code} "
        f"while {what}, but its answer {problem} ({kind}, {errors.tries(sent)}): "
        f"{transport.excerpt(response.text) or 'an empty body'}"
    )


def record_of(cls: Callable[[], type]) -> Callable[[Any], dict[str, Any]]:
    """A check that a JSON value is a record of the SDK's ``cls()``: an object with
    its required fields. The check returns the value, or raises ``_Malformed``.

    >>> from aind_session.codeocean.models import data_asset_class
    >>> record_of(data_asset_class)({'id': '16d46411-540a-4122-b47f-8cb2a15d593a'})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.client._Malformed: lacks created, last_used, mount, name, owner, state, type
    """

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Malformed(f"is a JSON {type(value).__name__}, not an object")
        missing = _required_fields(cls()) - value.keys()
        if missing:
            raise _Malformed(f"lacks {', '.join(sorted(missing))}")
        return value

    return check


def list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    """A check that a JSON value is a list, each item checked by ``item``; the check
    returns what ``item`` returned for each, or raises ``_Malformed``.

    >>> list_of(int)(['1', '2'])
    [1, 2]
    >>> list_of(int)({'results': []})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.client._Malformed: is a JSON dict, not a list
    """

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Malformed(f"is a JSON {type(value).__name__}, not a list")
        return [item(v) for v in value]

    return check


@functools.cache
def _required_fields(cls: type) -> frozenset[str]:
    return frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def search_page(item: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    """A check that a JSON value is a search page: an object whose ``results`` are ``item``.

    The check returns the page with its ``results`` checked, or raises ``_Malformed``.

    >>> search_page(str)({'has_more': False, 'results': ['a']})
    {'has_more': False, 'results': ['a']}
    >>> search_page(str)({'has_more': False})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.client._Malformed: has no list of 'results'
    """

    def check(page: Any) -> dict[str, Any]:
        if not isinstance(page, dict):
            raise _Malformed(f"is a JSON {type(page).__name__}, not a search page")
        if not isinstance(page.get("results"), list):
            raise _Malformed("has no list of 'results'")
        page["results"] = list_of(item)(page["results"])
        return page

    return check


def download_url(value: Any) -> str:
    """A check of a ``results/urls`` answer: its ``download_url``, an http(s) URL.

    Raises ``_Malformed`` when there is none.

    >>> download_url({'download_url': 'https://example.org/output?signature=x'})
    'https://example.org/output?signature=x'
    >>> download_url({'url': 'https://example.org/output'})
    Traceback (most recent call last):
    ...
    aind_session.codeocean.client._Malformed: has no 'download_url'
    """
    url = value.get("download_url") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _Malformed("has no 'download_url'")
    return url


def folder_names(value: Any) -> tuple[str, ...]:
    """A check of a folder listing answer: the names of its ``items``.

    Raises ``_Malformed`` when there is no list of items, or an item has no name.

    >>> folder_names({'items': [{'name': 'nwb', 'type': 'folder'}, {'name': 'output'}]})
    ('nwb', 'output')
    >>> folder_names({'items': []})
    ()
    """
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise _Malformed("has no list of 'items'")
    names = tuple(item.get("name") if isinstance(item, dict) else None for item in items)
    if not all(isinstance(name, str) for name in names):
        raise _Malformed("has items without a 'name'")
    return names  # type: ignore[return-value]


def download(url: str, what: str) -> str:
    """The text at a pre-signed download URL (an S3 object), checked against the
    object's ``ETag``: a body cut short, an error page or a proxy's HTML passed
    off as the file is asked again, then a ServiceError; never returned.

    ``what`` names the file in messages.

    Raises
    ------
    aind_session.errors.ServiceError
        When no complete, matching answer came within the deadline and the tries.

    Examples
    --------
    >>> url = request('getting the output of a run', 'GET', 'computations/d2d434b4-b2bb-4ca9-92eb-334439282d6a/results/urls',
    ...               download_url, params={'path': 'output'})
    >>> download(url, 'the output of a run').splitlines()[-1]
    'Succeeded   : 23'
    """
    import requests

    persistent.refuse_if_offline(f"downloading {what}")
    until = transport.deadline()
    sent = 0
    while True:
        try:
            response = _download_session().get(url)
            sent += _tries_of(response)
            response.raise_for_status()
        except errors.DeadlineExceededError as exc:
            raise errors.ServiceError(
                f"Downloading {what}: the server {transport.deadline_message(exc.seconds)} "
                f"({errors.tries(sent + exc.tries)})."
            ) from None
        except requests.RequestException as exc:
            tried = sent if exc.response is not None else sent + _tries_of(exc)
            quoted = transport.excerpt(exc.response.text) if exc.response is not None else ""
            raise errors.ServiceError(
                f"Downloading {what} failed ({errors.tries(tried)}): {type(exc).__name__}"
                f"{': ' + quoted if quoted else ''}."
            ) from None
        problem = transport.etag_mismatch(response.headers.get("ETag", ""), response.content)
        if problem is None:
            return response.text
        if not transport.try_again(sent, until):
            raise errors.ServiceError(
                f"Downloading {what}: the answer {problem} ({errors.tries(sent)}): "
                f"{transport.excerpt(response.text) or 'an empty body'}"
            )
        logger.debug("downloading %s: the answer %s; asking again", what, problem)
