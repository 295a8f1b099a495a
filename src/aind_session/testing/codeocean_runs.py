"""Capsules, pipelines and computations in the sandbox's CodeOcean API.

The rules, and what each rests on, are in the docstring of
:mod:`aind_session.testing.codeocean_server`.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    CAPSULE_READ,
    CAPSULE_WRITE,
    ApiError,
    body,
    json_response,
    list_folder,
    path_param,
    public_computation,
    route,
)
from aind_session.testing.world import SANDBOX_EMAIL, SANDBOX_OWNER

ROUTES = [
    route("computations", "POST", "run", CAPSULE_WRITE),
    route("computations/<comp_id>", "GET", "get_computation", CAPSULE_READ),
    route("computations/<comp_id>/results", "POST", "results", CAPSULE_READ),
    route("computations/<comp_id>/results/urls", "GET", "result_urls", CAPSULE_READ),
    route(
        "computations/<comp_id>/results/download_url", "GET", "result_download_url", CAPSULE_READ
    ),
    route("capsules/<cap_id>/computations", "GET", "list_runs", CAPSULE_READ),
    route("pipelines/<cap_id>/computations", "GET", "list_runs", CAPSULE_READ),
]


class RunsMixin:
    """The capsule, pipeline and computation endpoints of
    :class:`~aind_session.testing.codeocean_server.CodeOceanApp`."""

    world: Any
    _lock: Any

    if TYPE_CHECKING:  # from AssetsMixin

        def _asset(self, asset_id: str) -> dict[str, Any]: ...

        def _urls(self, kind: str, item_id: str, path: str) -> dict[str, str]: ...

    def _computation(self, comp_id: str) -> dict[str, Any]:
        with self._lock:
            computation = self.world.computations.get(comp_id)
        if computation is None:
            raise ApiError(404, f"Computation {comp_id} was not found.")
        return computation

    def _get_computation(self, request: Request, comp_id: str) -> Response:
        return json_response(public_computation(self._computation(comp_id)))

    def _run(self, request: Request) -> Response:
        params = body(request)
        capsule, pipeline = params.get("capsule_id"), params.get("pipeline_id")
        if bool(capsule) == bool(pipeline):
            raise ApiError(400, "Give exactly one of capsule_id or pipeline_id.")
        attached = []
        for item in params.get("data_assets") or []:
            if not isinstance(item, dict) or not item.get("id"):
                raise ApiError(400, "Each item of data_assets needs an 'id'.")
            asset = self._asset(str(item["id"]))
            attached.append({"id": asset["id"], "mount": item.get("mount") or asset["mount"]})
        plain = params.get("parameters") or []
        named = params.get("named_parameters") or []
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
            if params.get("nextflow_profile"):
                record["nextflow_profile"] = params["nextflow_profile"]
            self.world.computations[record["id"]] = record
        return json_response(public_computation(record))

    def _results(self, request: Request, comp_id: str) -> Response:
        computation = self._computation(comp_id)
        path = path_param(body(request).get("path"))
        files = {p: len(text.encode()) for p, text in computation["results"].items()}
        return json_response({"items": list_folder(files, path, f"computation {comp_id}")})

    def _result_file(self, comp_id: str, path: str) -> bytes:
        text = self._computation(comp_id)["results"].get(path)
        if text is None:
            raise ApiError(
                404, f"File {path!r} was not found in the results of computation {comp_id}."
            )
        return str(text).encode()

    def _result_urls(self, request: Request, comp_id: str) -> Response:
        path = path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return json_response(self._urls("computations", comp_id, path))

    def _result_download_url(self, request: Request, comp_id: str) -> Response:
        path = path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return json_response({"url": self._urls("computations", comp_id, path)["download_url"]})

    def _list_runs(self, request: Request, cap_id: str) -> Response:
        with self._lock:
            runs = [c for c in self.world.computations.values() if c.get("capsule_id") == cap_id]
        if not runs:
            kind = "Pipeline" if "/pipelines/" in request.path else "Capsule"
            raise ApiError(404, f"{kind} {cap_id} was not found.")
        runs.sort(key=lambda c: (c["created"], c["id"]), reverse=True)
        return json_response([public_computation(c) for c in runs])
