"""What the sandbox's CodeOcean API modules share: routes with their scopes, JSON
answers, and request bodies checked as the documentation says.

Each module of the API (:mod:`~aind_session.testing.codeocean_search`,
:mod:`~aind_session.testing.codeocean_assets`,
:mod:`~aind_session.testing.codeocean_capsules`,
:mod:`~aind_session.testing.codeocean_runs`) is a mixin of
:class:`~aind_session.testing.codeocean_server.CodeOceanApp` that declares its
routes with :func:`route` (path, methods, endpoint, the scope a token needs)
and answers them with methods named ``_<endpoint>``.

Request bodies (:func:`body`), as the API documentation promises: a body that
is not ``application/json``, not valid JSON, not an object, holds a field the
endpoint does not know, or a field of the wrong JSON type is a 400 with a JSON
``{"message": ...}`` naming the field. ``null`` counts as absent (the SDK sends
every field of its parameter classes, ``null`` when unset).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from aind_session.testing.http_server import ApiError

__all__ = [
    "ASSET_INTERNAL",
    "COMPUTATION_INTERNAL",
    "SCOPES",
    "ApiError",
    "body",
    "int_field",
    "is_external",
    "json_response",
    "list_folder",
    "path_param",
    "public_asset",
    "public_computation",
    "route",
]

# The scopes of a CodeOcean access token, as its "Select Scopes" dialog names
# them (docs.codeocean.com, user guide, Code Ocean API: each endpoint lists the
# scope it needs; searches and listings are reads).
CAPSULE_READ = "Capsule - Read"
CAPSULE_WRITE = "Capsule - Write"
ASSET_READ = "Data Asset - Read"
ASSET_WRITE = "Data Asset - Write"
SCOPES = (CAPSULE_READ, CAPSULE_WRITE, ASSET_READ, ASSET_WRITE)

COMPUTATION_INTERNAL = ("capsule_id", "pipeline_id", "results")
ASSET_INTERNAL = ("archived", "favorite")

# endpoint -> the scope a token needs for it
ENDPOINT_SCOPES: dict[str, str] = {}

# JSON type names, for messages
_JSON_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_JSON_NAMES.update({dict: "object", list: "array"})


def route(path: str, methods: str, endpoint: str, scope: str | None) -> Rule:
    """A route of the API: ``/api/v1/`` + ``path``, answered by ``_<endpoint>``,
    open to tokens with ``scope`` (None: any valid token)."""
    if scope is not None:
        ENDPOINT_SCOPES[endpoint] = scope
    prefix = "" if path.startswith("/") else "/api/v1/"
    return Rule(prefix + path, methods=methods.split(), endpoint=endpoint)


def json_response(data: Any, status: int = 200) -> Response:
    """``data`` as the API's JSON answer."""
    return Response(json.dumps(data), status=status, mimetype="application/json")


def body(
    request: Request,
    fields: Mapping[str, type | tuple[type, ...]] | None = None,
    *,
    required: tuple[str, ...] = (),
    kind: type = dict,
) -> Any:
    """The request's JSON body, checked: an object (``kind``) whose keys are among
    ``fields`` (name -> JSON type(s); None: any key) and hold those types.

    Absent and ``null`` fields are left out of the answer. Raises :class:`ApiError`
    (400) naming what is wrong.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        value: Any = kind()
    else:
        mimetype = request.mimetype or ""
        if mimetype != "application/json":
            raise ApiError(
                400,
                f"The request body must be sent as application/json, not {mimetype or 'untyped'}.",
            )
        try:
            value = json.loads(raw)
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(value, kind):
        raise ApiError(400, f"The request body must be a JSON {_JSON_NAMES.get(kind, 'value')}.")
    if kind is not dict:
        return value
    return checked_object(value, fields, "The request body", required)


def checked_object(
    value: Any,
    fields: Mapping[str, type | tuple[type, ...]] | None,
    where: str,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``value``, a JSON object (named ``where`` in messages) whose keys are among
    ``fields`` (None: any) and hold those JSON types, with ``required`` given;
    ``null`` fields are left out. Else a 400 naming what is wrong."""
    if not isinstance(value, dict):
        raise ApiError(400, f"{where} must be a JSON object, not {json.dumps(value)}.")
    item = {k: v for k, v in cast("dict[str, Any]", value).items() if v is not None}
    if fields is not None:
        unknown = sorted(set(item) - set(fields))
        if unknown:
            raise ApiError(
                400,
                f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"known fields are {', '.join(sorted(fields))}.",
            )
        inner = "" if where == "The request body" else f"{where}."
        for name, types in fields.items():
            if name in item:
                check_type(inner + name, item[name], types)
    missing = [name for name in required if name not in item]
    if missing:
        raise ApiError(400, f"{where} lacks the required field(s) {', '.join(map(repr, missing))}.")
    return item


def check_type(name: str, value: Any, types: type | tuple[type, ...]) -> None:
    """Raise a 400 unless ``value`` (of field ``name``) is of one of the JSON ``types``."""
    wanted = types if isinstance(types, tuple) else (types,)
    ok = isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted)
    if float in wanted and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        names = " or ".join(_JSON_NAMES.get(t, t.__name__) for t in wanted)
        raise ApiError(400, f"Field {name!r} must be a JSON {names}, not {json.dumps(value)}.")


def int_field(body: Mapping[str, Any], key: str, default: int, low: int, high: int | None) -> int:
    """An integer field of ``body`` within ``[low, high]``, or ``default`` when absent."""
    value = body.get(key)
    if value is None:
        return default
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high and value > high)
    ):
        bound = f" and at most {high}" if high else ""
        raise ApiError(400, f"{key} must be an integer of at least {low}{bound}, got {value!r}.")
    return value


def path_param(value: Any) -> str:
    """A ``path`` parameter without its outer slashes ('' when absent)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(
            400, f"path must be a string (a folder or file path), not {json.dumps(value)}."
        )
    return value.strip("/")


def public_asset(asset: Mapping[str, Any]) -> dict[str, Any]:
    """A data asset of the world as the API answers it."""
    return {k: v for k, v in asset.items() if k not in ASSET_INTERNAL and v is not None}


def public_computation(computation: Mapping[str, Any]) -> dict[str, Any]:
    """A computation of the world as the API answers it."""
    return {k: v for k, v in computation.items() if k not in COMPUTATION_INTERNAL and v is not None}


def list_folder(files: Mapping[str, int], path: str, owner: str) -> list[dict[str, Any]]:
    prefix = f"{path}/" if path else ""
    folders: dict[str, None] = {}
    items = []
    for name, size in sorted(files.items()):
        if not name.startswith(prefix):
            continue
        head, sep, _ = name[len(prefix) :].partition("/")
        if sep:
            folders.setdefault(head)
        else:
            items.append({"name": head, "path": prefix + head, "type": "file", "size": size})
    if path and not items and not folders:
        raise ApiError(404, f"Folder {path!r} was not found in {owner}.")
    return [{"name": f, "path": prefix + f, "type": "folder"} for f in folders] + items


# Permissions (SDK ``Permissions``: every field optional; roles of its ``UserRole``,
# ``GroupRole`` and ``EveryoneRole``), the same for data assets, capsules and pipelines
ROLES = {
    "users": ("email", ("owner", "editor", "viewer")),
    "groups": ("group", ("owner", "editor", "viewer", "discoverable")),
}
EVERYONE_ROLES = ("viewer", "discoverable", "none")
_PERMISSION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "users": list,
    "groups": list,
    "everyone": str,
    "share_assets": bool,
}


def default_permissions(owner_email: str) -> dict[str, Any]:
    """What an item's permissions are until changed: its owner, and no one else."""
    return {
        "users": [{"email": owner_email, "role": "owner"}],
        "groups": [],
        "everyone": "none",
        "share_assets": False,
    }


def permissions_update(request: Request) -> dict[str, Any]:
    """The fields of a permissions ``POST``, checked: those given replace the item's."""
    update = body(request, _PERMISSION_FIELDS)
    for name, (key, roles) in ROLES.items():
        for item in update.get(name, []):
            if (
                not isinstance(item, dict)
                or set(item) - {key, "role"}
                or not isinstance(item.get(key), str)
                or item.get("role") not in roles
            ):
                raise ApiError(
                    400,
                    f"Each item of {name!r} is {{{key!r}: text, 'role': one of "
                    f"{', '.join(roles)}}}, not {json.dumps(item)}.",
                )
    if update.get("everyone", "none") not in EVERYONE_ROLES:
        raise ApiError(
            400,
            f"Field 'everyone' must be one of {', '.join(EVERYONE_ROLES)}, "
            f"not {json.dumps(update['everyone'])}.",
        )
    return update


def archive_flag(request: Request) -> bool:
    """The ``archive`` query parameter of an archive ``PATCH`` (the SDK sends it so)."""
    value = request.args.get("archive", "").lower()
    if value not in ("true", "false"):
        raise ApiError(
            400,
            f"Give the query parameter 'archive' as true or false, not "
            f"{request.args.get('archive')!r}.",
        )
    return value == "true"


def is_external(asset: Mapping[str, Any]) -> bool:
    """Whether an asset's files stay outside CodeOcean (origin ``external``): its
    ``source_bucket`` says so (``external``), or, where it does not, names an S3 or
    GCS bucket that is not one of CodeOcean's own (named ``codeocean-...``, as the
    library tells them apart too)."""
    bucket = asset.get("source_bucket") or {}
    if bucket.get("external") is not None:
        return bool(bucket["external"])
    name = str(bucket.get("bucket") or "")
    return (
        bucket.get("origin") in ("aws", "gcp") and bool(name) and not name.startswith("codeocean-")
    )
