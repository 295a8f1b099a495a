"""Data assets in the sandbox's CodeOcean API (:mod:`aind_session.testing.codeocean_assets`).

Most tests call :class:`CodeOceanApp` in-process with a fake clock; the last section drives
a running sandbox with the official SDK (0.17, or 0.12 with ``PYTHONPATH=/tmp/co12``).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import codeocean
import pytest
import requests
from codeocean.custom_metadata import CustomMetadata
from codeocean.data_asset import (
    AWSS3Source,
    ComputationSource,
    DataAssetParams,
    DataAssetUpdateParams,
    Source,
)
from werkzeug.test import Client, TestResponse

from aind_session.codeocean.sdk import DataAsset, DataAssetState, FileURLs, Folder
from aind_session.testing import Sandbox
from aind_session.testing.codeocean_assets import presigned_url_problem
from aind_session.testing.codeocean_server import CodeOceanApp
from aind_session.testing.world import CODEOCEAN_BUCKET, load_world

try:  # codeocean 0.17 keeps its models in codeocean.models
    from codeocean.models.components import Permissions
except ImportError:  # 0.12
    from codeocean.components import Permissions  # type: ignore[no-redef]

TOKEN = "COP_test_token"
CAPSULE = "1f8f159a-7670-47a9-baf1-078905fc9c2e"
EXTERNAL = "16d46411-540a-4122-b47f-8cb2a15d593a"
INTERNAL = "e7f467f7-8ce3-4173-b593-3e53948adb30"
EMPTY = "281cac9e-ccb2-467d-8d2e-1a6aaab699a1"
DONE = "ea765a89-ca64-4aa5-91a1-60457ae44bb5"
RUNNING = "31299b75-98af-4a99-906a-819bf1e759f2"
RAW_NAME = "ecephys_676909_2023-12-13_13-43-40"
T0 = 1_700_000_000.0

WORLD: dict[str, Any] = {
    "data_assets": [
        {
            "id": EXTERNAL,
            "name": RAW_NAME,
            "custom_metadata": {"subject id": "676909", "probes": 2},
            "source_bucket": {"origin": "aws", "bucket": "aind-ephys-data", "prefix": RAW_NAME},
        },
        {"id": INTERNAL, "name": f"{RAW_NAME}_sorted", "type": "result"},
        {"id": EMPTY, "name": "ecephys_649038_2023-02-13_11-55-50", "size": 7},
    ],
    "computations": [
        {
            "id": DONE,
            "capsule_id": CAPSULE,
            "results": {"output": "done\n", "nwb/a.nwb": "nwb a", "nwb/b.nwb": "nwb b"},
        },
        {"id": RUNNING, "capsule_id": CAPSULE, "state": "running"},
    ],
    "capsules": [{"id": CAPSULE, "name": "sorting"}],
    "tokens": {"reader": ["Data Asset - Read"]},
    "s3": {
        f"aind-ephys-data/{RAW_NAME}/subject.json": {"subject_id": "676909"},
        f"aind-ephys-data/{RAW_NAME}/ecephys/settings.xml": "<SETTINGS/>",
        f"{CODEOCEAN_BUCKET}/{INTERNAL}/processing.json": "{}",
        f"{CODEOCEAN_BUCKET}/{INTERNAL}/spikesorted/si.json": "{}",
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> CodeOceanApp:
    app = CodeOceanApp(load_world(WORLD), TOKEN)
    app.wall_clock = clock
    return app


@pytest.fixture
def client(app: CodeOceanApp) -> Client:
    return Client(app)


def api(client: Client, method: str, path: str, token: str = TOKEN, **kw: Any) -> TestResponse:
    return client.open(f"/api/v1/{path}", method=method, auth=(token, ""), **kw)


def error(response: TestResponse, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.get_json()["message"])


def create(client: Client, **source: Any) -> TestResponse:
    body = {"name": "new asset", "tags": ["t"], "mount": "new", "source": source}
    return api(client, "POST", "data_assets", json=body)


def created(client: Client, **source: Any) -> DataAsset:
    response = create(client, **source)
    assert response.status_code == 200, response.get_json()
    return DataAsset.from_dict(response.get_json())


def state(client: Client, asset_id: str) -> DataAsset:
    return DataAsset.from_dict(api(client, "GET", f"data_assets/{asset_id}").get_json())


def names(client: Client, asset_id: str, path: str = "") -> list[str]:
    answer = api(client, "POST", f"data_assets/{asset_id}/files", json={"path": path})
    return [i.name for i in Folder.from_dict(answer.get_json()).items]


# -- create -----------------------------------------------------------------------------
def test_new_asset_is_a_draft_until_its_time_then_ready(
    client: Client, app: CodeOceanApp, clock: Clock
) -> None:
    asset = created(client, aws={"bucket": "aind-ephys-data", "prefix": RAW_NAME})
    assert asset.state == DataAssetState.Draft
    clock.now += app.asset_ready_seconds - 0.01
    assert state(client, asset.id).state == DataAssetState.Draft
    clock.now += 0.02
    assert state(client, asset.id).state == DataAssetState.Ready


def test_internal_asset_from_s3_copies_the_files_into_codeocean(
    client: Client, app: CodeOceanApp, clock: Clock
) -> None:
    asset = created(client, aws={"bucket": "aind-ephys-data", "prefix": RAW_NAME})
    assert names(client, asset.id) == []  # a draft: nothing copied yet
    clock.now += app.asset_ready_seconds
    ready = state(client, asset.id)
    assert names(client, asset.id) == ["ecephys", "subject.json"]
    assert (ready.source_bucket.bucket, ready.source_bucket.external) == (CODEOCEAN_BUCKET, False)
    assert (ready.files, ready.size) == (2, len(b'{\n  "subject_id": "676909"\n}') + 11)


def test_keep_on_external_storage_makes_an_external_asset(client: Client) -> None:
    aws = {"bucket": "aind-ephys-data", "prefix": RAW_NAME, "keep_on_external_storage": True}
    asset = created(client, aws=aws)
    assert (asset.source_bucket.bucket, asset.source_bucket.external) == ("aind-ephys-data", True)
    assert "internal data assets only" in error(
        api(client, "POST", f"data_assets/{asset.id}/files", json={}), 400
    )


def test_source_without_files_makes_a_failed_asset_with_a_reason(
    client: Client, app: CodeOceanApp, clock: Clock
) -> None:
    asset = created(client, aws={"bucket": "aind-ephys-data", "prefix": "nothing-here"})
    clock.now += app.asset_ready_seconds
    failed = state(client, asset.id)
    assert failed.state == DataAssetState.Failed and failed.failure_reason


def test_result_asset_from_a_completed_computation_holds_its_results(
    client: Client, app: CodeOceanApp, clock: Clock
) -> None:
    asset = created(client, computation={"id": DONE, "path": "nwb"})
    assert (asset.type.value, asset.provenance.computation) == ("result", DONE)
    clock.now += app.asset_ready_seconds
    assert names(client, asset.id) == ["a.nwb", "b.nwb"]


def test_result_asset_from_a_computation_not_completed_is_a_400(client: Client) -> None:
    assert "not completed" in error(create(client, computation={"id": RUNNING}), 400)


def test_result_asset_from_an_unknown_computation_is_a_404(client: Client) -> None:
    unknown = str(uuid.uuid4())
    assert unknown in error(create(client, computation={"id": unknown}), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": [], "mount": "m", "source": {"aws": {"bucket": "b"}}}, "name"),
        ({"name": "n", "tags": [], "source": {"aws": {"bucket": "b"}}}, "mount"),
        ({"name": "n", "tags": "t", "mount": "m", "source": {"aws": {"bucket": "b"}}}, "tags"),
        ({"name": "n", "tags": [], "mount": "m"}, "source"),
        ({"name": "n", "tags": [], "mount": "m", "source": {"aws": {}}}, "source.aws.bucket"),
        (
            {"name": "n", "tags": [], "mount": "m", "source": {"aws": {"bucket": "b"}, "x": {}}},
            "source",
        ),
    ],
)
def test_create_with_a_missing_or_wrong_field_is_a_400_naming_it(
    client: Client, body: dict[str, Any], field: str
) -> None:
    assert repr(field) in error(api(client, "POST", "data_assets", json=body), 400)


def test_create_from_gcp_is_a_501_naming_it(client: Client) -> None:
    assert "source.gcp" in error(create(client, gcp={"bucket": "b"}), 501)


def test_create_needs_the_write_scope(client: Client, app: CodeOceanApp) -> None:
    body = {"name": "n", "tags": [], "mount": "m", "source": {"aws": {"bucket": "b"}}}
    reader = app.named_tokens["reader"]
    assert "Data Asset - Write" in error(
        api(client, "POST", "data_assets", token=reader, json=body), 403
    )


# -- update, archive, delete, permissions, custom metadata --------------------------------
def update(client: Client, **changes: Any) -> TestResponse:
    body = {"name": "renamed", "description": "d", "tags": ["x"], "mount": "m", **changes}
    return api(client, "PUT", f"data_assets/{INTERNAL}", json=body)


def test_update_changes_the_metadata(client: Client) -> None:
    update(client, custom_metadata={"subject id": "123456"})
    asset = state(client, INTERNAL)
    assert (asset.name, asset.tags, asset.custom_metadata) == (
        "renamed",
        ["x"],
        {"subject id": "123456"},
    )


def test_an_update_changes_only_the_fields_it_gives(client: Client) -> None:
    """Every field of the SDK's DataAssetUpdateParams is optional."""
    before = api(client, "GET", f"data_assets/{INTERNAL}").get_json()
    after = api(client, "PUT", f"data_assets/{INTERNAL}", json={"description": "new"})
    assert after.status_code == 200
    assert after.get_json() == {**before, "description": "new"}


@pytest.mark.parametrize("custom", [{"no such field": "1"}, {"probes": "two"}])
def test_update_with_custom_metadata_outside_the_schema_is_a_400(
    client: Client, custom: dict[str, Any]
) -> None:
    assert "custom_metadata" in error(update(client, custom_metadata=custom), 400)


def test_archive_hides_the_asset_from_searches_and_unarchive_brings_it_back(
    client: Client,
) -> None:
    def found() -> bool:
        answer = api(client, "POST", "data_assets/search", json={}).get_json()
        return INTERNAL in [a["id"] for a in answer["results"]]

    assert api(client, "PATCH", f"data_assets/{INTERNAL}/archive?archive=true").status_code == 204
    assert not found()
    api(client, "PATCH", f"data_assets/{INTERNAL}/archive?archive=false")
    assert found()


def test_archive_without_the_archive_parameter_is_a_400(client: Client) -> None:
    assert "'archive'" in error(api(client, "PATCH", f"data_assets/{INTERNAL}/archive"), 400)


def test_deleted_asset_is_gone(client: Client) -> None:
    assert api(client, "DELETE", f"data_assets/{INTERNAL}").status_code == 204
    assert INTERNAL in error(api(client, "GET", f"data_assets/{INTERNAL}"), 404)


def test_permissions_start_with_the_owner_and_keep_what_is_set(client: Client) -> None:
    path = f"data_assets/{INTERNAL}/permissions"
    first = Permissions.from_dict(api(client, "GET", path).get_json())
    assert [u.role.value for u in first.users] == ["owner"] and first.everyone.value == "none"
    new = {"users": [{"email": "a@b.org", "role": "viewer"}], "groups": [], "everyone": "viewer"}
    assert api(client, "POST", path, json=new).status_code == 204
    assert api(client, "GET", path).get_json() == {**new, "share_assets": False}
    # every field is optional (SDK): those given replace the asset's
    assert api(client, "POST", path, json={"everyone": "none"}).status_code == 204
    assert api(client, "GET", path).get_json() == {**new, "everyone": "none", "share_assets": False}


def test_permissions_with_an_unknown_role_are_a_400(client: Client) -> None:
    new = {"users": [{"email": "a@b.org", "role": "boss"}], "groups": [], "everyone": "none"}
    assert "'users'" in error(
        api(client, "POST", f"data_assets/{INTERNAL}/permissions", json=new), 400
    )


def test_custom_metadata_schema_has_the_world_fields_with_their_types(client: Client) -> None:
    schema = CustomMetadata.from_dict(api(client, "GET", "custom_metadata").get_json())
    assert [(f.name, f.type.value) for f in schema.fields] == [
        ("probes", "number"),
        ("subject id", "string"),
    ]


# -- sizes, files, URLs ---------------------------------------------------------------------
def test_size_and_file_count_come_from_s3_unless_the_world_gives_them(client: Client) -> None:
    assert (state(client, INTERNAL).files, state(client, INTERNAL).size) == (2, 4)
    assert (state(client, EMPTY).files, state(client, EMPTY).size) == (0, 7)


def test_file_urls_of_an_external_asset_are_a_400(client: Client) -> None:
    query = {"path": "subject.json"}
    answer = api(client, "GET", f"data_assets/{EXTERNAL}/files/urls", query_string=query)
    assert "internal data assets only" in error(answer, 400)


def test_file_url_serves_the_file_with_its_etag_until_it_expires(
    client: Client, app: CodeOceanApp, clock: Clock
) -> None:
    query = {"path": "processing.json"}
    answer = api(client, "GET", f"data_assets/{INTERNAL}/files/urls", query_string=query)
    url = FileURLs.from_dict(answer.get_json()).download_url
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["3600"]
    clock.now += app.url_seconds
    fetched = client.get(url)
    assert fetched.headers["ETag"] == f'"{hashlib.md5(b"{}").hexdigest()}"'
    clock.now += 1
    expired = client.get(url)
    assert expired.status_code == 403 and b"Request has expired" in expired.get_data()


def test_presigned_url_problem_is_none_while_valid_and_expired_after() -> None:
    query = {"X-Amz-Date": "20240101T000000Z", "X-Amz-Expires": "3600"}
    start = 1704067200.0  # 2024-01-01T00:00:00Z
    assert presigned_url_problem(query, start + 3600) is None
    assert presigned_url_problem(query, start + 3601) == "Request has expired"
    assert presigned_url_problem({}, start + 10**9) is None


# -- the SDK against a running sandbox -----------------------------------------------------
@pytest.fixture
def co(aind_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> codeocean.CodeOcean:
    monkeypatch.setattr(aind_sandbox.codeocean, "asset_ready_seconds", 0.0)
    return codeocean.CodeOcean(domain=aind_sandbox.codeocean_url, token=aind_sandbox.token)


def source_folder(sb: Sandbox) -> tuple[str, str, dict[str, bytes]]:
    """A bucket and prefix of the running world holding files, and those files."""
    asset = next(a for a in sb.world.data_assets.values() if a.get("source_bucket"))
    folder = sb.world.asset_folder(asset)
    files = {k[len(folder) + 1 :]: v for k, v in sb.world.s3.items() if k.startswith(folder + "/")}
    bucket, _, prefix = folder.partition("/")
    return bucket, prefix, files


def test_sdk_create_wait_list_and_download_an_internal_asset(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    bucket, prefix, files = source_folder(aind_sandbox)
    params = DataAssetParams(
        name="copied", tags=["sandbox"], mount="copied",
        source=Source(aws=AWSS3Source(bucket=bucket, prefix=prefix)),
    )  # fmt: skip
    asset = co.data_assets.create_data_asset(params)
    assert asset.state == DataAssetState.Draft
    ready = co.data_assets.wait_until_ready(asset, polling_interval=5, timeout=10)
    assert ready.state == DataAssetState.Ready and ready.files == len(files)
    top = next(i for i in co.data_assets.list_data_asset_files(asset.id).items if i.type == "file")
    urls = co.data_assets.get_data_asset_file_urls(asset.id, top.path)
    assert parse_qs(urlsplit(urls.download_url).query)["X-Amz-Expires"] == ["3600"]
    answer = requests.get(urls.download_url, timeout=10)
    assert answer.content == files[top.path]
    assert answer.headers["ETag"] == f'"{hashlib.md5(files[top.path]).hexdigest()}"'


def test_library_waits_until_a_result_asset_is_ready(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    from aind_session.codeocean import wait_until_ready

    comp = next(
        c
        for c in aind_sandbox.world.computations.values()
        if c["results"] and c.get("state") == "completed"
    )
    params = DataAssetParams(
        name="captured", tags=["sandbox"], mount="captured",
        source=Source(computation=ComputationSource(id=comp["id"])),
    )  # fmt: skip
    asset = co.data_assets.create_data_asset(params)
    assert wait_until_ready(asset.id, timeout=10, interval=0.1).provenance.computation == comp["id"]


def test_sdk_updates_archives_and_reads_the_schema(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset_id = next(iter(aind_sandbox.world.data_assets))
    changes = DataAssetUpdateParams(name="renamed", description="d", tags=["x"], mount="m")
    assert co.data_assets.update_metadata(asset_id, changes).name == "renamed"
    co.data_assets.archive_data_asset(asset_id, True)
    assert aind_sandbox.codeocean.world.data_assets[asset_id]["archived"] is True
    schema = co.custom_metadata.get_custom_metadata()
    assert isinstance(schema, CustomMetadata) and schema.fields


def test_sdk_reads_permissions(co: codeocean.CodeOcean, aind_sandbox: Sandbox) -> None:
    if not hasattr(co.data_assets, "get_permissions"):
        pytest.skip("this codeocean SDK has no data_assets.get_permissions (0.12 has none)")
    permissions = co.data_assets.get_permissions(next(iter(aind_sandbox.world.data_assets)))
    assert isinstance(permissions, Permissions) and permissions.users
