"""Requests and round trips of the benchmarked operations, pinned on the benchmark's
own worlds (`aind_session.testing.generate`) built small.

A round trip is a wait for answers: requests sent together count once (see
`Sandbox.round_trips`). The sandbox adds latency here so that requests sent
together overlap in its log; nothing is timed.
"""

from __future__ import annotations

from typing import Any

import pytest

from aind_session import Session
from aind_session.report import describe_many
from aind_session.testing import Sandbox
from aind_session.testing.generate import SORTERS, raw_session_ids, sorted_world, subject_world

SUBJECT = "712815"
# Longer than the CPU time (client and sandbox share this process's GIL) to send
# and answer ~60 requests, so that requests sent together do overlap
LATENCY = 0.3


@pytest.fixture(autouse=True)
def _no_collection_pauses(no_collection_pauses: None) -> None:
    """Every test here counts round trips: no collection pauses (see conftest.py)."""


@pytest.fixture
def subject(aind_sandbox: Sandbox) -> list[str]:
    """A subject's world: 6 sessions, each with a raw asset and 2 sorted assets."""
    world = subject_world(sessions=6, assets_per_session=5, other_subjects=2)
    aind_sandbox.load(world)
    aind_sandbox.latency = LATENCY
    return raw_session_ids(world, SUBJECT)


def test_info_for_many_sessions_takes_two_round_trips_and_no_request_more(
    aind_sandbox: Sandbox, subject: list[str]
) -> None:
    sessions = [Session(s) for s in subject]
    summaries = describe_many(sessions)
    assert [s["problems"] for s in summaries] == [{}] * len(sessions)
    assert all(len(s["sorted_data_assets"]) == 2 for s in summaries)
    prefixes = {s[:20] for s in subject}  # one search per 20-character name prefix
    codeocean = aind_sandbox.requests("codeocean")
    assert len(codeocean) == len(prefixes) + 1  # and the sorting pipeline's runs
    # per session its raw folder; per sorted asset its folder, output,
    # processing.json and curated/ listing
    assert len(aind_sandbox.requests("s3")) == len(subject) * (1 + 2 * 4)
    # the searches and runs at once, then everything on S3 at once
    assert aind_sandbox.round_trips() == 2


def test_info_for_many_sessions_again_asks_nothing(
    aind_sandbox: Sandbox, subject: list[str]
) -> None:
    sessions = [Session(s) for s in subject]
    first = describe_many(sessions)
    aind_sandbox.clear_requests()
    assert describe_many(sessions) == first
    assert aind_sandbox.requests() == []


def test_sorted_assets_properties_after_info_ask_nothing(
    aind_sandbox: Sandbox, subject: list[str]
) -> None:
    session = Session(subject[0])
    describe_many([session])
    aind_sandbox.clear_requests()
    for asset in session.ecephys.sorted_data_assets:
        assert asset.sorter_name in ("kilosort4", "kilosort2_5")
        assert len(asset.sorted_probes) >= 2
        assert asset.is_sorting_error is False
    assert session.ecephys.sorted_data_asset.id == session.ecephys.sorted_data_assets[-1].id
    assert aind_sandbox.requests() == []


def test_raw_data_dir_cold_takes_two_round_trips(aind_sandbox: Sandbox, subject: list[str]) -> None:
    Session(subject[2]).raw_data_dir
    # the search with DocDB's links (both collections, at once), then the folder
    assert [len(aind_sandbox.requests(s)) for s in ("codeocean", "docdb", "s3")] == [1, 2, 1]
    assert aind_sandbox.round_trips() == 2


def test_modalities_cold_take_two_round_trips_and_subject_one_more(
    aind_sandbox: Sandbox, subject: list[str]
) -> None:
    session = Session(subject[3])
    assert session.modalities == ("behavior", "ecephys")
    assert (len(aind_sandbox.requests()), aind_sandbox.round_trips()) == (4, 2)  # DocDB's 2
    aind_sandbox.clear_requests()
    assert session.metadata.subject["subject_id"] == SUBJECT
    assert (len(aind_sandbox.requests()), aind_sandbox.round_trips()) == (1, 1)


def test_prefetching_sorted_assets_guesses_nothing_once_their_folders_are_listed(
    aind_sandbox: Sandbox, subject: list[str]
) -> None:
    from aind_session.extensions.ecephys import prefetch

    assets = Session(subject[1]).ecephys.sorted_data_assets
    prefetch(assets, ["error"])
    aind_sandbox.clear_requests()
    # processing.json and curated/ were not asked for: the folders' listings say
    # what is there, so nothing is guessed
    prefetch(assets, ["sorter", "probes"])
    paths = sorted(r.path.rsplit("/", 1)[-1] or r.query for r in aind_sandbox.requests("s3"))
    assert len(paths) == 4 and paths.count("processing.json") == 2
    assert aind_sandbox.round_trips() == 1


@pytest.fixture
def sorted_six(aind_sandbox: Sandbox) -> dict[str, Any]:
    """A session with 6 sorted assets (sorters in turn from ``SORTERS``)."""
    world = sorted_world(n_sorted=6)
    aind_sandbox.load(world)
    aind_sandbox.latency = LATENCY
    return world


def test_a_loop_over_sorted_assets_waits_once_per_property_not_once_per_asset(
    aind_sandbox: Sandbox, sorted_six: dict[str, Any]
) -> None:
    session = Session(raw_session_ids(sorted_six)[0])
    answers = [(a.sorter_name, a.sorted_probes) for a in session.ecephys.sorted_data_assets]
    assert [name for name, _ in answers] == [SORTERS[n % len(SORTERS)] for n in range(6)]
    assert all(probes for _, probes in answers)
    # the search; every folder with its processing.json; every curated/ listing
    assert len(aind_sandbox.requests("codeocean")) == 1
    assert len(aind_sandbox.requests("s3")) == 6 * 3
    assert aind_sandbox.round_trips() == 3


def test_an_asset_whose_session_was_not_searched_asks_only_for_itself(
    aind_sandbox: Sandbox, sorted_six: dict[str, Any]
) -> None:
    from aind_session import codeocean
    from aind_session.extensions.ecephys import SortedDataAsset

    sorted_id = sorted_six["data_assets"][3]["id"]
    asset = SortedDataAsset.from_asset(codeocean.get_data_asset(sorted_id))
    aind_sandbox.clear_requests()
    assert asset.sorter_name == SORTERS[2]
    # its folder and its processing.json: no search, no sibling
    assert [r.service for r in aind_sandbox.requests()] == ["s3", "s3"]
    assert all(sorted_id in r.query or sorted_id in r.path for r in aind_sandbox.requests())
    # once the session is searched, a loop still fetches for all assets at once
    aind_sandbox.clear_requests()
    session = Session(raw_session_ids(sorted_six)[0])
    assert [a.sorter_name for a in session.ecephys.sorted_data_assets][2] == SORTERS[2]
    assert len(aind_sandbox.requests()) == 1 + 2 + 5 * 2  # the search, DocDB's links, S3
    assert aind_sandbox.round_trips() == 2


def test_an_asset_found_away_from_its_source_bucket_is_not_looked_for_again(
    aind_sandbox: Sandbox,
) -> None:
    world = sorted_world(n_sorted=3)
    moved = [a for a in world["data_assets"] if "_sorted_" in a["name"]][1]
    # source_bucket names an empty folder: its files are found by id in CodeOcean's bucket
    moved["source_bucket"] = {**moved["source_bucket"], "prefix": "moved-away"}
    aind_sandbox.load(world)
    session = Session(raw_session_ids(world)[0])
    found = [
        (a.sorter_name, a.sorted_probes, a.is_sorting_error)
        for a in session.ecephys.sorted_data_assets
    ]
    assert found[1][0] == SORTERS[1] and found[1][2] is False
    aind_sandbox.clear_requests()
    assert session.ecephys.sorted_data_asset.id == world["data_assets"][-1]["id"]
    assert session.ecephys.sorter.names
    assert aind_sandbox.requests() == []


def test_prefetching_with_the_cache_off_asks_nothing(
    aind_sandbox: Sandbox, sorted_six: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aind_session import clear_cache
    from aind_session.extensions.ecephys import prefetch

    assets = Session(raw_session_ids(sorted_six)[0]).ecephys.sorted_data_assets
    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", "0")
    clear_cache()
    aind_sandbox.clear_requests()
    prefetch(assets)  # nothing it fetched could be kept for the properties
    assert aind_sandbox.requests() == []
    assert assets[0].sorter_name == SORTERS[0]  # each asks for itself, and for no other
    asked = aind_sandbox.requests()
    assert asked and all(assets[0].id in r.path + r.query for r in asked)


ODD_SESSIONS = [  # of the bundled world: raw folders found in every way there is
    "ecephys_644547_2022-12-06_13-24-58",  # no source_bucket: by name in a data bucket
    "ecephys_649038_2023-02-06_15-08-42",  # no source_bucket: by asset id in CodeOcean's bucket
    "ecephys_686740_2024-01-20_12-00-00",  # no data asset: by session ID
    "behavior_700000_2024-02-02_10-00-00",  # source_bucket names an empty folder: not found
    "ecephys_676909_2023-12-13_13-43-40",  # four sorted assets in three layouts
]


def test_info_on_odd_sessions_never_asks_s3_the_same_thing_twice(
    aind_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aind_session import clear_cache

    monkeypatch.setenv("AIND_SESSION_S3_MAX_CONCURRENCY", "256")  # a round is never split
    clear_cache()
    aind_sandbox.latency = LATENCY
    summaries = describe_many([Session(s) for s in ODD_SESSIONS])
    assert [s["raw_data_dir"] is None for s in summaries] == [False, False, False, True, False]
    asked = [(r.method, r.path, r.query) for r in aind_sandbox.requests("s3")]
    assert len(asked) == len(set(asked))
    # five searches (five name prefixes) and the pipeline's runs: all at once
    assert len(aind_sandbox.requests("codeocean")) == 6
    assert aind_sandbox.round_trips("codeocean") == 1
    # S3: every folder where source_bucket says or by its candidates, with the
    # files guessed; the candidates of the folder not where source_bucket says,
    # with what the old layouts' listings show is needed; the sorter files they
    # name (four rounds before the batch replayed the properties themselves)
    assert aind_sandbox.round_trips("s3") == 3
    aind_sandbox.clear_requests()
    assert [s["id"] for s in describe_many([Session(s) for s in ODD_SESSIONS])] == ODD_SESSIONS
    # found folders are kept; only the folder that is not there is looked for again
    again = {r.query.split("prefix=")[1].split("%2F")[0] for r in aind_sandbox.requests("s3")}
    assert again == {"behavior_700000_2024-02-02_10-00-00", "2f731d3f-f67e-4974-bc58-68dc5f3b4faa"}


OLD_LAYOUT = (
    "codeocean-s3datasetsbucket-1u41qdg42ur9/e7f467f7-8ce3-4173-b593-3e53948adb30/spikesorted/"
)


def test_a_sorter_file_that_is_missing_is_asked_for_once_and_not_on_repeats(
    aind_sandbox: Sandbox,
) -> None:
    import json
    from importlib import resources

    world = json.loads(
        resources.files("aind_session.testing").joinpath("sample_world.json").read_text("utf-8")
    )
    # the old layout names its sorter per recording: the first one's file is gone,
    # so the sorter comes from the second
    first = [k for k in world["s3"] if k.startswith(OLD_LAYOUT) and k.endswith("si_folder.json")]
    del world["s3"][sorted(first)[0]]
    aind_sandbox.load(world)
    session = Session("ecephys_676909_2023-12-13_13-43-40")
    summary = describe_many([session])[0]
    assert summary["sorted_data_assets"][0]["sorter"] == "kilosort2_5"
    asked = [(r.method, r.path, r.query) for r in aind_sandbox.requests("s3")]
    assert len(asked) == len(set(asked))
    aind_sandbox.clear_requests()
    assert describe_many([session]) == [summary]
    assert aind_sandbox.requests("s3") == []


OLD_LAYOUT = (
    "codeocean-s3datasetsbucket-1u41qdg42ur9/e7f467f7-8ce3-4173-b593-3e53948adb30/spikesorted/"
)


def test_sessions_of_a_subject_with_their_status_take_three_round_trips(
    aind_sandbox: Sandbox, subject: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from aind_session import cli

    assert cli.main(["sessions", SUBJECT, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["sessions"]
    assert [r["id"] for r in rows] == subject
    assert all(r["uploaded"] and r["sorted"] for r in rows)
    # the subject's searches; its sessions' searches; every raw folder and
    # sorted asset's folder and output at once
    assert (aind_sandbox.round_trips("codeocean"), aind_sandbox.round_trips("s3")) == (2, 1)
    assert aind_sandbox.round_trips() == 3


def test_a_sessions_docdb_record_is_one_request(aind_sandbox: Sandbox) -> None:
    aind_sandbox.latency = LATENCY
    assert Session("780345_2025-02-20_00-00-00").docdb["_id"] == "v2-780345-2025-02-20"
    assert (len(aind_sandbox.requests("docdb")), aind_sandbox.round_trips()) == (1, 1)
    assert aind_sandbox.requests("codeocean") == aind_sandbox.requests("s3") == []


def test_many_sessions_docdb_records_are_one_query_per_collection(aind_sandbox: Sandbox) -> None:
    from aind_session import batch

    aind_sandbox.latency = LATENCY
    names = ["780345_2025-02-20_00-00-00", "ecephys_676909_2023-12-13_13-43-40", *ODD_SESSIONS[:3]]
    records = batch.gather([lambda n=n: getattr(Session(n), "docdb", None) for n in names])
    assert [r and r["_id"] for r in records][:2] == ["v2-780345-2025-02-20", "v1-676909-2023-12-13"]
    # v2 for all five at once; v1 for the four v2 lacks, at once
    assert (len(aind_sandbox.requests("docdb")), aind_sandbox.round_trips()) == (2, 2)


def test_a_raw_asset_only_docdb_links_is_found_in_two_round_trips(aind_sandbox: Sandbox) -> None:
    aind_sandbox.latency = LATENCY
    session = Session("ecephys_733691_2025-06-03_10-15-00")  # its asset's name misses
    assert session.raw_data_asset.id == "b6d1f4a2-3c5e-4f7a-9b8c-2d1e0f3a4b5c"
    # the name search and both DocDB collections at once; then the linked asset
    assert (len(aind_sandbox.requests("codeocean")), len(aind_sandbox.requests("docdb"))) == (2, 2)
    assert aind_sandbox.round_trips() == 2


def test_info_for_many_indexed_sessions_adds_docdb_queries_but_no_round_trip(
    aind_sandbox: Sandbox,
) -> None:
    world = subject_world(sessions=6, assets_per_session=5, other_subjects=2, docdb=True)
    aind_sandbox.load(world)
    aind_sandbox.latency = LATENCY
    subject = raw_session_ids(world, SUBJECT)
    summaries = describe_many([Session(s) for s in subject])
    assert [s["problems"] for s in summaries] == [{}] * len(subject)
    # one query per collection for every session's links (their record linking
    # the raw asset the search found: nothing more to fetch)
    assert len(aind_sandbox.requests("docdb")) == 2
    assert len(aind_sandbox.requests("codeocean")) == len({s[:20] for s in subject}) + 1
    assert aind_sandbox.round_trips() == 2  # as without DocDB (the first test here)
