"""Large sandbox worlds made from a seed (never stored): for the benchmarks,
the request-count tests, and your own tests at scale.

Each builder returns a dict in the world format of
:mod:`aind_session.testing.world` (give it to ``Sandbox(world)`` or
``Sandbox.load``); the same seed gives the same world. Sizes are parameters,
so a test can build the benchmark's world at a tenth of its size.

- :func:`subject_world`: one subject with 2,000 data assets over 100 sessions
  (per session: a raw asset whose ``source_bucket`` names its S3 folder, two
  sorted assets and 17 other derived assets), the raw folders in S3 with
  ``ecephys/``, ``behavior/`` and metadata JSON files (``subject.json`` among
  them), the sorted assets' files, one sorting-pipeline run per session, and a
  few assets of other subjects.
- :func:`sorted_world`: one session with 20 sorted data assets, each with
  ``processing.json`` naming its sorter, ``curated/<recording>/`` folders,
  ``nwb/x.nwb`` and ``output``.
- :func:`indexed_world`: :func:`subject_world` with a DocDB record per
  session, one session's raw asset tied to it by its record only.
- :func:`sessions_world`: 10 subjects of 100 sessions each, indexed, for tables.
- :func:`listing_world`: 10,000 data assets named ``ecephys_7xxxxx_...``, with
  almost nothing in S3.

``python -m aind_session.testing.generate`` prints the size and build time of each.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Callable
from typing import Any

__all__ = [
    "CODEOCEAN_BUCKET",
    "RAW_BUCKET",
    "SORTING_PIPELINE_ID",
    "WORLDS",
    "indexed_world",
    "linked_session_id",
    "listing_world",
    "raw_session_ids",
    "sessions_world",
    "sorted_world",
    "subject_world",
]

CODEOCEAN_BUCKET = "codeocean-s3datasetsbucket-1u41qdg42ur9"  # as aind_session.testing.world
RAW_BUCKET = "aind-ephys-data"
SORTING_PIPELINE_ID = "1f8f159a-7670-47a9-baf1-078905fc9c2e"  # the library's default setting
SORTERS = ("kilosort4", "kilosort2_5", "spykingcircus2")
PROBES = ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeE", "ProbeF")
DERIVED_KINDS = (
    "processed",
    "nwb",
    "curated",
    "lfp",
    "units",
    "qc",
    "dlc-eye",
    "dlc-side",
    "dlc-face",
    "facemap",
    "stim-table",
    "behavior-nwb",
    "motion",
    "ccf",
    "histology-match",
    "opto",
    "summary",
)
GENOTYPES = (
    "Pvalb-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt",
    "Sst-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt",
    "Vip-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt",
    "wt/wt",
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(dt: datetime.datetime) -> str:
    return dt.strftime("%Y-%m-%d_%H-%M-%S")


def _epoch(dt: datetime.datetime) -> int:
    return int(dt.replace(tzinfo=datetime.timezone.utc).timestamp())


def _recording(probe: str, kind: str = "AP") -> str:
    return f"experiment1_Record Node 104#Neuropix-PXI-100.{probe}-{kind}_recording1"


def _subject_json(subject_id: str, rng: random.Random) -> dict[str, Any]:
    return {
        "describedBy": "https://raw.githubusercontent.com/AllenNeuralDynamics/aind-data-schema/main/src/aind_data_schema/core/subject.py",
        "schema_version": "0.5.8",
        "subject_id": subject_id,
        "sex": rng.choice(("Male", "Female")),
        "date_of_birth": "2021-11-02",
        "genotype": rng.choice(GENOTYPES),
        "species": {"name": "Mus musculus", "registry_identifier": "10090"},
    }


def _processing_json(sorter: str) -> dict[str, Any]:
    return {
        "schema_version": "0.3.1",
        "processing_pipeline": {
            "data_processes": [
                {"name": "Ephys preprocessing", "parameters": {"denoising_strategy": "cmr"}},
                {"name": "Spike sorting", "parameters": {"sorter_name": sorter}},
                {"name": "Ephys curation", "parameters": {}},
            ],
            "processor_full_name": "AIND Scientific Computing",
        },
    }


def _raw_folder(
    s3: dict[str, Any],
    session_id: str,
    subject_id: str,
    probes: tuple[str, ...],
    rng: random.Random,
) -> None:
    """The raw data folder of one ecephys session: metadata, ``ecephys/``, ``behavior/``."""
    root = f"{RAW_BUCKET}/{session_id}"
    s3[f"{root}/subject.json"] = _subject_json(subject_id, rng)
    s3[f"{root}/data_description.json"] = {
        "name": session_id,
        "subject_id": subject_id,
        "data_level": "raw",
    }
    s3[f"{root}/session.json"] = {"session_start_time": session_id[-19:], "rig_id": "NP.2"}
    s3[f"{root}/procedures.json"] = {"subject_id": subject_id, "subject_procedures": []}
    for probe in probes:
        s3[f"{root}/ecephys/ecephys_compressed/{_recording(probe)[:-11]}.zarr/.zattrs"] = "{}"
    s3[f"{root}/ecephys/ecephys_clipped/Record Node 104/settings.xml"] = "<SETTINGS/>"
    s3[f"{root}/behavior/running_wheel.csv"] = "t,speed\n"


def _sorted_files(s3: dict[str, Any], asset_id: str, sorter: str, probes: tuple[str, ...]) -> None:
    """A sorted asset's files under the CodeOcean bucket, as the sorting pipeline writes them."""
    root = f"{CODEOCEAN_BUCKET}/{asset_id}"
    s3[f"{root}/processing.json"] = _processing_json(sorter)
    for probe in probes:
        s3[f"{root}/curated/{_recording(probe)}/placeholder"] = "<sandbox placeholder>"
    s3[f"{root}/nwb/x.nwb"] = "<sandbox placeholder: NWB file>"
    s3[f"{root}/output"] = f"Spike sorting with {sorter}: {len(probes)} probe(s) sorted\n"


def _sorted_asset(
    rng: random.Random, session_id: str, subject_id: str, raw_id: str, when: datetime.datetime
) -> dict[str, Any]:
    asset_id = _uuid(rng)
    return {
        "id": asset_id,
        "name": f"{session_id}_sorted_{_stamp(when)}",
        "created": _epoch(when),
        "type": "result",
        "tags": ["ecephys", "sorted"],
        "custom_metadata": {"data level": "derived", "subject id": subject_id},
        "source_bucket": {"origin": "aws", "bucket": CODEOCEAN_BUCKET, "prefix": asset_id},
        "provenance": {"capsule": SORTING_PIPELINE_ID, "data_assets": [raw_id]},
    }


def _raw_asset(
    rng: random.Random, session_id: str, subject_id: str, when: datetime.datetime
) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "name": session_id,
        "created": _epoch(when),
        "type": "dataset",
        "tags": ["ecephys", "raw"],
        "custom_metadata": {"data level": "raw data", "subject id": subject_id},
        "source_bucket": {"origin": "aws", "bucket": RAW_BUCKET, "prefix": session_id},
    }


def subject_world(
    seed: int = 0,
    subject_id: str = "712815",
    sessions: int = 100,
    assets_per_session: int = 20,
    sorted_per_session: int = 2,
    first_day: datetime.date = datetime.date(2022, 1, 3),
    days_between: tuple[int, int] = (5, 12),
    other_subjects: int = 5,
    docdb: bool = False,
) -> dict[str, Any]:
    """One subject with ``sessions * assets_per_session`` data assets (2,000 by default).

    With ``docdb``, each session has a 2.x record in DocDB (its ``location``
    and a link to its raw asset), as indexed sessions do.

    Sessions are ``days_between`` days apart (drawn), from ``first_day``: by
    default 40-45 a year, so the 20-character name prefix that a session
    search uses (``ecephys_712815_2023-``) matches at most 900 assets: one page.
    """
    rng = random.Random(seed)
    assets: list[dict[str, Any]] = []
    computations: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    s3: dict[str, Any] = {}
    day = datetime.datetime.combine(first_day, datetime.time())
    derived = assets_per_session - 1 - sorted_per_session
    if derived < 0 or derived > len(DERIVED_KINDS):
        raise ValueError(
            f"assets_per_session must be between {1 + sorted_per_session} and "
            f"{1 + sorted_per_session + len(DERIVED_KINDS)} with {sorted_per_session} sorted, "
            f"not {assets_per_session}."
        )
    for _ in range(sessions):
        day += datetime.timedelta(days=rng.randint(*days_between))
        start = day + datetime.timedelta(
            hours=rng.randint(9, 16), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
        )
        session_id = f"ecephys_{subject_id}_{_stamp(start)}"
        probes = tuple(sorted(rng.sample(PROBES, rng.randint(2, 4))))
        raw = _raw_asset(rng, session_id, subject_id, start + datetime.timedelta(hours=6))
        assets.append(raw)
        _raw_folder(s3, session_id, subject_id, probes, rng)
        records.append(
            {
                "_id": f"record-{raw['id']}",
                "name": session_id,
                "location": f"s3://{RAW_BUCKET}/{session_id}",
                "subject": {"subject_id": subject_id},
                "data_description": {"name": session_id, "data_level": "raw"},
                "other_identifiers": {"Code Ocean": [raw["id"]]},
            }
        )
        for n in range(sorted_per_session):
            when = start + datetime.timedelta(
                days=1 + 3 * n, hours=rng.randint(0, 20), minutes=rng.randint(0, 59)
            )
            asset = _sorted_asset(rng, session_id, subject_id, raw["id"], when)
            assets.append(asset)
            _sorted_files(s3, asset["id"], SORTERS[n % len(SORTERS)], probes)
        for kind in DERIVED_KINDS[:derived]:
            when = start + datetime.timedelta(days=rng.randint(2, 30), minutes=rng.randint(0, 1439))
            assets.append(
                {
                    "id": _uuid(rng),
                    "name": f"{session_id}_{kind}_{_stamp(when)}",
                    "created": _epoch(when),
                    "type": "result",
                    "custom_metadata": {"data level": "derived", "subject id": subject_id},
                }
            )
        computations.append(
            {
                "id": _uuid(rng),
                "capsule_id": SORTING_PIPELINE_ID,
                "name": f"sorting pipeline: {session_id}",
                "created": _epoch(start + datetime.timedelta(days=1)),
                "state": "completed",
                "end_status": "succeeded",
                "has_results": True,
                "data_assets": [{"id": raw["id"], "mount": session_id}],
            }
        )
    for n in range(other_subjects):  # a little company, so searches have something to leave out
        other = str(700000 + rng.randint(0, 99999))
        if other == subject_id:
            continue
        start = datetime.datetime(2023, 5, 1 + n, 10, 0, 0)
        session_id = f"ecephys_{other}_{_stamp(start)}"
        raw = _raw_asset(rng, session_id, other, start + datetime.timedelta(hours=6))
        assets += [
            raw,
            _sorted_asset(rng, session_id, other, raw["id"], start + datetime.timedelta(days=2)),
        ]
    world = {
        "data_assets": assets,
        "computations": computations,
        "pipelines": [{"id": SORTING_PIPELINE_ID, "name": "Spike sorting pipeline"}],
        "s3": s3,
    }
    if docdb:
        world["docdb"] = {"metadata_index_v2/data_assets": records}
    return world


def sorted_world(
    seed: int = 0, session_id: str = "ecephys_733468_2024-06-11_14-20-05", n_sorted: int = 20
) -> dict[str, Any]:
    """One session (its raw asset and folder) with ``n_sorted`` sorted data assets."""
    rng = random.Random(seed)
    subject_id = session_id.split("_")[1]
    start = datetime.datetime.strptime(session_id[-19:], "%Y-%m-%d_%H-%M-%S")
    probes = ("ProbeA", "ProbeB", "ProbeC", "ProbeF")
    raw = _raw_asset(rng, session_id, subject_id, start + datetime.timedelta(hours=6))
    assets = [raw]
    s3: dict[str, Any] = {}
    _raw_folder(s3, session_id, subject_id, probes, rng)
    for n in range(n_sorted):
        when = start + datetime.timedelta(
            days=1 + 2 * n,
            hours=rng.randint(0, 20),
            minutes=rng.randint(0, 59),
            seconds=rng.randint(0, 59),
        )
        asset = _sorted_asset(rng, session_id, subject_id, raw["id"], when)
        assets.append(asset)
        sorted_probes = tuple(p for p in probes if rng.random() < 0.8) or probes[:1]
        _sorted_files(s3, asset["id"], SORTERS[n % len(SORTERS)], sorted_probes)
    return {"data_assets": assets, "s3": s3}


def listing_world(seed: int = 0, n_assets: int = 10_000) -> dict[str, Any]:
    """``n_assets`` data assets named ``ecephys_7xxxxx_<date>_<time>[_<kind>_<date>_<time>]``.

    S3 holds one small file, so the sandbox starts quickly.
    """
    rng = random.Random(seed)
    base = datetime.datetime(2022, 1, 1)
    assets = []
    kinds = ("", "_sorted", "_nwb", "_processed")
    for _ in range(n_assets):
        subject_id = str(rng.randint(700000, 799999))
        start = base + datetime.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
        kind = rng.choice(kinds)
        name = f"ecephys_{subject_id}_{_stamp(start)}"
        if kind:
            name += f"{kind}_{_stamp(start + datetime.timedelta(days=2))}"
        assets.append(
            {
                "id": _uuid(rng),
                "name": name,
                "created": _epoch(start),
                "type": "result" if kind else "dataset",
                "tags": ["ecephys", "derived" if kind else "raw"],
                "custom_metadata": {
                    "subject id": subject_id,
                    "data level": "derived" if kind else "raw data",
                },
            }
        )
    return {"data_assets": assets, "s3": {f"{RAW_BUCKET}/README.txt": "listing benchmark\n"}}


def indexed_world(seed: int = 0, sessions: int = 100, **subject: Any) -> dict[str, Any]:
    """:func:`subject_world` with a DocDB record per session; the middle session's
    raw asset is renamed and loses its tags and custom metadata, so only its
    record ties it to the session (:func:`linked_session_id` names it)."""
    world = subject_world(seed, sessions=sessions, docdb=True, **subject)
    session_id = raw_session_ids(world, subject.get("subject_id", "712815"))[sessions // 2]
    raw = next(a for a in world["data_assets"] if a["name"] == session_id)
    raw.update(name=f"Neuropixels recording {raw['id'][:8]}", tags=["ecephys"], custom_metadata={})
    return world


def sessions_world(
    seed: int = 0, subjects: int = 10, sessions: int = 100, assets_per_session: int = 5
) -> dict[str, Any]:
    """``subjects`` subjects (712815, 712816, ...) of ``sessions`` sessions each (1,000 by
    default), as :func:`subject_world` with a DocDB record per session; per session a raw
    asset, 2 sorted assets, a ``_processed_`` and an ``_nwb_`` asset by default."""
    world: dict[str, Any] = {"data_assets": [], "computations": [], "s3": {}}
    records: list[dict[str, Any]] = []
    for n in range(subjects):
        one = subject_world(
            seed + n,
            subject_id=str(712815 + n),
            sessions=sessions,
            assets_per_session=assets_per_session,
            other_subjects=0,
            docdb=True,
        )
        world["data_assets"] += one["data_assets"]
        world["computations"] += one["computations"]
        world["s3"].update(one["s3"])
        world["pipelines"] = one["pipelines"]
        records += one["docdb"]["metadata_index_v2/data_assets"]
    world["docdb"] = {"metadata_index_v2/data_assets": records}
    return world


def linked_session_id(world: dict[str, Any]) -> str:
    """The session of ``world`` whose raw asset only its DocDB record links."""
    names = {a["id"]: a["name"] for a in world.get("data_assets", [])}
    for record in world.get("docdb", {}).get("metadata_index_v2/data_assets", []):
        for asset_id in record.get("other_identifiers", {}).get("Code Ocean", []):
            if names.get(asset_id) not in (None, record["name"]):
                return str(record["name"])
    raise ValueError("no session's raw asset is linked by its record only")


def empty_world(seed: int = 0) -> dict[str, Any]:
    """Nothing at all (for benchmarks that must make no request)."""
    return {}


WORLDS: dict[str, Callable[..., dict[str, Any]]] = {
    "empty": empty_world,
    "indexed": indexed_world,
    "listing": listing_world,
    "sessions": sessions_world,
    "sorted": sorted_world,
    "subject": subject_world,
}


def raw_session_ids(world: dict[str, Any], subject_id: str | None = None) -> list[str]:
    """Names of the raw data assets in ``world`` (of one subject if given), sorted."""
    return sorted(
        a["name"]
        for a in world.get("data_assets", [])
        if (a.get("custom_metadata") or {}).get("data level") == "raw data"
        and (subject_id is None or a["custom_metadata"].get("subject id") == subject_id)
    )


if __name__ == "__main__":
    import time

    for name, build in WORLDS.items():
        t0 = time.perf_counter()
        world = build()
        elapsed = time.perf_counter() - t0
        print(
            f"{name:8} {len(world.get('data_assets', [])):6} assets  "
            f"{len(world.get('computations', [])):4} computations  "
            f"{len(world.get('s3', {})):5} S3 objects  {elapsed * 1000:6.0f} ms"
        )
