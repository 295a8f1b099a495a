"""Computations in the sandbox's CodeOcean API: getting, renaming and deleting
them, data assets on a cloud workstation, results and their URLs, and starting
a run (capsules and pipelines, their releases and app panels are in
:mod:`~aind_session.testing.codeocean_capsules`).

The rules, and what each rests on (SDK: ``codeocean`` 0.12 and 0.17, their
models and docstrings; spec: the Computations OpenAPI file of
``api-evangelist/code-ocean``, written from docs.codeocean.com):

- A run started with ``POST computations`` goes initializing, running,
  finalizing, completed (the states of the SDK's ``ComputationState``) over its
  capsule's or pipeline's ``run_seconds`` (else the app's ``run_seconds``): the
  first fifth initializing, up to four fifths running, then finalizing. It
  ends ``end_status`` succeeded, ``exit_code`` 0 (SDK ``Computation``), with
  ``run_time`` the whole seconds it ran. Its results (the capsule's
  ``produces``) and ``has_results`` appear when it completes, not before.
  The state is worked out when asked, from :attr:`RunsMixin.clock`; the
  answer to the ``POST`` itself is the run as created, initializing.
  Computations of the world keep the state they were given.
- The run body takes the fields of the SDK's ``RunParams`` (the same in 0.12
  and 0.17); an unknown field, a wrong type, or an unknown field in an item
  of ``data_assets``, ``named_parameters`` or ``processes`` is a 400 naming it.
  Exactly one of ``capsule_id`` and ``pipeline_id``; ``parameters`` and
  ``named_parameters`` go with a capsule, ``processes`` and
  ``nextflow_profile`` with a pipeline (SDK ``run_capsule`` docstring), else a
  400. Parameter values are strings (SDK ``RunParams``: ``list[str]``,
  ``NamedRunParam.value: str``). An unknown capsule, pipeline or data asset
  is a 404 naming it; so is a ``resume_run_id`` that no computation has (a run
  of another capsule or pipeline is a 400). ``version`` must be one of the
  capsule's released ``versions`` (``major_version``), else a 400.
- The run answers ``parameters`` as ``Param`` items (``value``, and
  ``param_name`` when named), ``data_assets`` with their mounts (an asset's own
  mount when none is given), the capsule's attached assets too at mounts the
  run leaves free (assumed: a run sees what is attached), and
  ``nextflow_profile``. A pipeline's processes (SDK ``PipelineProcess``: each
  names its capsule) are known only from the ``processes`` of its
  computations in the world: a run answers those, with the parameters it gave
  each; naming a process the sandbox does not know is a 400.
- A computation can be renamed (``PATCH ?name=``, required and not empty,
  204) and deleted, running or not (204; spec). Data assets can be attached
  to or detached from a computation only while it runs and only if it is a
  cloud workstation (SDK docstring), else a 400.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_capsules import (
    _ASSET_ITEM,
    _RUN,
    _attach,
    _check_version,
    _detach,
    _objects,
    _public,
    _route,
    _strings,
)
from aind_session.testing.codeocean_common import (
    CAPSULE_READ,
    CAPSULE_WRITE,
    ApiError,
    body,
    json_response,
    list_folder,
    path_param,
)
from aind_session.testing.world import SANDBOX_EMAIL, SANDBOX_OWNER

__all__ = ["ROUTES", "RunsMixin"]

ROUTES = [
    _route("computations", "POST", "run", CAPSULE_WRITE),
    _route("computations/<comp_id>", "GET", "get_computation", CAPSULE_READ),
    _route("computations/<comp_id>", "PATCH", "rename_computation", CAPSULE_WRITE),
    _route("computations/<comp_id>", "DELETE", "delete_computation", CAPSULE_WRITE),
    _route("computations/<comp_id>/data_assets", "POST", "run_attach", CAPSULE_WRITE),
    _route("computations/<comp_id>/data_assets", "DELETE", "run_detach", CAPSULE_WRITE),
    _route("computations/<comp_id>/results", "POST", "results", CAPSULE_READ),
    _route("computations/<comp_id>/results/urls", "GET", "result_urls", CAPSULE_READ),
    _route(
        "computations/<comp_id>/results/download_url", "GET", "result_download_url", CAPSULE_READ
    ),
]

_RUN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "capsule_id": str,
    "pipeline_id": str,
    "version": int,
    "resume_run_id": str,
    "nextflow_profile": str,
    "data_assets": list,
    "parameters": list,
    "named_parameters": list,
    "processes": list,
}
_NAMED_ITEM = {"param_name": str, "value": str}
_PROCESS_ITEM = {"name": str, "parameters": list, "named_parameters": list}
# where each state ends, as a fraction of the run's duration
_PHASES = (("initializing", 0.2), ("running", 0.8), ("finalizing", 1.0))


class RunsMixin:
    """The computation endpoints of
    :class:`~aind_session.testing.codeocean_server.CodeOceanApp`.

    Attributes
    ----------
    clock
        Seconds on a clock that only goes forward; runs and release jobs
        progress by it (replace it on an app to move time in tests).

    Runs also read the app's ``wall_clock`` (epoch seconds, from
    :class:`~aind_session.testing.codeocean_assets.AssetsMixin`) for their
    ``created``.
    """

    world: Any
    run_seconds: float
    _lock: Any
    clock: Callable[[], float] = time.monotonic  # a builtin: not bound as a method
    wall_clock: Callable[[], float]  # from AssetsMixin

    if TYPE_CHECKING:  # from AssetsMixin

        def _asset(self, asset_id: str) -> dict[str, Any]: ...

        def _file_urls(
            self, request: Request, kind: str, item_id: str, *, single: bool = False
        ) -> Response: ...

    if TYPE_CHECKING:  # from CapsulesMixin

        def _item(self, kind: str, item_id: str) -> dict[str, Any]: ...

        def _capsule_extras(self, item_id: str) -> dict[str, Any]: ...

    # -- records -----------------------------------------------------------------
    def _computation(self, comp_id: str) -> dict[str, Any]:
        with self._lock:
            return self._computation_locked(comp_id)

    def _advance(self, record: dict[str, Any]) -> None:
        """Bring a run started here up to the clock (under the lock)."""
        run = record.get(_RUN)
        if run is None or record["state"] == "completed":
            return
        elapsed = max(0.0, self.clock() - run["started"])
        seconds = run["seconds"]
        record["run_time"] = int(min(elapsed, seconds))
        if elapsed >= seconds:
            results = dict(run["produces"])
            record.update(state="completed", end_status="succeeded", exit_code=0)
            record.update(results=results, has_results=bool(results))
            return
        record["state"] = next(s for s, end in _PHASES if elapsed < end * seconds)

    # -- computations ------------------------------------------------------------
    def _get_computation(self, request: Request, comp_id: str) -> Response:
        with self._lock:  # another thread may be advancing it
            return json_response(_public(self._computation_locked(comp_id)))

    def _rename_computation(self, request: Request, comp_id: str) -> Response:
        name = request.args.get("name", "").strip()
        if not name:
            raise ApiError(400, "Give the computation's new name as the query parameter 'name'.")
        with self._lock:
            self._computation_locked(comp_id)["name"] = name
        return Response(status=204)

    def _delete_computation(self, request: Request, comp_id: str) -> Response:
        with self._lock:
            self._computation_locked(comp_id)
            del self.world.computations[comp_id]
        return Response(status=204)

    def _computation_locked(self, comp_id: str) -> dict[str, Any]:
        record: dict[str, Any] | None = self.world.computations.get(comp_id)
        if record is None:
            raise ApiError(404, f"Computation {comp_id} was not found.")
        self._advance(record)
        return record

    def _run_attach(self, request: Request, comp_id: str) -> Response:
        items = _objects(body(request, kind=list), "the request body", _ASSET_ITEM, ("id",))
        assets = [self._asset(item["id"]) for item in items]
        with self._lock:
            record = self._workstation(comp_id)
            results = _attach(record.setdefault("data_assets", []), items, assets)
        return json_response(results)

    def _run_detach(self, request: Request, comp_id: str) -> Response:
        ids = _strings(body(request, kind=list), "the request body")
        with self._lock:
            record = self._workstation(comp_id)
            record["data_assets"] = _detach(record.get("data_assets") or [], ids, comp_id)
        return Response(status=204)

    def _workstation(self, comp_id: str) -> dict[str, Any]:
        record = self._computation_locked(comp_id)
        if not record.get("cloud_workstation") or record["state"] in ("completed", "failed"):
            raise ApiError(
                400,
                f"Computation {comp_id} is not a running cloud workstation; data assets are "
                "attached to or detached from cloud workstation sessions only.",
            )
        return record

    # -- results ------------------------------------------------------------------
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
        return self._file_urls(request, "computations", comp_id)

    def _result_download_url(self, request: Request, comp_id: str) -> Response:
        return self._file_urls(request, "computations", comp_id, single=True)

    # -- starting a run -------------------------------------------------------------
    def _run(self, request: Request) -> Response:
        params = body(request, _RUN_FIELDS)
        capsule, pipeline = params.get("capsule_id"), params.get("pipeline_id")
        if bool(capsule) == bool(pipeline):
            raise ApiError(400, "Give exactly one of capsule_id or pipeline_id.")
        kind, item_id = ("capsules", capsule) if capsule else ("pipelines", pipeline)
        wrong = ("processes", "nextflow_profile") if capsule else ("parameters", "named_parameters")
        for name in wrong:
            if name in params:
                raise ApiError(
                    400,
                    f"Field {name!r} is not for a {'capsule' if capsule else 'pipeline'} run: "
                    "a capsule takes parameters and named_parameters, a pipeline takes "
                    "processes and nextflow_profile.",
                )
        items = _objects(params.get("data_assets", []), "data_assets", _ASSET_ITEM, ("id",))
        assets = [self._asset(item["id"]) for item in items]
        parameters = _parameters(params, "")
        with self._lock:
            record = self._item(kind, item_id)
            _check_version(record, params.get("version"), kind)
            if "resume_run_id" in params:
                self._check_resume(params["resume_run_id"], item_id)
            mounted = [
                {"id": a["id"], "mount": i.get("mount") or a["mount"]}
                for i, a in zip(items, assets, strict=True)
            ]
            taken = {m["mount"] for m in mounted} | {m["id"] for m in mounted}
            mounted += [
                a
                for a in self._capsule_extras(item_id)["attached"]
                if not {a["id"], a["mount"]} & taken
            ]
            runs = [c for c in self.world.computations.values() if c["capsule_id"] == item_id]
            number = 1 + len(runs)
            computation: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "created": int(self.wall_clock()),
                "name": f"Run With Parameters {number}" if parameters else f"Run {number}",
                "owner": SANDBOX_OWNER,
                "owner_email": SANDBOX_EMAIL,
                "run_time": 0,
                "state": "initializing",
                "has_results": False,
                "data_assets": mounted,
                "parameters": parameters or None,
                "nextflow_profile": params.get("nextflow_profile"),
                "processes": _processes(runs, params.get("processes"), item_id),
                "capsule_id": item_id,
                "results": {},
                _RUN: {
                    "started": self.clock(),
                    "seconds": float(record.get("run_seconds", self.run_seconds)),
                    "produces": dict(record.get("produces") or {}),
                },
            }
            self.world.computations[computation["id"]] = computation
            answer = _public(computation)
        return json_response(answer)

    def _check_resume(self, run_id: str, item_id: str) -> None:
        previous = self.world.computations.get(run_id)
        if previous is None:
            raise ApiError(404, f"resume_run_id: computation {run_id} was not found.")
        if previous["capsule_id"] != item_id:
            raise ApiError(
                400,
                f"resume_run_id: computation {run_id} is a run of {previous['capsule_id']}, "
                f"not of {item_id}.",
            )


# -- helpers ----------------------------------------------------------------------------
def _parameters(params: dict[str, Any], where: str) -> list[dict[str, str]]:
    """The ``Param`` items a run answers for its ``parameters`` and ``named_parameters``."""
    plain = _strings(params.get("parameters", []), f"{where}parameters")
    named = _objects(
        params.get("named_parameters", []),
        f"{where}named_parameters",
        _NAMED_ITEM,
        tuple(_NAMED_ITEM),
    )
    return [{"value": v} for v in plain] + [
        {"param_name": p["param_name"], "value": p["value"]} for p in named
    ]


def _processes(
    runs: list[dict[str, Any]], given: Any, pipeline_id: str
) -> list[dict[str, Any]] | None:
    """A pipeline run's ``processes``: those of its latest world run that lists them."""
    known = next(
        (
            r["processes"]
            for r in sorted(runs, key=lambda r: r["created"], reverse=True)
            if r.get("processes")
        ),
        None,
    )
    requested = _objects(given or [], "processes", _PROCESS_ITEM, ("name",))
    names = [p["name"] for p in requested]
    if len(set(names)) != len(names):
        raise ApiError(400, "processes names a process more than once.")
    by_name = {p["name"]: p for p in known or []}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ApiError(
            400,
            f"Pipeline {pipeline_id} has no process named {', '.join(map(repr, unknown))}"
            + (
                f"; its processes are {', '.join(map(repr, by_name))}."
                if by_name
                else " (the sandbox knows a pipeline's processes from the 'processes' of "
                "its computations in the world, and none lists any)."
            ),
        )
    if known is None:
        return None
    wanted = {p["name"]: _parameters(p, f"processes[{names.index(p['name'])}].") for p in requested}
    out = []
    for process in known:
        entry = {k: v for k, v in process.items() if k != "parameters"}
        if wanted.get(process["name"]):
            entry["parameters"] = wanted[process["name"]]
        out.append(entry)
    return out
