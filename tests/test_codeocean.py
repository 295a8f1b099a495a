"""The CodeOcean layer: client behaviour, searches, assets, computations and errors."""

from __future__ import annotations

import uuid

import pytest

import aind_session
from aind_session import codeocean, errors, verdicts
from aind_session.testing import Faults
from aind_session.testing.codeocean_search import DEMO_ASSET_ID

MAIN = "ecephys_676909_2023-12-13_13-43-40"
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
SORTING_PIPELINE = "1f8f159a-7670-47a9-baf1-078905fc9c2e"
NWB_CAPSULE = "70c124bf"


@pytest.fixture
def fast_retries(aind_settings):
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")


def codeocean_requests(sb):
    return [r for r in sb.requests() if r.service == "codeocean"]


# -- client ----------------------------------------------------------------------------------
def test_client_is_built_once(aind_sandbox):
    assert codeocean.get_client() is codeocean.get_client()


def test_every_request_has_a_timeout(aind_sandbox, monkeypatch):
    import requests.adapters

    seen = []
    original = requests.adapters.HTTPAdapter.send

    def spy(self, request, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    codeocean.get_client().data_assets.get_data_asset(MAIN_RAW_ID)
    assert seen == [(5.0, 60.0)]


def test_retries_on_429_500_503_and_dropped_connections(aind_sandbox, fast_retries):
    aind_sandbox.faults = Faults(rate=0.5, seed=3, retry_after=0, services=("codeocean",))
    assert codeocean.get_data_asset(MAIN_RAW_ID).name == MAIN
    statuses = [r.status for r in codeocean_requests(aind_sandbox)]
    assert statuses[-1] == 200 and len(statuses) > 1


def test_retry_honours_retry_after(aind_sandbox, fast_retries):
    import time

    aind_sandbox.faults = Faults(rate=1.0, kinds=("429",), retry_after=1)
    aind_sandbox.faults = Faults(rate=0.0)
    # one 429 with Retry-After: 1, then success
    calls = {"n": 0}
    original = aind_sandbox._draw_fault

    def once(service):
        calls["n"] += 1
        return "429" if calls["n"] == 1 else None

    aind_sandbox._draw_fault = once
    aind_sandbox._faults = Faults(rate=0.0, retry_after=1)
    try:
        start = time.perf_counter()
        codeocean.get_data_asset(MAIN_RAW_ID)
        elapsed = time.perf_counter() - start
    finally:
        aind_sandbox._draw_fault = original
    assert [r.status for r in codeocean_requests(aind_sandbox)] == [429, 200]
    assert elapsed >= 0.9


def test_service_that_stays_down_raises_service_error_saying_how_often(aind_sandbox, fast_retries):
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0)
    with pytest.raises(errors.ServiceError) as info:
        codeocean.get_data_asset(MAIN_RAW_ID)
    assert "11 tries" in str(info.value) and "503" in str(info.value)
    assert len(codeocean_requests(aind_sandbox)) == 11


def test_failure_is_not_cached(aind_sandbox, fast_retries):
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0)
    with pytest.raises(errors.ServiceError):
        aind_session.Session(MAIN).raw_data_asset
    aind_sandbox.faults = None
    assert aind_session.Session(MAIN).raw_data_asset.id == MAIN_RAW_ID


def test_wrong_token_raises_authentication_error_without_retrying(aind_sandbox, monkeypatch):
    monkeypatch.setenv("CODE_OCEAN_API_TOKEN", "COP_wrong_token_value")
    aind_session.clear_cache()
    with pytest.raises(errors.AuthenticationError) as info:
        aind_session.Session(MAIN).raw_data_asset
    assert "Datasets - Read" in str(info.value)
    assert "COP_wrong_token_value" not in str(info.value)
    assert isinstance(info.value, PermissionError)
    assert [r.status for r in codeocean_requests(aind_sandbox)] == [401]


def test_running_a_capsule_is_not_retried_after_a_server_error(aind_sandbox, fast_retries):
    from codeocean.computation import RunParams

    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0)
    client = codeocean.get_client(for_runs=True)
    with pytest.raises(errors.ServiceError):
        codeocean.client._call(
            "running",
            client.computations.run_capsule,
            RunParams(capsule_id="eb5a26e4-a391-4d79-9da5-1ab65b71253f"),
        )
    assert len(codeocean_requests(aind_sandbox)) == 1


# -- searches ------------------------------------------------------------------------------------
def test_search_returns_sdk_models_with_the_largest_page(aind_sandbox):

    found = codeocean.search_data_assets({"query": "subject id:676909"})
    assert found and all(type(a).__name__ == "DataAsset" for a in found)
    assert len(codeocean_requests(aind_sandbox)) == 1


def test_search_accepts_sdk_params(aind_sandbox):
    from codeocean.data_asset import DataAssetSearchParams

    by_params = codeocean.search_data_assets(DataAssetSearchParams(query=f"name:{MAIN[:20]}"))
    by_dict = codeocean.search_data_assets({"query": f"name:{MAIN[:20]}"})
    assert by_params == by_dict and len(codeocean_requests(aind_sandbox)) == 1


def test_search_follows_next_token_over_all_pages(aind_sandbox):
    world = {
        "data_assets": [
            {
                "id": str(uuid.UUID(int=i + 1)),
                "name": f"ecephys_7{i:05d}_2024-01-01_00-00-00",
                "created": i,
            }
            for i in range(2500)
        ]
    }
    from aind_session.testing.world import load_world

    aind_sandbox.codeocean.load(load_world(world))
    try:
        found = codeocean.search_data_assets({"query": "name:ecephys_7"})
    finally:
        aind_sandbox.codeocean.load(aind_sandbox.world)
    ids = {a.id for a in found}
    assert len(ids) == len(found)  # no page twice
    assert {str(uuid.UUID(int=i + 1)) for i in range(2500)} <= ids
    assert ids - {str(uuid.UUID(int=i + 1)) for i in range(2500)} <= {DEMO_ASSET_ID}  # loose
    assert len(codeocean_requests(aind_sandbox)) == 3


def test_get_data_asset_accepts_ids_in_every_form(aind_sandbox):
    raw = MAIN_RAW_ID
    forms = [raw, raw.replace("-", ""), raw.upper(), uuid.UUID(raw), codeocean.get_data_asset(raw)]
    assert {codeocean.get_data_asset(f).id for f in forms} == {raw}


@pytest.mark.parametrize("value", ["", "not-a-uuid", "16d46411-540a-4122-b47f", 42, None])
def test_malformed_asset_id_raises_value_error(value):
    with pytest.raises(ValueError, match="UUID"):
        codeocean.get_data_asset(value)


def test_unknown_asset_id_raises_not_found(aind_sandbox):
    unknown = str(uuid.UUID(int=7))
    with pytest.raises(errors.NotFoundError, match=unknown):
        codeocean.get_data_asset(unknown)


def test_subject_data_assets_include_metadata_and_name_matches(aind_sandbox):
    names = {a.name for a in codeocean.get_subject_data_assets(676909)}
    assert "histology_registration_" + MAIN in names
    assert "pvalb_chr2_opto_tagging_cohort_combined" in names  # by custom metadata only
    assert MAIN in names


def test_is_raw_data_asset(aind_sandbox):
    assets = {a.name: a for a in aind_session.Session(MAIN).data_assets}
    assert codeocean.is_raw_data_asset(assets[MAIN])
    assert not codeocean.is_raw_data_asset(assets[f"{MAIN}_sorted_2024-03-01_16-02-45"])


# -- computations -----------------------------------------------------------------------------------
def test_search_computations_by_attached_asset(aind_sandbox):
    runs = codeocean.search_computations(SORTING_PIPELINE, attached_data_asset_id=MAIN_RAW_ID)
    assert runs and all(MAIN_RAW_ID in [a.id for a in r.data_assets] for r in runs)


@pytest.mark.parametrize("flag", [True, False])
def test_search_computations_honours_both_values_of_in_progress(aind_sandbox, flag):
    runs = codeocean.search_computations(SORTING_PIPELINE, in_progress=flag)
    assert runs
    assert all((r.state in ("initializing", "running", "finalizing")) == flag for r in runs)


@pytest.mark.parametrize("flag", [True, False])
def test_search_computations_honours_both_values_of_has_results(aind_sandbox, flag):
    runs = codeocean.search_computations(SORTING_PIPELINE, has_results=flag)
    assert runs and all(bool(r.has_results) == flag for r in runs)


def test_search_computations_by_state_and_name(aind_sandbox):
    running = codeocean.search_computations(SORTING_PIPELINE, state="running")
    assert [r.state for r in running] == ["running"]
    assert codeocean.search_computations(SORTING_PIPELINE, name=running[0].name) == running


def test_search_computations_by_date_range(aind_sandbox):
    every = codeocean.search_computations(SORTING_PIPELINE)
    early = codeocean.search_computations(SORTING_PIPELINE, end_date="2024-03-31")
    late = codeocean.search_computations(SORTING_PIPELINE, start_date="2024-04-01")
    assert early and late and len(early) + len(late) == len(every)


def test_search_computations_refuses_unknown_state():
    with pytest.raises(ValueError, match="state"):
        codeocean.search_computations(SORTING_PIPELINE, state="done")


def test_search_computations_of_an_unknown_capsule(aind_sandbox):
    with pytest.raises(errors.NotFoundError):
        codeocean.search_computations(str(uuid.UUID(int=9)))


def test_output_text_of_a_computation_by_model_and_id(aind_sandbox):
    (run,) = codeocean.search_computations(
        SORTING_PIPELINE, name=f"sorting pipeline: {MAIN} (kilosort4, out of memory)"
    )
    assert "Out of memory." in verdicts.get_output_text(run)
    aind_session.clear_cache()
    assert "Out of memory." in verdicts.get_output_text(run.id)


def test_output_text_of_a_data_asset_by_model_and_id(aind_sandbox):
    failed = "30d6d645-0ec1-4d71-b088-6af2b1c0feaa"
    assert verdicts.is_output_error(verdicts.get_output_text(failed))
    assert verdicts.get_output_text(codeocean.get_data_asset(failed)) == verdicts.get_output_text(
        failed
    )


@pytest.mark.parametrize(
    "marker",
    [
        "Essential container in task exited",
        "Out of memory.",
        "Task failed to start - DockerTimeoutError",
        "Traceback (most recent call last):",
        "Command error:",
        "WARN: Killing running tasks",
    ],
)
def test_is_output_error_finds_each_marker(marker):
    assert verdicts.is_output_error(f"line one\n{marker}\nline three")


def test_cuda_error_is_an_error_outside_spike_sorting():
    assert verdicts.is_output_error("training\nThe CUDA error was: illegal memory access")


def test_cuda_error_in_spike_sorting_output_only_warns(caplog):
    text = "Running spike sorting with kilosort4\nThe CUDA error was: illegal memory access"
    assert verdicts.is_output_error(text) is False
    assert any("CUDA" in r.getMessage() for r in caplog.records)


def test_clean_output_is_not_an_error():
    assert verdicts.is_output_error("Sorting finished: 3 probes\n") is False


def test_computation_errors_by_state_results_and_output(aind_sandbox):
    by_name = {r.name: r for r in codeocean.list_computations(SORTING_PIPELINE)}
    found = {name: verdicts.is_computation_error(run) for name, run in by_name.items()}
    assert found[f"sorting pipeline: {MAIN} (kilosort4)"] is False
    assert found[f"sorting pipeline: {MAIN} (kilosort4, out of memory)"] is True
    assert found[f"sorting pipeline: {MAIN} (kilosort4, errors ignored)"] is True  # only output
    assert found["sorting pipeline: ecephys_713655_2024-04-22_14-21-05 (running)"] is False


def test_data_asset_errors(aind_sandbox):
    assert verdicts.is_data_asset_error("30d6d645-0ec1-4d71-b088-6af2b1c0feaa") is True
    assert verdicts.is_data_asset_error("a782c5e4-a16b-495d-baea-7ca9ba29015c") is False


def test_wait_until_ready_returns_a_ready_asset(aind_sandbox):
    assert codeocean.wait_until_ready(MAIN_RAW_ID, timeout=5).id == MAIN_RAW_ID


def test_wait_until_ready_times_out_with_the_last_state(aind_sandbox):
    world = aind_sandbox.world.copy()
    world.data_assets[MAIN_RAW_ID]["state"] = "draft"
    aind_sandbox.codeocean.load(world)
    try:
        with pytest.raises(TimeoutError, match="draft"):
            codeocean.wait_until_ready(MAIN_RAW_ID, timeout=0.2, interval=0.1)
    finally:
        aind_sandbox.codeocean.load(aind_sandbox.world)


def test_built_data_assets_equal_the_sdks_own(aind_sandbox):
    from codeocean.data_asset import DataAsset

    from aind_session.testing.codeocean_common import public_asset as _public_asset

    records = [_public_asset(a) for a in aind_sandbox.world.data_assets.values()]
    assert [codeocean.build_data_asset(r) for r in records] == [
        DataAsset.from_dict(r) for r in records
    ]


def test_a_session_search_builds_only_the_sessions_assets(aind_sandbox, monkeypatch):
    built = []
    original = codeocean.build_data_asset
    monkeypatch.setattr(
        codeocean.assets, "build_data_asset", lambda r: built.append(r["name"]) or original(r)
    )
    assets = aind_session.Session(MAIN).data_assets
    assert sorted(built) == sorted(a.name for a in assets)


def test_assets_built_from_one_cached_search_share_no_lists(aind_sandbox):
    from codeocean.data_asset import DataAssetSearchParams

    (mine,) = [a for a in aind_session.Session(MAIN).data_assets if a.id == MAIN_RAW_ID]
    mine.tags.append("changed by the user")
    mine.custom_metadata["data level"] = "changed"
    search = codeocean.search_data_assets(DataAssetSearchParams(query=f"name:{MAIN[:20]}"))
    (other,) = [a for a in search if a.id == MAIN_RAW_ID]
    assert other is not mine
    assert "changed by the user" not in other.tags
    assert other.custom_metadata["data level"] == "raw data"


def test_a_started_run_is_returned_whatever_fails_after_the_post(aind_sandbox, monkeypatch):
    asset = codeocean.get_data_asset(MAIN_RAW_ID)
    aind_sandbox.clear_requests()

    def broken(*args, **kwargs):
        raise OSError("disk I/O error while forgetting the cached runs")

    monkeypatch.setattr(codeocean.computations.cache, "forget", broken)
    run = codeocean.run_capsule("eb5a26e4-a391-4d79-9da5-1ab65b71253f", asset, ["x"])
    assert type(run).__name__ == "Computation" and run.id
    posts = [r for r in codeocean_requests(aind_sandbox) if r.method == "POST"]
    assert len(posts) == 1


def test_offline_mode_asks_for_no_token(aind_sandbox, monkeypatch):
    monkeypatch.delenv("CODE_OCEAN_API_TOKEN")
    monkeypatch.setenv("AIND_SESSION_OFFLINE", "1")
    aind_session.clear_cache()
    with pytest.raises(errors.OfflineCacheMissError):
        codeocean.get_data_asset(MAIN_RAW_ID)
    with pytest.raises(errors.OfflineCacheMissError):
        codeocean.search_data_assets({"query": "subject id:676909"})
    assert codeocean_requests(aind_sandbox) == []
