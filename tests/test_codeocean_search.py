"""The sandbox's CodeOcean searches: data assets, capsules and pipelines, strict and loose.

Each rule of :mod:`aind_session.testing.codeocean_search` is tested through
``werkzeug.test.Client`` over a small world written here, in both search modes where
the rule holds in both; the last section drives a started sandbox with the SDK.
"""

from __future__ import annotations

from typing import Any

import codeocean
import pytest
from codeocean.capsule import CapsuleSearchParams, CapsuleSearchResults
from werkzeug.test import Client, TestResponse

from aind_session.codeocean.sdk import (
    Capsule,
    DataAsset,
    DataAssetSearchParams,
    DataAssetSearchResults,
    service_fields,
)
from aind_session.testing import Sandbox
from aind_session.testing.codeocean_search import DEMO_ASSET_ID, page_token
from aind_session.testing.codeocean_server import CodeOceanApp
from aind_session.testing.world import CODEOCEAN_BUCKET, SANDBOX_OWNER, World, load_world

TOKEN = "COP_test_token"
OTHER_OWNER = "00000000-0000-4000-8000-0000000000aa"
DEMO = "Example T1 and T2 MRI Images"
RAW = "ecephys_676909_2023-12-13_13-43-40"
SORTED = f"{RAW}_sorted_2023-12-20_10-11-12"
NEIGHBOUR = "ecephys_676908_2024-01-01_10-00-00"  # subject id one digit off 676909
COUSIN = "behavior_676900_2024-01-02_10-00-00"  # shares all but the last digit
MENTION = "histology_cohort_a"  # its description mentions 676909
SHARED = "ecephys_712345_2024-02-02_10-00-00"
ARCHIVED = "ecephys_676909_2023-01-01_00-00-00"
COMBINED = "combined_676909_2024-01-05"
CAPSULE_A, CAPSULE_B, CAPSULE_OLD, CAPSULE_NEW = (
    f"c0000000-0000-4000-8000-00000000000{i}" for i in "1235"
)
PIPELINE = "c0000000-0000-4000-8000-000000000004"


def _asset(n: int, name: str, created: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"a0000000-0000-4000-8000-{n:012d}", "name": name, "created": created, **fields}


WORLD: dict[str, Any] = {
    "data_assets": [
        _asset(
            1,
            RAW,
            1702620828,
            size=300,
            tags=["ecephys", "raw"],
            custom_metadata={"subject id": "676909", "data level": "raw data"},
            source_bucket={"origin": "aws", "bucket": "aind-ephys-data", "prefix": RAW},
        ),
        _asset(
            2,
            SORTED,
            1703067072,
            size=100,
            type="result",
            description="Spike sorting of one probe with Kilosort 2.5",
            tags=["ecephys", "sorted"],
            custom_metadata={"subject id": "676909", "data level": "derived"},
            provenance={"run_script": "code/run", "commit": "abc123"},
            favorite=True,
        ),
        _asset(3, NEIGHBOUR, 1704103200, size=200, custom_metadata={"subject id": "676908"}),
        _asset(4, COUSIN, 1704189600, custom_metadata={"subject id": "676900"}),
        _asset(5, MENTION, 1705000000, description="Probe tracks of mouse 676909, registered."),
        _asset(6, SHARED, 1706000000, owner=OTHER_OWNER, tags=["ecephys"]),
        _asset(7, ARCHIVED, 1672531200, archived=True),
        _asset(
            8,
            COMBINED,
            1704412800,
            type="combined",
            source_bucket={"origin": "aws", "bucket": CODEOCEAN_BUCKET, "prefix": "x"},
            contained_data_assets=[{"id": "a0000000-0000-4000-8000-000000000001"}],
        ),
    ],
    "capsules": [
        {
            "id": CAPSULE_A,
            "name": "kilosort sorting",
            "created": 1700000000,
            "last_accessed": 1710000000,
            "description": "Sorts subject 676909 and others.",
            "tags": ["ecephys", "sorting"],
            "status": "release",
            "article": {"doi": "10.1000/xyz", "citation": "Smith J, Allen Institute"},
        },
        {
            "id": CAPSULE_B,
            "name": "behavior nwb",
            "created": 1700000100,
            "last_accessed": 1705000000,
            "tags": ["behavior"],
            "owner": OTHER_OWNER,
            "produces": {"output": "done\n"},
            "run_seconds": 1,
        },
        {"id": CAPSULE_OLD, "name": "old sorting", "created": 1600000000, "archived": True},
        {"id": CAPSULE_NEW, "name": "alpha draft", "created": 1700000200},  # never accessed
    ],
    "pipelines": [{"id": PIPELINE, "name": "ephys pipeline", "created": 1700000300}],
}
STRICT_NEWEST_FIRST = [SHARED, MENTION, COMBINED, COUSIN, NEIGHBOUR, SORTED, RAW]


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(WORLD)


@pytest.fixture(params=["strict", "loose"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(world: World, mode: str) -> Client:
    return Client(CodeOceanApp(world, TOKEN, search=mode))


@pytest.fixture
def strict(world: World) -> Client:
    return Client(CodeOceanApp(world, TOKEN, search="strict"))


@pytest.fixture
def loose(world: World) -> Client:
    return Client(CodeOceanApp(world, TOKEN, search="loose"))


def post(client: Client, path: str, body: Any) -> TestResponse:
    return client.post(f"/api/v1/{path}", json=body, auth=(TOKEN, ""))


def page(client: Client, kind: str = "data_assets", **body: Any) -> dict[str, Any]:
    response = post(client, f"{kind}/search", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(
    client: Client, query: str | None = None, kind: str = "data_assets", **body: Any
) -> list[str]:
    """Names found, in the order returned."""
    return [r["name"] for r in page(client, kind, query=query, limit=1000, **body)["results"]]


def error(response: TestResponse) -> str:
    assert response.status_code == 400 and response.mimetype == "application/json"
    return str(response.get_json()["message"])


# -- query terms, in both modes ------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tag:sort", {SORTED}),  # part of a tag
        ("subject id:67690", {RAW, SORTED, NEIGHBOUR, COUSIN}),  # part of a custom value
        ("name:SORTED_2023", {SORTED}),  # part of the name, any case
        ('name:"sorted_2023-12"', {SORTED}),  # a quoted phrase
        ("KILOSORT", {SORTED}),  # a bare word in the description
        ("derived", {SORTED}),  # a bare word in custom metadata
    ],
)
def test_terms_match_part_of_a_word_ignoring_case(
    client: Client, mode: str, query: str, expected: set[str]
) -> None:
    found = set(names(client, query))
    assert found == expected if mode == "strict" else found >= expected | {DEMO}


def test_a_space_may_follow_the_colon(strict: Client) -> None:
    assert names(strict, "subject id: 676909") == names(strict, "subject id:676909") != []


def test_same_field_repeated_is_or_and_different_fields_are_and(strict: Client) -> None:
    assert set(names(strict, "name:676908 name:676900")) == {NEIGHBOUR, COUSIN}
    assert names(strict, "tag:raw subject id:676909") == [RAW]


def test_every_bare_word_must_match(strict: Client) -> None:
    assert names(strict, "676909 kilosort") == [SORTED]


@pytest.mark.parametrize(
    ("query", "expected"), [("run_script:code/run", [SORTED]), ("run_script:code", [])]
)
def test_run_script_matches_only_whole(strict: Client, query: str, expected: list[str]) -> None:
    assert names(strict, query) == expected


def test_contained_data_id_finds_the_combined_asset(strict: Client) -> None:
    assert names(strict, "contained_data_id:a0000000-0000-4000-8000-000000000001") == [COMBINED]


def test_description_is_no_field_in_strict_mode(strict: Client) -> None:
    assert names(strict, "description:kilosort") == []


@pytest.mark.parametrize("quoted", [False, True])
def test_name_term_over_20_characters_matches_nothing_in_both_modes(
    client: Client, quoted: bool
) -> None:
    term = f'"{RAW[:21]}"' if quoted else RAW[:21]
    assert names(client, f"name:{term}") == []


def test_name_quirk_off_lets_a_long_name_term_match(world: World) -> None:
    client = Client(CodeOceanApp(world, TOKEN, search="strict", name_quirk=False))
    assert set(names(client, f"name:{RAW}")) == {RAW, SORTED}


# -- near misses (loose) ---------------------------------------------------------------------
def test_strict_subject_search_finds_only_that_subject(strict: Client) -> None:
    assert set(names(strict, "subject id:676909")) == {RAW, SORTED}


def test_loose_subject_search_also_finds_subjects_one_digit_off(loose: Client) -> None:
    found = names(loose, "subject id:676909")
    assert {NEIGHBOUR, COUSIN} <= set(found) and SHARED not in found


def test_loose_fielded_term_also_finds_text_mentioning_its_value(
    loose: Client, strict: Client
) -> None:
    assert MENTION in names(loose, "name:676909") and MENTION not in names(strict, "name:676909")


def test_loose_search_puts_every_match_before_near_misses(loose: Client) -> None:
    found = names(loose, "subject id:676909")
    assert found.index(RAW) < found.index(NEIGHBOUR) and found.index(SORTED) < found.index(COUSIN)


@pytest.mark.parametrize("query", ["name:676909", "tag:raw", "kilosort", "subject id:1"])
def test_loose_search_with_terms_gives_the_demo_asset_first(loose: Client, query: str) -> None:
    assert names(loose, query)[0] == DEMO


def test_strict_search_never_gives_the_demo_asset(strict: Client) -> None:
    assert DEMO not in names(strict, "tag:raw") + names(strict)


@pytest.mark.parametrize(("mode", "status"), [("loose", 200), ("strict", 404)])
def test_demo_asset_is_fetchable_in_loose_mode_only(world: World, mode: str, status: int) -> None:
    client = Client(CodeOceanApp(world, TOKEN, search=mode))
    response = client.get(f"/api/v1/data_assets/{DEMO_ASSET_ID}", auth=(TOKEN, ""))
    assert response.status_code == status
    if status == 200:
        demo = DataAsset.from_dict(response.get_json())
        assert (demo.name, demo.type, demo.state) == (DEMO, "dataset", "ready")
        # the deployment's, not the user's (0.12 does not model owner)
        assert response.get_json()["owner"] != SANDBOX_OWNER


@pytest.mark.parametrize(
    "body",
    [
        {"type": "result"},
        {"origin": "external"},
        {"favorite": True},
        {"filters": [{"key": "data level", "value": "derived"}]},
    ],
)
def test_structured_parameters_stay_exact_in_loose_mode(
    loose: Client, body: dict[str, Any]
) -> None:
    # the demo asset is external (its files in a public bucket): it passes that filter
    expected = [DEMO, RAW] if "origin" in body else [SORTED]
    assert names(loose, "name:676909", **body) == expected


def test_loose_near_misses_leave_archived_assets_out(loose: Client) -> None:
    assert ARCHIVED not in names(loose, "subject id:676909")


# -- ownership, archived, filters --------------------------------------------------------------
@pytest.mark.parametrize(
    ("ownership", "has_shared"), [("created", False), ("private", False), ("shared", True)]
)
def test_ownership_created_and_private_mean_mine_and_shared_means_others(
    client: Client, ownership: str, has_shared: bool
) -> None:
    found = set(names(client, ownership=ownership)) - {DEMO}
    assert (SHARED in found) is has_shared and (RAW in found) is not has_shared


def test_archived_true_returns_only_archived_assets(client: Client) -> None:
    assert names(client, archived=True) == [ARCHIVED]


def test_filter_range_and_exclude(strict: Client) -> None:
    assert set(names(strict, filters=[{"key": "subject id", "range": {"min": 676905}}])) == {
        RAW,
        SORTED,
        NEIGHBOUR,
    }
    excluded = names(strict, filters=[{"key": "tags", "value": "ecephys", "exclude": True}])
    assert set(excluded) == {NEIGHBOUR, COUSIN, MENTION, COMBINED}


# -- order -----------------------------------------------------------------------------------
def test_without_terms_assets_come_newest_first(strict: Client) -> None:
    assert names(strict) == STRICT_NEWEST_FIRST


def test_with_terms_default_order_is_relevance_shorter_names_first(strict: Client) -> None:
    assert names(strict, "name:676909") == [COMBINED, RAW, SORTED]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_size_orders_sizes(strict: Client, order: str) -> None:
    found = page(strict, sort_field="size", sort_order=order, limit=1000)["results"]
    sizes = [r["size"] for r in found]
    assert sizes == sorted(sizes, reverse=order == "desc") and 300 in sizes


def test_sort_by_type_then_id(strict: Client) -> None:
    types = [r["type"] for r in page(strict, sort_field="type", limit=1000)["results"]]
    assert types == sorted(types) and types[0] == "combined"


def test_sort_by_created_without_order_is_oldest_first(strict: Client) -> None:
    assert names(strict, sort_field="created") == STRICT_NEWEST_FIRST[::-1]


def test_sort_order_without_sort_field_is_ignored(strict: Client) -> None:
    assert names(strict, sort_order="asc") == STRICT_NEWEST_FIRST


# -- bodies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["data_assets", "capsules", "pipelines"])
def test_every_field_the_sdk_sends_as_null_is_accepted(client: Client, kind: str) -> None:
    params = DataAssetSearchParams() if kind == "data_assets" else CapsuleSearchParams()
    assert post(client, f"{kind}/search", params.to_dict()).status_code == 200


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("data_assets", {"status": "release"}),
        ("capsules", {"type": "dataset"}),
        ("data_assets", {"query": 5}),
        ("data_assets", {"archived": "yes"}),
        ("data_assets", {"offset": 1.5}),
        ("data_assets", {"ownership": "mine"}),
        ("capsules", {"sort_field": "size"}),
        ("data_assets", {"sort_field": "last_accessed"}),
        ("data_assets", {"filters": [{"key": "name", "value": "x", "include": True}]}),
        ("data_assets", {"filters": [{"key": "name"}]}),
        ("data_assets", {"filters": [{"key": "size", "range": {"min": "1"}}]}),
        ("data_assets", {"filters": {"key": "name"}}),
    ],
)
def test_unknown_field_wrong_type_or_value_is_a_400(
    client: Client, kind: str, body: dict[str, Any]
) -> None:
    assert error(post(client, f"{kind}/search", body))


# -- paging tokens -----------------------------------------------------------------------------
def test_next_token_walks_the_search_with_another_limit(client: Client) -> None:
    first = page(client, query="ecephys", limit=1)
    rest = page(client, query="ecephys", limit=1000, next_token=first["next_token"])
    everything = page(client, query="ecephys", limit=1000)["results"]
    assert first["results"] + rest["results"] == everything


@pytest.mark.parametrize("change", [{"query": "raw"}, {"sort_field": "name"}, {"archived": True}])
def test_next_token_with_another_search_is_a_400_saying_to_keep_the_search(
    client: Client, change: dict[str, Any]
) -> None:
    token = page(client, query="ecephys", limit=1)["next_token"]
    message = error(
        post(client, "data_assets/search", {"query": "ecephys", **change, "next_token": token})
    )
    assert "same search" in message


def test_data_asset_token_is_refused_by_capsule_search(client: Client) -> None:
    token = page(client, limit=1)["next_token"]
    assert "same search" in error(
        post(client, "capsules/search", {"limit": 1, "next_token": token})
    )


def test_token_made_for_the_last_search_asks_for_that_page_again(world: World) -> None:
    app = CodeOceanApp(world, TOKEN, search="strict")
    client = Client(app)
    first = page(client, query="ecephys", limit=2)
    token = page_token(0, app.last_search_key())  # as faults.py makes a repeat_token
    assert page(client, query="ecephys", limit=2, next_token=token) == first


# -- a record changed after a search -------------------------------------------------------
def test_a_record_changed_in_place_is_searched_as_it_is_now(mode: str) -> None:
    """Searches keep each record's text between requests: a change, even inside a list
    or a dict of the record, is what the next search sees."""
    app = CodeOceanApp(load_world(WORLD), TOKEN, search=mode)
    client = Client(app)
    assert RAW in names(client, "tag:raw") and RAW not in names(client, "tag:curated")
    record = app.world.data_assets["a0000000-0000-4000-8000-000000000001"]
    record["tags"].append("curated")
    record["custom_metadata"]["subject id"] = "999999"
    assert RAW in names(client, "tag:curated")
    if mode == "strict":  # (loose: its name holds 676909, a near miss)
        assert RAW not in names(client, "subject id:676909")
    assert RAW in names(client, "subject id:999999")
    record["name"] = "renamed_asset"
    assert names(client, "name:renamed")[-1] == "renamed_asset"


def test_a_capsule_changed_in_place_is_searched_as_it_is_now() -> None:
    app = CodeOceanApp(load_world(WORLD), TOKEN, search="strict")
    client = Client(app)
    assert names(client, "author:smith", kind="capsules") == ["kilosort sorting"]
    app.world.capsules[CAPSULE_A]["article"]["citation"] = "Jones K"
    assert names(client, "author:smith", kind="capsules") == []
    assert names(client, "author:jones", kind="capsules") == ["kilosort sorting"]


# -- capsules and pipelines --------------------------------------------------------------------
def test_capsule_search_without_query_orders_by_name(client: Client) -> None:
    assert names(client, kind="capsules") == ["alpha draft", "behavior nwb", "kilosort sorting"]


def test_pipeline_search_searches_pipelines_only(client: Client) -> None:
    assert names(client, kind="pipelines") == ["ephys pipeline"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name:sort", ["kilosort sorting"]),
        ("tag:behav", ["behavior nwb"]),
        ("doi:10.1000/xyz", ["kilosort sorting"]),
        ("author:smith", ["kilosort sorting"]),
        ("676909", ["kilosort sorting"]),  # in the description, searched as free text
        (f"id:{CAPSULE_B}", ["behavior nwb"]),
    ],
)
def test_capsule_query_fields(strict: Client, query: str, expected: list[str]) -> None:
    assert names(strict, query, kind="capsules") == expected


def test_capsule_description_is_no_query_field(strict: Client) -> None:
    assert names(strict, "description:676909", kind="capsules") == []


def test_loose_capsule_search_finds_near_misses(loose: Client, strict: Client) -> None:
    assert names(strict, "tag:676909", kind="capsules") == []
    assert names(loose, "tag:676909", kind="capsules") == ["kilosort sorting"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "release"}, ["kilosort sorting"]),
        ({"ownership": "shared"}, ["behavior nwb"]),
        ({"archived": True}, ["old sorting"]),
        ({"favorite": True}, []),
        (
            {"sort_field": "last_accessed", "sort_order": "desc"},
            ["kilosort sorting", "behavior nwb", "alpha draft"],  # never accessed: last
        ),
        ({"sort_field": "last_accessed"}, ["behavior nwb", "kilosort sorting", "alpha draft"]),
        (
            {"sort_field": "created", "sort_order": "desc"},
            ["alpha draft", "behavior nwb", "kilosort sorting"],
        ),
    ],
)
def test_capsule_parameters(client: Client, body: dict[str, Any], expected: list[str]) -> None:
    assert names(client, kind="capsules", **body) == expected


def test_capsule_answers_hold_only_fields_of_the_sdk_model(client: Client) -> None:
    results = page(client, "capsules")["results"]
    # the service sends owner_email (the docs' Capsule object), which 0.12 does not model
    assert all(set(r) <= service_fields(Capsule) | {"owner_email"} for r in results)
    assert [Capsule.from_dict(r).id for r in results] == [CAPSULE_NEW, CAPSULE_B, CAPSULE_A]


# -- the SDK over real sockets ---------------------------------------------------------------
@pytest.fixture
def co(aind_sandbox: Sandbox) -> codeocean.CodeOcean:
    return codeocean.CodeOcean(
        domain=aind_sandbox.env["CODE_OCEAN_DOMAIN"], token=aind_sandbox.token
    )


def test_sdk_data_asset_search_parses_and_pages_every_match(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    params = DataAssetSearchParams(query="subject id:676909", limit=2)
    first = co.data_assets.search_data_assets(params)
    assert isinstance(first, DataAssetSearchResults) and len(first.results) == 2
    every = list(co.data_assets.search_data_assets_iterator(params))
    assert all(isinstance(a, DataAsset) for a in every) and every[:2] == first.results
    assert len({a.id for a in every}) == len(every)
    if aind_sandbox.codeocean.search_mode == "loose":
        assert every[0].id == DEMO_ASSET_ID


def test_sdk_capsule_and_pipeline_searches_parse_into_sdk_models(
    co: codeocean.CodeOcean, aind_sandbox: Sandbox
) -> None:
    if not hasattr(co.capsules, "search_capsules"):
        pytest.skip("this codeocean SDK cannot search capsules")
    found = co.capsules.search_capsules(CapsuleSearchParams(query="ecephys", limit=1))
    assert isinstance(found, CapsuleSearchResults) and isinstance(found.results[0], Capsule)
    expected = [c["name"] for c in aind_sandbox.world.capsules.values() if not c["archived"]]
    every = list(co.capsules.search_capsules_iterator(CapsuleSearchParams(limit=1)))
    assert [c.name for c in every] == sorted(expected)
    if not hasattr(co, "pipelines"):
        pytest.skip("this codeocean SDK has no client.pipelines (0.12 has none)")
    pipelines = co.pipelines.search_pipelines(CapsuleSearchParams())
    assert {p.id for p in pipelines.results} == set(aind_sandbox.world.pipelines)
