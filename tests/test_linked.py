"""What DocDB adds to CodeOcean's answers (aind_session.linked): assets a record
links though their names miss, the raw folder from ``location``, sessions only
DocDB knows; and every such question still answered when DocDB is down."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

import pytest

import aind_session
from aind_session import Session, batch, docdb_api, errors, get_sessions, linked
from aind_session.testing import Sandbox
from aind_session.testing.faults import Faults

V2 = "metadata_index_v2/data_assets"
V1 = "metadata_index/data_assets"
LINKED = "ecephys_733691_2025-06-03_10-15-00"  # its raw asset's name and metadata miss
LINKED_RAW = "b6d1f4a2-3c5e-4f7a-9b8c-2d1e0f3a4b5c"
DOCDB_ONLY = "733691_2025-07-01_09-30-00"  # no CodeOcean asset at all
OLD = "ecephys_676909_2023-12-13_13-43-40"
NEW = "780345_2025-02-20_00-00-00"  # a 2.x session with a record


def _sample() -> dict[str, Any]:
    return json.loads(
        resources.files("aind_session.testing").joinpath("sample_world.json").read_text("utf-8")
    )


def _linked_record(world: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in world["docdb"][V2] if r["name"] == LINKED)


@pytest.fixture
def down(aind_sandbox: Sandbox, fast_backoff: Any, aind_settings: Any) -> Sandbox:
    """DocDB answering 503 to everything (CodeOcean and S3 well)."""
    aind_settings.set(AIND_SESSION_MAX_RETRIES="1")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    return aind_sandbox


# -- assets linked by a record -------------------------------------------------------------
def test_a_session_s_assets_include_those_its_record_links(aind_sandbox: Sandbox) -> None:
    session = Session(LINKED)
    assert [a.id for a in session.data_assets] == [LINKED_RAW]
    assert session.raw_data_asset.id == LINKED_RAW
    # CodeOcean alone knows nothing of it by name
    from aind_session import codeocean

    assert codeocean.get_session_data_assets(LINKED) == ()


@pytest.mark.parametrize(
    "form",
    [
        {"other_identifiers": {"Code Ocean": [LINKED_RAW]}},
        {"external_links": [{"Code Ocean": LINKED_RAW}]},  # v1, until late 2024
        {"external_links": {"Code Ocean": [LINKED_RAW]}},  # v1, since
    ],
    ids=["v2 other_identifiers", "v1 list", "v1 dict"],
)
def test_every_form_of_link_in_either_collection_links(
    aind_sandbox: Sandbox, form: dict[str, Any]
) -> None:
    world = _sample()
    record = _linked_record(world)
    world["docdb"][V2].remove(record)
    del record["other_identifiers"]
    record.update(form)
    collection = V2 if "other_identifiers" in form else V1
    world["docdb"][collection].append(record)
    aind_sandbox.load(world)
    assert Session(LINKED).raw_data_asset.id == LINKED_RAW


def test_a_linked_asset_is_fetched_in_the_second_round_and_at_most_two(
    aind_sandbox: Sandbox,
) -> None:
    aind_sandbox.latency = 0.2
    assert Session(LINKED).raw_data_asset.id == LINKED_RAW
    assert aind_sandbox.round_trips() == 2
    # the search and DocDB's two collections at once, then the linked asset
    assert len(aind_sandbox.requests("codeocean")) == 2
    assert len(aind_sandbox.requests("docdb")) == 2


def test_a_link_to_an_asset_codeocean_does_not_know_is_skipped_and_said(
    aind_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    world = _sample()
    _linked_record(world)["other_identifiers"]["Code Ocean"] = [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        LINKED_RAW,
    ]
    aind_sandbox.load(world)
    with caplog.at_level(logging.INFO, logger="aind_session.linked"):
        assert [a.id for a in Session(LINKED).data_assets] == [LINKED_RAW]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "00000000-0000-4000-8000-000000000000" in said and "not-a-uuid" in said


def test_a_linked_asset_of_another_data_level_is_not_the_raw_one(aind_sandbox: Sandbox) -> None:
    world = _sample()
    asset = next(a for a in world["data_assets"] if a["id"] == LINKED_RAW)
    asset["custom_metadata"] = {"data level": "derived"}
    aind_sandbox.load(world)
    session = Session(LINKED)
    assert [a.id for a in session.data_assets] == [LINKED_RAW]
    with pytest.raises(errors.NoRawDataAssetError, match="linked by its DocDB record"):
        session.raw_data_asset


def test_names_and_links_together_give_each_asset_once(aind_sandbox: Sandbox) -> None:
    # the bundled 1.x record of OLD links its raw asset, which its name finds too
    session = Session(OLD)
    ids = [a.id for a in session.data_assets]
    assert len(ids) == len(set(ids)) == 6
    assert session.raw_data_asset.id == "16d46411-540a-4122-b47f-8cb2a15d593a"


def test_many_sessions_links_are_one_query_per_collection(aind_sandbox: Sandbox) -> None:
    names = [
        LINKED,
        DOCDB_ONLY,
        OLD,
        "780345_2025-02-20_00-00-00",
        "ecephys_713655_2024-04-22_14-21-05",
    ]
    found = batch.gather([lambda n=n: Session(n).data_assets for n in names])
    assert [a.id for a in found[0]] == [LINKED_RAW]  # type: ignore[union-attr]
    assert len(aind_sandbox.requests("docdb")) == 2


# -- the raw data folder from location --------------------------------------------------
def test_a_docdb_only_session_s_folder_comes_from_location_in_one_request(
    aind_sandbox: Sandbox,
) -> None:
    session = Session(DOCDB_ONLY)
    assert session.raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"
    assert len(aind_sandbox.requests("s3")) == 1  # not one per known bucket
    assert session.metadata.acquisition["instrument_id"] == "BEH-2"  # acquisition.json


def test_a_location_in_a_bucket_not_known_is_found(
    aind_sandbox: Sandbox, aind_settings: Any
) -> None:
    aind_settings.set(AIND_SESSION_DATA_BUCKETS="aind-ephys-data")
    assert Session(DOCDB_ONLY).raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"


def test_a_wrong_location_is_checked_and_the_buckets_after_it(aind_sandbox: Sandbox) -> None:
    world = _sample()
    record = next(r for r in world["docdb"][V2] if r["name"] == DOCDB_ONLY)
    record["location"] = f"s3://aind-ephys-data/{DOCDB_ONLY}"
    aind_sandbox.load(world)
    assert Session(DOCDB_ONLY).raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"


# -- sessions only DocDB knows ------------------------------------------------------------
def test_get_sessions_has_sessions_known_to_docdb_only_and_to_codeocean_only(
    aind_sandbox: Sandbox,
) -> None:
    world = _sample()
    # a CodeOcean-only session of the same subject
    world["data_assets"].append(
        {
            "id": "e9a4c7d5-6f8b-4cad-9ebf-5a4b3c6d7e8f",
            "name": "behavior_733691_2025-08-01_08-00-00",
            "created": 1754035200,
            "type": "dataset",
            "tags": ["behavior", "raw"],
            "custom_metadata": {"data level": "raw data", "subject id": "733691"},
        }
    )
    aind_sandbox.load(world)
    assert [s.id for s in get_sessions(733691)] == [
        LINKED,
        DOCDB_ONLY,
        "behavior_733691_2025-08-01_08-00-00",
    ]
    assert [s.id for s in aind_session.Subject(733691).sessions][1] == DOCDB_ONLY


def test_get_sessions_asks_codeocean_and_docdb_at_once(aind_sandbox: Sandbox) -> None:
    aind_sandbox.latency = 0.2
    get_sessions(733691)
    assert len(aind_sandbox.requests("docdb")) == 2
    assert aind_sandbox.round_trips() == 1


# -- DocDB down: answered from CodeOcean and S3, said once ------------------------------
def test_docdb_down_leaves_codeocean_s_answers_said_once(
    down: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aind_session.linked"):
        assert len(Session(OLD).data_assets) == 6
        assert Session(OLD).raw_data_asset.id == "16d46411-540a-4122-b47f-8cb2a15d593a"
        assert Session(OLD).raw_data_dir.as_posix().endswith(OLD)
        assert next(s.id for s in get_sessions(676909)) == OLD
    warnings = [r for r in caplog.records if "DocDB could not be asked" in r.getMessage()]
    assert len(warnings) == 1


def test_docdb_down_is_asked_once_then_left_alone_for_a_while(down: Sandbox) -> None:
    Session(OLD).data_assets
    asked = len(down.requests("docdb"))
    assert asked > 0
    Session("ecephys_713655_2024-04-22_14-21-05").data_assets
    get_sessions(676909)
    assert len(down.requests("docdb")) == asked


def test_an_answer_made_without_docdb_is_not_kept(
    down: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docdb_api, "QUIET_FOR", 0.0)
    assert Session(LINKED).data_assets == ()  # names miss, DocDB down
    down.faults = None
    assert [a.id for a in Session(LINKED).data_assets] == [LINKED_RAW]


def test_a_missing_raw_asset_says_docdb_could_not_be_asked(down: Sandbox) -> None:
    with pytest.raises(
        errors.NoRawDataAssetError, match=r"DocDB could not be asked: .*DocDB at .* 503"
    ):
        Session(LINKED).raw_data_asset


def test_a_clear_asks_docdb_again(down: Sandbox) -> None:
    Session(OLD).data_assets
    asked = len(down.requests("docdb"))
    down.faults = None
    aind_session.clear_cache()
    assert [a.id for a in Session(LINKED).data_assets] == [LINKED_RAW]
    assert len(down.requests("docdb")) > asked


def test_session_docdb_itself_raises_when_docdb_is_down(down: Sandbox) -> None:
    with pytest.raises(errors.ServiceError, match="DocDB"):
        Session(OLD).docdb


def test_a_slow_docdb_is_waited_for_only_its_help_deadline(
    aind_sandbox: Sandbox, aind_settings: Any, fast_backoff: Any
) -> None:
    aind_settings.set(AIND_SESSION_DOCDB_HELP_DEADLINE="1", AIND_SESSION_READ_TIMEOUT="0.3")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("stall",), stall_seconds=20, services=("docdb",))
    assert Session(OLD).raw_data_asset.id == "16d46411-540a-4122-b47f-8cb2a15d593a"
    why = linked.joined(OLD)[1]
    assert why is not None and "AIND_SESSION_DOCDB_HELP_DEADLINE" in why
    # the help deadline ended the tries (11 a collection without it)
    assert len(aind_sandbox.requests("docdb")) <= 2 * 4


def test_session_docdb_is_not_held_to_the_help_deadline(
    aind_sandbox: Sandbox, aind_settings: Any, fast_backoff: Any
) -> None:
    aind_settings.set(AIND_SESSION_DOCDB_HELP_DEADLINE="0.001")
    assert Session(LINKED).data_assets == ()  # no time to ask DocDB
    assert Session(LINKED).docdb["_id"] == "v2-733691-2025-06-03"


# -- nothing made without DocDB is kept (found in review) --------------------------------
@pytest.fixture
def two_copies(aind_sandbox: Sandbox) -> Sandbox:
    """The DocDB-only session's folder copied to a bucket probed before its location's."""
    world = _sample()
    for key, value in list(world["s3"].items()):
        if key.startswith(f"aind-open-data/{DOCDB_ONLY}/"):
            world["s3"][key.replace("aind-open-data", "aind-private-data-prod-o5171v", 1)] = value
    aind_sandbox.load(world)
    return aind_sandbox


def test_a_folder_found_without_docdb_is_not_kept_on_disk(
    two_copies: Sandbox,
    cache_dir: Any,
    fast_backoff: Any,
    aind_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docdb_api, "QUIET_FOR", 0.0)
    assert Session(DOCDB_ONLY).raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"
    aind_session.clear_cache(persistent=True)
    aind_settings.set(AIND_SESSION_MAX_RETRIES="0")
    two_copies.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    # without the record's location: the first known bucket holding a copy
    without = Session(DOCDB_ONLY).raw_data_dir.as_posix()
    assert without == f"s3://aind-private-data-prod-o5171v/{DOCDB_ONLY}"
    two_copies.faults = None
    assert Session(DOCDB_ONLY).raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"
    aind_session.clear_cache()  # memory only: what the disk kept
    assert Session(DOCDB_ONLY).raw_data_dir.as_posix() == f"s3://aind-open-data/{DOCDB_ONLY}"


def test_a_raw_asset_missed_while_docdb_was_down_is_found_once_it_answers(
    aind_sandbox: Sandbox, fast_backoff: Any, aind_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docdb_api, "QUIET_FOR", 0.0)
    aind_settings.set(AIND_SESSION_MAX_RETRIES="0")
    aind_sandbox.faults = Faults(
        rate=1.0, kinds=("503",), retry_after=0, limit=2, services=("docdb",)
    )
    assert Session(LINKED).data_assets == ()  # both collections failed, once
    assert Session(LINKED).raw_data_asset.id == LINKED_RAW  # DocDB answers now
    assert [a.id for a in Session(LINKED).data_assets] == [LINKED_RAW]


def test_answers_docdb_gave_are_used_while_it_is_left_alone(down: Sandbox) -> None:
    down.faults = None
    assert Session(LINKED).docdb["_id"] == "v2-733691-2025-06-03"  # the whole record, kept
    down.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    assert len(Session(OLD).data_assets) == 6  # DocDB fails: left alone for a while
    asked = len(down.requests("docdb"))
    assert [a.id for a in Session(LINKED).data_assets] == [LINKED_RAW]  # from the record kept
    assert len(down.requests("docdb")) == asked


def test_a_metadata_file_from_docdb_waits_only_the_help_deadline(
    aind_sandbox: Sandbox, aind_settings: Any, fast_backoff: Any
) -> None:
    aind_settings.set(AIND_SESSION_DOCDB_HELP_DEADLINE="1", AIND_SESSION_READ_TIMEOUT="0.3")
    assert Session(NEW).raw_data_dir  # found, with DocDB's links
    aind_sandbox.faults = Faults(rate=1.0, kinds=("stall",), stall_seconds=20, services=("docdb",))
    aind_sandbox.clear_requests()
    with pytest.raises(errors.MetadataFileNotFoundError, match="AIND_SESSION_DOCDB_HELP_DEADLINE"):
        Session(NEW).metadata.procedures
    assert len(aind_sandbox.requests("docdb")) <= 2 * 4
