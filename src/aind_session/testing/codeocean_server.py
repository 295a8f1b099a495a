"""A WSGI application that answers the CodeOcean REST API (``/api/v1/``) from a world.

What the real service does was taken from the official SDK (``codeocean``
0.17: the routes it calls, the bodies it sends, the models it parses) and its
documentation. Where those are silent, this is what the sandbox assumes:

- Searches (data assets, capsules, pipelines): their query rules, order,
  paging tokens and the near misses of loose mode, each with its source, are in
  the docstring of :mod:`~aind_session.testing.codeocean_search`.
- File listings (``/files``, ``/results``) show one folder level, folders first
  as on the web UI; a folder that does not exist is a 404.
- Data assets (create, update, archive, delete, permissions, custom metadata,
  sizes, files of internal assets, pre-signed file URLs and their expiry): the
  rules and their sources are in :mod:`~aind_session.testing.codeocean_assets`.
- Capsules, pipelines and computations (runs that progress on a clock, run
  parameters, what is served and what is not): the rules are in
  :mod:`~aind_session.testing.codeocean_capsules` (capsules and pipelines,
  their releases and app panels) and :mod:`~aind_session.testing.codeocean_runs`
  (computations).
- The server and the token, before any route: a token that is not the
  sandbox's nor one of the world's ``tokens`` is a 401; then the SDK's
  ``Min-Server-Version`` header: a version newer than ``server_version``, or a
  header not of the form ``X.Y.Z``, is a 400 (codeocean-sdk-python PR #50: the
  server answers 400 Bad Request to a client needing a newer server or sending
  a malformed version); then a token lacking the route's scope is a 403 naming
  it (the scopes of docs.codeocean.com's access-token dialog:
  :data:`~aind_session.testing.codeocean_common.SCOPES`).
- Every route the SDK calls (0.12 to 0.17, :data:`API_ROUTES`) is served or
  answers 501 with a JSON message naming it, never 404. Not served, each SDK
  method with the reason: ``sync_capsule`` and ``sync_pipeline`` (a git remote
  the sandbox does not have), ``transfer_data_asset`` (moving files between
  storage, an administrator's task), and the app panel of a capsule or
  pipeline whose world entry gives none (what the service answers then is
  not documented). A route the real API does not have is a 404 (``No API
  route ...``).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from aind_session.testing import (
    codeocean_assets,
    codeocean_capsules,
    codeocean_runs,
    codeocean_search,
)
from aind_session.testing.codeocean_assets import AssetsMixin
from aind_session.testing.codeocean_capsules import CapsulesMixin
from aind_session.testing.codeocean_common import (
    ENDPOINT_SCOPES,
    SCOPES,
    ApiError,
    json_response,
    public_asset,
)
from aind_session.testing.codeocean_runs import RunsMixin
from aind_session.testing.codeocean_search import SearchMixin, page_token
from aind_session.testing.world import World

__all__ = ["CodeOceanApp", "page_token", "public_asset"]

_routes = Map(
    [
        *codeocean_search.ROUTES,
        *codeocean_assets.ROUTES,
        *codeocean_runs.ROUTES,
        *codeocean_capsules.ROUTES,
    ]
)

# Every route of the real API that an SDK release (0.12 to 0.17) calls, read
# from the SDK's sources: one the sandbox does not serve is a 501, not a 404
API_ROUTES = (
    "GET POST data_assets",
    "POST data_assets/search",
    "GET PUT DELETE data_assets/<i>",
    "POST data_assets/<i>/files",
    "GET data_assets/<i>/files/urls",
    "GET data_assets/<i>/files/download_url",
    "GET POST data_assets/<i>/permissions",
    "PATCH data_assets/<i>/archive",
    "POST data_assets/<i>/transfer",
    "GET custom_metadata",
    "POST computations",
    "GET PATCH DELETE computations/<i>",
    "POST computations/<i>/results",
    "GET computations/<i>/results/urls",
    "GET computations/<i>/results/download_url",
    "POST DELETE computations/<i>/data_assets",
    "POST capsules/search",
    "POST pipelines/search",
    "GET DELETE <kind>/<i>",
    "GET <kind>/<i>/app_panel",
    "GET <kind>/<i>/computations",
    "GET POST <kind>/<i>/permissions",
    "POST DELETE <kind>/<i>/data_assets",
    "PATCH <kind>/<i>/archive",
    "POST <kind>/<i>/sync",
    "POST <kind>/<i>/release",
    "GET <kind>/<i>/release/<j>",
)
_api = Map(
    [
        Rule(
            "/api/v1/" + path.replace("<kind>", "<any(capsules, pipelines):kind>"),
            methods=methods.split(),
            strict_slashes=False,
        )
        for methods, _, path in (line.rpartition(" ") for line in API_ROUTES)
    ]
)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class CodeOceanApp(SearchMixin, AssetsMixin, RunsMixin, CapsulesMixin):
    """The CodeOcean API as a WSGI application over a :class:`World`.

    Parameters
    ----------
    world
        What it serves (a private copy).
    token
        The token with every scope.
    name_quirk
        A ``name:`` search term over 20 characters matches nothing, as on the
        real service.
    server_version
        The version this server says it is: a request whose
        ``Min-Server-Version`` header asks for a newer one is a 400. None: the
        version the installed SDK asks for.
    search
        ``"loose"``: searches also return the near misses a real search index
        returns (see :mod:`~aind_session.testing.codeocean_search`);
        ``"strict"``: only what the documented rules match.
    run_seconds
        How long a run takes from start to completion, unless its capsule or
        pipeline says otherwise (``run_seconds`` in the world).

    Attributes
    ----------
    named_tokens
        The world's ``tokens``: name -> the secret value made for it, kept
        across :meth:`load` for the same name.
    """

    def __init__(
        self,
        world: World,
        token: str,
        *,
        name_quirk: bool = True,
        server_version: str | None = None,
        search: str = "loose",
        run_seconds: float = 3.0,
    ) -> None:
        self.token = token
        self.name_quirk = name_quirk
        self.search_mode = search
        self.run_seconds = float(run_seconds)
        self.server_version = server_version or _sdk_min_server_version()
        _parse_version(self.server_version, "server_version")
        self.named_tokens: dict[str, str] = {}
        self.tokens: dict[str, frozenset[str]] = {}
        self.base_url = ""  # set by the sandbox once the port is known
        self._lock = threading.Lock()
        self.load(world)

    def load(self, world: World) -> None:
        """Serve ``world`` (a private copy) from now on, forgetting runs started since."""
        with self._lock:
            self.world = world.copy()
            for name in world.tokens:
                self.named_tokens.setdefault(name, "COP_sandbox_" + secrets.token_hex(16))
            self.tokens = {}  # the world's; ``self.token`` has every scope
            for name, scopes in world.tokens.items():
                self.tokens[self.named_tokens[name]] = frozenset(scopes)
            self._prepare_assets()

    # -- WSGI ------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            api = request.path.startswith("/api/")
            if api:
                # as the real service: the token first, then the version, then the route
                scopes = self._authenticate(request)
                self._check_version(request)
            try:
                endpoint, args = _routes.bind_to_environ(environ).match()
            except (NotFound, MethodNotAllowed):
                if api and _real_api_route(environ):
                    raise ApiError(
                        501,
                        f"The sandbox does not serve {request.method} {request.path}, a route "
                        "of the CodeOcean API; aind_session.testing.codeocean_server lists "
                        "what it serves.",
                    ) from None
                raise
            if api:
                self._check_scope(endpoint, scopes, request)
            response = getattr(self, f"_{endpoint}")(request, **args)
        except ApiError as exc:
            response = json_response({"message": exc.message}, exc.status)
        except MethodNotAllowed:
            response = json_response(
                {"message": f"Method {request.method} is not allowed here."}, 405
            )
        except NotFound:
            response = json_response({"message": f"No API route {request.path!r}."}, 404)
        except HTTPException as exc:
            response = json_response({"message": exc.description or exc.name}, exc.code or 500)
        except Exception as exc:  # a sandbox bug still answers as the API does: JSON
            response = json_response(
                {"message": f"Internal error in the sandbox: {type(exc).__name__}: {exc}"}, 500
            )
        return response(environ, start_response)

    def _authenticate(self, request: Request) -> frozenset[str]:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise ApiError(
                401, "Unauthorized: send the API token as the user name of HTTP Basic auth."
            )
        scopes = self.scopes_of(auth.username)
        if scopes is None:
            raise ApiError(401, "Unauthorized: the API token is not valid.")
        return scopes

    def _settle_all(self) -> None:
        """Bring what moves on a clock up to it (under the lock), so that a search sees
        what a get would: drafts become ready, release jobs finish."""
        for asset_id in list(self._pending):
            asset = self.world.data_assets.get(asset_id)
            if asset is not None:
                self._settle(asset)
        self._settle_releases()

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The scopes ``token`` has; None for a token this server did not issue."""
        if token == self.token:
            return frozenset(SCOPES)
        return self.tokens.get(token)

    def _check_version(self, request: Request) -> None:
        wanted = request.headers.get("Min-Server-Version")
        if wanted is None:
            return
        try:
            version = _parse_version(wanted, "Min-Server-Version")
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        if version > _parse_version(self.server_version, "server_version"):
            raise ApiError(
                400,
                f"The client needs server version {wanted} or newer (its Min-Server-Version "
                f"header); this server is version {self.server_version}.",
            )

    def _check_scope(self, endpoint: str, scopes: frozenset[str], request: Request) -> None:
        needed = ENDPOINT_SCOPES.get(endpoint)
        if needed is not None and needed not in scopes:
            raise ApiError(
                403,
                f"Forbidden: {request.method} {request.path} needs an access token with the "
                f"{needed!r} scope.",
            )


def _real_api_route(environ: dict[str, Any]) -> bool:
    try:
        _api.bind_to_environ(environ).match()
    except HTTPException:
        return False
    return True


def _parse_version(text: str, what: str) -> tuple[int, int, int]:
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"{what} {text!r} is not a version like 4.8.0.")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _sdk_min_server_version() -> str:
    from aind_session.codeocean import sdk

    return sdk.min_server_version()
