"""Data assets in the sandbox's CodeOcean API: create, get, update, archive, delete,
permissions, the custom-metadata schema, files and file URLs.

The rules, each with what it rests on ("SDK" is ``codeocean`` 0.17, "OpenAPI" the
Data Assets spec in ``api-evangelist/code-ocean``, generated from docs.codeocean.com;
"guide" is the CodeOcean user guide, docs.codeocean.com):

- Create (``POST data_assets``) takes the SDK's ``DataAssetParams``; ``name``,
  ``tags`` and ``mount`` are required (SDK, OpenAPI) and a ``source`` with exactly
  one of ``aws`` or ``computation`` (OpenAPI: "from an S3 bucket or from a
  computation's results"). A missing or mistyped field is a 400 naming it.
- ``source.aws.keep_on_external_storage`` true makes an external asset whose files
  stay at the bucket and prefix; false or absent copies them into CodeOcean, an
  internal asset (guide, Data Asset API v2.15: "When this property is set to false
  or excluded, the data asset files are copied into Code Ocean"). The copy lives
  under ``CODEOCEAN_BUCKET/<new id>/`` and its ``source_bucket`` says so, as the
  world's internal assets do (a sandbox convention; the real service reports the
  bucket it was created from).
- ``source.computation`` captures a run's results as a ``result`` asset
  (``provenance.computation``; SDK: only ``capsule`` or ``computation`` is filled,
  "depending on source"); ``path`` captures one folder (SDK: "empty captures all
  result files"). The computation must exist (404) and be ``completed`` (400): the
  guide's "Capturing a Result" starts from a result shown in the Timeline.
- The answer is the new asset in state ``draft`` (SDK: creation "takes time. Use
  wait_until_ready()"); it becomes ``ready`` ``asset_ready_seconds`` after (by
  ``wall_clock``, both attributes of the app), or ``failed`` with a ``failure_reason``
  when its source holds no files. Files of an internal asset appear when it is ready.
- Custom metadata on create and update must use the deployment's fields with values
  of their type (SDK: "admin-defined custom fields ... string, number, or date");
  ``GET custom_metadata`` (SDK ``CustomMetadata``) gives that schema. The sandbox has
  no admin, so it derives the fields from the world's assets: each key used, typed
  ``number`` if every value is a number, else ``string`` (dates, epoch numbers, look
  like numbers: a deployment's ``date`` fields are not told apart).
- Update (``PUT data_assets/<id>``) takes any of ``name``, ``description``,
  ``tags``, ``mount`` and ``custom_metadata`` and changes those given (the SDK's
  ``DataAssetUpdateParams`` makes every field optional, where its
  ``DataAssetParams`` for a new asset requires ``name``, ``tags`` and ``mount``:
  the vendor's SDK is taken over a third-party spec that marks them required).
- Archive (``PATCH data_assets/<id>/archive?archive=true|false``, required,
  OpenAPI), delete and permission updates answer 204 with no body (OpenAPI).
  Permissions (SDK ``Permissions``, every field optional: those given replace the
  asset's) check each role against the SDK's enums; an asset never shared has its
  owner as the only user and ``everyone`` ``none`` (shared with
  :mod:`~aind_session.testing.codeocean_capsules`, in ``codeocean_common``).
- ``size`` (bytes) and ``files`` (count) come from the asset's S3 objects when the
  world does not give them (SDK ``DataAsset``: "Size in bytes", "Number of files").
- Files and file URLs cover internal assets only (SDK: "within an internal data
  asset", for listing and for URLs; OpenAPI: "Lists files internal to a Data
  Asset"; guide, Types of Data Assets: an external asset "cannot be directly
  downloaded"). For an external asset (origin external, as searches say) they are a
  400 saying so; the status is not documented, 400 is the spec's answer to a
  request it cannot serve as asked.
- File URLs are pre-signed S3 URLs (OpenAPI: "Generates signed download and view
  URLs"), valid for ``url_seconds`` (3600 by default: CodeOcean documents them only
  as short-lived, 3600 s is boto3's ``generate_presigned_url`` default). In a
  running :class:`~aind_session.testing.Sandbox` they are signed for its S3 (moto)
  and S3 serves them, with the object's ``ETag``; run results are put into S3 when
  a URL for them is asked. moto checks neither the signature nor ``X-Amz-Expires``,
  so :func:`presigned_url_problem` says what real S3 says of an expired URL, for
  the sandbox's S3 middleware to answer. Without a running sandbox the URLs point
  back at this app (``/_sandbox/download/...``), which enforces the expiry itself.
- Transfer (``POST data_assets/<id>/transfer``: admin only, moves files between
  storages), GCP and Cloud Workstation sources, combined assets
  (``data_asset_ids``), ``target`` (external results), ``results_info``,
  ``endpoint_name`` and ``use_input_bucket`` are not served: a 501 names them.
- A search first brings drafts due to be ready up to the clock, so it says what a
  ``GET`` would.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    ASSET_READ,
    ASSET_WRITE,
    ApiError,
    archive_flag,
    body,
    check_type,
    default_permissions,
    is_external,
    json_response,
    list_folder,
    path_param,
    permissions_update,
    public_asset,
    route,
)
from aind_session.testing.world import CODEOCEAN_BUCKET, SANDBOX_EMAIL, SANDBOX_OWNER

__all__ = ["RESULTS_BUCKET", "ROUTES", "AssetsMixin", "S3Link", "presigned_url_problem"]

RESULTS_BUCKET = "codeocean-s3resultsbucket-sandbox"  # where run results are put for URLs
URL_SECONDS = 3600
READY_SECONDS = 0.5
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

ROUTES = [
    route("data_assets", "POST", "create_asset", ASSET_WRITE),
    route("data_assets/<asset_id>", "GET", "get_asset", ASSET_READ),
    route("data_assets/<asset_id>", "PUT", "update_asset", ASSET_WRITE),
    route("data_assets/<asset_id>", "DELETE", "delete_asset", ASSET_WRITE),
    route("data_assets/<asset_id>/archive", "PATCH", "archive_asset", ASSET_WRITE),
    route("data_assets/<asset_id>/permissions", "GET", "get_permissions", ASSET_READ),
    route("data_assets/<asset_id>/permissions", "POST", "set_permissions", ASSET_WRITE),
    route("custom_metadata", "GET", "custom_metadata", ASSET_READ),
    route("data_assets/<asset_id>/files", "POST", "asset_files", ASSET_READ),
    route("data_assets/<asset_id>/files/urls", "GET", "asset_urls", ASSET_READ),
    route("data_assets/<asset_id>/files/download_url", "GET", "asset_download_url", ASSET_READ),
    route("/_sandbox/download/<kind>/<item_id>/<path:path>", "GET", "download", None),
]

_CREATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "tags": list,
    "mount": str,
    "description": str,
    "source": dict,
    "target": dict,
    "custom_metadata": dict,
    "data_asset_ids": list,
    "results_info": dict,
}
_AWS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "bucket": str,
    "prefix": str,
    "keep_on_external_storage": bool,
    "public": bool,
    "endpoint_name": str,
    "use_input_bucket": bool,
}
_UPDATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "tags": list,
    "mount": str,
    "custom_metadata": dict,
}


def presigned_url_problem(query: Mapping[str, str], now: float) -> str | None:
    """What S3 answers a pre-signed URL with this query string at ``now`` (epoch
    seconds) when it will not serve it: ``"Request has expired"`` past
    ``X-Amz-Date`` + ``X-Amz-Expires`` (S3's 403 ``AccessDenied`` message), or a
    message for a malformed date or expiry; None when it is still valid (or not
    pre-signed at all).

    >>> presigned_url_problem({"X-Amz-Date": "20240101T000000Z", "X-Amz-Expires": "60"},
    ...                       datetime(2024, 1, 1, 0, 2, tzinfo=timezone.utc).timestamp())
    'Request has expired'
    """
    if "X-Amz-Expires" not in query and "X-Amz-Date" not in query:
        return None
    try:
        signed = datetime.strptime(query.get("X-Amz-Date", ""), _AMZ_DATE)
        expires = int(query.get("X-Amz-Expires", ""))
    except ValueError:
        return "X-Amz-Date and X-Amz-Expires must be a date like 20240101T000000Z and seconds"
    if now > signed.replace(tzinfo=timezone.utc).timestamp() + expires:
        return "Request has expired"
    return None


@dataclasses.dataclass(frozen=True)
class S3Link:
    """How the app reaches the sandbox's S3 (moto, in this process): where it listens,
    the keys to sign with, and ``on_put`` to call after an object is put there."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    on_put: Callable[[], None] | None = None

    @functools.cached_property
    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def presign(self, bucket: str, key: str, seconds: int, download: bool) -> str:
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if download:
            name = key.rpartition("/")[2].replace('"', "")
            params["ResponseContentDisposition"] = f'attachment; filename="{name}"'
        return str(self._client.generate_presigned_url("get_object", params, ExpiresIn=seconds))

    def put(self, bucket: str, key: str, data: bytes) -> None:
        """Write one object straight into moto's backend (as the sandbox loads a world)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, self.region)
        backend.put_object(bucket, key, data)
        if self.on_put is not None:
            self.on_put()


class AssetsMixin:
    """The data-asset endpoints of :class:`~aind_session.testing.codeocean_server.CodeOceanApp`.

    Attributes it adds to the app: ``wall_clock`` (epoch seconds now, for ``created``,
    readiness and URL expiry; tests replace it; runs keep their own ``clock``),
    ``asset_ready_seconds`` (how long a new asset stays a draft), ``url_seconds``
    (how long file URLs are valid) and ``s3`` (an :class:`S3Link`, set by a running
    sandbox; None: URLs point back at the app).
    """

    world: Any
    base_url: str
    _lock: Any
    wall_clock: Callable[[], float] = time.time  # a builtin: not bound as a method
    asset_ready_seconds: float = READY_SECONDS
    url_seconds: int = URL_SECONDS
    s3: S3Link | None = None

    if TYPE_CHECKING:  # from RunsMixin

        def _result_file(self, comp_id: str, path: str) -> bytes: ...

        def _computation(self, comp_id: str) -> dict[str, Any]: ...

    def _prepare_assets(self) -> None:
        """Called by ``load`` (under the lock) once the world is copied: fill in what
        the world leaves out of its assets."""
        self._pending: dict[str, tuple[float, dict[str, bytes]]] = {}
        self._permissions: dict[str, dict[str, Any]] = {}
        for asset in self.world.data_assets.values():
            files = self._stored_files(asset)
            asset.setdefault("size", sum(len(d) for d in files.values()))
            asset.setdefault("files", len(files))

    def _stored_files(self, asset: Mapping[str, Any]) -> dict[str, bytes]:
        folder = self.world.asset_folder(asset) + "/"
        return {k[len(folder) :]: v for k, v in self.world.s3.items() if k.startswith(folder)}

    # -- one asset -------------------------------------------------------------
    def _asset(self, asset_id: str) -> dict[str, Any]:
        with self._lock:
            asset = self.world.data_assets.get(asset_id)
            if asset is None:
                raise ApiError(404, f"Data asset {asset_id} was not found.")
            self._settle(asset)
        return asset

    def _settle(self, asset: dict[str, Any]) -> None:
        """A draft whose time has come becomes ready (its files stored) or failed."""
        pending = self._pending.get(asset["id"])
        if pending is None or self.wall_clock() < pending[0]:
            return
        del self._pending[asset["id"]]
        files = pending[1]
        if not files:
            asset["state"] = "failed"
            asset["failure_reason"] = "The source holds no files to make the data asset from."
            return
        if not is_external(asset):
            folder = self.world.asset_folder(asset)
            for path, data in files.items():
                self.world.s3[f"{folder}/{path}"] = data
                if self.s3 is not None:
                    bucket, _, prefix = folder.partition("/")
                    self.s3.put(bucket, f"{prefix}/{path}", data)
        asset.update(state="ready", size=sum(map(len, files.values())), files=len(files))

    def _get_asset(self, request: Request, asset_id: str) -> Response:
        asset = self._asset(asset_id)
        with self._lock:  # another thread may be settling it
            return json_response(public_asset(asset))

    def _create_asset(self, request: Request) -> Response:
        params = body(request, _CREATE_FIELDS, required=("name", "tags", "mount"))
        _check_names(params)
        for field in ("target", "data_asset_ids", "results_info"):
            if field in params:
                raise _unserved(f"creating data assets with {field!r}")
        source = {k: v for k, v in (params.get("source") or {}).items() if v is not None}
        kinds = sorted(source)
        if kinds not in (["aws"], ["computation"]):
            if set(kinds) & {"gcp", "cloud_workstation"} and len(kinds) == 1:
                raise _unserved(f"data assets from a source.{kinds[0]}")
            raise ApiError(400, "Field 'source' must hold exactly one of 'aws' or 'computation'.")
        custom = params.get("custom_metadata")
        if custom is not None:
            self._check_custom(custom)
        asset_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "id": asset_id,
            "created": int(self.wall_clock()),
            "last_used": 0,
            "name": params["name"],
            "mount": params["mount"],
            "owner": SANDBOX_OWNER,
            "owner_email": SANDBOX_EMAIL,
            "state": "draft",
            "type": "dataset",
            "tags": params["tags"],
            "description": params.get("description"),
            "custom_metadata": custom,
            "archived": False,
            "favorite": False,
        }
        if "aws" in source:
            files = self._aws_source(source["aws"], record)
        else:
            files = self._computation_source(source["computation"], record)
        with self._lock:
            self.world.data_assets[asset_id] = record
            self._pending[asset_id] = (self.wall_clock() + self.asset_ready_seconds, files)
        return json_response(public_asset(record))

    def _aws_source(self, aws: Any, record: dict[str, Any]) -> dict[str, bytes]:
        check_type("source.aws", aws, dict)
        aws = {k: v for k, v in aws.items() if v is not None}
        unknown = sorted(set(aws) - set(_AWS_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown field(s) {', '.join(map(repr, unknown))} in source.aws.")
        for name, types in _AWS_FIELDS.items():
            if name in aws:
                check_type(f"source.aws.{name}", aws[name], types)
        if not aws.get("bucket"):
            raise ApiError(400, "Field 'source.aws.bucket' is required.")
        for field in ("endpoint_name", "use_input_bucket"):
            if aws.get(field):
                raise _unserved(f"source.aws.{field}")
        bucket, prefix = aws["bucket"], (aws.get("prefix") or "").strip("/")
        folder = f"{bucket}/{prefix}".rstrip("/") + "/"
        with self._lock:
            files = {k[len(folder) :]: v for k, v in self.world.s3.items() if k.startswith(folder)}
        if aws.get("keep_on_external_storage"):
            record["source_bucket"] = {
                "origin": "aws",
                "bucket": bucket,
                "prefix": prefix,
                "external": True,
            }
        else:
            record["source_bucket"] = {
                "origin": "aws",
                "bucket": CODEOCEAN_BUCKET,
                "prefix": record["id"],
                "external": False,
            }
        return files

    def _computation_source(self, source: Any, record: dict[str, Any]) -> dict[str, bytes]:
        check_type("source.computation", source, dict)
        source = {k: v for k, v in source.items() if v is not None}
        unknown = sorted(set(source) - {"id", "path"})
        if unknown:
            raise ApiError(
                400, f"Unknown field(s) {', '.join(map(repr, unknown))} in source.computation."
            )
        comp_id, path = source.get("id"), source.get("path")
        if not isinstance(comp_id, str) or not comp_id:
            raise ApiError(400, "Field 'source.computation.id' is required (a string).")
        if path is not None:
            check_type("source.computation.path", path, str)
        computation = self._computation(comp_id)
        if computation.get("state") != "completed":
            raise ApiError(
                400,
                f"Computation {comp_id} is {computation.get('state')!r}, not completed: only "
                "the results of a completed computation can be captured.",
            )
        prefix = path_param(path)
        prefix = f"{prefix}/" if prefix else ""
        record.update(type="result", provenance={"computation": comp_id})
        record["source_bucket"] = {
            "origin": "aws",
            "bucket": CODEOCEAN_BUCKET,
            "prefix": record["id"],
            "external": False,
        }
        return {
            p[len(prefix) :]: str(text).encode()
            for p, text in computation["results"].items()
            if p.startswith(prefix)
        }

    def _update_asset(self, request: Request, asset_id: str) -> Response:
        params = body(request, _UPDATE_FIELDS)
        _check_names(params)
        if "custom_metadata" in params:
            self._check_custom(params["custom_metadata"])
        asset = self._asset(asset_id)
        with self._lock:
            asset.update(params)
            return json_response(public_asset(asset))

    def _archive_asset(self, request: Request, asset_id: str) -> Response:
        archive = archive_flag(request)
        asset = self._asset(asset_id)
        with self._lock:
            asset["archived"] = archive
        return Response(status=204)

    def _delete_asset(self, request: Request, asset_id: str) -> Response:
        self._asset(asset_id)
        with self._lock:
            self.world.data_assets.pop(asset_id, None)
            self._pending.pop(asset_id, None)
        return Response(status=204)

    # -- permissions and custom metadata ---------------------------------------
    def _get_permissions(self, request: Request, asset_id: str) -> Response:
        asset = self._asset(asset_id)
        with self._lock:
            return json_response(copy.deepcopy(self._permissions_of(asset)))

    def _permissions_of(self, asset: Mapping[str, Any]) -> dict[str, Any]:
        """An asset's permissions, kept apart from its record (under the lock)."""
        owner = asset.get("owner_email") or SANDBOX_EMAIL
        return self._permissions.setdefault(asset["id"], default_permissions(owner))

    def _set_permissions(self, request: Request, asset_id: str) -> Response:
        update = permissions_update(request)
        asset = self._asset(asset_id)
        with self._lock:
            self._permissions_of(asset).update(copy.deepcopy(update))
        return Response(status=204)

    def _custom_schema(self) -> dict[str, str]:
        """Custom field name -> its type, from the world's assets."""
        kinds: dict[str, str] = {}
        with self._lock:
            for asset in self.world.data_assets.values():
                for key, value in (asset.get("custom_metadata") or {}).items():
                    number = isinstance(value, (int, float)) and not isinstance(value, bool)
                    if kinds.get(key) != "string":
                        kinds[key] = "number" if number else "string"
        return dict(sorted(kinds.items()))

    def _custom_metadata(self, request: Request) -> Response:
        fields = [{"name": k, "type": t} for k, t in self._custom_schema().items()]
        return json_response({"fields": fields, "categories": []})

    def _check_custom(self, custom: dict[str, Any]) -> None:
        schema = self._custom_schema()
        for key, value in custom.items():
            if key not in schema:
                raise ApiError(
                    400,
                    f"custom_metadata field {key!r} is not a custom metadata field of this "
                    f"deployment; its fields are {', '.join(map(repr, schema)) or 'none'}.",
                )
            check_type(f"custom_metadata.{key}", value, float if schema[key] == "number" else str)

    # -- files and URLs ----------------------------------------------------------
    def _internal(self, asset_id: str) -> dict[str, Any]:
        asset = self._asset(asset_id)
        if is_external(asset):
            raise ApiError(
                400,
                f"Data asset {asset_id} is external (its files stay in s3://"
                f"{self.world.asset_folder(asset)}); file listings and file URLs cover "
                "internal data assets only.",
            )
        return asset

    def _asset_files(self, request: Request, asset_id: str) -> Response:
        path = path_param(body(request, {"path": str}).get("path"))
        asset = self._internal(asset_id)
        with self._lock:
            files = {p: len(d) for p, d in self._stored_files(asset).items()}
        return json_response({"items": list_folder(files, path, f"data asset {asset_id}")})

    def _asset_file(self, asset_id: str, path: str) -> bytes:
        asset = self._internal(asset_id)
        data = self.world.s3.get(f"{self.world.asset_folder(asset)}/{path}")
        if data is None or not path:
            raise ApiError(404, f"File {path!r} was not found in data asset {asset_id}.")
        return bytes(data)

    def _asset_urls(self, request: Request, asset_id: str) -> Response:
        return self._file_urls(request, "data_assets", asset_id)

    def _asset_download_url(self, request: Request, asset_id: str) -> Response:
        return self._file_urls(request, "data_assets", asset_id, single=True)

    def _file(self, kind: str, item_id: str, path: str) -> bytes:
        """A data asset's file (kind ``data_assets``) or a computation's result file
        (``computations``); a 404 when there is none."""
        if kind == "computations":
            return self._result_file(item_id, path)
        return self._asset_file(item_id, path)

    def _file_urls(
        self, request: Request, kind: str, item_id: str, *, single: bool = False
    ) -> Response:
        """The answer of a ``.../urls`` route (both URLs) or of a ``.../download_url``
        one (``single``): for the file ``?path=`` names, which must exist."""
        path = path_param(request.args.get("path"))
        urls = self._urls(kind, item_id, path, self._file(kind, item_id, path))
        return json_response({"url": urls["download_url"]} if single else urls)

    def _urls(self, kind: str, item_id: str, path: str, data: bytes) -> dict[str, str]:
        """Download and view URLs of a data asset's file or a computation's result
        file (kind ``data_assets`` or ``computations``; ``data``: the file, already
        read), valid ``url_seconds``."""
        if self.s3 is not None:
            if kind == "computations":
                bucket, key = RESULTS_BUCKET, f"{item_id}/results/{path}"
                self.s3.put(bucket, key, data)
            else:
                folder = self.world.asset_folder(self._asset(item_id))
                bucket, _, prefix = f"{folder}/{path}".partition("/")
                key = prefix
            return {
                "download_url": self.s3.presign(bucket, key, self.url_seconds, download=True),
                "view_url": self.s3.presign(bucket, key, self.url_seconds, download=False),
            }
        signed = datetime.fromtimestamp(self.wall_clock(), timezone.utc).strftime(_AMZ_DATE)
        query = {"X-Amz-Date": signed, "X-Amz-Expires": str(self.url_seconds)}
        url = f"{self.base_url}/_sandbox/download/{kind}/{item_id}/{quote(path)}?"
        return {"download_url": url + urlencode(query), "view_url": url + urlencode(query)}

    def _download(self, request: Request, kind: str, item_id: str, path: str) -> Response:
        problem = presigned_url_problem(request.args, self.wall_clock())
        if problem is not None:  # as S3 refuses it
            xml = f"<Error><Code>AccessDenied</Code><Message>{problem}</Message></Error>"
            return Response(xml, status=403, mimetype="application/xml")
        if kind not in ("data_assets", "computations"):
            raise ApiError(404, f"Nothing to download at {request.path!r}.")
        data = self._file(kind, item_id, path)
        # as S3 answers a pre-signed URL: the object's ETag (its MD5) comes along
        response = Response(data, mimetype="application/octet-stream")
        response.headers["ETag"] = f'"{hashlib.md5(data).hexdigest()}"'
        return response


def _unserved(what: str) -> ApiError:
    return ApiError(
        501,
        f"The sandbox does not serve {what}; aind_session.testing.codeocean_assets lists "
        "what it serves.",
    )


def _check_names(params: Mapping[str, Any]) -> None:
    for field in ("name", "mount"):
        if field in params and not params[field].strip():
            raise ApiError(400, f"Field {field!r} must not be empty.")
    if "mount" in params and "/" in params["mount"]:
        raise ApiError(400, "Field 'mount' must be a folder name, without '/'.")
    tags = params.get("tags")
    if tags is not None and not all(isinstance(t, str) for t in tags):
        raise ApiError(400, "Field 'tags' must be a JSON array of strings.")
