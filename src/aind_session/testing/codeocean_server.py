"""A WSGI application that answers the CodeOcean REST API (``/api/v1/``) from a world.

What the real service does was taken from the official SDK (``codeocean``
0.17: the routes it calls, the bodies it sends, the models it parses) and its
documentation. Where those are silent, this is what the sandbox assumes:

- Search ``query``: ``field:value`` terms (value may be ``"quoted"``); the
  same field repeated is OR, different fields AND; bare words must all match,
  each somewhere in the name, description, tags or custom-metadata values.
  Matching is case-insensitive: ``name:``/``description:`` and bare words are
  substring matches, ``tag:`` and custom-metadata fields (``subject id:``)
  match the whole value. A ``name:`` value longer than 20 characters matches
  nothing, as on the real service (``name_quirk=False`` turns that off).
- Without ``sort_field`` results come newest first (then by id), so paging is
  stable. ``limit`` defaults to 100 and may be at most 1000; more is a 400.
  ``next_token`` is opaque; when given, ``offset`` is ignored.
- ``archived`` true returns only archived assets, otherwise archived assets are
  left out; ``favorite`` true returns only favourites. ``origin`` external means
  the asset's files stay in a bucket outside CodeOcean (``source_bucket``
  with ``external`` true, or an ``aws``/``gcp`` bucket other than CodeOcean's).
- File listings (``/files``, ``/results``) show one folder level, folders first
  as on the web UI; a folder that does not exist is a 404. Data asset files are
  read from the world's S3 objects as loaded (later S3 writes are not seen).
- File URLs point back at this server (``/_sandbox/download/...``), standing
  in for pre-signed S3 URLs: no token is needed to fetch them, and like S3's
  answers they carry the object's ``ETag`` (the MD5 of a single-part upload).
- Capsule and pipeline computations are listed newest first; an id that no
  computation ran is a 404.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from aind_session.testing.http_server import ApiError
from aind_session.testing.world import CODEOCEAN_BUCKET, SANDBOX_EMAIL, SANDBOX_OWNER, World

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
NAME_QUIRK_LENGTH = 20
KNOWN_FIELDS = ("name", "tag", "description", "run_script", "commit_id", "contained_data_id")
SORT_FIELDS = ("created", "type", "name", "size")
ASSET_TYPES = ("dataset", "result", "combined", "model")
COMPUTATION_INTERNAL = ("capsule_id", "pipeline_id", "results")
ASSET_INTERNAL = ("archived", "favorite")

_routes = Map(
    [
        Rule("/api/v1/data_assets/search", methods=["POST"], endpoint="search_assets"),
        Rule("/api/v1/data_assets/<asset_id>", methods=["GET"], endpoint="get_asset"),
        Rule("/api/v1/data_assets/<asset_id>/files", methods=["POST"], endpoint="asset_files"),
        Rule("/api/v1/data_assets/<asset_id>/files/urls", methods=["GET"], endpoint="asset_urls"),
        Rule(
            "/api/v1/data_assets/<asset_id>/files/download_url",
            methods=["GET"],
            endpoint="asset_download_url",
        ),
        Rule("/api/v1/computations", methods=["POST"], endpoint="run"),
        Rule("/api/v1/computations/<comp_id>", methods=["GET"], endpoint="get_computation"),
        Rule("/api/v1/computations/<comp_id>/results", methods=["POST"], endpoint="results"),
        Rule(
            "/api/v1/computations/<comp_id>/results/urls", methods=["GET"], endpoint="result_urls"
        ),
        Rule(
            "/api/v1/computations/<comp_id>/results/download_url",
            methods=["GET"],
            endpoint="result_download_url",
        ),
        Rule("/api/v1/capsules/<cap_id>/computations", methods=["GET"], endpoint="list_runs"),
        Rule("/api/v1/pipelines/<cap_id>/computations", methods=["GET"], endpoint="list_runs"),
        Rule(
            "/_sandbox/download/<kind>/<item_id>/<path:path>",
            methods=["GET"],
            endpoint="download",
        ),
    ]
)


class CodeOceanApp:
    """The CodeOcean API as a WSGI application over a :class:`World`."""

    def __init__(self, world: World, token: str, *, name_quirk: bool = True) -> None:
        self.token = token
        self.name_quirk = name_quirk
        self.base_url = ""  # set by the sandbox once the port is known
        self._lock = threading.Lock()
        self.load(world)

    def load(self, world: World) -> None:
        """Serve ``world`` (a private copy) from now on, forgetting runs started since."""
        with self._lock:
            self.world = world.copy()
            self._custom_fields = sorted(
                {
                    key.lower()
                    for asset in self.world.data_assets.values()
                    for key in (asset.get("custom_metadata") or {})
                },
                key=len,
                reverse=True,
            )

    # -- WSGI ------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            if request.path.startswith("/api/"):
                self._authenticate(request)  # before routing, as the real service does
            endpoint, args = _routes.bind_to_environ(environ).match()
            response = getattr(self, f"_{endpoint}")(request, **args)
        except ApiError as exc:
            response = _json({"message": exc.message}, exc.status)
        except MethodNotAllowed:
            response = _json({"message": f"Method {request.method} is not allowed here."}, 405)
        except NotFound:
            response = _json({"message": f"No API route {request.path!r}."}, 404)
        except HTTPException as exc:
            response = _json({"message": exc.description or exc.name}, exc.code or 500)
        except Exception as exc:  # a sandbox bug still answers as the API does: JSON
            response = _json(
                {"message": f"Internal error in the sandbox: {type(exc).__name__}: {exc}"}, 500
            )
        return response(environ, start_response)

    def _authenticate(self, request: Request) -> None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise ApiError(
                401, "Unauthorized: send the API token as the user name of HTTP Basic auth."
            )
        if auth.username != self.token:
            raise ApiError(401, "Unauthorized: the API token is not valid.")

    # -- data assets -----------------------------------------------------------
    def _search_assets(self, request: Request) -> Response:
        body = _body(request, dict)
        limit = _int(body, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int(body, "offset", 0, 0, None)
        if body.get("next_token"):
            offset = _decode_token(body["next_token"])
        sort_field, sort_order = body.get("sort_field"), body.get("sort_order")
        if sort_field is not None and sort_field not in SORT_FIELDS:
            raise ApiError(400, f"sort_field must be one of {', '.join(SORT_FIELDS)}.")
        if sort_order is not None and sort_order not in ("asc", "desc"):
            raise ApiError(400, "sort_order must be 'asc' or 'desc'.")
        if sort_order is not None and sort_field is None:
            raise ApiError(400, "sort_order must be given together with sort_field.")
        if body.get("type") is not None and body["type"] not in ASSET_TYPES:
            raise ApiError(400, f"type must be one of {', '.join(ASSET_TYPES)}.")
        if body.get("origin") not in (None, "internal", "external"):
            raise ApiError(400, "origin must be 'internal' or 'external'.")
        query = body.get("query") or ""
        if not isinstance(query, str):
            raise ApiError(400, "query must be a string.")
        filters = body.get("filters") or []
        if not isinstance(filters, list) or not all(
            isinstance(f, dict) and isinstance(f.get("range") or {}, dict) for f in filters
        ):
            raise ApiError(400, "filters must be a list of {key, value | values | range} objects.")
        terms = self._parse_query(query)
        with self._lock:
            assets = [a for a in self.world.data_assets.values() if self._matches(a, body, terms)]
        if sort_field:
            assets.sort(
                key=lambda a: (a.get(sort_field) is None, a.get(sort_field) or 0, a["id"]),
                reverse=sort_order == "desc",
            )
        else:
            assets.sort(key=lambda a: (a["created"], a["id"]), reverse=True)
        page = assets[offset : offset + limit]
        has_more = offset + limit < len(assets)
        result: dict[str, Any] = {"has_more": has_more, "results": [_public_asset(a) for a in page]}
        if has_more:
            result["next_token"] = page_token(offset + limit)
        return _json(result)

    def _parse_query(self, query: str) -> dict[str, list[str]]:
        fields = sorted({*KNOWN_FIELDS, *self._custom_fields}, key=len, reverse=True)
        pattern = re.compile(
            r"(?:(?P<field>" + "|".join(map(re.escape, fields)) + r"):)?"
            r"(?P<value>\"[^\"]*\"|\S+)",
            re.IGNORECASE,
        )
        terms: dict[str, list[str]] = {}
        for match in pattern.finditer(query):
            field = (match["field"] or "").lower()
            value = match["value"].strip('"').lower()
            if value:
                terms.setdefault(field, []).append(value)
        return terms

    def _matches(
        self, asset: Mapping[str, Any], body: Mapping[str, Any], terms: Mapping[str, list[str]]
    ) -> bool:
        if bool(asset.get("archived")) != bool(body.get("archived")):
            return False
        if body.get("favorite") and not asset.get("favorite"):
            return False
        if body.get("type") and asset["type"] != body["type"]:
            return False
        if body.get("origin") and _origin(asset) != body["origin"]:
            return False
        for flt in body.get("filters") or []:
            if not _filter_matches(asset, flt):
                return False
        name = asset["name"].lower()
        description = (asset.get("description") or "").lower()
        tags = [t.lower() for t in asset.get("tags") or []]
        custom = {
            str(k).lower(): str(v).lower() for k, v in (asset.get("custom_metadata") or {}).items()
        }
        provenance = asset.get("provenance") or {}
        for field, values in terms.items():
            if field == "":
                haystacks = [name, description, *tags, *custom.values()]
                if not all(any(v in h for h in haystacks) for v in values):
                    return False
                continue
            if field == "name":
                ok = any(
                    v in name and not (self.name_quirk and len(v) > NAME_QUIRK_LENGTH)
                    for v in values
                )
            elif field == "tag":
                ok = any(v in tags for v in values)
            elif field == "description":
                ok = any(v in description for v in values)
            elif field in ("run_script", "commit_id"):
                key = "commit" if field == "commit_id" else field
                ok = any(v == str(provenance.get(key) or "").lower() for v in values)
            elif field == "contained_data_id":
                contained = {
                    str(c.get("id")).lower() for c in asset.get("contained_data_assets") or []
                }
                ok = any(v in contained for v in values)
            else:
                ok = any(v == custom.get(field) for v in values)
            if not ok:
                return False
        return True

    def _get_asset(self, request: Request, asset_id: str) -> Response:
        return _json(_public_asset(self._asset(asset_id)))

    def _asset(self, asset_id: str) -> dict[str, Any]:
        with self._lock:
            asset = self.world.data_assets.get(asset_id)
        if asset is None:
            raise ApiError(404, f"Data asset {asset_id} was not found.")
        return asset

    def _asset_files(self, request: Request, asset_id: str) -> Response:
        asset = self._asset(asset_id)
        path = _path_param(_body(request, dict).get("path"))
        folder = self.world.asset_folder(asset)
        files = {
            key[len(folder) + 1 :]: len(data)
            for key, data in self.world.s3.items()
            if key.startswith(folder + "/")
        }
        return _json({"items": _list_folder(files, path, f"data asset {asset_id}")})

    def _asset_file(self, asset_id: str, path: str) -> bytes:
        asset = self._asset(asset_id)
        data = self.world.s3.get(f"{self.world.asset_folder(asset)}/{path}")
        if data is None:
            raise ApiError(404, f"File {path!r} was not found in data asset {asset_id}.")
        return data

    def _asset_urls(self, request: Request, asset_id: str) -> Response:
        path = _path_param(request.args.get("path"))
        self._asset_file(asset_id, path)
        return _json(self._urls("data_assets", asset_id, path))

    def _asset_download_url(self, request: Request, asset_id: str) -> Response:
        path = _path_param(request.args.get("path"))
        self._asset_file(asset_id, path)
        return _json({"url": self._urls("data_assets", asset_id, path)["download_url"]})

    # -- computations ------------------------------------------------------------
    def _computation(self, comp_id: str) -> dict[str, Any]:
        with self._lock:
            computation = self.world.computations.get(comp_id)
        if computation is None:
            raise ApiError(404, f"Computation {comp_id} was not found.")
        return computation

    def _get_computation(self, request: Request, comp_id: str) -> Response:
        return _json(_public_computation(self._computation(comp_id)))

    def _run(self, request: Request) -> Response:
        body = _body(request, dict)
        capsule, pipeline = body.get("capsule_id"), body.get("pipeline_id")
        if bool(capsule) == bool(pipeline):
            raise ApiError(400, "Give exactly one of capsule_id or pipeline_id.")
        attached = []
        for item in body.get("data_assets") or []:
            if not isinstance(item, dict) or not item.get("id"):
                raise ApiError(400, "Each item of data_assets needs an 'id'.")
            asset = self._asset(str(item["id"]))
            attached.append({"id": asset["id"], "mount": item.get("mount") or asset["mount"]})
        plain = body.get("parameters") or []
        named = body.get("named_parameters") or []
        if not isinstance(plain, list) or not all(isinstance(v, (str, int, float)) for v in plain):
            raise ApiError(400, "parameters must be a list of strings.")
        if not isinstance(named, list) or not all(
            isinstance(p, dict) and isinstance(p.get("param_name"), str) for p in named
        ):
            raise ApiError(400, "named_parameters must be a list of {param_name, value} objects.")
        parameters = [{"value": str(v)} for v in plain]
        parameters += [
            {"param_name": p["param_name"], "value": str(p.get("value", ""))} for p in named
        ]
        with self._lock:
            number = 1 + sum(
                1
                for c in self.world.computations.values()
                if c.get("capsule_id") == (capsule or pipeline)
            )
            record = {
                "id": str(uuid.uuid4()),
                "created": int(time.time()),
                "name": f"Run With Parameters {number}" if parameters else f"Run {number}",
                "owner": SANDBOX_OWNER,
                "owner_email": SANDBOX_EMAIL,
                "run_time": 0,
                "state": "initializing",
                "has_results": False,
                "data_assets": attached,
                "parameters": parameters or None,
                "capsule_id": capsule or pipeline,
                "results": {},
            }
            if body.get("nextflow_profile"):
                record["nextflow_profile"] = body["nextflow_profile"]
            self.world.computations[record["id"]] = record
        return _json(_public_computation(record))

    def _results(self, request: Request, comp_id: str) -> Response:
        computation = self._computation(comp_id)
        path = _path_param(_body(request, dict).get("path"))
        files = {p: len(text.encode()) for p, text in computation["results"].items()}
        return _json({"items": _list_folder(files, path, f"computation {comp_id}")})

    def _result_file(self, comp_id: str, path: str) -> bytes:
        text = self._computation(comp_id)["results"].get(path)
        if text is None:
            raise ApiError(
                404, f"File {path!r} was not found in the results of computation {comp_id}."
            )
        return str(text).encode()

    def _result_urls(self, request: Request, comp_id: str) -> Response:
        path = _path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return _json(self._urls("computations", comp_id, path))

    def _result_download_url(self, request: Request, comp_id: str) -> Response:
        path = _path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return _json({"url": self._urls("computations", comp_id, path)["download_url"]})

    def _list_runs(self, request: Request, cap_id: str) -> Response:
        with self._lock:
            runs = [c for c in self.world.computations.values() if c.get("capsule_id") == cap_id]
        if not runs:
            kind = "Pipeline" if "/pipelines/" in request.path else "Capsule"
            raise ApiError(404, f"{kind} {cap_id} was not found.")
        runs.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
        return _json([_public_computation(c) for c in runs])

    # -- downloads -------------------------------------------------------------
    def _urls(self, kind: str, item_id: str, path: str) -> dict[str, str]:
        url = f"{self.base_url}/_sandbox/download/{kind}/{item_id}/{quote(path)}"
        return {"download_url": url, "view_url": url + "?view=1"}

    def _download(self, request: Request, kind: str, item_id: str, path: str) -> Response:
        if kind == "data_assets":
            data = self._asset_file(item_id, path)
        elif kind == "computations":
            data = self._result_file(item_id, path)
        else:
            raise ApiError(404, f"Nothing to download at {request.path!r}.")
        # as S3 answers a pre-signed URL: the object's ETag (its MD5) comes along
        response = Response(data, mimetype="application/octet-stream")
        response.headers["ETag"] = f'"{hashlib.md5(data).hexdigest()}"'
        return response


# -- helpers -------------------------------------------------------------------
def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _body(request: Request, kind: type) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return kind()
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, kind):
        raise ApiError(400, f"The request body must be a JSON {kind.__name__}.")
    return body


def _int(body: Mapping[str, Any], key: str, default: int, low: int, high: int | None) -> int:
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


def page_token(offset: int) -> str:
    """The search ``next_token`` that asks for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: Any) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(str(token).encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError(400, "next_token is not valid; pass the token from the previous page as is.")


def _path_param(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, "path must be a string.")
    return value.strip("/")


def _origin(asset: Mapping[str, Any]) -> str:
    bucket = asset.get("source_bucket") or {}
    if bucket.get("external") is not None:
        return "external" if bucket["external"] else "internal"
    external = bucket.get("origin") in ("aws", "gcp") and bucket.get("bucket") not in (
        None,
        CODEOCEAN_BUCKET,
    )
    return "external" if external else "internal"


def _filter_matches(asset: Mapping[str, Any], flt: Any) -> bool:
    if not isinstance(flt, dict) or not flt.get("key"):
        raise ApiError(400, "Each filter needs a 'key'.")
    key = str(flt["key"]).lower()
    if key in ("name", "description"):
        have = [str(asset.get(key) or "").lower()]
    elif key in ("tag", "tags"):
        have = [t.lower() for t in asset.get("tags") or []]
    else:
        custom = {str(k).lower(): v for k, v in (asset.get("custom_metadata") or {}).items()}
        have = [] if custom.get(key) is None else [str(custom[key]).lower()]
    wanted = [flt["value"]] if flt.get("value") is not None else list(flt.get("values") or [])
    if flt.get("range"):
        low, high = flt["range"].get("min"), flt["range"].get("max")
        try:
            numbers = [float(h) for h in have]
        except ValueError:
            numbers = []
        hit = any((low is None or n >= low) and (high is None or n <= high) for n in numbers)
    else:
        hit = any(str(w).lower() in have for w in wanted)
    return hit != bool(flt.get("exclude"))


def _list_folder(files: Mapping[str, int], path: str, owner: str) -> list[dict[str, Any]]:
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


def _public_asset(asset: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in asset.items() if k not in ASSET_INTERNAL and v is not None}


def _public_computation(computation: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in computation.items() if k not in COMPUTATION_INTERNAL and v is not None}
