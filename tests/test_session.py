"""Session: parsing, identity, and lazy resolution against the bundled sandbox world."""

from __future__ import annotations

import datetime
import logging
import pathlib
import pickle

import pytest

import aind_session
from aind_session import Session, errors

MAIN = "ecephys_676909_2023-12-13_13-43-40"
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"


def counts(sb):
    reqs = sb.requests()
    return (
        sum(r.service == "codeocean" for r in reqs),
        sum(r.service == "s3" for r in reqs),
    )


# -- parsing and identity ---------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        MAIN,
        f"s3://aind-ephys-data/{MAIN}",
        f"/data/{MAIN}_sorted_2024-03-01_16-02-45/nwb",
        pathlib.PurePosixPath(f"/root/capsule/data/{MAIN}"),
        "ecephys_676909_2023_12_13_13_43_40",
        f"prefix_{MAIN}_suffix",
    ],
)
def test_session_id_is_found_in_ids_paths_and_names(value):
    assert Session(value).id == MAIN


def test_session_exposes_parsed_fields():
    session = Session(MAIN)
    assert (session.platform, session.subject_id) == ("ecephys", "676909")
    assert session.dt == datetime.datetime(2023, 12, 13, 13, 43, 40)
    assert session.datetime == session.dt
    assert session.date == datetime.date(2023, 12, 13)
    assert session.time == datetime.time(13, 43, 40)


def test_platform_keeps_its_case_and_hyphens():
    assert Session("multiplane-ophys_660166_2023-08-08_13-50-17").platform == "multiplane-ophys"
    assert Session("SmartSPIM_693124_2023-11-01_14-12-37").platform == "SmartSPIM"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "676909",
        "ecephys_676909",
        "ecephys_676909_2023-13-45_13-43-40",
        "ecephys_676909_2023-02-31_10-00-00",
        "ecephys_12_2023-12-13_13-43-40",
    ],
)
def test_value_without_a_session_id_raises_value_error_naming_it(value):
    with pytest.raises(ValueError) as info:
        Session(value)
    assert isinstance(info.value, errors.SessionIDError)
    assert repr(value) in str(info.value)
    assert "<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>" in str(info.value)


@pytest.mark.parametrize("value", [None, 676909, 3.5, b"ecephys_676909_2023-12-13_13-43-40", ["x"]])
def test_non_string_value_raises_value_error_naming_its_type(value):
    with pytest.raises(ValueError, match=type(value).__name__):
        Session(value)


def test_sessions_are_equal_hashed_and_ordered_by_id():
    a = Session(MAIN)
    b = Session(f"/data/{MAIN}_sorted")
    c = Session("ecephys_676909_2023-12-14_12-43-11")
    assert a == b and hash(a) == hash(b) and len({a, b, c}) == 2
    assert sorted([c, a]) == [a, c] and a < c and c > a and a <= b and a >= b
    assert a != MAIN  # a session is not its string


def test_session_repr_and_str():
    assert repr(Session(MAIN)) == f"Session('{MAIN}')"
    assert str(Session(MAIN)) == MAIN


def test_session_is_immutable():
    session = Session(MAIN)
    with pytest.raises(AttributeError, match="immutable"):
        session.id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del session.platform
    assert session.id == MAIN


def test_session_pickles_by_id():
    assert pickle.loads(pickle.dumps(Session(MAIN))) == Session(MAIN)


def test_creating_a_session_makes_no_request(aind_sandbox):
    for value in (MAIN, f"/x/{MAIN}_sorted_2024-03-01_16-02-45"):
        Session(value)
    assert aind_sandbox.requests() == []


# -- data assets ---------------------------------------------------------------------------
def test_data_assets_start_with_the_session_id_oldest_first(aind_sandbox):
    assets = Session(MAIN).data_assets
    assert assets and all(a.name.startswith(MAIN) for a in assets)
    assert [a.created for a in assets] == sorted(a.created for a in assets)
    assert "histology_registration_" + MAIN not in [a.name for a in assets]


def test_data_assets_are_the_sdk_models(aind_sandbox):
    from codeocean.data_asset import DataAsset

    assert all(type(a) is DataAsset for a in Session(MAIN).data_assets)


def test_data_assets_leave_out_another_session_sharing_the_first_20_characters(aind_sandbox):
    other = "ecephys_676909_2023-12-14_12-43-11"
    assert MAIN[:20] == other[:20]
    names = {a.name for a in Session(MAIN).data_assets}
    assert not any(n.startswith(other) for n in names)
    assert {a.name for a in Session(other).data_assets} >= {other}


def test_data_assets_are_found_with_the_name_quirk_off(aind_sandbox):
    aind_sandbox.codeocean.name_quirk = False
    try:
        assert Session(MAIN).raw_data_asset.id == MAIN_RAW_ID
    finally:
        aind_sandbox.codeocean.name_quirk = True


def test_two_sessions_sharing_a_prefix_share_one_search(aind_sandbox):
    Session(MAIN).data_assets
    Session("ecephys_676909_2023-12-14_12-43-11").data_assets
    assert counts(aind_sandbox) == (1, 0)


def test_session_with_no_assets_has_empty_data_assets(aind_sandbox):
    assert Session("ecephys_686740_2024-01-20_12-00-00").data_assets == ()


# -- raw data asset ---------------------------------------------------------------------------
def test_raw_data_asset_costs_one_codeocean_request(aind_sandbox):
    assert Session(MAIN).raw_data_asset.id == MAIN_RAW_ID
    assert counts(aind_sandbox) == (1, 0)


def test_raw_data_asset_prefers_custom_metadata_over_a_newer_tagged_asset(aind_sandbox):
    assert (
        Session("ecephys_706401_2024-02-07_11-44-19").raw_data_asset.id
        == "a1a5512e-d334-4fe8-adc8-9db0ee7226d5"
    )


def test_raw_data_asset_prefers_a_raw_tag_over_a_newer_name_match(aind_sandbox):
    assert (
        Session("ecephys_708032_2024-02-13_10-05-52").raw_data_asset.id
        == "b4926900-b2a0-4b8b-ae4c-46ced74d31d9"
    )


def test_raw_data_asset_falls_back_to_a_name_equal_to_the_session_id(aind_sandbox):
    asset = Session("ecephys_644547_2022-12-06_13-24-58").raw_data_asset
    assert asset.id == "d6e72755-bebf-4b51-9700-159c6c352d6e"


def test_raw_data_asset_is_the_latest_of_several_and_says_so(aind_sandbox, caplog):
    with caplog.at_level(logging.INFO, logger="aind_session"):
        asset = Session("ecephys_699846_2024-01-25_15-38-41").raw_data_asset
    assert asset.id == "281cac9e-ccb2-467d-8d2e-1a6aaab699a1"
    assert any(
        "using the latest" in r.getMessage() and asset.id in r.getMessage() for r in caplog.records
    )


def test_missing_raw_data_asset_says_the_data_is_on_s3(aind_sandbox):
    session = Session("ecephys_686740_2024-01-20_12-00-00")
    with pytest.raises(errors.NoRawDataAssetError) as info:
        session.raw_data_asset
    assert "s3://aind-ephys-data/ecephys_686740_2024-01-20_12-00-00" in str(info.value)
    assert "no raw data asset exists" in str(info.value)


def test_missing_raw_data_asset_says_not_uploaded(aind_sandbox):
    session = Session("ecephys_600000_2024-01-01_00-00-00")
    with pytest.raises(errors.NoRawDataAssetError, match="has not been uploaded"):
        session.raw_data_asset
    assert getattr(session, "raw_data_asset", None) is None


# -- raw data dir ---------------------------------------------------------------------------------
def test_raw_data_dir_costs_one_search_and_one_s3_request(aind_sandbox):
    assert Session(MAIN).raw_data_dir.as_posix() == f"s3://aind-ephys-data/{MAIN}"
    assert counts(aind_sandbox) == (1, 1)


def test_raw_data_dir_after_raw_data_asset_costs_one_s3_request(aind_sandbox):
    session = Session(MAIN)
    session.raw_data_asset
    aind_sandbox.clear_requests()
    session.raw_data_dir
    assert counts(aind_sandbox) == (0, 1)


def test_raw_data_dir_is_a_upath_that_reads_the_folder(aind_sandbox):
    from upath import UPath

    folder = Session(MAIN).raw_data_dir
    assert isinstance(folder, UPath)
    assert (folder / "subject.json").read_text().startswith("{")


def test_raw_data_dir_found_by_asset_name_when_source_bucket_is_missing(aind_sandbox):
    folder = Session("ecephys_644547_2022-12-06_13-24-58").raw_data_dir
    assert folder.as_posix() == "s3://aind-ephys-data/ecephys_644547_2022-12-06_13-24-58"


def test_raw_data_dir_found_by_asset_id_in_the_codeocean_bucket(aind_sandbox):
    folder = Session("ecephys_649038_2023-02-06_15-08-42").raw_data_dir
    assert folder.as_posix() == (
        "s3://codeocean-s3datasetsbucket-1u41qdg42ur9/0226e03f-a62d-4144-80f9-5eee0e1132b8"
    )


def test_raw_data_dir_probes_the_buckets_at_once_not_one_by_one(aind_sandbox):
    session = Session("ecephys_644547_2022-12-06_13-24-58")
    session.raw_data_asset
    aind_sandbox.clear_requests()
    aind_sandbox.latency = 0.05
    session.raw_data_dir
    assert len(aind_sandbox.requests("s3")) >= 7
    assert aind_sandbox.max_in_flight() >= 7


def test_raw_data_dir_without_an_asset_is_found_by_session_id(aind_sandbox):
    folder = Session("ecephys_686740_2024-01-20_12-00-00").raw_data_dir
    assert folder.as_posix() == "s3://aind-ephys-data/ecephys_686740_2024-01-20_12-00-00"


def test_raw_data_dir_missing_lists_what_was_checked(aind_sandbox):
    session = Session("ecephys_600000_2024-01-01_00-00-00")
    with pytest.raises(errors.NoRawDataDirError) as info:
        session.raw_data_dir
    message = str(info.value)
    assert "aind-open-data" in message and "by session ID" in message
    assert getattr(session, "raw_data_dir", None) is None


def test_raw_data_dir_says_when_source_bucket_points_at_an_empty_folder(aind_sandbox):
    with pytest.raises(errors.NoRawDataDirError) as info:
        Session("behavior_700000_2024-02-02_10-00-00").raw_data_dir
    assert "s3://aibs-behavior-data/behavior_700000_2024-02-02_10-00-00" in str(info.value)
    assert "source_bucket" in str(info.value)


def test_raw_data_dir_of_a_gcp_asset_is_a_gs_url():
    from codeocean.data_asset import DataAsset

    from aind_session.codeocean import source_url

    asset = DataAsset.from_dict(
        {
            "id": "x",
            "created": 0,
            "name": "n",
            "mount": "n",
            "last_used": 0,
            "owner": "o",
            "state": "ready",
            "type": "dataset",
            "source_bucket": {"origin": "gcp", "bucket": "b", "prefix": "p/q/"},
        }
    )
    assert source_url(asset) == "gs://b/p/q"


def test_is_uploaded(aind_sandbox):
    assert Session(MAIN).is_uploaded is True
    assert Session("ecephys_686740_2024-01-20_12-00-00").is_uploaded is True
    assert Session("ecephys_600000_2024-01-01_00-00-00").is_uploaded is False


# -- modalities ---------------------------------------------------------------------------------
def test_modalities_count_clipped_and_compressed_as_ecephys(aind_sandbox):
    assert Session(MAIN).modalities == ("behavior", "ecephys")


def test_modalities_of_the_2024_layout(aind_sandbox):
    assert Session("ecephys_713655_2024-04-22_14-21-05").modalities == (
        "behavior",
        "behavior-videos",
        "ecephys",
    )


def test_modalities_leave_out_metadata_folders(aind_sandbox, monkeypatch):
    from aind_session import s3

    listing = s3.Listing("b/x", ("behavior", "metadata", "original_metadata"), ())
    monkeypatch.setattr(s3, "list_folder", lambda path: listing)
    monkeypatch.setattr("aind_session.session._raw_data_dir", lambda session_id: "s3://b/x")
    assert Session(MAIN).modalities == ("behavior",)


def test_modalities_of_a_session_not_uploaded_are_empty(aind_sandbox):
    assert Session("ecephys_600000_2024-01-01_00-00-00").modalities == ()


def test_cold_modalities_cost_two_requests_and_none_after_raw_data_dir(aind_sandbox):
    session = Session(MAIN)
    session.modalities
    assert counts(aind_sandbox) == (1, 1)
    session.raw_data_dir
    assert counts(aind_sandbox) == (1, 1)


def test_repeating_every_property_costs_nothing(aind_sandbox):
    session = Session(MAIN)
    first = (
        session.raw_data_asset,
        session.raw_data_dir,
        session.modalities,
        session.metadata.subject,
    )
    before = len(aind_sandbox.requests())
    again = (
        session.raw_data_asset,
        session.raw_data_dir,
        session.modalities,
        session.metadata.subject,
    )
    assert again == first
    assert len(aind_sandbox.requests()) == before


def test_subject_of_a_session(aind_sandbox):
    assert Session(MAIN).subject == aind_session.Subject(676909)
