"""session.metadata: the metadata JSON files of the raw data folder."""

from __future__ import annotations

import pytest

from aind_session import Session, errors

MAIN = "ecephys_676909_2023-12-13_13-43-40"


def s3_requests(sb):
    return [r for r in sb.requests() if r.service == "s3"]


def test_subject_json_as_a_dict(aind_sandbox):
    subject = Session(MAIN).metadata.subject
    assert subject["genotype"] == "Pvalb-IRES-Cre/wt;Ai32(RCL-ChR2(H134R)_EYFP)/wt"
    assert subject["subject_id"] == "676909"


def test_any_file_stem_is_an_attribute(aind_sandbox):
    metadata = Session(MAIN).metadata
    assert metadata.rig == metadata.read("rig")
    assert isinstance(metadata.procedures, dict)


def test_names_with_a_dot_through_getattr(aind_sandbox):
    assert getattr(Session(MAIN).metadata, "metadata.nd")["name"] == MAIN


def test_json_files_are_sorted_by_name(aind_sandbox):
    names = [p.name for p in Session(MAIN).metadata.json_files]
    assert names == sorted(names)
    assert {"subject.json", "session.json", "data_description.json", "metadata.nd.json"} <= set(
        names
    )
    assert all(
        p.as_posix().startswith(f"s3://aind-ephys-data/{MAIN}/")
        for p in Session(MAIN).metadata.json_files
    )


def test_subject_after_modalities_costs_one_s3_request(aind_sandbox):
    session = Session(MAIN)
    session.modalities
    aind_sandbox.clear_requests()
    session.metadata.subject
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in aind_sandbox.requests()] == [
        ("GET", "subject.json")
    ]


def test_folder_is_listed_once_for_many_files(aind_sandbox):
    metadata = Session(MAIN).metadata
    for stem in ("subject", "session", "rig", "procedures", "data_description"):
        metadata.read(stem)
    listings = [r for r in s3_requests(aind_sandbox) if "list-type=2" in r.query]
    assert len(listings) == 1


def test_missing_file_lists_the_files_that_exist(aind_sandbox):
    metadata = Session(MAIN).metadata
    with pytest.raises(errors.MetadataFileNotFoundError) as info:
        metadata.instrument
    assert "'instrument.json'" in str(info.value) and "subject.json" in str(info.value)
    assert getattr(metadata, "instrument", None) is None


def test_metadata_of_a_session_with_fewer_files(aind_sandbox):
    metadata = Session("ecephys_644547_2022-12-06_13-24-58").metadata
    assert [p.name for p in metadata.json_files] == ["data_description.json", "subject.json"]
    with pytest.raises(AttributeError, match=r"rig\.json"):
        metadata.rig


def test_metadata_of_a_session_not_uploaded_says_so(aind_sandbox):
    with pytest.raises(errors.NoRawDataDirError):
        Session("ecephys_600000_2024-01-01_00-00-00").metadata.subject


def test_corrupt_json_raises_a_value_error_naming_the_file(aind_sandbox):
    world = {
        "data_assets": [],
        "s3": {
            "aind-ephys-data/ecephys_600001_2024-01-01_00-00-00/subject.json": '{"genotype": "wt"',
            "aind-ephys-data/ecephys_600001_2024-01-01_00-00-00/ecephys/x.txt": "x",
        },
    }
    aind_sandbox.load(world)
    with pytest.raises(ValueError) as info:
        Session("ecephys_600001_2024-01-01_00-00-00").metadata.subject
    assert isinstance(info.value, errors.CorruptFileError)
    assert "ecephys_600001_2024-01-01_00-00-00/subject.json" in str(info.value)


def test_json_that_is_not_an_object_is_refused(aind_sandbox):
    world = {"s3": {"aind-ephys-data/ecephys_600002_2024-01-01_00-00-00/subject.json": [1, 2]}}
    aind_sandbox.load(world)
    with pytest.raises(errors.CorruptFileError, match="list"):
        Session("ecephys_600002_2024-01-01_00-00-00").metadata.subject


def test_a_missing_folder_is_looked_for_once_per_read(aind_sandbox):
    metadata = Session("ecephys_600000_2024-01-01_00-00-00").metadata
    with pytest.raises(errors.NoRawDataDirError):
        metadata.subject
    assert len(aind_sandbox.requests("s3")) == 7  # one probe per known bucket, not twice


def test_json_files_of_a_session_not_uploaded_says_what_was_checked(aind_sandbox):
    metadata = Session("ecephys_600000_2024-01-01_00-00-00").metadata
    with pytest.raises(errors.NoRawDataDirError, match="No raw data folder was found"):
        metadata.json_files
    assert getattr(metadata, "json_files", None) is None


def test_a_private_name_is_not_read_as_a_file(aind_sandbox):
    with pytest.raises(AttributeError, match="_secret"):
        Session(MAIN).metadata._secret
    assert aind_sandbox.requests() == []


def test_a_file_that_access_is_denied_to_raises_an_access_denied_error(aind_sandbox):
    metadata = Session(MAIN).metadata
    metadata.json_files  # the folder is found and listed
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    with pytest.raises(errors.AccessDeniedError, match=r"subject\.json"):
        metadata.subject
