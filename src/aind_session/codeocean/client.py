"""The CodeOcean client: the SDK loaded once, clients, requests and downloads.

The client is built once per settings, with what the SDK leaves out: a
connect and read timeout on every request, and retries with exponential
backoff on 429 and 5xx answers and dropped connections (honouring
``Retry-After``). Starting a run (``POST computations``) is retried only when
the service said 429, so a capsule never runs twice by accident.

Every answer is checked for its shape (by the checks of
:mod:`aind_session.codeocean.shapes`) before it is used; a malformed one is
asked again like a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import cache, errors, exits, forks, persistent, transport
from aind_session.codeocean import sdk, shapes
from aind_session.codeocean.shapes import (  # noqa: F401  (re-exported for compatibility)
    download_url,
    folder_names,
    list_of,
    record_of,
    search_page,
)

if TYPE_CHECKING:
    from codeocean import CodeOcean

logger = logging.getLogger(__name__)

T = TypeVar("T")
SCOPE_HELP = (
    "The token needs read access to data assets and capsules (the scopes "
    '"Data Asset - Read" and "Capsule - Read"; "Datasets - Read" and "Capsule - Read" '
    "in older releases): create one in CodeOcean under Account > Access Tokens and set it as "
    "CODE_OCEAN_API_TOKEN."
)

_clients: dict[str, Any] = {}


@cache.on_clear
def _forget_clients() -> None:
    _clients.clear()


@forks.after_fork
def _forget_parents_clients() -> None:
    forks.keep(*_clients.values())  # their connections are the parent's: a child opens its own
    _clients.clear()


def load_sdk() -> None:
    """Import the whole SDK once, one thread at a time, before any of it is used
    (see :func:`aind_session.codeocean.sdk.load`, which this is)."""
    sdk.load()


def _make_client(retry_sent: bool) -> CodeOcean:
    class _Client(sdk.CodeOcean):
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
    exits.quick_exit_if_asked()
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


def _call(what: str, fn: Callable[..., T], *args: Any, _sent: int = 0, **kwargs: Any) -> T:
    """Run one SDK call, turning its failures into aind-session errors that say ``what``.

    ``_sent``: requests already sent for the same question (their tries are
    counted in the message too)."""
    import requests

    from aind_session.config import get_settings

    settings = get_settings()
    persistent.refuse_if_offline(what)
    domain = settings.codeocean_domain
    try:
        return fn(*args, **kwargs)
    except sdk.Error as exc:
        status = exc.status_code
        if status in (401, 403):
            raise errors.AuthenticationError(
                f"CodeOcean at {domain} refused the token (HTTP {status}) "
                f"while {what}. {SCOPE_HELP}"
            ) from None
        message = transport.excerpt(exc.message)
        if status == 400 and _version_refused(message):
            raise errors.ConfigurationError(_too_old(domain, what, message)) from None
        if status == 404:
            raise errors.NotFoundError(
                f"CodeOcean has no such item: {what} answered HTTP 404 ({message})."
            ) from None
        tries = _sent + transport.tries_of(exc)
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
            f"({errors.tries(_sent + transport.tries_of(exc))}): {type(exc).__name__}. Check the network "
            "and CODE_OCEAN_DOMAIN."
        ) from None


def _version_refused(message: str) -> bool:
    """Whether a 400 is the server refusing the SDK's ``Min-Server-Version`` header:
    its message names the header or a server version (a 400 about a capsule's
    version, say, is not)."""
    said = message.lower()
    return "min-server-version" in said or "server version" in said


def _too_old(domain: str, what: str, message: str) -> str:
    """The message for a server that refuses the SDK's ``Min-Server-Version`` (a 400)."""
    release = ".".join(map(str, sdk.version()))
    return (
        f"CodeOcean at {domain} refused the request while {what}, as a server older than "
        f"the installed codeocean SDK ({release}) needs: that release asks for server "
        f"version {sdk.min_server_version()} or newer. Install the SDK release made for "
        f"your CodeOcean (codeocean 0.12 asks for 4.0.0), or ask its administrators "
        f"which version it runs. CodeOcean said: {message}"
    )


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
    (which raises one of :data:`~aind_session.codeocean.shapes.SHAPE_ERRORS` on
    the wrong shape and returns what to use).

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
        sent += transport.tries_of(response)
        try:
            return check(shapes.json_body(response.json))
        except shapes.SHAPE_ERRORS as exc:
            problem = shapes.shape_problem(exc)
            if for_runs or not transport.try_again(sent, until):
                break
            logger.debug("CodeOcean's answer while %s %s; asking again", what, problem)
    kind = response.headers.get("Content-Type", "no content type")
    raise errors.ServiceError(
        f"CodeOcean at {settings.codeocean_domain} answered HTTP {response.status_code} "
        f"while {what}, but its answer {problem} ({kind}, {errors.tries(sent)}): "
        f"{transport.excerpt(response.text) or 'an empty body'}"
    )


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
            sent += transport.tries_of(response)
            response.raise_for_status()
        except errors.DeadlineExceededError as exc:
            raise errors.ServiceError(
                f"Downloading {what}: the server {transport.deadline_message(exc.seconds)} "
                f"({errors.tries(sent + exc.tries)})."
            ) from None
        except requests.RequestException as exc:
            tried = sent if exc.response is not None else sent + transport.tries_of(exc)
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
