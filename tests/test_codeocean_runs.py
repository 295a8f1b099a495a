"""The sandbox's capsules, pipelines and computations: runs that progress on a clock,
run parameters, and the capsule, pipeline and computation endpoints.

Most tests call :class:`CodeOceanApp` in-process through ``werkzeug.test.Client`` with
a fake clock; the last section runs a capsule through the official SDK against a started
:class:`Sandbox` and waits for it with ``wait_until_completed``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import codeocean
import codeocean.computation
import pytest
import requests
from codeocean.capsule import Capsule
from codeocean.components import Permissions, UserPermissions
from codeocean.computation import (
    Computation,
    ComputationEndStatus,
    ComputationState,
    NamedRunParam,
    PipelineProcessParams,
    RunParams,
)
from codeocean.data_asset import DataAssetAttachParams, DataAssetAttachResults
from werkzeug.test import Client, TestResponse

from aind_session.codeocean.sdk import Folder, service_fields
from aind_session.testing import Sandbox
from aind_session.testing.codeocean_server import CodeOceanApp
from aind_session.testing.world import World, WorldError, load_world

TOKEN = "COP_runs_test_token"
CAPSULE = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0001"
QUICK = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0002"  # no run_seconds: the app's setting
RELEASED = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0003"
ARCHIVED = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0004"
PIPELINE = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0005"
ASSET = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0010"
OTHER_ASSET = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0011"
PIPELINE_RUN = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0020"
WORKSTATION = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0021"
PRODUCES = {"output": "sorted 3 probes\n", "nwb/session.nwb": "nwb bytes"}

WORLD: dict[str, Any] = {
    "data_assets": [
        {"id": ASSET, "name": "raw_asset", "created": 1700000000},
        {"id": OTHER_ASSET, "name": "other_asset", "created": 1700000001},
    ],
    "capsules": [
        {"id": CAPSULE, "name": "sorter", "run_seconds": 10, "produces": PRODUCES},
        {"id": QUICK, "name": "quick", "produces": {"output": "quick\n"}},
        {
            "id": RELEASED,
            "name": "released",
            "status": "release",
            "archived": True,
            "versions": [{"major_version": 1, "minor_version": 0, "release_time": 1700000000}],
        },
        {"id": ARCHIVED, "name": "old", "archived": True},
    ],
    "pipelines": [{"id": PIPELINE, "name": "pipeline"}],
    "computations": [
        {
            "id": PIPELINE_RUN,
            "capsule_id": PIPELINE,
            "created": 1700000100,
            "state": "running",
            "processes": [
                {"name": "sort", "capsule_id": CAPSULE},
                {"name": "package", "capsule_id": QUICK, "version": 1},
            ],
        },
        {
            "id": WORKSTATION,
            "capsule_id": QUICK,
            "created": 1700000200,
            "state": "running",
            "cloud_workstation": True,
        },
    ],
    "tokens": {"capsules_only": ["Capsule - Read", "Capsule - Write"]},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(WORLD)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(world: World, clock: FakeClock) -> CodeOceanApp:
    app = CodeOceanApp(world, TOKEN)
    app.clock = clock
    return app


@pytest.fixture
def client(app: CodeOceanApp) -> Client:
    return Client(app)


def api(client: Client, method: str, path: str, token: str = TOKEN, **kw: Any) -> TestResponse:
    return client.open(f"/api/v1/{path}", method=method, auth=(token, ""), **kw)


def run(client: Client, **body: Any) -> TestResponse:
    return api(client, "POST", "computations", json=body)


def started(client: Client, **body: Any) -> str:
    response = run(client, **body)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["id"])


def get(client: Client, comp_id: str) -> Computation:
    response = api(client, "GET", f"computations/{comp_id}")
    assert response.status_code == 200, response.get_json()
    return Computation.from_dict(response.get_json())


def error(response: TestResponse, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.get_json()["message"])


# -- runs that progress ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "state"),
    [
        (0.0, "initializing"),
        (1.9, "initializing"),
        (2.0, "running"),
        (7.9, "running"),
        (8.0, "finalizing"),
        (9.9, "finalizing"),
        (10.0, "completed"),
        (500.0, "completed"),
    ],
)
def test_run_moves_through_the_states_over_its_capsules_run_seconds(
    client: Client, clock: FakeClock, seconds: float, state: str
) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    clock.now += seconds
    assert get(client, comp_id).state == ComputationState(state)


def test_completed_run_succeeded_with_exit_code_0_and_its_run_time(
    client: Client, clock: FakeClock
) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    clock.now += 60
    done = get(client, comp_id)
    assert (done.end_status, done.exit_code, done.run_time, done.has_results) == (
        ComputationEndStatus.Succeeded,
        0,
        10,
        True,
    )


def test_run_time_counts_the_seconds_of_a_run_in_progress(client: Client, clock: FakeClock) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    clock.now += 4.5
    in_progress = get(client, comp_id)
    assert (in_progress.run_time, in_progress.end_status, in_progress.has_results) == (
        4,
        None,
        False,
    )


def test_answer_to_the_post_is_initializing_even_when_the_run_takes_no_time(
    app: CodeOceanApp, client: Client
) -> None:
    app.run_seconds = 0
    answer = run(client, capsule_id=QUICK).get_json()
    assert answer["state"] == "initializing"
    assert get(client, answer["id"]).state == ComputationState.Completed


def test_results_appear_only_when_the_run_completes(client: Client, clock: FakeClock) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    clock.now += 9.9
    assert api(client, "POST", f"computations/{comp_id}/results", json={}).get_json() == {
        "items": []
    }
    clock.now += 0.1
    answer = api(client, "POST", f"computations/{comp_id}/results", json={}).get_json()
    assert [(i.name, i.type) for i in Folder.from_dict(answer).items] == [
        ("nwb", "folder"),
        ("output", "file"),
    ]


def test_result_file_of_a_run_is_a_404_until_it_completes_then_downloads(
    client: Client, clock: FakeClock
) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    query = {"path": "nwb/session.nwb"}
    error(api(client, "GET", f"computations/{comp_id}/results/urls", query_string=query), 404)
    clock.now += 10
    urls = api(client, "GET", f"computations/{comp_id}/results/urls", query_string=query)
    assert client.get(urls.get_json()["download_url"]).get_data() == b"nwb bytes"


def test_run_takes_the_apps_run_seconds_when_its_capsule_gives_none(
    app: CodeOceanApp, client: Client, clock: FakeClock
) -> None:
    app.run_seconds = 4
    comp_id = started(client, capsule_id=QUICK)
    clock.now += 3.9
    assert get(client, comp_id).state == ComputationState.Finalizing
    clock.now += 0.1
    assert get(client, comp_id).state == ComputationState.Completed


def test_computation_of_the_world_keeps_its_state(client: Client, clock: FakeClock) -> None:
    clock.now += 10_000
    assert get(client, PIPELINE_RUN).state == ComputationState.Running


def test_listed_runs_progress_too(client: Client, clock: FakeClock) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    clock.now += 10
    runs = api(client, "GET", f"capsules/{CAPSULE}/computations").get_json()
    assert [(r["id"], r["state"]) for r in runs] == [(comp_id, "completed")]


def test_run_answer_holds_only_fields_of_the_sdk_model(client: Client, clock: FakeClock) -> None:
    comp_id = started(client, capsule_id=CAPSULE, parameters=["a"])
    clock.now += 10
    answer = api(client, "GET", f"computations/{comp_id}").get_json()
    assert set(answer) <= service_fields(Computation)


# -- run parameters ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"capsule_id": CAPSULE, "priority": 1}, "priority"),
        ({"capsule_id": CAPSULE, "version": "1"}, "version"),
        ({"capsule_id": CAPSULE, "parameters": ["a", 5]}, "parameters"),
        ({"capsule_id": CAPSULE, "named_parameters": [{"param_name": "a"}]}, "value"),
        ({"capsule_id": CAPSULE, "named_parameters": [{"name": "a", "value": "b"}]}, "name"),
        ({"capsule_id": CAPSULE, "data_assets": [{"id": ASSET, "path": "x"}]}, "path"),
        ({"capsule_id": CAPSULE, "data_assets": [ASSET]}, "data_assets[0]"),
        ({"capsule_id": CAPSULE, "nextflow_profile": "local"}, "nextflow_profile"),
        ({"capsule_id": CAPSULE, "processes": [{"name": "sort"}]}, "processes"),
        ({"pipeline_id": PIPELINE, "parameters": ["a"]}, "parameters"),
        ({"pipeline_id": PIPELINE, "named_parameters": []}, "named_parameters"),
        ({"pipeline_id": PIPELINE, "processes": [{"parameters": ["a"]}]}, "name"),
        ({"pipeline_id": PIPELINE, "processes": [{"name": "sort", "args": []}]}, "args"),
    ],
)
def test_invalid_run_body_is_a_400_naming_the_field(
    client: Client, body: dict[str, Any], named: str
) -> None:
    assert named in error(run(client, **body), 400)


def test_sdk_run_params_are_accepted_as_the_sdk_sends_them(client: Client) -> None:
    params = RunParams(
        pipeline_id=PIPELINE,
        nextflow_profile="local",
        processes=[PipelineProcessParams(name="sort", parameters=["ks4"])],
    )
    assert api(client, "POST", "computations", json=params.to_dict()).status_code == 200


def test_a_capsule_run_as_a_pipeline_is_a_404_and_a_pipeline_may_run_as_a_capsule(
    client: Client,
) -> None:
    """Older API docs: a run's capsule_id is "the id of the capsule/pipeline to run"."""
    assert CAPSULE in error(run(client, pipeline_id=CAPSULE), 404)
    assert run(client, capsule_id=PIPELINE).status_code == 200


def test_resume_run_id_that_no_computation_has_is_a_404(client: Client) -> None:
    assert "resume_run_id" in error(run(client, pipeline_id=PIPELINE, resume_run_id=ASSET), 404)


def test_resume_run_id_of_another_capsule_is_a_400(client: Client) -> None:
    assert WORKSTATION in error(run(client, pipeline_id=PIPELINE, resume_run_id=WORKSTATION), 400)


def test_resume_run_id_of_the_same_pipeline_starts_a_run(client: Client) -> None:
    assert run(client, pipeline_id=PIPELINE, resume_run_id=PIPELINE_RUN).status_code == 200


@pytest.mark.parametrize(
    ("capsule", "version", "status"), [(RELEASED, 1, 200), (RELEASED, 2, 400), (CAPSULE, 1, 400)]
)
def test_version_must_be_a_released_version_of_the_capsule(
    client: Client, capsule: str, version: int, status: int
) -> None:
    assert run(client, capsule_id=capsule, version=version).status_code == status


def test_pipeline_run_answers_its_processes_with_the_parameters_given(client: Client) -> None:
    named = [{"param_name": "sorter", "value": "kilosort4"}]
    answer = run(
        client,
        pipeline_id=PIPELINE,
        nextflow_profile="local",
        processes=[{"name": "sort", "named_parameters": named}],
    ).get_json()
    computation = Computation.from_dict(answer)
    assert computation.nextflow_profile == "local"
    assert [(p.name, p.capsule_id, p.parameters) for p in computation.processes or []] == [
        ("sort", CAPSULE, [codeocean.computation.Param(param_name="sorter", value="kilosort4")]),
        ("package", QUICK, None),
    ]


def test_process_the_pipeline_does_not_have_is_a_400(client: Client) -> None:
    assert "'curate'" in error(
        run(client, pipeline_id=PIPELINE, processes=[{"name": "curate"}]), 400
    )


def test_run_names_say_whether_parameters_were_given(client: Client) -> None:
    plain = run(client, capsule_id=QUICK).get_json()["name"]
    with_params = run(client, capsule_id=QUICK, parameters=["x"]).get_json()["name"]
    assert (plain, with_params) == ("Run 2", "Run With Parameters 3")  # the world has run 1


# -- capsules and pipelines ------------------------------------------------------------------
def test_capsule_answer_is_the_sdk_capsule_without_sandbox_fields(client: Client) -> None:
    answer = api(client, "GET", f"capsules/{CAPSULE}").get_json()
    # 0.12's Capsule has no owner_email; 0.17's has, and the service sends it
    assert set(answer) <= service_fields(Capsule) | {"owner_email"}
    assert Capsule.from_dict(answer).name == "sorter"


@pytest.mark.parametrize("path", [f"pipelines/{CAPSULE}", f"capsules/{ASSET}/computations"])
def test_a_capsule_under_pipelines_or_an_unknown_id_is_a_404(client: Client, path: str) -> None:
    error(api(client, "GET", path), 404)


def test_a_pipeline_is_served_under_capsules_too(client: Client) -> None:
    """As SDK 0.12 reaches pipelines, and older API docs describe capsule ids."""
    assert api(client, "GET", f"capsules/{PIPELINE}").get_json()["id"] == PIPELINE
    assert isinstance(api(client, "GET", f"capsules/{PIPELINE}/computations").get_json(), list)


def test_capsule_without_runs_lists_no_computations(client: Client) -> None:
    assert api(client, "GET", f"capsules/{CAPSULE}/computations").get_json() == []


def test_archived_capsule_can_be_deleted_and_is_gone(client: Client) -> None:
    assert api(client, "DELETE", f"capsules/{ARCHIVED}").status_code == 204
    error(api(client, "GET", f"capsules/{ARCHIVED}"), 404)


@pytest.mark.parametrize(("capsule", "why"), [(CAPSULE, "not archived"), (RELEASED, "released")])
def test_capsule_not_archived_or_released_cannot_be_deleted(
    client: Client, capsule: str, why: str
) -> None:
    assert why in error(api(client, "DELETE", f"capsules/{capsule}"), 403)


def test_archiving_a_capsule_lets_it_be_deleted_with_its_runs(client: Client) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    archive = api(client, "PATCH", f"capsules/{CAPSULE}/archive", query_string={"archive": "True"})
    assert archive.status_code == 204
    assert api(client, "DELETE", f"capsules/{CAPSULE}").status_code == 204
    error(api(client, "GET", f"computations/{comp_id}"), 404)


def test_archive_without_true_or_false_is_a_400(client: Client) -> None:
    error(api(client, "PATCH", f"pipelines/{PIPELINE}/archive", query_string={"archive": "y"}), 400)


def test_capsule_permissions_start_with_its_owner_and_can_be_changed(client: Client) -> None:
    path = f"capsules/{CAPSULE}/permissions"
    first = Permissions.from_dict(api(client, "GET", path).get_json())
    assert [u.role for u in first.users or []] == ["owner"]
    new = Permissions(
        users=[UserPermissions(email="a@example.org", role="viewer")], everyone="viewer"
    )
    assert api(client, "POST", path, json=new.to_dict()).status_code == 204
    after = Permissions.from_dict(api(client, "GET", path).get_json())
    assert ([u.email for u in after.users or []], after.everyone) == (["a@example.org"], "viewer")


@pytest.mark.parametrize(
    "body",
    [{"users": [{"email": "a@example.org", "role": "admin"}]}, {"everyone": "all"}, {"x": 1}],
)
def test_permissions_with_an_unknown_role_or_field_are_a_400(
    client: Client, body: dict[str, Any]
) -> None:
    error(api(client, "POST", f"capsules/{CAPSULE}/permissions", json=body), 400)


def test_assets_attached_to_a_capsule_are_mounted_in_its_runs(client: Client) -> None:
    attach = [DataAssetAttachParams(id=ASSET, mount="raw").to_dict()]
    answer = api(client, "POST", f"capsules/{CAPSULE}/data_assets", json=attach).get_json()
    assert [DataAssetAttachResults.from_dict(a).mount for a in answer] == ["raw"]
    comp = run(client, capsule_id=CAPSULE, data_assets=[{"id": OTHER_ASSET}]).get_json()
    assert comp["data_assets"] == [
        {"id": OTHER_ASSET, "mount": "other_asset"},
        {"id": ASSET, "mount": "raw"},
    ]


def test_detached_asset_is_no_longer_mounted_and_detaching_it_again_is_a_400(
    client: Client,
) -> None:
    api(client, "POST", f"pipelines/{PIPELINE}/data_assets", json=[{"id": ASSET}])
    # the SDK's detach ends the path with a slash
    assert (
        api(client, "DELETE", f"pipelines/{PIPELINE}/data_assets/", json=[ASSET]).status_code == 204
    )
    assert run(client, pipeline_id=PIPELINE).get_json()["data_assets"] == []
    error(api(client, "DELETE", f"pipelines/{PIPELINE}/data_assets/", json=[ASSET]), 400)


def test_attaching_to_a_capsule_needs_the_data_asset_scopes(
    app: CodeOceanApp, client: Client
) -> None:
    token = app.named_tokens["capsules_only"]
    response = api(client, "POST", f"capsules/{CAPSULE}/data_assets", token, json=[{"id": ASSET}])
    assert "Data Asset - Write" in error(response, 403)


def test_attaching_an_unknown_asset_is_a_404(client: Client) -> None:
    error(api(client, "POST", f"capsules/{CAPSULE}/data_assets", json=[{"id": CAPSULE}]), 404)


# -- computations ----------------------------------------------------------------------------
def test_computation_can_be_renamed(client: Client) -> None:
    response = api(client, "PATCH", f"computations/{PIPELINE_RUN}", query_string={"name": "new"})
    assert response.status_code == 204 and get(client, PIPELINE_RUN).name == "new"


def test_rename_without_a_name_is_a_400(client: Client) -> None:
    assert "name" in error(api(client, "PATCH", f"computations/{PIPELINE_RUN}"), 400)


def test_running_computation_can_be_deleted(client: Client) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    assert api(client, "DELETE", f"computations/{comp_id}").status_code == 204
    error(api(client, "GET", f"computations/{comp_id}"), 404)
    assert api(client, "GET", f"capsules/{CAPSULE}/computations").get_json() == []


def test_assets_attach_to_a_running_cloud_workstation_and_detach(client: Client) -> None:
    path = f"computations/{WORKSTATION}/data_assets"
    assert api(client, "POST", path, json=[{"id": ASSET, "mount": "in"}]).status_code == 200
    assert get(client, WORKSTATION).data_assets[0].mount == "in"  # type: ignore[index]
    assert api(client, "DELETE", path + "/", json=[ASSET]).status_code == 204
    assert not get(client, WORKSTATION).data_assets


def test_assets_cannot_attach_to_a_computation_that_is_not_a_workstation(client: Client) -> None:
    comp_id = started(client, capsule_id=CAPSULE)
    response = api(client, "POST", f"computations/{comp_id}/data_assets", json=[{"id": ASSET}])
    assert "cloud workstation" in error(response, 400)


# -- scopes and what is not served -------------------------------------------------------------
def test_starting_a_run_needs_the_capsule_write_scope() -> None:
    world = load_world({**WORLD, "tokens": {"reader": ["Capsule - Read"]}})
    app = CodeOceanApp(world, TOKEN)
    token = app.named_tokens["reader"]
    response = api(Client(app), "POST", "computations", token, json={"capsule_id": CAPSULE})
    assert "Capsule - Write" in error(response, 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"capsules/{CAPSULE}/app_panel"),
        ("POST", f"capsules/{CAPSULE}/sync"),
        ("POST", f"pipelines/{PIPELINE}/sync"),
    ],
)
def test_routes_not_served_are_a_501(client: Client, method: str, path: str) -> None:
    error(api(client, method, path), 501)


# -- the SDK over real sockets -----------------------------------------------------------------
@pytest.fixture
def sandbox(aind_sandbox: Sandbox) -> Sandbox:
    """The test run's sandbox (one runs per process), serving WORLD with short runs;
    the next test's ``aind_sandbox`` restores both."""
    aind_sandbox.load(WORLD)
    aind_sandbox.codeocean.run_seconds = 0.3
    return aind_sandbox


@pytest.fixture
def co(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> codeocean.CodeOcean:
    # wait_until_completed refuses a polling interval under 5 s: poll faster by its sleep
    monkeypatch.setattr(codeocean.computation, "sleep", lambda seconds: time.sleep(0.05))
    return codeocean.CodeOcean(domain=sandbox.env["CODE_OCEAN_DOMAIN"], token=sandbox.token)


def test_sdk_waits_until_a_capsule_run_completes_and_reads_its_results(
    co: codeocean.CodeOcean,
) -> None:
    params = RunParams(capsule_id=QUICK, named_parameters=[NamedRunParam("probe", "A")])
    computation = co.computations.run_capsule(params)
    assert computation.state == ComputationState.Initializing
    done = co.computations.wait_until_completed(computation, polling_interval=5, timeout=30)
    assert (done.state, done.end_status, done.has_results) == (
        ComputationState.Completed,
        ComputationEndStatus.Succeeded,
        True,
    )
    folder = co.computations.list_computation_results(done.id)
    assert [i.name for i in folder.items] == ["output"]
    urls = co.computations.get_result_file_urls(done.id, "output")
    assert requests.get(urls.download_url, timeout=10).text == "quick\n"


def test_sdk_capsule_calls_parse_into_sdk_models(co: codeocean.CodeOcean) -> None:
    assert co.capsules.get_capsule(CAPSULE).name == "sorter"
    attached = co.capsules.attach_data_assets(CAPSULE, [DataAssetAttachParams(id=ASSET)])
    assert [a.mount for a in attached] == ["raw_asset"]
    co.capsules.detach_data_assets(CAPSULE, [ASSET])
    co.capsules.update_permissions(CAPSULE, Permissions(everyone="viewer"))
    co.capsules.archive_capsule(CAPSULE, True)
    co.capsules.delete_capsule(CAPSULE)
    with pytest.raises(codeocean.error.Error) as info:
        co.capsules.get_capsule(CAPSULE)
    assert info.value.status_code == 404


def test_sdk_renames_and_deletes_a_computation(co: codeocean.CodeOcean) -> None:
    computation = co.computations.run_capsule(RunParams(capsule_id=QUICK))
    co.computations.rename_computation(computation.id, "renamed")
    assert co.computations.get_computation(computation.id).name == "renamed"
    co.computations.delete_computation(computation.id)
    assert computation.id not in [c.id for c in co.capsules.list_computations(QUICK)]


def test_sdk_waits_until_a_pipeline_run_completes(co: codeocean.CodeOcean) -> None:
    computation = co.computations.run_capsule(
        RunParams(pipeline_id=PIPELINE, processes=[PipelineProcessParams(name="sort")])
    )
    done = co.computations.wait_until_completed(computation, polling_interval=5, timeout=60)
    assert done.state == ComputationState.Completed
    assert [p.name for p in done.processes or []] == ["sort", "package"]


def test_sdk_pipelines_client_gets_a_pipeline_and_lists_its_runs(co: codeocean.CodeOcean) -> None:
    if not hasattr(co, "pipelines"):
        pytest.skip("this codeocean SDK has no client.pipelines (0.12 has none; 0.17 has)")
    new = co.computations.run_capsule(RunParams(pipeline_id=PIPELINE))
    assert co.pipelines.get_pipeline(PIPELINE).name == "pipeline"
    runs = co.pipelines.list_computations(PIPELINE)
    assert runs[0].id == new.id


# -- releases and app panels -------------------------------------------------------------------
SHIPPED = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0006"
BLOCKED = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0007"
SHIPPED_PIPELINE = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0008"
ORIGINAL = "0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0009"
V1 = {"major_version": 1, "minor_version": 0, "release_time": 1700000000}
V2 = {"major_version": 2, "minor_version": 1, "release_time": 1700001000}
PANEL: dict[str, Any] = {
    "general": {"title": "Sorter", "instructions": "Pick a probe."},
    "parameters": [
        {"name": "Probe", "type": "list", "param_name": "probe", "value_options": ["A", "B"]}
    ],
    "results": [{"file_name": "output"}],
}
RELEASE_WORLD: dict[str, Any] = {
    **WORLD,
    "capsules": [
        *WORLD["capsules"],
        {
            "id": SHIPPED,
            "name": "shipped",
            "status": "release",
            "versions": [V1, V2],
            "run_seconds": 10,
            "app_panel": PANEL,
        },
        {
            "id": BLOCKED,
            "name": "blocked",
            "status": "release",
            "versions": [V1],
            "release_issues": {"missing_reproducible_run": True, "uncommitted_files": False},
        },
        {"id": ORIGINAL, "name": "original", "versions": [V1], "release_capsule": SHIPPED},
    ],
    "pipelines": [
        *WORLD["pipelines"],
        {"id": SHIPPED_PIPELINE, "name": "shipped pipeline", "versions": [V1], "run_seconds": 5},
    ],
}


@pytest.fixture
def rclient(clock: FakeClock) -> Client:
    app = CodeOceanApp(load_world(RELEASE_WORLD), TOKEN)
    app.clock = clock
    app.wall_clock = lambda: 1_800_000_000.0 + clock.now
    return Client(app)


def release(client: Client, item: str, kind: str = "capsules", status: int = 200) -> Any:
    response = api(client, "POST", f"{kind}/{item}/release")
    assert response.status_code == status, response.get_json()
    return response.get_json()


def release_job(client: Client, item: str, job_id: str, kind: str = "capsules") -> Any:
    response = api(client, "GET", f"{kind}/{item}/release/{job_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_release_job_goes_created_started_completed_on_the_clock(
    rclient: Client, clock: FakeClock
) -> None:
    job = release(rclient, SHIPPED)
    assert job["status"] == "created" and "release_version" not in job
    clock.now += 1  # a fifth of the 10 s: still waiting
    assert release_job(rclient, SHIPPED, job["job_id"])["status"] == "created"
    clock.now += 4
    started = release_job(rclient, SHIPPED, job["job_id"])
    assert (started["status"], started["started"], started["duration"]) == (
        "started",
        1_800_001_002,
        3,
    )
    assert "release_version" not in started
    assert [
        v["major_version"]
        for v in api(rclient, "GET", f"capsules/{SHIPPED}").get_json()["versions"]
    ] == [1, 2]
    clock.now += 5
    done = release_job(rclient, SHIPPED, job["job_id"])
    assert done["status"] == "completed" and done["duration"] == 8
    assert done["release_capsule"] == SHIPPED
    assert done["release_version"] == {
        "major_version": 3,
        "minor_version": 0,
        "release_time": 1_800_001_010,
    }


def test_a_completed_release_adds_a_version_that_runs_can_use(
    rclient: Client, clock: FakeClock
) -> None:
    release(rclient, SHIPPED)
    error(run(rclient, capsule_id=SHIPPED, version=3), 400)
    clock.now += 10
    # not polled: the capsule's own answer settles the job
    answer = api(rclient, "GET", f"capsules/{SHIPPED}").get_json()
    Capsule.from_dict(answer)
    assert [(v["major_version"], v["minor_version"]) for v in answer["versions"]] == [
        (1, 0),
        (2, 1),
        (3, 0),
    ]
    started(rclient, capsule_id=SHIPPED, version=3)
    job = release(rclient, SHIPPED)
    clock.now += 10
    assert release_job(rclient, SHIPPED, job["job_id"])["release_version"]["major_version"] == 4


def test_release_job_parses_into_the_sdk_model(rclient: Client, clock: FakeClock) -> None:
    models = pytest.importorskip("codeocean.models.capsule")
    if not hasattr(models, "CapsuleReleaseJob"):
        pytest.skip("this codeocean SDK has no release jobs")
    job = models.CapsuleReleaseJob.from_dict(release(rclient, SHIPPED))
    assert job.status == models.CapsuleReleaseJobStatus.Created
    clock.now += 10
    done = models.CapsuleReleaseJob.from_dict(release_job(rclient, SHIPPED, job.job_id))
    assert done.status == models.CapsuleReleaseJobStatus.Completed
    assert done.release_version == models.Version(3, 0, 1_800_001_010)


def test_release_of_an_original_names_its_release_capsule(
    rclient: Client, clock: FakeClock
) -> None:
    job = release(rclient, ORIGINAL)
    clock.now += 10
    done = release_job(rclient, ORIGINAL, job["job_id"])
    assert (done["release_capsule"], done["release_version"]["major_version"]) == (SHIPPED, 2)


def test_a_pipeline_is_released_under_pipelines(rclient: Client, clock: FakeClock) -> None:
    job = release(rclient, SHIPPED_PIPELINE, "pipelines")
    clock.now += 5
    done = release_job(rclient, SHIPPED_PIPELINE, job["job_id"], "pipelines")
    assert done["release_version"]["major_version"] == 2
    assert "was not found" in error(api(rclient, "POST", f"pipelines/{RELEASED}/release"), 404)


@pytest.mark.parametrize(
    ("item", "status", "words"),
    [
        (CAPSULE, 400, "never been released"),
        (RELEASED, 400, "archived"),
        ("0c1a7f43-1b4e-4e4c-9a65-2f1e3c7a0999", 404, "was not found"),
    ],
)
def test_release_of_a_capsule_never_released_archived_or_unknown_is_refused(
    rclient: Client, item: str, status: int, words: str
) -> None:
    assert words in error(api(rclient, "POST", f"capsules/{item}/release"), status)


def test_release_of_a_capsule_failing_its_requirements_is_a_403_of_flags(rclient: Client) -> None:
    response = api(rclient, "POST", f"capsules/{BLOCKED}/release")
    assert response.status_code == 403
    assert response.get_json() == {"missing_reproducible_run": True}
    models = pytest.importorskip("codeocean.models.capsule")
    if hasattr(models, "CapsuleReleaseValidationIssues"):
        issues = models.CapsuleReleaseValidationIssues.from_dict(response.get_json())
        assert issues.missing_reproducible_run is True and issues.uncommitted_files is None


def test_release_job_unknown_or_of_another_capsule_is_a_404(rclient: Client) -> None:
    job = release(rclient, SHIPPED)
    error(api(rclient, "GET", f"capsules/{SHIPPED}/release/{uuid.uuid4()}"), 404)
    error(api(rclient, "GET", f"capsules/{BLOCKED}/release/{job['job_id']}"), 404)
    assert release_job(rclient, SHIPPED, job["job_id"])["job_id"] == job["job_id"]


def test_releasing_needs_capsule_write_and_reading_a_job_capsule_read() -> None:
    world = load_world({**RELEASE_WORLD, "tokens": {"reader": ["Capsule - Read"]}})
    app = CodeOceanApp(world, TOKEN)
    client, reader = Client(app), app.named_tokens["reader"]
    assert "Capsule - Write" in error(
        api(client, "POST", f"capsules/{SHIPPED}/release", reader), 403
    )
    job = release(client, SHIPPED)
    response = api(client, "GET", f"capsules/{SHIPPED}/release/{job['job_id']}", reader)
    assert response.status_code == 200


def test_app_panel_is_served_as_the_world_gives_it(rclient: Client) -> None:
    from codeocean.capsule import AppPanel

    response = api(rclient, "GET", f"capsules/{SHIPPED}/app_panel")
    assert response.status_code == 200 and response.get_json() == PANEL
    panel = AppPanel.from_dict(response.get_json())
    assert panel.parameters and panel.parameters[0].value_options == ["A", "B"]
    assert api(rclient, "GET", f"capsules/{SHIPPED}/app_panel?version=2").get_json() == PANEL


@pytest.mark.parametrize("version", ["7", "x"])
def test_app_panel_of_a_version_not_released_is_a_400(rclient: Client, version: str) -> None:
    error(api(rclient, "GET", f"capsules/{SHIPPED}/app_panel?version={version}"), 400)


def test_app_panel_is_not_answered_in_the_capsule(rclient: Client) -> None:
    answer = api(rclient, "GET", f"capsules/{SHIPPED}").get_json()
    assert "app_panel" not in answer and "release_issues" not in answer
    assert "release_issues" not in api(rclient, "GET", f"capsules/{BLOCKED}").get_json()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("app_panel", {"parameters": [{"name": "p", "type": "slider"}]}, "not a valid AppPanel"),
        ("app_panel", {"layout": "wide"}, "'layout'"),
        ("app_panel", ["general"], "must be an object"),
        ("release_issues", {"missing_tests": True}, "release_issues"),
        ("release_issues", {"missing_metadata": "yes"}, "release_issues"),
    ],
)
def test_world_with_a_bad_app_panel_or_release_issues_is_refused(
    field: str, value: Any, words: str
) -> None:
    with pytest.raises(WorldError, match=re.escape(words)):
        load_world({"capsules": [{"id": SHIPPED, "name": "x", field: value}]})


def test_the_sample_worlds_released_capsule_can_be_released(clock: FakeClock) -> None:
    app = CodeOceanApp(load_world(None), TOKEN)
    app.clock = clock
    client, nwb = Client(app), "70c124bf-e693-45a4-aeb1-c4b62c14d31e"
    assert api(client, "GET", f"capsules/{nwb}/app_panel").status_code == 200
    job = release(client, nwb)
    clock.now += app.run_seconds
    assert release_job(client, nwb, job["job_id"])["release_version"]["major_version"] == 3


@pytest.fixture
def released_co(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> Iterator[codeocean.CodeOcean]:
    import codeocean.capsule

    sandbox.load(RELEASE_WORLD)
    monkeypatch.setattr(sandbox.codeocean, "clock", clock)

    def sleep(seconds: float) -> None:  # the SDK's wait moves the sandbox's clock instead
        clock.now += seconds

    monkeypatch.setattr(codeocean.capsule, "sleep", sleep, raising=False)
    yield codeocean.CodeOcean(domain=sandbox.env["CODE_OCEAN_DOMAIN"], token=sandbox.token)
    sandbox.reset()


def test_sdk_releases_a_capsule_and_waits_until_the_release_completes(
    released_co: codeocean.CodeOcean,
) -> None:
    co = released_co
    if not hasattr(co.capsules, "release_capsule"):
        pytest.skip("this codeocean SDK has no releases (0.12 has none; 0.17 has)")
    job = co.capsules.release_capsule(SHIPPED)
    assert co.capsules.get_release_job(SHIPPED, job.job_id).status == "created"
    done = co.capsules.wait_until_release_completed(SHIPPED, job, polling_interval=5, timeout=60)
    assert (done.status, done.release_capsule) == ("completed", SHIPPED)
    assert done.release_version is not None and done.release_version.major_version == 3
    versions = co.capsules.get_capsule(SHIPPED).versions or []
    assert [v.major_version for v in versions] == [1, 2, 3]
    with pytest.raises(codeocean.error.Error) as info:
        co.capsules.release_capsule(CAPSULE)
    assert info.value.status_code == 400


def test_sdk_reads_an_app_panel(released_co: codeocean.CodeOcean) -> None:
    panel = released_co.capsules.get_capsule_app_panel(SHIPPED, version=1)
    assert panel.general is not None and panel.general.title == "Sorter"
    with pytest.raises(codeocean.error.Error) as info:
        released_co.capsules.get_capsule_app_panel(CAPSULE)
    assert info.value.status_code == 501
