"""Capsules, pipelines and computations in the sandbox's CodeOcean API.

The rules, and what each rests on (SDK: ``codeocean`` 0.12 and 0.17, their
models and docstrings; spec: the Capsules and Computations OpenAPI files of
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
- ``GET capsules/<id>`` and ``pipelines/<id>`` answer the SDK's ``Capsule``
  (sandbox-only fields left out). The ``capsules/`` routes, and a run's
  ``capsule_id``, take a pipeline's id too: the API documentation of the
  releases before the SDK had a pipelines client says "the id of the
  capsule/pipeline" (docs.codeocean.com v2.11, Capsule API), and SDK 0.12
  reaches pipelines only so. The ``pipelines/`` routes take pipelines only (a
  capsule there is a 404 saying what it is). Their ``computations`` are listed newest first;
  ``[]`` for one without runs, a 404 for an unknown id.
- ``PATCH .../archive?archive=true|false`` archives (the SDK sends a query
  parameter), 204. ``DELETE`` removes only an archived capsule or pipeline
  that was never released, else a 403 (spec, ``deleteCapsule``); its
  computations go with it (assumed). 204.
- Permissions (SDK ``Permissions``): the owner is the capsule's
  ``owner_email`` with role owner, everyone ``none`` until changed. ``POST``
  replaces the fields it gives; roles must be those of the SDK's
  ``UserRole``, ``GroupRole`` and ``EveryoneRole``, else a 400. 204.
- Attaching data assets (a JSON array of ``{id, mount}``) to a capsule or
  pipeline needs the Capsule Read and Write and Data Asset Read and Write
  scopes (spec, ``attachDataAssets``) and answers ``DataAssetAttachResults``;
  detaching takes a JSON array of ids, 204. An asset that is not attached
  cannot be detached (400, assumed).
- A computation can be renamed (``PATCH ?name=``, required and not empty,
  204) and deleted, running or not (204; spec). Data assets can be attached
  to or detached from a computation only while it runs and only if it is a
  cloud workstation (SDK docstring), else a 400.
- Releases. ``POST .../release`` (Capsule Write) starts a release job and
  answers the SDK's ``CapsuleReleaseJob``, status ``created``; ``GET
  .../release/<job_id>`` (Capsule Read) answers it again. The job is worked
  out when asked, from :attr:`RunsMixin.clock`, over the capsule's or
  pipeline's ``run_seconds`` (else the app's): ``created`` the first fifth,
  then ``started`` (with ``started``, wall time from ``wall_clock``, and
  ``duration`` so far), then ``completed`` (SDK ``CapsuleReleaseJobStatus``;
  the sandbox's jobs never fail or get canceled). Only later releases go
  through the API, the first is made in the app: a capsule or pipeline that
  was never released (neither ``status`` release nor any ``versions``, the
  same test ``DELETE`` uses) is a 400 (SDK ``release_capsule`` docstring). An
  archived one is a 400 too (assumed: the docs are silent; refusing is the
  stricter choice). One whose world entry has ``release_issues`` (flags of the
  SDK's ``CapsuleReleaseValidationIssues``) set true is a 403 whose body is
  exactly those flags (SDK docstring: the body parses with
  ``CapsuleReleaseValidationIssues.from_dict``). Once completed the job has
  ``release_capsule`` (the entry's ``release_capsule`` if the world gives
  one, else its own id: in the sandbox the record with ``versions`` is the
  release) and ``release_version``, and the entry's ``versions`` gain it: the
  next major version, minor 0, ``release_time`` when the job completed
  (assumed from the docs: "Release a new version" in the app makes a new
  version that runs select by its major number, the ``version`` of
  ``RunParams``; minor versions are metadata-only updates, not made by a new
  release). Jobs are settled whenever a capsule or pipeline route is called,
  and before every search. An unknown job, or one of another capsule, is a 404.
- ``GET .../app_panel`` (Capsule Read; spec ``getCapsuleAppPanel``) answers
  the world entry's ``app_panel`` as given (checked at load with the SDK's
  ``AppPanel.from_dict``), for any released ``version`` (``?version=`` must be
  one of the entry's major versions, else a 400, as for runs; the world gives
  one panel for all versions). What the real service answers for a capsule
  without an app panel is not documented, so that stays a 501.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from aind_session.testing.codeocean_common import (
    ASSET_READ,
    ASSET_WRITE,
    CAPSULE_READ,
    CAPSULE_WRITE,
    ApiError,
    archive_flag,
    body,
    checked_object,
    default_permissions,
    is_external,
    json_response,
    list_folder,
    path_param,
    permissions_update,
    public_computation,
    route,
)
from aind_session.testing.world import CAPSULE_EXTRAS, SANDBOX_EMAIL, SANDBOX_OWNER

__all__ = ["ROUTES", "RunsMixin"]

_KIND = "<any(capsules, pipelines):kind>/<cap_id>"


def _route(path: str, methods: str, endpoint: str, scope: str) -> Rule:
    rule = route(path, methods, endpoint, scope)
    rule.strict_slashes = False  # the SDK's detach calls end in a slash
    return rule


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
    _route(_KIND, "GET", "get_capsule", CAPSULE_READ),
    _route(_KIND, "DELETE", "delete_capsule", CAPSULE_WRITE),
    _route(f"{_KIND}/computations", "GET", "list_runs", CAPSULE_READ),
    _route(f"{_KIND}/permissions", "GET", "capsule_permissions", CAPSULE_READ),
    _route(f"{_KIND}/permissions", "POST", "capsule_set_permissions", CAPSULE_WRITE),
    _route(f"{_KIND}/archive", "PATCH", "capsule_archive", CAPSULE_WRITE),
    _route(f"{_KIND}/data_assets", "POST", "capsule_attach", CAPSULE_WRITE),
    _route(f"{_KIND}/data_assets", "DELETE", "capsule_detach", CAPSULE_WRITE),
    _route(f"{_KIND}/release", "POST", "capsule_release", CAPSULE_WRITE),
    _route(f"{_KIND}/release/<job_id>", "GET", "capsule_release_job", CAPSULE_READ),
    _route(f"{_KIND}/app_panel", "GET", "capsule_app_panel", CAPSULE_READ),
]

_NOUN = {"capsules": "Capsule", "pipelines": "Pipeline"}
# kept on records for the sandbox, never answered
_CAPSULE_PRIVATE = CAPSULE_EXTRAS
_RUN = "_run"
_JOB = "_job"
# the fraction of a release job's time that it waits, created, before it starts
_RELEASE_WAITS = 0.2
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
_ASSET_ITEM = {"id": str, "mount": str}
_NAMED_ITEM = {"param_name": str, "value": str}
_PROCESS_ITEM = {"name": str, "parameters": list, "named_parameters": list}
# where each state ends, as a fraction of the run's duration
_PHASES = (("initializing", 0.2), ("running", 0.8), ("finalizing", 1.0))


class RunsMixin:
    """The capsule, pipeline and computation endpoints of
    :class:`~aind_session.testing.codeocean_server.CodeOceanApp`.

    Attributes
    ----------
    clock
        Seconds on a clock that only goes forward; runs and release jobs
        progress by it (replace it on an app to move time in tests).

    Release jobs also read the app's ``wall_clock`` (epoch seconds, from
    :class:`~aind_session.testing.codeocean_assets.AssetsMixin`) for the
    times they answer.
    """

    world: Any
    run_seconds: float
    _lock: Any
    _capsule_extras_world: Any
    _capsule_extras_by_id: dict[str, dict[str, Any]]
    clock: Callable[[], float] = time.monotonic  # a builtin: not bound as a method
    wall_clock: Callable[[], float]  # from AssetsMixin

    if TYPE_CHECKING:  # from CodeOceanApp

        def scopes_of(self, token: str) -> frozenset[str] | None: ...

    if TYPE_CHECKING:  # from AssetsMixin

        def _asset(self, asset_id: str) -> dict[str, Any]: ...

        def _urls(self, kind: str, item_id: str, path: str) -> dict[str, str]: ...

    # -- records -----------------------------------------------------------------
    def _item(self, kind: str, item_id: str) -> dict[str, Any]:
        """The capsule (``kind`` capsules: or pipeline) or pipeline ``item_id``; call
        under the lock."""
        self._settle_releases()
        record: dict[str, Any] | None = getattr(self.world, kind).get(item_id)
        if record is None and kind == "capsules":
            record = self.world.pipelines.get(item_id)
        if record is None:
            other = "pipelines" if kind == "capsules" else "capsules"
            hint = ""
            if item_id in getattr(self.world, other):
                hint = f" {item_id} is a {_NOUN[other].lower()}, not a {_NOUN[kind].lower()}."
            raise ApiError(404, f"{_NOUN[kind]} {item_id} was not found.{hint}")
        return record

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
        path = path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return json_response(self._urls("computations", comp_id, path))

    def _result_download_url(self, request: Request, comp_id: str) -> Response:
        path = path_param(request.args.get("path"))
        self._result_file(comp_id, path)
        return json_response({"url": self._urls("computations", comp_id, path)["download_url"]})

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

    # -- capsules and pipelines -------------------------------------------------------
    def _get_capsule(self, request: Request, kind: str, cap_id: str) -> Response:
        with self._lock:
            record = self._item(kind, cap_id)
            answer = {k: v for k, v in record.items() if k not in _CAPSULE_PRIVATE}
        return json_response({k: v for k, v in answer.items() if v is not None})

    def _list_runs(self, request: Request, kind: str, cap_id: str) -> Response:
        with self._lock:
            self._item(kind, cap_id)
            runs = []
            for index, c in enumerate(self.world.computations.values()):
                if c["capsule_id"] == cap_id:
                    self._advance(c)
                    runs.append((c["created"], index, _public(c)))
        runs.sort(key=lambda run: run[:2], reverse=True)
        return json_response([run[2] for run in runs])

    def _delete_capsule(self, request: Request, kind: str, cap_id: str) -> Response:
        noun = _NOUN[kind]
        with self._lock:
            record = self._item(kind, cap_id)
            if not record["archived"]:
                raise ApiError(403, f"{noun} {cap_id} is not archived; archive it before deleting.")
            if _released(record):
                raise ApiError(403, f"{noun} {cap_id} has been released and cannot be deleted.")
            del getattr(self.world, kind)[cap_id]
            self._capsule_extras(cap_id)
            self._capsule_extras_by_id.pop(cap_id)
            for comp_id in [
                i for i, c in self.world.computations.items() if c["capsule_id"] == cap_id
            ]:
                del self.world.computations[comp_id]
        return Response(status=204)

    def _capsule_archive(self, request: Request, kind: str, cap_id: str) -> Response:
        archive = archive_flag(request)
        with self._lock:
            self._item(kind, cap_id)["archived"] = archive
        return Response(status=204)

    def _capsule_permissions(self, request: Request, kind: str, cap_id: str) -> Response:
        with self._lock:
            return json_response(copy.deepcopy(self._capsule_permissions_of(kind, cap_id)))

    def _capsule_set_permissions(self, request: Request, kind: str, cap_id: str) -> Response:
        update = permissions_update(request)
        with self._lock:
            self._capsule_permissions_of(kind, cap_id).update(copy.deepcopy(update))
        return Response(status=204)

    def _capsule_attach(self, request: Request, kind: str, cap_id: str) -> Response:
        self._need_scopes(request, CAPSULE_READ, ASSET_READ, ASSET_WRITE)
        items = _objects(body(request, kind=list), "the request body", _ASSET_ITEM, ("id",))
        assets = [self._asset(item["id"]) for item in items]
        with self._lock:
            self._item(kind, cap_id)
            results = _attach(self._capsule_extras(cap_id)["attached"], items, assets)
        return json_response(results)

    def _capsule_detach(self, request: Request, kind: str, cap_id: str) -> Response:
        self._need_scopes(request, CAPSULE_READ, ASSET_READ, ASSET_WRITE)
        ids = _strings(body(request, kind=list), "the request body")
        with self._lock:
            self._item(kind, cap_id)
            extras = self._capsule_extras(cap_id)
            extras["attached"] = _detach(extras["attached"], ids, cap_id)
        return Response(status=204)

    # -- releases and app panels ------------------------------------------------------
    def _capsule_release(self, request: Request, kind: str, cap_id: str) -> Response:
        noun = _NOUN[kind]
        with self._lock:
            record = self._item(kind, cap_id)
            if record.get("archived"):
                raise ApiError(
                    400, f"{noun} {cap_id} is archived; unarchive it before releasing it."
                )
            if not _released(record):
                raise ApiError(
                    400,
                    f"{noun} {cap_id} has never been released; its first release is made in "
                    "the app, the API releases only later versions.",
                )
            issues = {k: True for k, v in (record.get("release_issues") or {}).items() if v}
            if issues:
                return json_response(issues, 403)
            job: dict[str, Any] = {
                "job_id": str(uuid.uuid4()),
                "status": "created",
                _JOB: {
                    "clock": self.clock(),
                    "wall": self.wall_clock(),
                    "seconds": float(record.get("run_seconds", self.run_seconds)),
                    "kind": kind,
                },
            }
            self._capsule_extras(cap_id).setdefault("releases", {})[job["job_id"]] = job
            return json_response(_public_job(job))

    def _capsule_release_job(
        self, request: Request, kind: str, cap_id: str, job_id: str
    ) -> Response:
        with self._lock:
            self._item(kind, cap_id)
            job = self._capsule_extras(cap_id).get("releases", {}).get(job_id)
            if job is None:
                raise ApiError(
                    404, f"Release job {job_id} of {_NOUN[kind].lower()} {cap_id} was not found."
                )
            return json_response(_public_job(job))

    def _settle_releases(self) -> None:
        """Bring every release job up to the clock (under the lock)."""
        if getattr(self, "_capsule_extras_world", None) is not self.world:
            return  # no job was started in this world
        for cap_id, extras in self._capsule_extras_by_id.items():
            for job in extras.get("releases", {}).values():
                self._advance_release(cap_id, job)

    def _advance_release(self, cap_id: str, job: dict[str, Any]) -> None:
        if job["status"] == "completed":
            return
        state = job[_JOB]
        record = getattr(self.world, state["kind"]).get(cap_id)
        elapsed = max(0.0, self.clock() - state["clock"])
        seconds = state["seconds"]
        waits = seconds * _RELEASE_WAITS
        if record is not None and elapsed >= seconds:
            versions = list(record.get("versions") or [])
            major = 1 + max((int(v["major_version"]) for v in versions), default=0)
            version = {
                "major_version": major,
                "minor_version": 0,
                "release_time": int(state["wall"] + seconds),
            }
            record["versions"] = [*versions, version]
            job.update(
                status="completed",
                started=int(state["wall"] + waits),
                duration=int(seconds - waits),
                release_capsule=record.get("release_capsule") or cap_id,
                release_version=dict(version),
            )
        elif elapsed >= waits:
            job.update(
                status="started",
                started=int(state["wall"] + waits),
                duration=int(min(elapsed, seconds) - waits),
            )

    def _capsule_app_panel(self, request: Request, kind: str, cap_id: str) -> Response:
        raw = request.args.get("version")
        with self._lock:
            record = self._item(kind, cap_id)
            panel = record.get("app_panel")
            if panel is None:
                raise ApiError(
                    501,
                    f"The sandbox does not know what the CodeOcean API answers for the app "
                    f"panel of a {_NOUN[kind].lower()} that has none; give {cap_id} an "
                    "'app_panel' in the world.",
                )
            if raw is not None:
                try:
                    version = int(raw)
                except ValueError:
                    raise ApiError(
                        400, f"The query parameter 'version' must be an integer, not {raw!r}."
                    ) from None
                _check_version(record, version, kind)
            return json_response(copy.deepcopy(panel))

    def _capsule_extras(self, item_id: str) -> dict[str, Any]:
        """What the sandbox keeps of a capsule or pipeline besides its record (under the
        lock): attached data assets, permissions, release jobs; forgotten when a world
        is loaded."""
        if getattr(self, "_capsule_extras_world", None) is not self.world:
            self._capsule_extras_world, self._capsule_extras_by_id = self.world, {}
        extras: dict[str, Any] = self._capsule_extras_by_id.setdefault(item_id, {"attached": []})
        return extras

    def _capsule_permissions_of(self, kind: str, item_id: str) -> dict[str, Any]:
        record = self._item(kind, item_id)
        permissions: dict[str, Any] = self._capsule_extras(item_id).setdefault(
            "permissions", default_permissions(record.get("owner_email") or SANDBOX_EMAIL)
        )
        return permissions

    def _need_scopes(self, request: Request, *scopes: str) -> None:
        auth = request.authorization
        held = (self.scopes_of(auth.username or "") if auth else None) or frozenset()
        missing = [s for s in scopes if s not in held]
        if missing:
            raise ApiError(
                403,
                f"Forbidden: {request.method} {request.path} also needs an access token with the "
                f"{', '.join(map(repr, missing))} scope(s).",
            )


# -- helpers ----------------------------------------------------------------------------
def _public(computation: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in public_computation(computation).items() if k != _RUN}


def _public_job(job: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in job.items() if k != _JOB}


def _released(record: dict[str, Any]) -> bool:
    """Whether a capsule or pipeline has been released (as ``DELETE`` judges it)."""
    return record.get("status") == "release" or bool(record.get("versions"))


def _objects(
    value: Any, name: str, fields: dict[str, Any], required: tuple[str, ...]
) -> list[dict[str, Any]]:
    """``value``, a list of JSON objects with only ``fields`` (a 400 otherwise)."""
    if not isinstance(value, list):
        raise ApiError(400, f"{name} must be a JSON array.")
    return [
        checked_object(raw, fields, f"{name}[{index}]", required) for index, raw in enumerate(value)
    ]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{name} must be a JSON array of strings.")
    return list(value)


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


def _check_version(record: dict[str, Any], version: int | None, kind: str) -> None:
    if version is None:
        return
    released = sorted({v.get("major_version") for v in record.get("versions") or []})
    if version not in released:
        which = ", ".join(map(str, released)) if released else "none"
        raise ApiError(
            400,
            f"version {version} is not a released version of {_NOUN[kind].lower()} "
            f"{record['id']} (released: {which}).",
        )


def _attach(
    attached: list[dict[str, Any]], items: list[dict[str, Any]], assets: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    for item, asset in zip(items, assets, strict=True):
        mount = item.get("mount") or asset["mount"]
        attached[:] = [a for a in attached if a["id"] != asset["id"]]
        attached.append({"id": asset["id"], "mount": mount})
        external = is_external(asset)
        ready = asset.get("state") == "ready"
        results.append({"id": asset["id"], "mount": mount, "ready": ready, "external": external})
    return results


def _detach(attached: list[dict[str, Any]], ids: list[str], owner: str) -> list[dict[str, Any]]:
    present = {a["id"] for a in attached}
    missing = [i for i in ids if i not in present]
    if missing:
        raise ApiError(400, f"Data asset(s) {', '.join(missing)} are not attached to {owner}.")
    return [a for a in attached if a["id"] not in ids]
