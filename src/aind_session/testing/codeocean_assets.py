"""Data assets in the sandbox's CodeOcean API: get, files, file URLs, downloads.

The rules, and what each rests on, are in the docstring of
:mod:`aind_session.testing.codeocean_server`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    ASSET_READ,
    ApiError,
    body,
    json_response,
    list_folder,
    path_param,
    public_asset,
    route,
)

ROUTES = [
    route("data_assets/<asset_id>", "GET", "get_asset", ASSET_READ),
    route("data_assets/<asset_id>/files", "POST", "asset_files", ASSET_READ),
    route("data_assets/<asset_id>/files/urls", "GET", "asset_urls", ASSET_READ),
    route("data_assets/<asset_id>/files/download_url", "GET", "asset_download_url", ASSET_READ),
    route("/_sandbox/download/<kind>/<item_id>/<path:path>", "GET", "download", None),
]


class AssetsMixin:
    """The data-asset endpoints of :class:`~aind_session.testing.codeocean_server.CodeOceanApp`."""

    world: Any
    base_url: str
    _lock: Any

    if TYPE_CHECKING:  # from RunsMixin

        def _result_file(self, comp_id: str, path: str) -> bytes: ...

    def _prepare_assets(self) -> None:
        """Called by ``load`` (under the lock) once the world is copied: fill in what
        the world leaves out of its assets."""

    def _get_asset(self, request: Request, asset_id: str) -> Response:
        return json_response(public_asset(self._asset(asset_id)))

    def _asset(self, asset_id: str) -> dict[str, Any]:
        with self._lock:
            asset = self.world.data_assets.get(asset_id)
        if asset is None:
            raise ApiError(404, f"Data asset {asset_id} was not found.")
        return asset

    def _asset_files(self, request: Request, asset_id: str) -> Response:
        asset = self._asset(asset_id)
        path = path_param(body(request).get("path"))
        folder = self.world.asset_folder(asset)
        files = {
            key[len(folder) + 1 :]: len(data)
            for key, data in self.world.s3.items()
            if key.startswith(folder + "/")
        }
        return json_response({"items": list_folder(files, path, f"data asset {asset_id}")})

    def _asset_file(self, asset_id: str, path: str) -> bytes:
        asset = self._asset(asset_id)
        data = self.world.s3.get(f"{self.world.asset_folder(asset)}/{path}")
        if data is None:
            raise ApiError(404, f"File {path!r} was not found in data asset {asset_id}.")
        return data

    def _asset_urls(self, request: Request, asset_id: str) -> Response:
        path = path_param(request.args.get("path"))
        self._asset_file(asset_id, path)
        return json_response(self._urls("data_assets", asset_id, path))

    def _asset_download_url(self, request: Request, asset_id: str) -> Response:
        path = path_param(request.args.get("path"))
        self._asset_file(asset_id, path)
        return json_response({"url": self._urls("data_assets", asset_id, path)["download_url"]})

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
