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
        metadata.quality_control
    assert "'quality_control.json'" in str(info.value) and "subject.json" in str(info.value)
    assert getattr(metadata, "quality_control", None) is None


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


# -- across schema versions: 2.x names, 1.x names, DocDB's record ------------------------
NEW = "790001_2025-06-01_10-00-00"  # a 2.x session: no platform in its name


def _two_worlds(docdb_sections: dict | None = None) -> dict:
    import json
    from importlib import resources

    world = json.loads(
        resources.files("aind_session.testing").joinpath("sample_world.json").read_text("utf-8")
    )
    world["data_assets"].append(
        {
            "id": "7a900001-0000-4000-8000-000000000001",
            "name": NEW,
            "created": 1748797200,
            "type": "dataset",
            "tags": ["raw"],
            "custom_metadata": {"data level": "raw data", "subject id": "790001"},
            "source_bucket": {"origin": "aws", "bucket": "aind-ephys-data", "prefix": NEW},
        }
    )
    folder = f"aind-ephys-data/{NEW}"
    world["s3"][f"{folder}/acquisition.json"] = {
        "schema_version": "2.0.34",
        "acquisition_type": "ecephys",
    }
    world["s3"][f"{folder}/instrument.json"] = {
        "schema_version": "2.0.34",
        "instrument_id": "EPHYS2",
    }
    world["s3"][f"{folder}/ecephys/probe.bin"] = "x"
    record = {"_id": "rec-790001", "name": NEW, **(docdb_sections or {})}
    world["docdb"] = {"metadata_index_v2/data_assets": [record]}
    return world


def test_acquisition_reads_the_2x_file(aind_sandbox):
    aind_sandbox.load(_two_worlds())
    assert Session(NEW).metadata.acquisition["acquisition_type"] == "ecephys"
    assert Session(NEW).metadata.instrument["instrument_id"] == "EPHYS2"


def test_acquisition_reads_session_json_of_a_1x_session(aind_sandbox):
    metadata = Session(MAIN).metadata
    assert metadata.acquisition == metadata.session
    assert metadata.instrument == metadata.rig
    # the files are there: no record is asked (only the links, with the search)
    assert [r for r in aind_sandbox.requests("docdb") if "projection" not in r.query] == []


def test_a_1x_name_on_a_2x_session_says_which_name_to_use(aind_sandbox):
    aind_sandbox.load(_two_worlds())
    with pytest.raises(errors.MetadataFileNotFoundError, match=r"use metadata\.acquisition"):
        Session(NEW).metadata.session
    with pytest.raises(errors.MetadataFileNotFoundError, match=r"use metadata\.instrument"):
        Session(NEW).metadata.rig


def test_a_file_the_folder_lacks_comes_from_the_docdb_record(aind_sandbox, caplog):
    import logging

    aind_sandbox.load(_two_worlds({"procedures": {"subject_procedures": []}}))
    with caplog.at_level(logging.DEBUG, logger="aind_session.extensions.metadata"):
        assert Session(NEW).metadata.procedures == {"subject_procedures": []}
    assert "from its DocDB record" in caplog.text
    # the whole record, its collections at once (the links, projected, came with the search)
    assert len([r for r in aind_sandbox.requests("docdb") if "projection" not in r.query]) == 2


def test_with_docdb_down_a_missing_file_says_so_and_warns_once(aind_sandbox, caplog, fast_backoff):
    from aind_session.testing.faults import Faults

    aind_sandbox.load(_two_worlds({"procedures": {"subject_procedures": []}}))
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    with pytest.raises(errors.MetadataFileNotFoundError, match="DocDB could not be asked"):
        Session(NEW).metadata.procedures
    with pytest.raises(errors.MetadataFileNotFoundError):
        Session(NEW).metadata.processing
    assert caplog.text.count("DocDB could not be asked") == 1


def test_acquisition_with_docdb_down_says_so_not_that_the_record_lacks_it(
    aind_sandbox, fast_backoff
):
    from aind_session.testing.faults import Faults

    world = _two_worlds()
    del world["s3"][f"aind-ephys-data/{NEW}/instrument.json"]
    aind_sandbox.load(world)
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    with pytest.raises(errors.MetadataFileNotFoundError, match="DocDB could not be asked"):
        Session(NEW).metadata.instrument


def test_a_records_own_fields_are_not_metadata_files(aind_sandbox):
    aind_sandbox.load(_two_worlds({"other_identifiers": {"Code Ocean": ["x"]}}))
    with pytest.raises(errors.MetadataFileNotFoundError):
        Session(NEW).metadata.other_identifiers
