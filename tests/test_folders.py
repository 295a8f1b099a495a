"""Where things are: a session's raw data folder and a data asset's folder
(`aind_session.folders`), looked up against the bundled sandbox world."""

from __future__ import annotations

import pytest

from aind_session import errors, folders, rawdata

MAIN = "ecephys_676909_2023-12-13_13-43-40"
NO_SOURCE_BUCKET = "ecephys_644547_2022-12-06_13-24-58"  # its asset names no folder
IN_CODEOCEAN_BUCKET = "ecephys_649038_2023-02-06_15-08-42"  # found there by asset id
NO_ASSET = "ecephys_686740_2024-01-20_12-00-00"  # no raw data asset: found by session ID
NOT_UPLOADED = "ecephys_600000_2024-01-01_00-00-00"  # in no bucket at all


# -- found ----------------------------------------------------------------------------------------
def test_raw_data_dir_is_found_by_source_bucket_in_one_s3_request(aind_sandbox):
    assert folders.raw_data_dir(MAIN) == f"s3://aind-ephys-data/{MAIN}"
    assert len(aind_sandbox.requests("s3")) == 1


def test_raw_data_dir_falls_back_to_known_buckets_by_asset_name(aind_sandbox):
    assert folders.raw_data_dir(NO_SOURCE_BUCKET) == f"s3://aind-ephys-data/{NO_SOURCE_BUCKET}"


def test_raw_data_dir_falls_back_to_known_buckets_by_asset_id(aind_sandbox):
    assert folders.raw_data_dir(IN_CODEOCEAN_BUCKET) == (
        "s3://codeocean-s3datasetsbucket-1u41qdg42ur9/0226e03f-a62d-4144-80f9-5eee0e1132b8"
    )


def test_raw_data_dir_without_a_raw_data_asset_is_found_by_session_id(aind_sandbox):
    assert folders.raw_data_dir(NO_ASSET) == f"s3://aind-ephys-data/{NO_ASSET}"


def test_raw_data_dir_found_once_is_asked_again_for_nothing(aind_sandbox):
    folders.raw_data_dir(NO_SOURCE_BUCKET)
    aind_sandbox.clear_requests()
    assert folders.raw_data_dir(NO_SOURCE_BUCKET) == f"s3://aind-ephys-data/{NO_SOURCE_BUCKET}"
    assert aind_sandbox.requests() == []


# -- not found ------------------------------------------------------------------------------------
def test_raw_data_dir_not_found_lists_what_was_checked(aind_sandbox):
    with pytest.raises(errors.NoRawDataDirError, match="No raw data folder was found") as info:
        folders.raw_data_dir(NOT_UPLOADED)
    message = str(info.value)
    assert "aind-open-data" in message and "by session ID" in message
    assert "AIND_SESSION_DATA_BUCKETS" in message


def test_raw_data_dir_not_found_is_not_kept(aind_sandbox):
    with pytest.raises(errors.NoRawDataDirError):
        folders.raw_data_dir(NOT_UPLOADED)
    aind_sandbox.clear_requests()
    with pytest.raises(errors.NoRawDataDirError):
        folders.raw_data_dir(NOT_UPLOADED)
    assert len(aind_sandbox.requests("s3")) > 0  # probed again: it may have been uploaded


# -- access denied --------------------------------------------------------------------------------
def test_raw_data_dir_access_denied_is_reported_not_taken_for_not_found(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    with pytest.raises(errors.AccessDeniedError) as info:
        folders.raw_data_dir(MAIN)
    assert f"Access was denied to s3://aind-ephys-data/{MAIN}" in str(info.value)
    assert "credentials" in str(info.value)


def test_access_denied_to_one_probed_bucket_does_not_hide_another(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-open-data")
    assert folders.raw_data_dir(NO_SOURCE_BUCKET) == f"s3://aind-ephys-data/{NO_SOURCE_BUCKET}"


# -- locate ---------------------------------------------------------------------------------------
def test_locate_says_where_and_what_was_checked_before(aind_sandbox):
    located = folders.locate(
        [
            ("nowhere", ["s3://aind-ephys-data/not-a-folder"]),
            ("the main session", [f"s3://aind-ephys-data/{MAIN}"]),
        ]
    )
    assert located == folders.Located(f"s3://aind-ephys-data/{MAIN}", ("nowhere",))


def test_locate_takes_a_folder_elsewhere_than_s3_unchecked(aind_sandbox):
    assert folders.locate([("gcp", ["gs://b/p/q"])]).url == "gs://b/p/q"
    assert aind_sandbox.requests() == []


# -- the old module name --------------------------------------------------------------------------
def test_rawdata_is_the_same_lookup_under_its_old_name():
    assert rawdata.raw_data_dir is folders.raw_data_dir
    assert rawdata.candidates is folders.raw_data_dir_candidates
