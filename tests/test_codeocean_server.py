"""The sandbox's CodeOcean API: searches, files, computations, errors, and the SDK over sockets.

Most tests call :class:`CodeOceanApp` in-process through ``werkzeug.test.Client`` with a
small world written here; the last section drives the running sandbox with the official
``codeocean`` SDK, whose ``from_dict`` models must parse every answer.
"""

from __future__ import annotations

import uuid
from typing import Any

import codeocean
import pytest
import requests
from werkzeug.test import Client, TestResponse

from aind_session.codeocean.sdk import (
    Computation,
    ComputationState,
    DataAsset,
    DataAssetSearchParams,
    DataAssetSearchResults,
    DataAssetSortBy,
    DataAssetsRunParam,
    DownloadFileURL,
    Error,
    FileURLs,
    Folder,
    NamedRunParam,
    RunParams,
    SearchFilter,
    SortOrder,
    service_fields,
)
from aind_session.testing import Sandbox
from aind_session.testing.codeocean_server import CodeOceanApp
from aind_session.testing.world import CODEOCEAN_BUCKET, World, load_world

TOKEN = "COP_test_token"
CAPSULE = "1f8f159a-7670-47a9-baf1-078905fc9c2e"
PIPELINE = "70c124bf-e693-45a4-aeb1-c4b62c14d31e"

RAW = "16d46411-540a-4122-b47f-8cb2a15d593a"
SORTED = "e7f467f7-8ce3-4173-b593-3e53948adb30"
BEHAVIOR = "51f8dd77-2a65-4441-b2a5-ea0d00da18d1"
SPIM = "e267c120-c15e-42c3-a143-630d1180ff44"
OLD = "281cac9e-ccb2-467d-8d2e-1a6aaab699a1"
COMBINED = "a782c5e4-a16b-495d-baea-7ca9ba29015c"
RUN_OLD = "ea765a89-ca64-4aa5-91a1-60457ae44bb5"
RUN_NEW = "d2d434b4-b2bb-4ca9-92eb-334439282d6a"
RUN_PIPELINE = "31299b75-98af-4a99-906a-819bf1e759f2"

RAW_NAME = "ecephys_676909_2023-12-13_13-43-40"
SORTED_NAME = f"{RAW_NAME}_sorted_2023-12-20_10-11-12"
BEHAVIOR_NAME = "behavior_686740_2024-01-02_10-00-00"
SPIM_NAME = "SmartSPIM_695464_2023-10-18_20-30-30"
OLD_NAME = "ecephys_649038_2023-02-13_11-55-50"
COMBINED_NAME = "combined_676909_2024-01-05"
UNARCHIVED_NEWEST_FIRST = [COMBINED_NAME, BEHAVIOR_NAME, SORTED_NAME, RAW_NAME, OLD_NAME]

WORLD: dict[str, Any] = {
    "data_assets": [
        {
            "id": RAW,
            "name": RAW_NAME,
            "created": 1702620828,
            "size": 300,
            "tags": ["ecephys", "raw"],
            "custom_metadata": {"subject id": "676909", "data level": "raw data"},
            "source_bucket": {"origin": "aws", "bucket": "aind-ephys-data", "prefix": RAW_NAME},
        },
        {
            "id": SORTED,
            "name": SORTED_NAME,
            "created": 1703067072,
            "size": 100,
            "type": "result",
            "description": "Spike sorting of one probe with Kilosort 2.5",
            "tags": ["ecephys", "sorted"],
            "custom_metadata": {"subject id": "676909", "data level": "derived"},
        },
        {
            "id": BEHAVIOR,
            "name": BEHAVIOR_NAME,
            "created": 1704189600,
            "size": 200,
            "tags": ["behavior", "raw", "dynamic-foraging"],
            "custom_metadata": {"subject id": "686740"},
            "source_bucket": {
                "origin": "aws",
                "bucket": "aind-private-data",
                "prefix": BEHAVIOR_NAME,
                "external": True,
            },
            "favorite": True,
        },
        {
            "id": SPIM,
            "name": SPIM_NAME,
            "created": 1697661030,
            "tags": ["smartspim", "raw"],
            "custom_metadata": {"subject id": "695464"},
            "archived": True,
        },
        {"id": OLD, "name": OLD_NAME, "created": 1676318150},
        {
            "id": COMBINED,
            "name": COMBINED_NAME,
            "created": 1705000000,
            "type": "combined",
            "source_bucket": {"origin": "aws", "bucket": CODEOCEAN_BUCKET, "prefix": COMBINED},
            "contained_data_assets": [{"id": RAW, "mount": RAW_NAME}],
        },
    ],
    "computations": [
        {
            "id": RUN_OLD,
            "capsule_id": CAPSULE,
            "name": "sorting pipeline (kilosort2_5)",
            "created": 1703046607,
            "end_status": "succeeded",
            "data_assets": [{"id": RAW, "mount": RAW_NAME}],
            "results": {
                "output": "sorting done\n",
                "nwb/ecephys.nwb": "nwb contents",
                "nwb/probe A#1 (copy).nwb": "odd name",
            },
        },
        {
            "id": RUN_NEW,
            "capsule_id": CAPSULE,
            "name": "sorting pipeline (kilosort4)",
            "created": 1709295723,
            "results": {"output": "kilosort4 done\n"},
        },
        {
            "id": RUN_PIPELINE,
            "capsule_id": PIPELINE,
            "created": 1714641333,
            "state": "running",
        },
    ],
    "capsules": [{"id": CAPSULE, "name": "sorting capsule", "produces": {"output": "done\n"}}],
    "pipelines": [{"id": PIPELINE, "name": "nwb pipeline"}],
    "s3": {
        f"aind-ephys-data/{RAW_NAME}/subject.json": {"subject_id": "676909"},
        f"aind-ephys-data/{RAW_NAME}/data_description.json": {"name": RAW_NAME},
        f"aind-ephys-data/{RAW_NAME}/ecephys/ecephys_clipped/settings.xml": "<SETTINGS/>",
        f"aind-ephys-data/{RAW_NAME}/ecephys/ecephys_compressed/ProbeA.zarr/.zattrs": "{}",
        f"{CODEOCEAN_BUCKET}/{SORTED}/processing.json": {"processing_pipeline": {}},
        f"{CODEOCEAN_BUCKET}/{SORTED}/spikesorted/si_folder.json": "{}",
    },
}


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(WORLD)


@pytest.fixture
def app(world: World) -> CodeOceanApp:
    return CodeOceanApp(world, TOKEN)


@pytest.fixture
def client(app: CodeOceanApp) -> Client:
    return Client(app)


@pytest.fixture
def strict(world: World) -> Client:
    """The app serving only what the documented search rules match (no near misses)."""
    return Client(CodeOceanApp(world, TOKEN, search="strict"))


def api(
    client: Client, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> TestResponse:
    auth = (token, "") if token is not None else None
    return client.open(f"/api/v1/{path}", method=method, auth=auth, **kw)


def search_page(client: Client, **body: Any) -> dict[str, Any]:
    response = api(client, "POST", "data_assets/search", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def search(client: Client, query: str | None = None, **body: Any) -> list[str]:
    """Names of the assets found, in the order returned."""
    return [a["name"] for a in search_page(client, query=query, **body)["results"]]


def assert_json_error(response: TestResponse, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    message = response.get_json()["message"]
    assert isinstance(message, str) and message
    return message


def model_fields(model: type) -> frozenset[str]:
    """The fields the service sends for ``model`` (``owner`` too where 0.12 lacks it)."""
    return service_fields(model)


# -- search: query terms -----------------------------------------------------------------
def test_search_without_query_returns_unarchived_assets_newest_first(strict: Client) -> None:
    assert search(strict) == UNARCHIVED_NEWEST_FIRST


def test_name_term_matches_part_of_the_name(strict: Client) -> None:
    assert set(search(strict, "name:676909")) == {RAW_NAME, SORTED_NAME, COMBINED_NAME}


def test_name_term_ignores_case(strict: Client) -> None:
    assert search(strict, "NAME:SmartSPIM", archived=True) == [SPIM_NAME]


def test_repeated_name_terms_match_assets_with_either_name(strict: Client) -> None:
    assert set(search(strict, "name:649038 name:behavior")) == {OLD_NAME, BEHAVIOR_NAME}


def test_name_term_of_20_characters_still_matches(strict: Client) -> None:
    term = RAW_NAME[:20]
    assert set(search(strict, f"name:{term}")) == {RAW_NAME, SORTED_NAME}


def test_name_term_longer_than_20_characters_matches_nothing(strict: Client) -> None:
    assert search(strict, f"name:{RAW_NAME[:21]}") == []


def test_quoted_name_term_longer_than_20_characters_matches_nothing(strict: Client) -> None:
    assert search(strict, f'name:"{RAW_NAME}"') == []


def test_name_quirk_off_lets_a_long_name_term_match(world: World) -> None:
    client = Client(CodeOceanApp(world, TOKEN, name_quirk=False, search="strict"))
    assert set(search(client, f"name:{RAW_NAME}")) == {RAW_NAME, SORTED_NAME}


def test_sandbox_with_name_quirk_off_serves_long_name_terms(world: World) -> None:
    sandbox = Sandbox(world, name_quirk=False, search="strict")  # its app is enough here
    response = Client(sandbox.codeocean).post(
        "/api/v1/data_assets/search", json={"query": f"name:{RAW_NAME}"}, auth=(sandbox.token, "")
    )
    assert {a["name"] for a in response.get_json()["results"]} == {SORTED_NAME, RAW_NAME}


def test_subject_id_term_matches_the_custom_metadata_value(strict: Client) -> None:
    assert set(search(strict, "subject id:676909")) == {RAW_NAME, SORTED_NAME}


def test_subject_id_term_matches_part_of_the_value(strict: Client) -> None:
    assert set(search(strict, "subject id:67690")) == {RAW_NAME, SORTED_NAME}


def test_tag_term_matches_a_tag(strict: Client) -> None:
    assert search(strict, "tag:sorted") == [SORTED_NAME]


def test_tag_term_matches_part_of_a_tag(strict: Client) -> None:
    assert search(strict, "tag:sort") == [SORTED_NAME]


def test_repeated_tag_terms_match_assets_with_either_tag(strict: Client) -> None:
    assert set(search(strict, "tag:sorted tag:behavior")) == {SORTED_NAME, BEHAVIOR_NAME}


def test_terms_of_different_fields_must_all_match(strict: Client) -> None:
    assert search(strict, "tag:raw subject id:676909") == [RAW_NAME]


def test_description_is_no_query_field_so_its_term_matches_as_written(strict: Client) -> None:
    assert search(strict, "description:kilosort") == []


def test_quoted_bare_words_match_a_phrase_of_the_description(strict: Client) -> None:
    assert search(strict, '"of one probe"') == [SORTED_NAME]


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("649038", OLD_NAME),
        ("kilosort", SORTED_NAME),
        ("foraging", BEHAVIOR_NAME),
        ("derived", SORTED_NAME),
    ],
    ids=["in-name", "in-description", "in-tag", "in-custom-metadata"],
)
def test_bare_word_matches_name_description_tags_or_custom_metadata(
    strict: Client, word: str, name: str
) -> None:
    assert search(strict, word) == [name]


def test_every_bare_word_must_match(strict: Client) -> None:
    assert search(strict, "676909 raw") == [RAW_NAME]


def test_bare_word_ignores_case(strict: Client) -> None:
    assert search(strict, "KILOSORT") == [SORTED_NAME]


# -- search: filters and sorting -----------------------------------------------------------
@pytest.mark.parametrize(("kind", "name"), [("result", SORTED_NAME), ("combined", COMBINED_NAME)])
def test_type_filter_keeps_only_that_type(strict: Client, kind: str, name: str) -> None:
    assert search(strict, type=kind) == [name]


def test_origin_external_keeps_assets_stored_outside_codeocean(strict: Client) -> None:
    assert set(search(strict, origin="external")) == {RAW_NAME, BEHAVIOR_NAME}


def test_origin_internal_keeps_assets_stored_in_codeocean(strict: Client) -> None:
    assert set(search(strict, origin="internal")) == {SORTED_NAME, OLD_NAME, COMBINED_NAME}


def test_archived_true_returns_only_archived_assets(strict: Client) -> None:
    assert search(strict, archived=True) == [SPIM_NAME]


def test_archived_asset_is_left_out_even_when_its_name_matches(strict: Client) -> None:
    assert search(strict, "name:smartspim") == []


def test_favorite_true_returns_only_favourites(strict: Client) -> None:
    assert search(strict, favorite=True) == [BEHAVIOR_NAME]


def test_filter_on_a_custom_field_keeps_assets_with_that_value(strict: Client) -> None:
    assert search(strict, filters=[{"key": "data level", "value": "derived"}]) == [SORTED_NAME]


def test_exclude_filter_drops_assets_with_that_value(strict: Client) -> None:
    found = search(strict, filters=[{"key": "tags", "value": "ecephys", "exclude": True}])
    assert set(found) == {BEHAVIOR_NAME, OLD_NAME, COMBINED_NAME}


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_name_orders_names(strict: Client, order: str) -> None:
    expected = sorted(UNARCHIVED_NEWEST_FIRST, reverse=order == "desc")
    assert search(strict, sort_field="name", sort_order=order) == expected


def test_sort_by_created_ascending_returns_oldest_first(strict: Client) -> None:
    found = search(strict, sort_field="created", sort_order="asc")
    assert found == UNARCHIVED_NEWEST_FIRST[::-1]


@pytest.mark.parametrize(
    "body",
    [
        {"sort_field": "owner"},
        {"sort_field": "name", "sort_order": "up"},
        {"type": "folder"},
        {"origin": "s3"},
        {"query": ["name:x"]},
        {"filters": [{"value": "x"}]},
    ],
    ids=[
        "bad-field",
        "bad-order",
        "bad-type",
        "bad-origin",
        "query-list",
        "filter-without-key",
    ],
)
def test_invalid_search_parameter_is_a_400(strict: Client, body: dict[str, Any]) -> None:
    assert_json_error(api(strict, "POST", "data_assets/search", json=body), 400)


# -- search: paging ------------------------------------------------------------------------
MANY = 101


@pytest.fixture(scope="module")
def many_world() -> World:
    assets = [
        {"id": str(uuid.UUID(int=i + 1)), "name": f"asset_{i:03d}", "created": 1_700_000_000 + i}
        for i in range(MANY)
    ]
    return load_world({"data_assets": assets})


@pytest.fixture
def many(many_world: World) -> Client:
    return Client(CodeOceanApp(many_world, TOKEN, search="strict"))


def test_limit_and_offset_walk_every_asset_once(many: Client) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = search_page(many, limit=7, offset=offset)
        seen += [a["id"] for a in page["results"]]
        if not page["has_more"]:
            break
        offset += 7
    assert len(seen) == MANY and len(set(seen)) == MANY


def test_next_token_walks_every_asset_once(many: Client) -> None:
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 7}
    while True:
        page = search_page(many, **body)
        seen += [a["id"] for a in page["results"]]
        if not page["has_more"]:
            break
        body["next_token"] = page["next_token"]
    assert len(seen) == MANY and len(set(seen)) == MANY


def test_pages_follow_the_order_of_the_whole_result(many: Client) -> None:
    everything = [a["id"] for a in search_page(many, limit=1000)["results"]]
    page = search_page(many, limit=10, offset=20)
    assert [a["id"] for a in page["results"]] == everything[20:30]


def test_last_page_has_no_more_and_no_next_token(many: Client) -> None:
    page = search_page(many, limit=10, offset=MANY - 10)
    assert page["has_more"] is False and "next_token" not in page and len(page["results"]) == 10


def test_offset_past_the_end_returns_an_empty_last_page(many: Client) -> None:
    assert search_page(many, offset=MANY + 5) == {"has_more": False, "results": []}


def test_next_token_takes_precedence_over_offset(many: Client) -> None:
    token = search_page(many, limit=10)["next_token"]
    with_offset = search_page(many, limit=10, next_token=token, offset=50)
    assert with_offset == search_page(many, limit=10, next_token=token)
    assert with_offset["results"][0]["name"] == "asset_090"


def test_invalid_next_token_is_a_400(many: Client) -> None:
    response = api(many, "POST", "data_assets/search", json={"next_token": "not-a-token"})
    assert "next_token" in assert_json_error(response, 400)


def test_limit_defaults_to_100(many: Client) -> None:
    page = search_page(many)
    assert len(page["results"]) == 100 and page["has_more"] is True


def test_limit_1000_is_accepted(many: Client) -> None:
    assert len(search_page(many, limit=1000)["results"]) == MANY


@pytest.mark.parametrize("limit", [1001, 0, "10", True])
def test_limit_outside_1_to_1000_or_not_an_integer_is_a_400(many: Client, limit: Any) -> None:
    response = api(many, "POST", "data_assets/search", json={"limit": limit})
    assert "limit" in assert_json_error(response, 400)


def test_negative_offset_is_a_400(many: Client) -> None:
    assert_json_error(api(many, "POST", "data_assets/search", json={"offset": -1}), 400)


# -- auth and errors -----------------------------------------------------------------------
def test_request_without_token_is_a_401_with_a_json_message(client: Client) -> None:
    assert_json_error(api(client, "GET", f"data_assets/{RAW}", token=None), 401)


def test_request_with_a_wrong_token_is_a_401_with_a_json_message(client: Client) -> None:
    message = assert_json_error(api(client, "GET", f"data_assets/{RAW}", token="COP_wrong"), 401)
    assert "not valid" in message


def test_token_is_not_accepted_as_the_basic_auth_password(client: Client) -> None:
    response = client.get(f"/api/v1/data_assets/{RAW}", auth=("someone", TOKEN))
    assert_json_error(response, 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "data_assets/{id}"),
        ("POST", "data_assets/{id}/files"),
        ("GET", "data_assets/{id}/files/urls?path=x"),
        ("GET", "computations/{id}"),
        ("POST", "computations/{id}/results"),
        ("GET", "computations/{id}/results/urls?path=output"),
        ("GET", "capsules/{id}/computations"),
        ("GET", "pipelines/{id}/computations"),
    ],
)
def test_unknown_id_is_a_404_with_a_json_message_naming_it(
    client: Client, method: str, path: str
) -> None:
    unknown = str(uuid.uuid4())
    response = api(client, method, path.format(id=unknown), json={})
    assert unknown in assert_json_error(response, 404)


def test_a_route_the_real_api_does_not_have_is_a_404_with_a_json_message(client: Client) -> None:
    assert_json_error(api(client, "GET", "data_asset"), 404)


def test_method_the_route_does_not_serve_is_a_405_with_a_json_message(client: Client) -> None:
    assert_json_error(api(client, "PATCH", f"data_assets/{RAW}"), 405)


def test_a_route_of_the_real_api_not_served_is_a_501_naming_it(client: Client) -> None:
    response = api(client, "POST", f"data_assets/{RAW}/transfer")
    assert_json_error(response, 501)
    assert f"POST /api/v1/data_assets/{RAW}/transfer" in response.get_json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "data_assets/search",
        f"data_assets/{RAW}/files",
        "computations",
        f"computations/{RUN_OLD}/results",
    ],
)
def test_body_that_is_not_json_is_a_400(client: Client, path: str) -> None:
    response = api(client, "POST", path, data="{'query': ", content_type="application/json")
    assert "not valid JSON" in assert_json_error(response, 400)


@pytest.mark.parametrize("path", ["data_assets/search", "computations"])
def test_body_that_is_not_a_json_object_is_a_400(client: Client, path: str) -> None:
    assert_json_error(api(client, "POST", path, json=["name:x"]), 400)


def test_run_with_malformed_named_parameters_is_a_400(client: Client) -> None:
    body = {"capsule_id": CAPSULE, "named_parameters": ["threshold=5"]}
    assert_json_error(api(client, "POST", "computations", json=body), 400)


# -- data assets ---------------------------------------------------------------------------
def test_asset_answer_holds_only_fields_of_the_sdk_model(client: Client) -> None:
    for asset_id in (RAW, BEHAVIOR, SPIM):
        answer = api(client, "GET", f"data_assets/{asset_id}").get_json()
        assert set(answer) <= model_fields(DataAsset)


def test_asset_answer_parses_as_the_world_entry(client: Client) -> None:
    asset = DataAsset.from_dict(api(client, "GET", f"data_assets/{RAW}").get_json())
    assert (asset.name, asset.source_bucket.bucket, asset.custom_metadata["subject id"]) == (
        RAW_NAME,
        "aind-ephys-data",
        "676909",
    )


def test_search_answer_holds_only_fields_of_the_sdk_models(client: Client) -> None:
    page = search_page(client, limit=1)
    assert set(page) <= model_fields(DataAssetSearchResults)
    assert set(page["results"][0]) <= model_fields(DataAsset)


def test_asset_files_list_one_level_with_folders_first(client: Client) -> None:
    body = {"path": ""}
    items = api(client, "POST", f"data_assets/{SORTED}/files", json=body).get_json()["items"]
    assert [(i["name"], i["type"]) for i in items] == [
        ("spikesorted", "folder"),
        ("processing.json", "file"),
    ]


def test_asset_file_listing_gives_sizes_of_files(client: Client, world: World) -> None:
    items = api(client, "POST", f"data_assets/{SORTED}/files", json={}).get_json()["items"]
    sizes = {i["name"]: i["size"] for i in items if i["type"] == "file"}
    assert sizes["processing.json"] == len(world.s3[f"{CODEOCEAN_BUCKET}/{SORTED}/processing.json"])


def test_asset_files_of_a_subfolder_have_paths_from_the_asset_root(client: Client) -> None:
    body = {"path": "spikesorted"}
    items = api(client, "POST", f"data_assets/{SORTED}/files", json=body).get_json()["items"]
    assert Folder.from_dict({"items": items}).items[0].path == "spikesorted/si_folder.json"


def test_asset_folder_that_does_not_exist_is_a_404(client: Client) -> None:
    response = api(client, "POST", f"data_assets/{SORTED}/files", json={"path": "behavior"})
    assert "'behavior'" in assert_json_error(response, 404)


def test_external_asset_files_are_a_400_saying_internal_only(client: Client) -> None:
    response = api(client, "POST", f"data_assets/{RAW}/files", json={})
    assert "internal data assets only" in assert_json_error(response, 400)


def test_internal_asset_files_come_from_the_codeocean_bucket(client: Client) -> None:
    items = api(client, "POST", f"data_assets/{SORTED}/files", json={}).get_json()["items"]
    assert [i["name"] for i in items] == ["spikesorted", "processing.json"]


def test_asset_file_urls_serve_the_file_without_a_token(client: Client, world: World) -> None:
    answer = api(
        client, "GET", f"data_assets/{SORTED}/files/urls", query_string={"path": "processing.json"}
    )
    urls = FileURLs.from_dict(answer.get_json())
    expected = world.s3[f"{CODEOCEAN_BUCKET}/{SORTED}/processing.json"]
    assert client.get(urls.download_url).get_data() == expected
    assert client.get(urls.view_url).get_data() == expected


def test_asset_file_urls_for_a_missing_file_are_a_404(client: Client) -> None:
    query = {"path": "rig.json"}
    answer = api(client, "GET", f"data_assets/{SORTED}/files/urls", query_string=query)
    assert "'rig.json'" in assert_json_error(answer, 404)


def test_asset_download_url_serves_the_file(client: Client, world: World) -> None:
    answer = api(
        client,
        "GET",
        f"data_assets/{SORTED}/files/download_url",
        query_string={"path": "processing.json"},
    )
    url = answer.get_json()["url"]
    assert client.get(url).get_data() == world.s3[f"{CODEOCEAN_BUCKET}/{SORTED}/processing.json"]


def test_download_of_an_unknown_kind_is_a_404(client: Client) -> None:
    assert_json_error(client.get(f"/_sandbox/download/capsules/{CAPSULE}/output"), 404)


# -- computations --------------------------------------------------------------------------
def test_computation_answer_holds_only_fields_of_the_sdk_model(client: Client) -> None:
    answer = api(client, "GET", f"computations/{RUN_OLD}").get_json()
    assert set(answer) <= model_fields(Computation)
    assert Computation.from_dict(answer).data_assets[0].id == RAW


def test_computation_results_list_one_level_with_folders_first(client: Client) -> None:
    items = api(client, "POST", f"computations/{RUN_OLD}/results", json={"path": ""}).get_json()
    assert [(i.name, i.type) for i in Folder.from_dict(items).items] == [
        ("nwb", "folder"),
        ("output", "file"),
    ]


def test_computation_results_of_a_subfolder(client: Client) -> None:
    answer = api(client, "POST", f"computations/{RUN_OLD}/results", json={"path": "/nwb/"})
    assert sorted(i["path"] for i in answer.get_json()["items"]) == [
        "nwb/ecephys.nwb",
        "nwb/probe A#1 (copy).nwb",
    ]


def test_computation_without_results_lists_an_empty_root(client: Client) -> None:
    answer = api(client, "POST", f"computations/{RUN_PIPELINE}/results", json={})
    assert answer.get_json() == {"items": []}


@pytest.mark.parametrize("path", ["output", "nwb/probe A#1 (copy).nwb"])
def test_result_file_urls_serve_the_file(client: Client, path: str) -> None:
    answer = api(client, "GET", f"computations/{RUN_OLD}/results/urls", query_string={"path": path})
    url = FileURLs.from_dict(answer.get_json()).download_url
    assert client.get(url).get_data().decode() == WORLD["computations"][0]["results"][path]


def test_result_download_url_serves_the_file(client: Client) -> None:
    answer = api(
        client,
        "GET",
        f"computations/{RUN_NEW}/results/download_url",
        query_string={"path": "output"},
    )
    assert client.get(answer.get_json()["url"]).get_data() == b"kilosort4 done\n"


def test_result_file_that_does_not_exist_is_a_404(client: Client) -> None:
    answer = api(
        client, "GET", f"computations/{RUN_NEW}/results/urls", query_string={"path": "nwb"}
    )
    assert_json_error(answer, 404)


def test_capsule_computations_are_listed_newest_first(client: Client) -> None:
    runs = api(client, "GET", f"capsules/{CAPSULE}/computations").get_json()
    assert [r["id"] for r in runs] == [RUN_NEW, RUN_OLD]


def test_pipeline_computations_are_listed_under_the_pipeline(client: Client) -> None:
    runs = api(client, "GET", f"pipelines/{PIPELINE}/computations").get_json()
    assert [Computation.from_dict(r).state for r in runs] == [ComputationState.Running]


def test_world_computation_naming_a_pipeline_id_is_listed_under_the_pipeline() -> None:
    run = str(uuid.uuid4())
    world = load_world(
        {
            "computations": [{"id": run, "pipeline_id": PIPELINE}],
            "pipelines": [{"id": PIPELINE, "name": "p"}],
        }
    )
    response = api(Client(CodeOceanApp(world, TOKEN)), "GET", f"pipelines/{PIPELINE}/computations")
    assert [r["id"] for r in response.get_json()] == [run]


def run(client: Client, **body: Any) -> TestResponse:
    return api(client, "POST", "computations", json=body)


def test_run_creates_an_initializing_computation(client: Client) -> None:
    answer = run(client, capsule_id=CAPSULE, data_assets=[{"id": RAW, "mount": "raw"}])
    computation = Computation.from_dict(answer.get_json())
    assert computation.state == ComputationState.Initializing
    assert [(d.id, d.mount) for d in computation.data_assets] == [(RAW, "raw")]


def test_run_keeps_its_parameters_in_order(client: Client) -> None:
    answer = run(client, capsule_id=CAPSULE, parameters=["ks4", "0.5"]).get_json()
    assert answer["parameters"] == [{"value": "ks4"}, {"value": "0.5"}]


def test_run_keeps_its_named_parameters(client: Client) -> None:
    named = [{"param_name": "probe", "value": "A"}, {"param_name": "sorter", "value": "ks4"}]
    answer = run(client, capsule_id=CAPSULE, named_parameters=named).get_json()
    assert answer["parameters"] == named


def test_run_mounts_an_asset_at_its_default_mount_when_none_is_given(client: Client) -> None:
    answer = run(client, capsule_id=CAPSULE, data_assets=[{"id": SORTED}]).get_json()
    assert answer["data_assets"] == [{"id": SORTED, "mount": SORTED_NAME}]


def test_run_is_listed_first_under_its_capsule(client: Client) -> None:
    new = run(client, capsule_id=CAPSULE).get_json()["id"]
    runs = api(client, "GET", f"capsules/{CAPSULE}/computations").get_json()
    assert [r["id"] for r in runs] == [new, RUN_NEW, RUN_OLD]


def test_run_of_a_pipeline_is_listed_under_the_pipeline(client: Client) -> None:
    new = run(client, pipeline_id=PIPELINE).get_json()["id"]
    runs = api(client, "GET", f"pipelines/{PIPELINE}/computations").get_json()
    assert new in [r["id"] for r in runs]


def test_run_can_be_fetched_by_its_id(app: CodeOceanApp, client: Client) -> None:
    app.clock = lambda: 0.0  # no time passes: still as it started
    new = run(client, capsule_id=CAPSULE).get_json()
    assert api(client, "GET", f"computations/{new['id']}").get_json() == new


def test_run_of_an_unknown_capsule_is_a_404_and_makes_no_listing(client: Client) -> None:
    capsule = str(uuid.uuid4())
    assert capsule in assert_json_error(run(client, capsule_id=capsule), 404)
    assert api(client, "GET", f"capsules/{capsule}/computations").status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"capsule_id": CAPSULE, "pipeline_id": PIPELINE}], ids=["neither", "both"]
)
def test_run_needs_exactly_one_of_capsule_or_pipeline(client: Client, body: dict[str, Any]) -> None:
    assert_json_error(run(client, **body), 400)


def test_run_with_an_unknown_data_asset_is_a_404(client: Client) -> None:
    unknown = str(uuid.uuid4())
    assert unknown in assert_json_error(
        run(client, capsule_id=CAPSULE, data_assets=[{"id": unknown}]), 404
    )


def test_run_with_a_data_asset_without_id_is_a_400(client: Client) -> None:
    assert_json_error(run(client, capsule_id=CAPSULE, data_assets=[{"mount": "x"}]), 400)


def test_loading_the_world_again_forgets_runs_started_since(
    app: CodeOceanApp, client: Client, world: World
) -> None:
    new = run(client, capsule_id=CAPSULE).get_json()["id"]
    app.load(world)
    assert api(client, "GET", f"computations/{new}").status_code == 404


def test_run_does_not_change_the_world_it_was_loaded_from(client: Client, world: World) -> None:
    new = run(client, capsule_id=CAPSULE).get_json()["id"]
    assert new not in world.computations


# -- the SDK over real sockets --------------------------------------------------------------
@pytest.fixture
def co(aind_sandbox: Sandbox) -> codeocean.CodeOcean:
    return codeocean.CodeOcean(
        domain=aind_sandbox.env["CODE_OCEAN_DOMAIN"], token=aind_sandbox.token
    )


def asset_with_files(sb: Sandbox) -> tuple[dict[str, Any], str, bytes]:
    """An unarchived asset of the running world, one of its top-level files and its bytes."""
    for asset in sb.world.data_assets.values():
        folder = sb.world.asset_folder(asset) + "/"
        files = [k for k in sb.world.s3 if k.startswith(folder) and "/" not in k[len(folder) :]]
        # only internal assets list their files (external ones keep them outside CodeOcean)
        if files and not asset["archived"] and folder.startswith(CODEOCEAN_BUCKET + "/"):
            return asset, files[0][len(folder) :], sb.world.s3[files[0]]
    raise AssertionError("the sandbox world has no internal asset with a top-level file")


def computation_with_results(sb: Sandbox) -> dict[str, Any]:
    return next(c for c in sb.world.computations.values() if c["results"])


def test_sdk_search_returns_search_results_of_data_assets(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset, _, _ = asset_with_files(aind_sandbox)
    found = co.data_assets.search_data_assets(
        DataAssetSearchParams(query=f"name:{asset['name'][:20]}")
    )
    assert isinstance(found, DataAssetSearchResults)
    assert asset["id"] in [a.id for a in found.results]


def test_sdk_search_iterator_yields_every_unarchived_asset_once(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    ids = [a.id for a in co.data_assets.search_data_assets_iterator(DataAssetSearchParams(limit=3))]
    served = aind_sandbox.codeocean.world.data_assets  # in loose mode the demo asset too
    expected = {i for i, a in served.items() if not a["archived"]}
    assert len(ids) == len(expected) and set(ids) == expected


def test_sdk_search_accepts_its_own_enums_and_filters(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    assets = [a for a in aind_sandbox.world.data_assets.values() if not a["archived"]]
    subject = next(a["custom_metadata"]["subject id"] for a in assets if a.get("custom_metadata"))
    params = DataAssetSearchParams(
        sort_field=DataAssetSortBy.Name,
        sort_order=SortOrder.Descending,
        filters=[SearchFilter(key="subject id", values=[subject, "000000"])],
        limit=1000,
    )
    names = [a.name for a in co.data_assets.search_data_assets(params).results]
    expected = [
        a["name"] for a in assets if (a.get("custom_metadata") or {}).get("subject id") == subject
    ]
    assert names == sorted(expected, reverse=True)


def test_sdk_get_data_asset_returns_the_world_asset(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset, _, _ = asset_with_files(aind_sandbox)
    got = co.data_assets.get_data_asset(asset["id"])
    assert isinstance(got, DataAsset) and (got.name, got.created) == (
        asset["name"],
        asset["created"],
    )


def test_sdk_lists_data_asset_files(co: codeocean.CodeOcean, aind_sandbox: Sandbox) -> None:
    asset, name, data = asset_with_files(aind_sandbox)
    folder = co.data_assets.list_data_asset_files(asset["id"])
    assert isinstance(folder, Folder)
    assert (name, len(data)) in [(i.name, i.size) for i in folder.items]


def test_sdk_data_asset_file_urls_download_the_file(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset, name, data = asset_with_files(aind_sandbox)
    urls = co.data_assets.get_data_asset_file_urls(asset["id"], name)
    assert isinstance(urls, FileURLs)
    assert requests.get(urls.download_url, timeout=10).content == data


def test_sdk_deprecated_data_asset_download_url_downloads_the_file(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset, name, data = asset_with_files(aind_sandbox)
    with pytest.deprecated_call():
        url = co.data_assets.get_data_asset_file_download_url(asset["id"], name)
    assert isinstance(url, DownloadFileURL)
    assert requests.get(url.url, timeout=10).content == data


def test_sdk_get_computation_returns_the_world_computation(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    expected = computation_with_results(aind_sandbox)
    got = co.computations.get_computation(expected["id"])
    assert isinstance(got, Computation) and got.name == expected["name"]


def test_sdk_lists_computation_results(co: codeocean.CodeOcean, aind_sandbox: Sandbox) -> None:
    computation = computation_with_results(aind_sandbox)
    folder = co.computations.list_computation_results(computation["id"])
    top = {path.split("/")[0] for path in computation["results"]}
    assert isinstance(folder, Folder) and {i.name for i in folder.items} == top


def test_sdk_result_file_urls_download_the_file(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    computation = computation_with_results(aind_sandbox)
    path, text = next(iter(computation["results"].items()))
    urls = co.computations.get_result_file_urls(computation["id"], path)
    assert isinstance(urls, FileURLs)
    assert requests.get(urls.download_url, timeout=10).text == text


def test_sdk_deprecated_result_download_url_downloads_the_file(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    computation = computation_with_results(aind_sandbox)
    path, text = next(iter(computation["results"].items()))
    with pytest.deprecated_call():
        url = co.computations.get_result_file_download_url(computation["id"], path)
    assert requests.get(url.url, timeout=10).text == text


def test_sdk_run_capsule_creates_an_initializing_computation(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    asset, _, _ = asset_with_files(aind_sandbox)
    params = RunParams(
        capsule_id=next(iter(aind_sandbox.world.capsules)),
        data_assets=[DataAssetsRunParam(id=asset["id"], mount="input")],
        named_parameters=[NamedRunParam(param_name="sorter", value="kilosort4")],
    )
    computation = co.computations.run_capsule(params)
    assert isinstance(computation, Computation)
    assert computation.state == ComputationState.Initializing
    assert [(d.id, d.mount) for d in computation.data_assets] == [(asset["id"], "input")]
    assert [(p.param_name, p.value) for p in computation.parameters] == [("sorter", "kilosort4")]


def test_sdk_capsule_computations_include_a_new_run(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    capsule = next(iter(aind_sandbox.world.capsules))
    new = co.computations.run_capsule(RunParams(capsule_id=capsule))
    runs = co.capsules.list_computations(capsule)
    assert all(isinstance(r, Computation) for r in runs) and runs[0].id == new.id


def test_sdk_pipeline_computations_include_a_new_run(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    if not hasattr(co, "pipelines"):
        pytest.skip("this codeocean SDK has no client.pipelines (0.12 has none; 0.17 has)")
    pipeline = next(iter(aind_sandbox.world.pipelines))
    new = co.computations.run_pipeline(RunParams(pipeline_id=pipeline, nextflow_profile="local"))
    runs = co.pipelines.list_computations(pipeline)
    assert [(r.id, r.nextflow_profile) for r in runs if r.id == new.id] == [(new.id, "local")]


def test_sdk_error_carries_the_sandbox_message(co: codeocean.CodeOcean) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(Error) as info:
        co.data_assets.get_data_asset(unknown)
    assert info.value.status_code == 404 and unknown in info.value.message


def test_sdk_with_a_wrong_token_gets_a_401(aind_sandbox: Sandbox) -> None:
    co = codeocean.CodeOcean(domain=aind_sandbox.env["CODE_OCEAN_DOMAIN"], token="COP_wrong")
    with pytest.raises(Error) as info:
        co.data_assets.search_data_assets(DataAssetSearchParams())
    assert info.value.status_code == 401 and "token" in info.value.message
