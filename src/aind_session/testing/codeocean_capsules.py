"""Capsules and pipelines in the sandbox's CodeOcean API: getting them, listing
their runs, archive and delete, permissions, attached data assets, releases and
app panels (computations are in :mod:`~aind_session.testing.codeocean_runs`).

The rules, and what each rests on (SDK: ``codeocean`` 0.12 and 0.17, their
models and docstrings; spec: the Capsules OpenAPI file of
``api-evangelist/code-ocean``, written from docs.codeocean.com):

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
- Releases. ``POST .../release`` (Capsule Write) starts a release job and
  answers the SDK's ``CapsuleReleaseJob``, status ``created``; ``GET
  .../release/<job_id>`` (Capsule Read) answers it again. The job is worked out
  when asked, from
  :attr:`~aind_session.testing.codeocean_runs.RunsMixin.clock`, over the
  capsule's or pipeline's ``run_seconds`` (else the app's): ``created`` the
  first fifth, then ``started`` (with ``started``, wall time from
  ``wall_clock``, and ``duration`` so far), then ``completed`` (SDK
  ``CapsuleReleaseJobStatus``; the sandbox's jobs never fail or get canceled).
  Only later releases go through the API, the first is made in the app: a
  capsule or pipeline that was never released (neither ``status`` release nor
  any ``versions``, the same test ``DELETE`` uses) is a 400 (SDK
  ``release_capsule`` docstring). An archived one is a 400 too (assumed: the
  docs are silent; refusing is the stricter choice). One whose world entry has
  ``release_issues`` (flags of the SDK's ``CapsuleReleaseValidationIssues``)
  set true is a 403 whose body is exactly those flags (SDK docstring: the body
  parses with ``CapsuleReleaseValidationIssues.from_dict``). Once completed the
  job has ``release_capsule`` (the entry's ``release_capsule`` if the world
  gives one, else its own id: in the sandbox the record with ``versions`` is
  the release) and ``release_version``, and the entry's ``versions`` gain it:
  the next major version, minor 0, ``release_time`` when the job completed
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
    permissions_update,
    public_computation,
    route,
)
from aind_session.testing.world import CAPSULE_EXTRAS, SANDBOX_EMAIL

__all__ = ["ROUTES", "CapsulesMixin"]

_KIND = "<any(capsules, pipelines):kind>/<cap_id>"


def _route(path: str, methods: str, endpoint: str, scope: str) -> Rule:
    rule = route(path, methods, endpoint, scope)
    rule.strict_slashes = False  # the SDK's detach calls end in a slash
    return rule


ROUTES = [
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
_ASSET_ITEM = {"id": str, "mount": str}


class CapsulesMixin:
    """The capsule and pipeline endpoints of
    :class:`~aind_session.testing.codeocean_server.CodeOceanApp`.

    Release jobs progress by the app's ``clock`` (from
    :class:`~aind_session.testing.codeocean_runs.RunsMixin`) and read its
    ``wall_clock`` (epoch seconds, from
    :class:`~aind_session.testing.codeocean_assets.AssetsMixin`) for the times
    they answer.
    """

    world: Any
    run_seconds: float
    _lock: Any
    _capsule_extras_world: Any
    _capsule_extras_by_id: dict[str, dict[str, Any]]
    clock: Callable[[], float]  # from RunsMixin
    wall_clock: Callable[[], float]  # from AssetsMixin

    if TYPE_CHECKING:  # from CodeOceanApp

        def scopes_of(self, token: str) -> frozenset[str] | None: ...

    if TYPE_CHECKING:  # from AssetsMixin

        def _asset(self, asset_id: str) -> dict[str, Any]: ...

    if TYPE_CHECKING:  # from RunsMixin

        def _advance(self, record: dict[str, Any]) -> None: ...

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
