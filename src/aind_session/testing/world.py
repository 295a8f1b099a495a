"""The world file: what the sandbox's CodeOcean and S3 servers hold.

One JSON document with these keys, all optional::

    {"data_assets": [{"id": "<uuid>", "name": "...", "created": 1702620828, ...}],
     "computations": [{"id": "<uuid>", "capsule_id": "<capsule or pipeline id>", ...}],
     "capsules": [{"id": "<uuid>", "name": "...", ...}],
     "pipelines": [{"id": "<uuid>", "name": "...", ...}],
     "tokens": {"<name>": ["Data Asset - Read", ...]},
     "s3": {"<bucket>/<key>": "text" | <any other JSON value>},
     "docdb": {"<db>/<collection>": [{"_id": "<text>", ...}, ...]}}

- A data asset takes any field of the SDK's ``DataAsset``; ``id`` (a UUID) and
  ``name`` are required, the rest get defaults (see :data:`ASSET_DEFAULTS`).
  Two sandbox-only flags are accepted: ``archived`` and ``favorite``.
- A computation takes any field of the SDK's ``Computation`` plus
  ``capsule_id`` (the capsule or pipeline it ran) and ``results`` (relative
  path -> file text, the files of its ``/results`` folder).
- A capsule or pipeline takes any field of the SDK's ``Capsule`` (``id`` and
  ``name`` required) plus the sandbox-only ``archived``, ``produces`` (relative
  path -> file text: the results a run of it makes), ``run_seconds`` (how
  long its runs and release jobs take; the sandbox's own setting when absent),
  ``app_panel`` (what ``GET .../app_panel`` answers: an object the SDK's
  ``AppPanel`` parses) and ``release_issues`` (flags of the SDK's
  ``CapsuleReleaseValidationIssues``, true for a release requirement it does
  not meet; see :data:`RELEASE_ISSUES`).
- A capsule or pipeline that computations name but the world does not list is
  made up: a capsule (a pipeline when named by ``pipeline_id``) that produces
  nothing, so older worlds keep working.
- ``tokens`` names more API tokens and the scopes each has (the sandbox's own
  token has every scope); the sandbox makes a secret value for each
  (``Sandbox.tokens[name]``).
- An ``s3`` value that is a string is stored as that text; any other JSON value
  is stored serialized. Buckets are created from the keys.
- A ``docdb`` entry maps ``"<database>/<collection>"`` (e.g.
  ``"metadata_index_v2/data_assets"``) to its records, JSON objects each with a
  text ``_id`` unique in its collection (DocDB records are keyed by the asset's
  id); the sandbox's DocDB server queries them with mongomock.

The files of a data asset are the S3 objects under its ``source_bucket``
bucket and prefix; an asset without one keeps them under
``<CODEOCEAN_BUCKET>/<asset id>/``, as internal CodeOcean assets do.

A malformed world raises :class:`WorldError` naming the file, the entry and the
problem.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ASSET_DEFAULTS",
    "CODEOCEAN_BUCKET",
    "SAMPLE_WORLD",
    "World",
    "WorldError",
    "load_world",
]

CODEOCEAN_BUCKET = "codeocean-s3datasetsbucket-1u41qdg42ur9"
SAMPLE_WORLD = "sample_world.json"
SANDBOX_OWNER = "00000000-0000-4000-8000-000000000001"
SANDBOX_EMAIL = "sandbox@example.org"

ASSET_DEFAULTS: dict[str, Any] = {
    "created": 0,
    "last_used": 0,
    "owner": SANDBOX_OWNER,
    "owner_email": SANDBOX_EMAIL,
    "state": "ready",
    "type": "dataset",
}
COMPUTATION_DEFAULTS: dict[str, Any] = {
    "created": 0,
    "owner": SANDBOX_OWNER,
    "run_time": 0,
    "state": "completed",
}
ASSET_EXTRAS = frozenset({"archived", "favorite"})
COMPUTATION_EXTRAS = frozenset({"capsule_id", "pipeline_id", "results"})
CAPSULE_DEFAULTS: dict[str, Any] = {
    "created": 0,
    "owner": SANDBOX_OWNER,
    "owner_email": SANDBOX_EMAIL,
    "status": "non_release",
}
CAPSULE_EXTRAS = frozenset({"archived", "produces", "run_seconds", "app_panel", "release_issues"})
# the flags of the SDK's CapsuleReleaseValidationIssues (codeocean 0.17; 0.12 has none)
RELEASE_ISSUES = frozenset(
    {
        "missing_reproducible_run",
        "uncommitted_files",
        "missing_metadata",
        "non_default_branch",
        "git_out_of_sync",
        "unreleased_pipeline_capsules",
        "missing_release_functionality",
        "invalid_app_panel",
        "unreleased_post_run_capsule",
    }
)
TOP_LEVEL = ("data_assets", "computations", "capsules", "pipelines", "tokens", "s3", "docdb")


class WorldError(ValueError):
    """A world file or dict that the sandbox cannot load."""


@dataclasses.dataclass
class World:
    """A loaded, validated world: JSON-ready records keyed by id, and S3 bytes by path."""

    source: str
    data_assets: dict[str, dict[str, Any]]
    computations: dict[str, dict[str, Any]]
    s3: dict[str, bytes]
    docdb: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    capsules: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    pipelines: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    tokens: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def copy(self) -> World:
        return World(
            self.source,
            copy.deepcopy(self.data_assets),
            copy.deepcopy(self.computations),
            dict(self.s3),
            copy.deepcopy(self.docdb),
            copy.deepcopy(self.capsules),
            copy.deepcopy(self.pipelines),
            copy.deepcopy(self.tokens),
        )

    def asset_folder(self, asset: Mapping[str, Any]) -> str:
        """``bucket/prefix`` holding an asset's files in S3 (no trailing slash)."""
        bucket = asset.get("source_bucket") or {}
        if bucket.get("bucket"):
            return f"{bucket['bucket']}/{(bucket.get('prefix') or '').strip('/')}".rstrip("/")
        return f"{CODEOCEAN_BUCKET}/{asset['id']}"


def load_world(world: str | Path | Mapping[str, Any] | None = None) -> World:
    """Load and check a world: a path to a JSON file, a dict, or ``None`` for the sample.

    Raises
    ------
    WorldError
        For a missing file, invalid JSON, an unknown key, an entry without
        ``id`` or ``name``, a duplicate id, an id that is not a UUID, or a
        value the SDK's models reject.

    Examples
    --------
    >>> world = load_world()
    >>> world.data_assets['16d46411-540a-4122-b47f-8cb2a15d593a']['name']
    'ecephys_676909_2023-12-13_13-43-40'
    >>> load_world({'data_assets': [{'name': 'x'}]})
    Traceback (most recent call last):
    ...
    aind_session.testing.world.WorldError: World <dict>: data_assets[0] ('x') has no 'id'; give every data asset a UUID id.
    """
    if world is None:
        text = resources.files("aind_session.testing").joinpath(SAMPLE_WORLD).read_text("utf-8")
        return _parse(_decode(text, f"<bundled {SAMPLE_WORLD}>"), f"<bundled {SAMPLE_WORLD}>")
    if isinstance(world, Mapping):
        return _parse(copy.deepcopy(dict(world)), "<dict>")
    path = Path(world)
    source = str(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise WorldError(f"World file {source!r} does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorldError(f"World file {source!r} cannot be read: {exc}.") from None
    return _parse(_decode(text, source), source)


def _decode(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorldError(
            f"World file {source!r} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}."
        ) from None


def _parse(raw: Any, source: str) -> World:
    where = f"World {source}" if source == "<dict>" else f"World file {source!r}"
    if not isinstance(raw, dict):
        raise WorldError(f"{where} must hold a JSON object, not {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise WorldError(
            f"{where} has unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are {', '.join(map(repr, TOP_LEVEL))}."
        )
    from aind_session.codeocean.sdk import Capsule, Computation, DataAsset

    seen: dict[str, str] = {}
    assets = _records(
        raw.get("data_assets", []),
        "data_assets",
        where,
        DataAsset,
        ASSET_DEFAULTS,
        ASSET_EXTRAS,
        seen,
    )
    computations = _records(
        raw.get("computations", []),
        "computations",
        where,
        Computation,
        COMPUTATION_DEFAULTS,
        COMPUTATION_EXTRAS,
        seen,
    )
    capsules, pipelines = (
        _records(
            raw.get(section, []), section, where, Capsule, CAPSULE_DEFAULTS, CAPSULE_EXTRAS, seen
        )
        for section in ("capsules", "pipelines")
    )
    _implied_capsules(raw.get("computations", []), computations, capsules, pipelines)
    objects = _objects(raw.get("s3", {}), where)
    return World(
        source,
        assets,
        computations,
        objects,
        _docdb(raw.get("docdb", {}), where),
        capsules,
        pipelines,
        _tokens(raw.get("tokens", {}), where),
    )


def _records(
    entries: Any,
    section: str,
    where: str,
    model: type,
    defaults: dict[str, Any],
    extras: frozenset[str],
    seen: dict[str, str],
) -> dict[str, dict[str, Any]]:
    if not isinstance(entries, list):
        raise WorldError(f"{where}: {section!r} must be a list, not {type(entries).__name__}.")
    from aind_session.codeocean.sdk import service_fields

    allowed = service_fields(model) | extras
    records: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise WorldError(f"{where}: {section}[{index}] must be an object.")
        label = f"{section}[{index}]" + (f" ({entry['name']!r})" if "name" in entry else "")
        kind = section[:-1].replace("_", " ")
        if "id" not in entry:
            raise WorldError(f"{where}: {label} has no 'id'; give every {kind} a UUID id.")
        if section != "computations" and not entry.get("name"):
            raise WorldError(f"{where}: {label} has no 'name'; every {kind} needs one.")
        try:
            entry_id = str(uuid.UUID(str(entry["id"])))
        except ValueError:
            raise WorldError(
                f"{where}: {label} has id {entry['id']!r}, which is not a UUID "
                "(like '16d46411-540a-4122-b47f-8cb2a15d593a')."
            ) from None
        if entry_id in seen:
            raise WorldError(
                f"{where}: {label} repeats id {entry_id!r}, already used by {seen[entry_id]}."
            )
        seen[entry_id] = label
        bad = sorted(set(entry) - allowed)
        if bad:
            raise WorldError(
                f"{where}: {label} has unknown field(s) {', '.join(map(repr, bad))}; "
                f"known fields are {', '.join(sorted(allowed))}."
            )
        record = {**defaults, **entry, "id": entry_id}
        if section == "data_assets":
            record.setdefault("mount", record["name"])
            record.setdefault("archived", False)
            record.setdefault("favorite", False)
        elif section in ("capsules", "pipelines"):
            record.setdefault("slug", entry_id[:8])
            record.setdefault("archived", False)
            _check_capsule(record, where, label)
        else:
            record.setdefault("name", f"Run {index + 1}")
            record.setdefault("results", {})
            record.setdefault("has_results", bool(record["results"]))
            if not (record.get("capsule_id") or record.get("pipeline_id")):
                raise WorldError(
                    f"{where}: {label} has no 'capsule_id'; name the capsule or pipeline it ran."
                )
            record["capsule_id"] = record.get("capsule_id") or record.pop("pipeline_id")
            results = record["results"]
            if not isinstance(results, dict) or not all(
                isinstance(v, str) for v in results.values()
            ):
                raise WorldError(f"{where}: {label} 'results' must map file paths to text.")
        _check_types(record, where, label)
        try:
            model.from_dict({k: v for k, v in record.items() if k not in extras})  # type: ignore[attr-defined]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise WorldError(
                f"{where}: {label} is not a valid {model.__name__}: {type(exc).__name__}: {exc}."
            ) from None
        records[entry_id] = record
    return records


# JSON types of the fields the SDK's models do not check themselves
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "mount": (str,),
    "description": (str,),
    "owner": (str,),
    "owner_email": (str,),
    "created": (int,),
    "last_used": (int,),
    "run_time": (int,),
    "size": (int,),
    "files": (int,),
    "exit_code": (int,),
    "custom_metadata": (dict,),
    "source_bucket": (dict,),
    "provenance": (dict,),
    "archived": (bool,),
    "favorite": (bool,),
    "has_results": (bool,),
    "tags": (list,),
    "data_assets": (list,),
    "parameters": (list,),
}


def _check_types(record: dict[str, Any], where: str, label: str) -> None:
    for field, types in _TYPES.items():
        value = record.get(field)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise WorldError(
                f"{where}: {label} field {field!r} must be a JSON {_json_name(types[0])}, "
                f"not {value!r}."
            )
    if any(not isinstance(tag, str) for tag in record.get("tags") or []):
        raise WorldError(f"{where}: {label} field 'tags' must hold strings only.")
    for item in record.get("data_assets") or []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise WorldError(f"{where}: {label} 'data_assets' items need a string 'id'.")


def _implied_capsules(
    entries: list[Any],
    computations: dict[str, dict[str, Any]],
    capsules: dict[str, dict[str, Any]],
    pipelines: dict[str, dict[str, Any]],
) -> None:
    """A capsule (or, named by ``pipeline_id``, a pipeline) for each id the computations
    ran that the world does not list, so worlds written before those sections still
    serve their runs; it produces nothing."""
    for entry in entries:
        ran = str(entry.get("capsule_id") or entry.get("pipeline_id") or "")
        if not ran or ran in capsules or ran in pipelines:
            continue
        kind, section = (
            ("Pipeline", pipelines) if not entry.get("capsule_id") else ("Capsule", capsules)
        )
        created = min(
            (int(c.get("created") or 0) for c in computations.values() if c["capsule_id"] == ran),
            default=0,
        )
        section[ran] = {
            **CAPSULE_DEFAULTS,
            "id": ran,
            "name": f"{kind} {ran[:8]}",
            "created": created,
            "slug": ran[:8],
            "archived": False,
            "produces": {},
        }


def _check_capsule(record: dict[str, Any], where: str, label: str) -> None:
    produces = record.setdefault("produces", {})
    if not isinstance(produces, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in produces.items()
    ):
        raise WorldError(f"{where}: {label} 'produces' must map file paths to text.")
    seconds = record.get("run_seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0
    ):
        raise WorldError(f"{where}: {label} 'run_seconds' must be a number of seconds >= 0.")
    if record.get("app_panel") is not None:
        _check_app_panel(record["app_panel"], where, label)
    issues = record.get("release_issues")
    if issues is not None and (
        not isinstance(issues, dict)
        or set(issues) - RELEASE_ISSUES
        or not all(isinstance(v, bool) for v in issues.values())
    ):
        raise WorldError(
            f"{where}: {label} 'release_issues' must map flags of the SDK's "
            f"CapsuleReleaseValidationIssues ({', '.join(sorted(RELEASE_ISSUES))}) to "
            "true or false."
        )


def _check_app_panel(panel: Any, where: str, label: str) -> None:
    from aind_session.codeocean import sdk

    sdk.load()  # the SDK's modules import each other: import them all, once
    from aind_session.codeocean.sdk import AppPanel

    known = {f.name for f in dataclasses.fields(AppPanel)}
    unknown = sorted(set(panel) - known) if isinstance(panel, dict) else None
    if unknown is None or unknown:
        raise WorldError(
            f"{where}: {label} 'app_panel' must be an object with only the fields of the "
            f"SDK's AppPanel ({', '.join(sorted(known))})"
            + (f"; unknown: {', '.join(map(repr, unknown))}." if unknown else ".")
        )
    try:
        AppPanel.from_dict(panel)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise WorldError(
            f"{where}: {label} 'app_panel' is not a valid AppPanel: {type(exc).__name__}: {exc}."
        ) from None


def _tokens(entries: Any, where: str) -> dict[str, list[str]]:
    from aind_session.testing.codeocean_common import SCOPES

    if not isinstance(entries, dict):
        raise WorldError(f"{where}: 'tokens' must be an object mapping a name to its scopes.")
    for name, scopes in entries.items():
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise WorldError(f"{where}: tokens[{name!r}] must be a list of scope names.")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise WorldError(
                f"{where}: tokens[{name!r}] has unknown scope(s) "
                f"{', '.join(map(repr, unknown))}; scopes are {', '.join(map(repr, SCOPES))}."
            )
    return {name: list(scopes) for name, scopes in entries.items()}


def _json_name(kind: type) -> str:
    return {str: "string", int: "integer", dict: "object", list: "array", bool: "boolean"}[kind]


def _objects(entries: Any, where: str) -> dict[str, bytes]:
    if not isinstance(entries, dict):
        raise WorldError(f"{where}: 's3' must be an object mapping 'bucket/key' to content.")
    objects: dict[str, bytes] = {}
    for key, value in entries.items():
        bucket, _, path = key.partition("/")
        if not bucket or not path or path.endswith("/"):
            raise WorldError(
                f"{where}: s3 key {key!r} must look like 'bucket/path/to/file' (no trailing '/')."
            )
        text = value if isinstance(value, str) else json.dumps(value, indent=2)
        objects[key] = text.encode("utf-8")
    return objects


def _docdb(entries: Any, where: str) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(entries, dict):
        raise WorldError(
            f"{where}: 'docdb' must be an object mapping 'database/collection' to a list of records."
        )
    collections: dict[str, list[dict[str, Any]]] = {}
    for key, records in entries.items():
        db, _, collection = key.partition("/")
        if not db or not collection or "/" in collection or "$" in key or "." in db:
            raise WorldError(
                f"{where}: docdb key {key!r} must look like 'database/collection' "
                "(e.g. 'metadata_index_v2/data_assets')."
            )
        if not isinstance(records, list):
            raise WorldError(f"{where}: docdb[{key!r}] must be a list of records.")
        seen: dict[str, int] = {}
        for index, record in enumerate(records):
            label = f"docdb[{key!r}][{index}]"
            if not isinstance(record, dict):
                raise WorldError(f"{where}: {label} must be an object.")
            record_id = record.get("_id")
            if not isinstance(record_id, str) or not record_id:
                raise WorldError(
                    f"{where}: {label} needs a text '_id' (DocDB records are keyed by the "
                    f"asset's id), not {record_id!r}."
                )
            if record_id in seen:
                raise WorldError(
                    f"{where}: {label} repeats _id {record_id!r}, already used by "
                    f"docdb[{key!r}][{seen[record_id]}]."
                )
            seen[record_id] = index
        collections[key] = records
    return collections
