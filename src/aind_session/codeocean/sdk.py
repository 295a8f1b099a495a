"""The ``codeocean`` SDK, whichever release from 0.12 is installed: the one module
that knows how the releases differ.

The rest of the package takes the SDK's names from here (``sdk.DataAsset``,
``sdk.SearchFilter``), never from a module of the SDK that only some releases
have. Importing this module imports no SDK: a name is looked up on first use.

What differs, read from the sources of 0.12.0 and 0.17.0:

- **Where the models live.** 0.12 defines them in ``codeocean.computation``,
  ``codeocean.data_asset``, ``codeocean.components`` and ``codeocean.folder``.
  0.17 moved them into the package ``codeocean.models`` (``models.computation``,
  ``models.data_asset``, ``models.components``, ``models.folder``): its
  ``codeocean.computation`` and ``codeocean.data_asset`` re-export most of
  them (not ``SearchFilter`` nor ``SortOrder``), ``codeocean.folder`` is gone,
  and ``codeocean.components`` is a stale copy whose classes are *not* the ones
  its models use. So each name is taken from ``codeocean.models.<group>`` when
  that exists, else from ``codeocean.<group>`` (:func:`home` says which).
- **Fields.** 0.17's ``DataAsset`` and ``Computation`` require ``owner`` and
  have an optional ``owner_email``; 0.12's have neither, and their ``from_dict``
  ignores them. 0.17 also adds ``Source.cloud_workstation``,
  ``AWSS3Source.endpoint_name`` and ``use_input_bucket``,
  ``AWSS3Target.endpoint_name`` and ``Capsule.owner_email``, all optional.
  Models are built from the installed classes' own fields (see
  :mod:`~aind_session.codeocean.models`) and answers checked against them (see
  :mod:`~aind_session.codeocean.shapes`), so either release works.
- **The client.** Both build ``CodeOcean(domain, token, retries, agent_id)`` the
  same way: a ``requests_toolbelt`` session on ``{domain}/api/v1/`` with basic
  auth and the header ``Min-Server-Version: CodeOcean.MIN_SERVER_VERSION``,
  ``4.0.0`` in 0.12 and ``4.8.0`` in 0.17 (:func:`min_server_version`). 0.17
  adds ``client.pipelines``, attaching data assets to a running computation and
  capsule releases; none is used here.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

from aind_session import forks

if TYPE_CHECKING:  # the names as the newest release spells them, for type checkers
    from codeocean import CodeOcean
    from codeocean.error import Error
    from codeocean.models.capsule import AppPanel, Capsule
    from codeocean.models.components import SearchFilter, SortOrder
    from codeocean.models.computation import (
        Computation,
        ComputationEndStatus,
        ComputationState,
        DataAssetsRunParam,
        NamedRunParam,
        RunParams,
    )
    from codeocean.models.data_asset import (
        DataAsset,
        DataAssetSearchParams,
        DataAssetSearchResults,
        DataAssetSortBy,
        DataAssetState,
        DataAssetType,
    )
    from codeocean.models.folder import DownloadFileURL, FileURLs, Folder, FolderItem

__all__ = [
    "AppPanel",
    "Capsule",
    "CodeOcean",
    "Computation",
    "ComputationEndStatus",
    "ComputationState",
    "DataAsset",
    "DataAssetSearchParams",
    "DataAssetSearchResults",
    "DataAssetSortBy",
    "DataAssetState",
    "DataAssetType",
    "DataAssetsRunParam",
    "DownloadFileURL",
    "Error",
    "FileURLs",
    "Folder",
    "FolderItem",
    "NamedRunParam",
    "RunParams",
    "SearchFilter",
    "SortOrder",
    "home",
    "load",
    "min_server_version",
    "service_fields",
    "version",
]

# the group of the SDK each name belongs to: found in ``codeocean.models.<group>``
# (0.17) or ``codeocean.<group>`` (0.12)
_GROUPS: dict[str, str] = {
    **dict.fromkeys(
        (
            "Computation",
            "ComputationEndStatus",
            "ComputationState",
            "DataAssetsRunParam",
            "NamedRunParam",
            "RunParams",
        ),
        "computation",
    ),
    **dict.fromkeys(
        (
            "DataAsset",
            "DataAssetSearchParams",
            "DataAssetSearchResults",
            "DataAssetSortBy",
            "DataAssetState",
            "DataAssetType",
        ),
        "data_asset",
    ),
    **dict.fromkeys(("SearchFilter", "SortOrder"), "components"),
    **dict.fromkeys(("AppPanel", "Capsule"), "capsule"),
    **dict.fromkeys(("DownloadFileURL", "FileURLs", "Folder", "FolderItem"), "folder"),
}
# names in the same module in every release
_FIXED = {"CodeOcean": "codeocean", "Error": "codeocean.error"}
# fields the service sends that the models of some supported release lack
# (0.12's; 0.17 models them)
_UNMODELLED = {
    "DataAsset": frozenset({"owner", "owner_email"}),
    "Computation": frozenset({"owner", "owner_email"}),
    "Capsule": frozenset({"owner_email"}),
}

_lock = forks.free_after_fork(threading.Lock())
_names: dict[str, Any] = {}
_homes: dict[str, str] = {}


def load() -> None:
    """Import the whole SDK once, one thread at a time, and look up its names.

    The SDK's modules import each other in a circle (``codeocean`` imports its
    client, which imports ``codeocean.capsule``, which imports the computation
    models, ...). Two threads importing two ends of that circle at once (one
    decoding a cached data asset, one a cached computation) deadlock: Python
    raises ``_DeadlockError``. So everything is imported here, under a lock.

    >>> load()
    >>> load()  # once only: later calls return at once
    """
    if _names:
        return
    with _lock:
        if _names:
            return
        import codeocean  # noqa: F401  (imports its client, and with it every model)

        homes = dict(_FIXED)
        for name, group in _GROUPS.items():
            homes[name] = _module_of(group)
        found = {name: getattr(importlib.import_module(home), name) for name, home in homes.items()}
        _homes.update(homes)
        # module attributes from now on: read at the speed of a global, not through
        # ``__getattr__`` (models of thousands of assets ask for ``DataAsset`` each)
        globals().update(found)
        _names.update(found)  # last: a filled ``_names`` means loaded


def _module_of(group: str) -> str:
    """``codeocean.models.<group>`` when the installed SDK has it, else ``codeocean.<group>``."""
    newer = f"codeocean.models.{group}"
    try:
        module: ModuleType = importlib.import_module(newer)
    except ModuleNotFoundError as exc:
        # only a missing module (or package) falls back; a failure inside one is raised
        if exc.name is None or not newer.startswith(exc.name):
            raise
        module = importlib.import_module(f"codeocean.{group}")
    return module.__name__


def home(name: str) -> str:
    """The SDK module that ``name`` is taken from, in the installed release.

    Raises ``KeyError`` for a name this module does not give.

    >>> home('DataAsset') in ('codeocean.models.data_asset', 'codeocean.data_asset')
    True
    >>> home('Error')
    'codeocean.error'
    """
    load()
    return _homes[name]


def service_fields(model: type) -> frozenset[str]:
    """The fields the service's JSON for ``model`` may hold: the installed model's
    own, and those the service sends that an older release does not model.

    >>> from aind_session.codeocean.sdk import DataAsset
    >>> {'name', 'owner', 'owner_email'} <= service_fields(DataAsset)  # modelled or not
    True
    """
    own = frozenset(f.name for f in dataclasses.fields(model))
    return own | _UNMODELLED.get(model.__name__, frozenset())


def version() -> tuple[int, ...]:
    """The installed SDK's release, as numbers (``(0, 17, 0)``).

    >>> version() >= (0, 12)
    True
    """
    from importlib import metadata  # only here: its import costs more than the SDK's name lookups

    release = metadata.version("codeocean").split("+")[0]
    numbers = []
    for part in release.split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def min_server_version() -> str:
    """The server version the installed SDK sends as ``Min-Server-Version``.

    >>> tuple(map(int, min_server_version().split('.'))) >= (4, 0)
    True
    """
    load()
    return str(_names["CodeOcean"].MIN_SERVER_VERSION)


def __getattr__(name: str) -> Any:  # PEP 562: the SDK's names, on first use
    if name not in _GROUPS and name not in _FIXED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    load()
    return _names[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
