"""session.ecephys: sorted data assets in every historical layout, raw folders, pipeline runs."""

from __future__ import annotations

import contextlib
import logging

import pytest
from codeocean.data_asset import DataAsset

from aind_session import Session, errors
from aind_session.extensions.ecephys import Ecephys, SortedDataAsset, probe_name

MAIN = "ecephys_676909_2023-12-13_13-43-40"
SORTED = {
    "precurated": "e7f467f7-8ce3-4173-b593-3e53948adb30",  # si_folder.json, no source_bucket
    "code_params": "d5397ed3-243e-435a-b0a6-e8b9fa7eb479",  # data_processes[].code.parameters
    "good": "a782c5e4-a16b-495d-baea-7ca9ba29015c",  # processing_pipeline, zarr analyzer
    "failed": "30d6d645-0ec1-4d71-b088-6af2b1c0feaa",  # output only
}
LATER = "ecephys_713655_2024-04-22_14-21-05"


def by_id(session_id=MAIN):
    return {a.id: a for a in Session(session_id).ecephys.sorted_data_assets}


def test_sorted_data_assets_are_oldest_first_and_only_sorted(aind_sandbox):
    assets = Session(MAIN).ecephys.sorted_data_assets
    assert [a.id for a in assets] == list(SORTED.values())
    assert all("_sorted_" in a.name for a in assets)


def test_sorted_data_assets_subclass_the_sdk_model(aind_sandbox):
    asset = Session(MAIN).ecephys.sorted_data_assets[0]
    assert isinstance(asset, DataAsset) and isinstance(asset, SortedDataAsset)
    assert asset.to_dict()["id"] == asset.id


def test_sorted_data_assets_cost_one_search_and_no_asset_fetch(aind_sandbox):
    Session(MAIN).ecephys.sorted_data_assets
    # and the links of the session's DocDB record, its two collections at once
    assert sorted((r.service, r.method, r.path) for r in aind_sandbox.requests()) == [
        ("codeocean", "POST", "/api/v1/data_assets/search"),
        ("docdb", "GET", "/v1/metadata_index/data_assets/find"),
        ("docdb", "GET", "/v1/metadata_index_v2/data_assets/find"),
    ]


def test_sorter_names_with_probes_make_no_per_asset_codeocean_request(aind_sandbox):
    for asset in Session(MAIN).ecephys.sorted_data_assets:
        with contextlib.suppress(errors.NoSorterNameError):
            asset.sorter_name, asset.sorted_probes
    codeocean = [r for r in aind_sandbox.requests() if r.service == "codeocean"]
    assert len(codeocean) == 1


@pytest.mark.parametrize(
    ("key", "sorter"),
    [("precurated", "kilosort2_5"), ("code_params", "kilosort2_5"), ("good", "kilosort4")],
)
def test_sorter_name_in_each_layout(aind_sandbox, key, sorter):
    assert by_id()[SORTED[key]].sorter_name == sorter


def test_sorter_name_from_postprocessed_sorting_json(aind_sandbox):
    (asset,) = Session("ecephys_676909_2023-12-14_12-43-11").ecephys.sorted_data_assets
    assert asset.sorter_name == "kilosort2_5"


def test_sorter_name_from_params_json(aind_sandbox):
    assets = Session(LATER).ecephys.sorted_data_assets
    assert [a.sorter_name for a in assets] == ["kilosort4", "spykingcircus2"]


def test_missing_sorter_name_says_the_sorting_probably_failed(aind_sandbox):
    with pytest.raises(errors.NoSorterNameError, match="probably failed"):
        by_id()[SORTED["failed"]].sorter_name


def test_missing_sorter_name_is_not_available_so_getattr_gives_the_default(aind_sandbox):
    failed = by_id()[SORTED["failed"]]
    assert getattr(failed, "sorter_name", None) is None
    with pytest.raises(errors.NotAvailableError):
        failed.sorter_name


def test_missing_sorter_name_is_still_a_value_error_as_before(aind_sandbox):
    with pytest.raises(ValueError, match="probably failed"):
        by_id()[SORTED["failed"]].sorter_name


def test_sorted_probes_from_curated_and_precurated_folders(aind_sandbox):
    assets = by_id()
    assert assets[SORTED["good"]].sorted_probes == ("ProbeA", "ProbeB", "ProbeF")
    assert assets[SORTED["precurated"]].sorted_probes  # sorting_precurated/
    assert assets[SORTED["failed"]].sorted_probes == ()


@pytest.mark.parametrize(
    ("folder", "probe"),
    [
        ("experiment1_Record Node 104#Neuropix-PXI-100.ProbeF-AP_recording1", "ProbeF"),
        ("experiment1_Record Node 101#Neuropix-PXI-100.ProbeA_recording1", "ProbeA"),
        ("experiment2_Record Node 102#Neuropix-PXI-100.45883-AP_recording3", "45883"),
    ],
)
def test_probe_name_from_a_recording_folder(folder, probe):
    assert probe_name(folder) == probe


def test_sorting_analyzer_is_recognised_by_zarr_results(aind_sandbox):
    assets = by_id()
    assert assets[SORTED["good"]].is_sorting_analyzer is True
    assert assets[SORTED["code_params"]].is_sorting_analyzer is False


def test_sorting_errors(aind_sandbox):
    assets = by_id()
    assert assets[SORTED["failed"]].is_sorting_error is True
    assert assets[SORTED["good"]].is_sorting_error is False


def test_output_and_path(aind_sandbox):
    asset = by_id()[SORTED["failed"]]
    assert "Out of memory." in asset.output
    assert asset.path.as_posix() == f"s3://codeocean-s3datasetsbucket-1u41qdg42ur9/{asset.id}"


def test_path_of_an_asset_without_source_bucket_is_found_by_id(aind_sandbox):
    asset = by_id()[SORTED["precurated"]]
    assert asset.source_bucket is None
    assert asset.path.as_posix().endswith(asset.id)


def test_sorted_data_asset_skips_a_newer_failed_one(aind_sandbox, caplog):
    with caplog.at_level(logging.INFO, logger="aind_session"):
        asset = Session(MAIN).ecephys.sorted_data_asset
    assert asset.name == f"{MAIN}_sorted_2024-03-01_16-02-45"
    assert any("sorting error" in r.getMessage() for r in caplog.records)


def test_is_sorted_is_true_when_an_older_sorting_is_usable_though_the_latest_failed(
    aind_sandbox,
):
    assert Session(MAIN).ecephys.is_sorted is True
    assert Session(LATER).ecephys.is_sorted is True


@pytest.mark.parametrize(
    "session_id",
    [MAIN, LATER, "ecephys_686740_2024-01-20_12-00-00", "ecephys_644547_2022-12-06_13-24-58"],
)
def test_is_sorted_agrees_with_sorted_data_asset(aind_sandbox, session_id):
    ecephys = Session(session_id).ecephys
    assert ecephys.is_sorted is (getattr(ecephys, "sorted_data_asset", None) is not None)


def test_latest_sorting_failed_says_whether_the_newest_sorted_asset_holds_an_error(aind_sandbox):
    assert Session(MAIN).ecephys.latest_sorting_failed is True
    assert Session(LATER).ecephys.latest_sorting_failed is False
    assert Session("ecephys_686740_2024-01-20_12-00-00").ecephys.latest_sorting_failed is False


SMALL = "ecephys_612345_2024-06-01_10-00-00"


def small_world(*kinds_and_buckets):
    """A session `SMALL` whose sorted assets, oldest first, are (``good`` or ``failed``, bucket)."""
    assets = [
        {
            "id": "61234500-0000-4000-8000-000000000000",
            "name": SMALL,
            "custom_metadata": {"data level": "raw data"},
            "source_bucket": {"origin": "aws", "bucket": "aind-ephys-data", "prefix": SMALL},
        }
    ]
    s3 = {f"aind-ephys-data/{SMALL}/ecephys/x.dat": "x"}
    for day, (kind, bucket) in enumerate(kinds_and_buckets, start=2):
        name = f"{SMALL}_sorted_2024-06-{day:02d}_10-00-00"
        assets.append(
            {
                "id": f"61234500-0000-4000-8000-0000000000{day:02d}",
                "name": name,
                "created": day,
                "source_bucket": {"origin": "aws", "bucket": bucket, "prefix": name},
            }
        )
        if kind == "failed":
            s3[f"{bucket}/{name}/output"] = "Out of memory.\n"
        else:
            s3[f"{bucket}/{name}/output"] = "Succeeded\n"
            s3[f"{bucket}/{name}/curated/rec.ProbeA_recording1/x.npy"] = "x"
            s3[f"{bucket}/{name}/nwb/x.nwb"] = "x"
    return {"data_assets": assets, "s3": s3}


def test_is_sorted_is_false_when_every_sorting_failed(aind_sandbox):
    aind_sandbox.load(small_world(("failed", "aind-ephys-data"), ("failed", "aind-ephys-data")))
    ecephys = Session(SMALL).ecephys
    assert ecephys.is_sorted is False
    assert ecephys.latest_sorting_failed is True
    with pytest.raises(errors.NoSortedDataError, match="All 2 sorted data asset"):
        ecephys.sorted_data_asset


def test_is_sorted_is_true_when_a_usable_sorting_exists_though_the_newest_cannot_be_checked(
    aind_sandbox,
):
    aind_sandbox.load(
        small_world(("good", "aind-ephys-data"), ("good", "aind-private-data-prod-o5171v"))
    )
    aind_sandbox.denied_buckets.add("aind-private-data-prod-o5171v")
    ecephys = Session(SMALL).ecephys
    assert ecephys.is_sorted is True
    with pytest.raises(errors.AccessDeniedError):
        ecephys.latest_sorting_failed
    with pytest.raises(errors.AccessDeniedError):  # the newest may be the answer
        ecephys.sorted_data_asset


def test_is_sorted_raises_when_no_sorting_is_usable_and_one_cannot_be_checked(aind_sandbox):
    aind_sandbox.load(
        small_world(("good", "aind-private-data-prod-o5171v"), ("failed", "aind-ephys-data"))
    )
    aind_sandbox.denied_buckets.add("aind-private-data-prod-o5171v")
    ecephys = Session(SMALL).ecephys
    with pytest.raises(errors.AccessDeniedError):
        ecephys.is_sorted
    with pytest.raises(errors.AccessDeniedError):
        ecephys.sorted_data_asset


def test_session_without_sorted_assets_says_so(aind_sandbox):
    session = Session("ecephys_686740_2024-01-20_12-00-00")
    assert session.ecephys.sorted_data_assets == ()
    assert session.ecephys.is_sorted is False
    with pytest.raises(errors.NoSortedDataError, match="run_sorting"):
        session.ecephys.sorted_data_asset
    assert getattr(session.ecephys, "sorted_data_asset", None) is None


def test_sorted_data_dir(aind_sandbox):
    assert Session(MAIN).ecephys.sorted_data_dir.as_posix().endswith(SORTED["good"])


def test_sorter_namespaces(aind_sandbox):
    sorter = Session(MAIN).ecephys.sorter
    assert sorter.names == ("kilosort2_5", "kilosort4")
    assert [a.id for a in sorter.kilosort4.sorted_data_assets] == [SORTED["good"]]
    assert [a.id for a in sorter.kilosort2_5.sorted_data_assets] == [
        SORTED["precurated"],
        SORTED["code_params"],
    ]
    assert sorter["spykingcircus2"].sorted_data_assets == ()


def test_work_on_several_sorted_assets_runs_concurrently(aind_sandbox):
    session = Session(MAIN)
    session.ecephys.sorted_data_assets
    aind_sandbox.clear_requests()
    aind_sandbox.latency = 0.05
    session.ecephys.sorter.names
    assert len(aind_sandbox.requests("s3")) >= 8
    assert aind_sandbox.max_in_flight() >= 4  # one asset after another would be 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{MAIN}_sorted_2024-03-01_16-02-45", True),
        (f"{MAIN}_sorted", True),
        (f"{MAIN}_sorted-curated_2024-03-01_16-02-45", True),
        (MAIN, False),
        (f"{MAIN}_nwb_2024-04-02_11-00-00", False),
        (f"{MAIN}_sortedness", False),
        ("no session here_sorted", False),
    ],
)
def test_is_sorted_data_asset(name, expected):
    assert Ecephys.is_sorted_data_asset(name) is expected


def test_clipped_and_compressed_dirs_at_the_root_before_2024(aind_sandbox):
    ecephys = Session(MAIN).ecephys
    assert ecephys.clipped_dir.as_posix() == f"s3://aind-ephys-data/{MAIN}/ecephys_clipped"
    assert ecephys.compressed_dir.as_posix() == f"s3://aind-ephys-data/{MAIN}/ecephys_compressed"


def test_clipped_and_compressed_dirs_under_ecephys_from_2024(aind_sandbox):
    ecephys = Session(LATER).ecephys
    assert ecephys.clipped_dir.as_posix().endswith(f"{LATER}/ecephys/ecephys_clipped")
    assert ecephys.compressed_dir.as_posix().endswith(f"{LATER}/ecephys/ecephys_compressed")


def test_missing_clipped_dir_names_both_places(aind_sandbox):
    with pytest.raises(AttributeError) as info:
        Session("behavior_676909_2023-12-15_09-30-00").ecephys.clipped_dir
    root = "s3://aibs-behavior-data/behavior_676909_2023-12-15_09-30-00"
    assert f"{root}/ecephys/ecephys_clipped" in str(info.value)
    assert f"{root}/ecephys_clipped" in str(info.value)


def test_current_sorting_pipeline_computations(aind_sandbox):
    running = Session(LATER).ecephys.current_sorting_pipeline_computations
    assert [r.state for r in running] == ["running"]
    assert Session(MAIN).ecephys.current_sorting_pipeline_computations == ()


def test_run_sorting_starts_the_trigger_capsule_with_the_raw_asset(aind_sandbox):
    session = Session(MAIN)
    run = session.ecephys.run_sorting()
    assert run is not None and run.state == "initializing"
    assert [p.value for p in run.parameters] == ["ecephys_ks25", session.raw_data_asset.id]
    assert [a.id for a in run.data_assets] == [session.raw_data_asset.id]
    posts = [
        r
        for r in aind_sandbox.requests()
        if r.method == "POST" and r.path == "/api/v1/computations"
    ]
    assert len(posts) == 1


def test_run_sorting_skips_a_session_already_being_sorted(aind_sandbox, caplog):
    with caplog.at_level(logging.WARNING):
        assert Session(LATER).ecephys.run_sorting() is None
    assert any("already being sorted" in r.getMessage() for r in caplog.records)
    assert not [r for r in aind_sandbox.requests() if r.path == "/api/v1/computations"]


def test_run_sorting_can_be_forced_with_other_parameters(aind_sandbox):
    run = Session(LATER).ecephys.run_sorting(
        pipeline_type="ecephys_ks4", skip_already_sorting=False, override_parameters=["a", "b"]
    )
    assert [p.value for p in run.parameters] == ["a", "b"]
