"""The sandbox's DocDB API, seen at the wire: routes, MongoDB semantics, errors, the
request log, latency, and each fault kind.

Plain ``requests`` against ``sandbox.docdb_url``, with the parameters encoded as the
official client (``aind-data-access-api``) encodes them; a small world of its own
with v1 and v2 records is loaded into the session sandbox for each test.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from aind_session.testing import FAULT_KINDS, Faults, Sandbox, WorldError, load_world

V2 = "metadata_index_v2/data_assets"
V1 = "metadata_index/data_assets"


def record(_id: str, name: str, subject: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "_id": _id,
        "name": name,
        "created": created,
        "location": f"s3://aind-open-data/{name}",
        "subject": {"subject_id": subject},
        **extra,
    }


WORLD: dict[str, Any] = {
    "docdb": {
        V2: [
            record("a1", "ecephys_676909_2023-12-13_13-43-40", "676909", "2023-12-13T21:43:40Z"),
            record("a2", "ecephys_676909_2023-12-14_13-00-00", "676909", "2023-12-14T21:00:00Z"),
            record("a3", "behavior_700000_2024-01-02_10-00-00", "700000", "2024-01-02T18:00:00Z"),
            record(
                "a4",
                "ecephys_676909_2023-12-13_13-43-40_sorted_2024-01-01_00-00-00",
                "676909",
                "2024-01-01T08:00:00Z",
                data_level="derived",
            ),
        ],
        V1: [
            record("b1", "ecephys_600000_2022-05-05_12-00-00", "600000", "2022-05-05T19:00:00Z"),
        ],
    }
}


@pytest.fixture
def sb(aind_sandbox: Sandbox) -> Any:
    aind_sandbox.load(WORLD)
    yield aind_sandbox
    aind_sandbox.reset()


def url(sb: Sandbox, action: str, collection: str = V2) -> str:
    return f"{sb.docdb_url}/v1/{collection}/{action}"


def find(sb: Sandbox, collection: str = V2, limit: int = 0, skip: int = 0, **params: Any):
    """``Client._find_records``: JSON-encoded filter/projection/sort, limit and skip as text."""
    query = {"limit": str(limit), "skip": str(skip)}
    query.update({k: json.dumps(v) for k, v in params.items()})
    return requests.get(url(sb, "find", collection), params=query, timeout=10)


def count(sb: Sandbox, collection: str = V2, filter: Any = None) -> requests.Response:
    params = None if filter is None else {"filter": json.dumps(filter)}
    return requests.get(url(sb, "count_documents", collection), params=params, timeout=10)


def aggregate(sb: Sandbox, pipeline: Any, collection: str = V2) -> requests.Response:
    return requests.post(url(sb, "aggregate", collection), json=pipeline, timeout=10)


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["_id"] for r in response.json()]


# -- find ----------------------------------------------------------------------------------
def test_find_answers_every_record_as_a_json_list(sb: Sandbox) -> None:
    response = find(sb)
    assert response.headers["Content-Type"] == "application/json"
    assert sorted(ids(response)) == ["a1", "a2", "a3", "a4"]
    assert response.json()[0] == WORLD["docdb"][V2][0]


def test_find_filters_on_nested_fields_with_mongodb_operators(sb: Sandbox) -> None:
    flt = {
        "subject.subject_id": "676909",
        "name": {"$regex": "^ecephys_\\d+_\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}$"},
    }
    assert sorted(ids(find(sb, filter=flt))) == ["a1", "a2"]
    assert ids(find(sb, filter={"data_level": {"$exists": True}})) == ["a4"]


def test_find_projects_the_fields_asked_for_and_the_id(sb: Sandbox) -> None:
    answer = find(sb, filter={"_id": "a1"}, projection={"name": 1, "subject.subject_id": 1}).json()
    assert answer == [
        {"_id": "a1", "name": WORLD["docdb"][V2][0]["name"], "subject": {"subject_id": "676909"}}
    ]


def test_find_sorts_then_skips_then_limits(sb: Sandbox) -> None:
    assert ids(find(sb, sort={"created": -1})) == ["a3", "a4", "a2", "a1"]
    assert ids(find(sb, sort={"created": -1}, skip=1, limit=2)) == ["a4", "a2"]
    assert ids(find(sb, sort={"subject.subject_id": 1, "created": -1}, limit=3)) == [
        "a4",
        "a2",
        "a1",
    ]


def test_v1_and_v2_collections_hold_their_own_records(sb: Sandbox) -> None:
    assert ids(find(sb, V1)) == ["b1"]
    assert "b1" not in ids(find(sb, V2))


def test_find_pages_when_records_exceed_the_payload_limit(sb: Sandbox) -> None:
    one = len(json.dumps(WORLD["docdb"][V2][0]))
    sb.docdb.max_page_bytes = 2 * one + 10
    pages, skip = [], 0
    while True:  # Client.retrieve_docdb_records: skip += len(page) until a page is empty
        page = ids(find(sb, sort={"_id": 1}, skip=skip))
        if not page:
            break
        pages.append(page)
        skip += len(page)
    assert [i for p in pages for i in p] == ["a1", "a2", "a3", "a4"]
    assert max(len(p) for p in pages) < 4


def test_a_page_holds_one_record_even_when_it_is_bigger_than_the_limit(sb: Sandbox) -> None:
    sb.docdb.max_page_bytes = 10
    assert ids(find(sb, sort={"_id": 1})) == ["a1"]


def test_reset_restores_the_payload_limit(sb: Sandbox) -> None:
    sb.docdb.max_page_bytes = 10
    sb.reset()
    sb.load(WORLD)
    assert len(ids(find(sb))) == 4


# -- count_documents and aggregate -----------------------------------------------------------
def test_an_answer_given_again_follows_a_new_world_and_a_new_payload_limit(sb: Sandbox) -> None:
    """Answers are kept by what was asked, so asking again is quick; loading another
    world or changing the payload limit is seen at once."""
    wanted = {"filter": {"subject.subject_id": "676909"}}
    names = [r["name"] for r in find(sb, V2, **wanted).json()]
    assert len(names) == 3 and [r["name"] for r in find(sb, V2, **wanted).json()] == names
    limit = sb.docdb.max_page_bytes
    sb.docdb.max_page_bytes = 100  # one record a page
    assert len(find(sb, V2, **wanted).json()) == 1
    sb.docdb.max_page_bytes = limit
    other = {"docdb": {V2: [record("z1", "ecephys_676909_2024-05-05_10-00-00", "676909", "x")]}}
    sb.load(other)
    assert [r["name"] for r in find(sb, V2, **wanted).json()] == [
        "ecephys_676909_2024-05-05_10-00-00"
    ]


def test_an_answer_worked_out_while_another_world_is_loaded_is_not_kept(sb: Sandbox) -> None:
    app = sb.docdb
    real = app._answer
    other = load_world(
        {"docdb": {V2: [record("z1", "ecephys_676909_2024-05-05_10-00-00", "676909", "x")]}}
    )

    def load_meanwhile(*args: Any) -> bytes:
        answer = real(*args)
        app.load(other)  # a reset or a load while this request is being answered
        return answer

    query = "filter=" + json.dumps({"subject.subject_id": "676909"})
    path = f"/v1/{V2}/find"
    app._answer = load_meanwhile  # type: ignore[method-assign]
    try:
        status, first = app.answer("GET", path, query)
    finally:
        del app._answer
    assert status == 200 and len(json.loads(first)) == 3  # the world it was asked in
    status, again = app.answer("GET", path, query)
    assert [r["name"] for r in json.loads(again)] == ["ecephys_676909_2024-05-05_10-00-00"]


def test_count_documents_answers_the_total_and_the_filtered_counts(sb: Sandbox) -> None:
    assert count(sb).json() == {"total_record_count": 4, "filtered_record_count": 4}
    assert count(sb, filter={"subject.subject_id": "676909"}).json() == {
        "total_record_count": 4,
        "filtered_record_count": 3,
    }


def test_aggregate_runs_match_group_and_project(sb: Sandbox) -> None:
    pipeline = [
        {"$match": {"name": {"$regex": "^ecephys_"}}},
        {"$group": {"_id": "$subject.subject_id", "n": {"$sum": 1}, "first": {"$min": "$created"}}},
        {"$project": {"_id": 0, "subject_id": "$_id", "n": 1, "first": 1}},
        {"$sort": {"subject_id": 1}},
    ]
    response = aggregate(sb, pipeline)
    assert response.status_code == 200
    assert response.json() == [{"n": 3, "first": "2023-12-13T21:43:40Z", "subject_id": "676909"}]


def test_aggregate_over_a_large_answer_is_a_413(sb: Sandbox) -> None:
    sb.docdb.max_page_bytes = 100
    assert aggregate(sb, [{"$match": {}}]).status_code == 413


# -- what the real API refuses -------------------------------------------------------------
def test_an_unknown_collection_or_database_is_empty(sb: Sandbox) -> None:
    for collection in ("metadata_index_v2/nothing_here", "no_such_db/data_assets"):
        assert find(sb, collection).json() == []
        assert count(sb, collection).json() == {
            "total_record_count": 0,
            "filtered_record_count": 0,
        }
        assert aggregate(sb, [{"$match": {}}], collection).json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/metadata_index_v2/data_assets/search"),
        ("GET", "/v1/metadata_index_v2/find"),
        ("POST", "/v1/metadata_index_v2/data_assets/find"),
        ("GET", "/v1/metadata_index_v2/data_assets/aggregate"),
        ("GET", "/v2/metadata_index_v2/data_assets/find"),
    ],
)
def test_a_path_that_is_no_route_is_a_404(sb: Sandbox, method: str, path: str) -> None:
    response = requests.request(method, sb.docdb_url + path, timeout=10)
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "{'_id': 'a1'}"},  # Python's repr, not JSON
        {"filter": '{"_id": '},
        {"filter": '["a1"]'},
        {"projection": "name"},
        {"sort": '[["created", -1]]'},
        {"sort": '{"created": 2}'},
        {"filter": '{"name": {"$regexx": "x"}}'},
        {"filter": '{"$bogus": 1}'},
        {"projection": '{"name": 1, "created": 0}'},
        {"limit": "ten"},
        {"skip": "-1"},
    ],
)
def test_a_bad_find_parameter_is_a_400_with_a_message(sb: Sandbox, params: dict[str, str]) -> None:
    response = requests.get(url(sb, "find"), params=params, timeout=10)
    assert response.status_code == 400
    assert response.json()["message"]


def test_a_bad_count_filter_is_a_400(sb: Sandbox) -> None:
    response = requests.get(url(sb, "count_documents"), params={"filter": "{"}, timeout=10)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "pipeline",
    [
        [{"$match_invalid": {"_id": "a1"}}],  # the client's own test: answered 400
        {"$match": {}},
        [["$match", {}]],
        [{"$out": "copy"}],
        [{"$match": {}}, {"$merge": {"into": "copy"}}],
    ],
)
def test_a_bad_or_writing_pipeline_is_a_400(sb: Sandbox, pipeline: Any) -> None:
    assert aggregate(sb, pipeline).status_code == 400


def test_a_pipeline_that_is_not_json_is_a_400(sb: Sandbox) -> None:
    response = requests.post(url(sb, "aggregate"), data=b"[{", timeout=10)
    assert response.status_code == 400


def test_what_mongomock_cannot_do_is_a_501_naming_it(sb: Sandbox) -> None:
    response = find(sb, filter={"$where": "this.name"})
    assert response.status_code == 501
    assert "mongomock" in response.json()["message"]


def test_no_sign_in_is_needed(sb: Sandbox) -> None:
    assert "Authorization" not in find(sb).request.headers
    assert find(sb).status_code == 200


# -- the sandbox around it -------------------------------------------------------------------
def test_the_sandbox_exports_the_docdb_url(sb: Sandbox) -> None:
    assert sb.env["AIND_SESSION_DOCDB_URL"] == sb.docdb_url
    assert sb.docdb_url.startswith("http://127.0.0.1:")


def test_requests_are_logged_with_service_docdb(sb: Sandbox) -> None:
    find(sb, filter={"_id": "a1"}, limit=1)
    aggregate(sb, [{"$match": {}}])
    count(sb)
    logged = [(r.service, r.method, r.path, r.status) for r in sb.requests("docdb")]
    assert logged == [
        ("docdb", "GET", f"/v1/{V2}/find", 200),
        ("docdb", "POST", f"/v1/{V2}/aggregate", 200),
        ("docdb", "GET", f"/v1/{V2}/count_documents", 200),
    ]
    assert "filter=" in sb.requests("docdb")[0].query
    assert sb.requests("codeocean") == []
    assert sb.round_trips("docdb") == 3


def test_latency_applies_to_docdb(sb: Sandbox) -> None:
    sb.latency = 0.2
    started = time.monotonic()
    assert find(sb).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_reset_serves_the_world_the_sandbox_started_with(sb: Sandbox) -> None:
    sb.reset()
    started_with = [r["_id"] for r in sb.world.docdb.get(V2, [])]
    assert sorted(ids(find(sb))) == sorted(started_with)


# -- faults -------------------------------------------------------------------------------------
def faults_logged(sb: Sandbox) -> list[tuple[int, str | None]]:
    return [(r.status, r.fault) for r in sb.requests("docdb")]


def raw_find(sb: Sandbox) -> http.client.HTTPResponse:
    parts = urlsplit(sb.docdb_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("GET", f"/v1/{V2}/find?limit=0&skip=0")
    return conn.getresponse()


def test_every_fault_kind_is_covered_below() -> None:
    assert set(FAULT_KINDS) == {
        *("429", "500", "503", "drop", "stall", "trickle", "truncated", "cut"),
        *("badjson", "html", "shape", "repeat_token", "missing_token", "bogus_token"),
    }


def test_faults_apply_to_docdb_by_default() -> None:
    assert "docdb" in Faults().services


def test_faults_for_other_services_leave_docdb_alone(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("500",), services=("codeocean", "s3"))
    assert find(sb).status_code == 200
    assert faults_logged(sb) == [(200, None)]


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_status_fault_answers_that_status_as_json(sb: Sandbox, kind: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=(kind,), retry_after=7, services=("docdb",))
    response = find(sb)
    assert response.status_code == int(kind)
    assert "message" in response.json()
    if kind != "500":
        assert response.headers["Retry-After"] == "7"
    assert faults_logged(sb) == [(int(kind), kind)]


def test_drop_closes_the_connection_without_an_answer(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("drop",), services=("docdb",))
    with pytest.raises(requests.exceptions.ConnectionError):
        find(sb)
    assert faults_logged(sb) == [(0, "drop")]


def test_stall_outlasts_a_client_read_timeout(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("stall",), stall_seconds=0.5, services=("docdb",))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url(sb, "count_documents"), timeout=(5, 0.2))
    assert faults_logged(sb) == [(0, "stall")]


def test_trickle_sends_the_true_answer_a_byte_at_a_time(sb: Sandbox) -> None:
    true = count(sb).content
    sb.clear_requests()
    sb.faults = Faults(rate=1.0, kinds=("trickle",), trickle_interval=0.005, services=("docdb",))
    started = time.monotonic()
    assert count(sb).content == true
    assert time.monotonic() - started >= 0.005 * len(true)
    assert faults_logged(sb) == [(200, "trickle")]


def test_truncated_sends_half_the_body_as_a_complete_200(sb: Sandbox) -> None:
    true = find(sb).content
    sb.faults = Faults(rate=1.0, kinds=("truncated",), services=("docdb",))
    response = find(sb)
    assert (response.status_code, response.content) == (200, true[: len(true) // 2])


def test_cut_declares_the_whole_body_and_sends_half(sb: Sandbox) -> None:
    true = find(sb).content
    sb.faults = Faults(rate=1.0, kinds=("cut",), services=("docdb",))
    answer = raw_find(sb)
    assert answer.status == 200 and int(answer.headers["Content-Length"]) == len(true)
    with pytest.raises(http.client.IncompleteRead):
        answer.read()


def test_badjson_sends_a_200_that_does_not_parse(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("badjson",), services=("docdb",))
    response = count(sb)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_html_sends_a_page_with_the_status_asked(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("html",), html_status=502, services=("docdb",))
    response = aggregate(sb, [{"$match": {}}])
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")


def test_shape_sends_valid_json_of_the_wrong_shape(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("shape",), services=("docdb",))
    assert find(sb).json() == {"message": "upstream request timeout"}  # an object, not a list
    assert isinstance(count(sb).json(), list)  # a list, not the counts object


def test_repeat_token_answers_the_first_page_again(sb: Sandbox) -> None:
    first = ids(find(sb, sort={"_id": 1}, limit=2))
    sb.faults = Faults(rate=1.0, kinds=("repeat_token",), services=("docdb",))
    assert ids(find(sb, sort={"_id": 1}, limit=2, skip=2)) == first
    assert faults_logged(sb)[-1] == (200, "repeat_token")


def test_repeat_token_leaves_a_first_page_as_it_is(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("repeat_token",), services=("docdb",))
    assert ids(find(sb, sort={"_id": 1}, limit=2)) == ["a1", "a2"]
    assert faults_logged(sb) == [(200, None)]  # nothing to spoil: not counted as a fault


def test_missing_token_ends_the_listing_early(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("missing_token",), services=("docdb",))
    assert find(sb, sort={"_id": 1}, limit=2, skip=2).json() == []
    assert count(sb).json()["filtered_record_count"] == 4  # not a page: left alone
    assert faults_logged(sb) == [(200, "missing_token"), (200, None)]


def test_paged_faults_leave_a_first_page_alone(sb: Sandbox) -> None:
    # no "more" marker in DocDB's pages: an empty or refused first page is the
    # API's own "none" or error, which no client can tell from a fault
    for kind in ("missing_token", "bogus_token"):
        sb.faults = Faults(rate=1.0, kinds=(kind,), services=("docdb",))
        assert ids(find(sb, sort={"_id": 1}, limit=2)) == ["a1", "a2"]


def test_bogus_token_refuses_the_page_with_a_400(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("bogus_token",), services=("docdb",))
    response = find(sb, skip=2)
    assert response.status_code == 400 and "skip" in response.json()["message"]
    assert faults_logged(sb) == [(400, "bogus_token")]


def test_paged_faults_apply_to_find_only(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("bogus_token",), services=("docdb",))
    assert count(sb).status_code == 200
    assert aggregate(sb, [{"$match": {}}]).status_code == 200


# -- the world file -------------------------------------------------------------------------
def test_the_world_loads_docdb_records_by_collection() -> None:
    world = load_world(WORLD)
    assert sorted(world.docdb) == [V1, V2]
    assert world.copy().docdb == world.docdb
    assert load_world({}).docdb == {}


@pytest.mark.parametrize(
    ("docdb", "problem"),
    [
        ([], "must be an object"),
        ({"metadata_index": []}, "database/collection"),
        ({"a/b/c": []}, "database/collection"),
        ({"/data_assets": []}, "database/collection"),
        ({V2: {"_id": "x"}}, "must be a list"),
        ({V2: ["x"]}, "must be an object"),
        ({V2: [{"name": "x"}]}, "text '_id'"),
        ({V2: [{"_id": 3}]}, "text '_id'"),
        ({V2: [{"_id": "x"}, {"_id": "x"}]}, "repeats _id 'x'"),
    ],
)
def test_a_malformed_docdb_world_is_refused(docdb: Any, problem: str) -> None:
    with pytest.raises(WorldError, match=problem):
        load_world({"docdb": docdb})


def test_the_same_id_may_be_in_two_collections() -> None:
    world = load_world({"docdb": {V1: [{"_id": "x"}], V2: [{"_id": "x"}]}})
    assert [len(v) for v in world.docdb.values()] == [1, 1]
