"""The DocDB layer against the sandbox's DocDB: records by name (one query for
many), a subject's records, links to CodeOcean, and faults."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from aind_session import batch, docdb, docdb_api, errors, linked
from aind_session.testing import Sandbox
from aind_session.testing.faults import Faults

V2 = "metadata_index_v2/data_assets"
V1 = "metadata_index/data_assets"
NEW = "780345_2025-02-20_00-00-00"
OLD = "ecephys_676909_2023-12-13_13-43-40"


def _world(**collections: list[dict[str, Any]]) -> dict[str, Any]:
    world = json.loads(
        resources.files("aind_session.testing").joinpath("sample_world.json").read_text("utf-8")
    )
    world["docdb"] = {
        V2: [
            {
                "_id": "v2-new",
                "name": NEW,
                "location": f"s3://aind-private-data-prod-o5171v/{NEW}",
                "subject": {"subject_id": "780345"},
                "other_identifiers": {"Code Ocean": ["16d46411-540a-4122-b47f-8cb2a15d593a"]},
            },
        ],
        V1: [
            {
                "_id": "v1-old",
                "name": OLD,
                "location": f"s3://aind-ephys-data/{OLD}",
                "subject": {"subject_id": "676909"},
                "external_links": [{"Code Ocean": "16d46411-540a-4122-b47f-8cb2a15d593a"}],
            },
            {"_id": "v1-new", "name": NEW, "subject": {"subject_id": "780345"}},
        ],
    }
    world["docdb"].update(collections)
    return world


@pytest.fixture
def sandbox(aind_sandbox: Sandbox) -> Sandbox:
    aind_sandbox.load(_world())
    return aind_sandbox


def test_a_record_is_found_in_the_newest_collection_first_in_one_request(
    sandbox: Sandbox,
) -> None:
    found = docdb.record(NEW)
    assert found is not None and found["_id"] == "v2-new"
    assert len(sandbox.requests("docdb")) == 1


def test_a_record_missing_from_v2_comes_from_v1(sandbox: Sandbox) -> None:
    found = docdb.record(OLD)
    assert found is not None and found["_id"] == "v1-old"
    assert len(sandbox.requests("docdb")) == 2


def test_no_record_is_none_and_kept_like_an_empty_search(sandbox: Sandbox) -> None:
    import aind_session

    assert docdb.record("no-such-session") is None
    asked = len(sandbox.requests("docdb"))
    # kept for the cache's time-to-live, as CodeOcean's empty searches are ...
    assert docdb.record("no-such-session") is None
    batch.gather([lambda: docdb.record("no-such-session")] * 3)
    assert len(sandbox.requests("docdb")) == asked
    # ... and asked again once the cache is cleared (it may have been indexed since)
    aind_session.clear_cache()
    assert docdb.record("no-such-session") is None
    assert len(sandbox.requests("docdb")) == 2 * asked


def test_many_names_are_asked_in_queries_the_gateway_takes(sandbox: Sandbox) -> None:
    names = [f"ecephys_{700000 + i}_2024-01-01_00-00-00" for i in range(250)]
    found = batch.gather([lambda n=n: docdb.record(n) for n in names])
    assert found == [None] * 250
    asked = sandbox.requests("docdb")
    assert len(asked) == 6  # three queries of at most 100 names, per collection
    assert all(r.status == 200 for r in asked)


def test_the_sandbox_refuses_a_request_line_the_gateway_would(sandbox: Sandbox) -> None:
    import requests

    names = json.dumps({"name": {"$in": [f"n{i:05}" for i in range(2000)]}})
    answer = requests.get(f"{sandbox.docdb_url}/v1/{V2}/find", params={"filter": names}, timeout=10)
    assert answer.status_code == 414


def test_the_disk_cache_never_answers_for_another_docdb(
    sandbox: Sandbox, aind_settings: Any, cache_dir: Any
) -> None:
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(cache_dir))
    assert docdb.record(NEW)["_id"] == "v2-new"
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(cache_dir), AIND_SESSION_DOCDB_COLLECTIONS=V1)
    assert docdb.record(NEW)["_id"] == "v1-new"
    aind_settings.set(
        AIND_SESSION_CACHE_DIR=str(cache_dir), AIND_SESSION_DOCDB_URL="http://127.0.0.1:9"
    )
    with pytest.raises(errors.ServiceError):
        docdb.record(NEW)


def test_many_sessions_records_are_one_query_per_collection(sandbox: Sandbox) -> None:
    sandbox.latency = 0.2
    names = [NEW, OLD, "no-such-session"]
    found = batch.gather([lambda n=n: docdb.record(n) for n in names])
    assert [f and f["_id"] for f in found] == ["v2-new", "v1-old", None]
    assert len(sandbox.requests("docdb")) == 2  # v2 for all three, v1 for the two it lacks
    assert sandbox.requests("docdb")[0].query.count("%24in") == 1


def test_a_subjects_records_come_from_both_collections_the_newest_winning(
    sandbox: Sandbox,
) -> None:
    records = docdb.subject_records("780345")
    assert [r["_id"] for r in records] == ["v2-new"]
    assert [r["_id"] for r in docdb.subject_records("676909")] == ["v1-old"]


@pytest.fixture
def cut_pages(aind_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """30 records of subject 1 in the v2 collection, served by a gateway cutting
    pages at 600 bytes, to a client knowing that a page of under half that is
    not a cut one (as 5 MB is to the real gateway's 10 MB)."""
    many = [
        {"_id": f"r{i:03}", "name": f"n{i:03}", "subject": {"subject_id": "1"}} for i in range(30)
    ]
    aind_sandbox.load(_world(**{V2: many}))
    aind_sandbox.docdb.max_page_bytes = 600
    monkeypatch.setattr(docdb_api, "FULL_PAGE_BYTES", 300)
    return many


def test_pages_are_followed_until_the_last(
    aind_sandbox: Sandbox, cut_pages: list[dict[str, Any]]
) -> None:
    records = docdb.find(V2, {"subject.subject_id": "1"})
    assert sorted(r["_id"] for r in records) == [r["_id"] for r in cut_pages]
    assert len(aind_sandbox.requests("docdb")) > 2


@pytest.mark.parametrize(
    "kind", ["500", "503", "429", "drop", "badjson", "html", "cut", "truncated"]
)
def test_a_fault_is_retried_and_the_answer_is_right(
    sandbox: Sandbox, kind: str, fast_backoff: Any
) -> None:
    sandbox.faults = Faults(rate=1.0, kinds=(kind,), retry_after=0, limit=2, services=("docdb",))
    found = docdb.record(NEW)
    assert found is not None and found["_id"] == "v2-new"


def test_docdb_down_is_a_service_error_naming_docdb_and_the_question(
    sandbox: Sandbox, fast_backoff: Any, aind_settings: Any
) -> None:
    aind_settings.set(AIND_SESSION_MAX_RETRIES="1")
    sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("docdb",))
    with pytest.raises(errors.ServiceError, match=r"DocDB at .* HTTP 503 while finding .*780345"):
        docdb.record(NEW)


def test_a_failure_is_not_kept(sandbox: Sandbox, fast_backoff: Any, aind_settings: Any) -> None:
    aind_settings.set(AIND_SESSION_MAX_RETRIES="0")
    sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, limit=1, services=("docdb",))
    with pytest.raises(errors.ServiceError):
        docdb.record(NEW)
    assert docdb.record(NEW) is not None  # asked again


def test_offline_docdb_asks_nothing(sandbox: Sandbox, aind_settings: Any) -> None:
    aind_settings.set(AIND_SESSION_OFFLINE="1")
    with pytest.raises(errors.OfflineCacheMissError):
        docdb.record(NEW)
    assert sandbox.requests("docdb") == []


def test_a_record_links_codeocean_assets_in_every_form() -> None:
    assert linked.linked_codeocean_ids(
        {"_id": "x", "other_identifiers": {"Code Ocean": ["a"]}}
    ) == ("a",)
    assert linked.linked_codeocean_ids(
        {"_id": "x", "external_links": [{"Code Ocean": "a"}, {"Other": "b"}]}
    ) == ("a",)
    assert linked.linked_codeocean_ids(
        {"_id": "x", "external_links": {"Code Ocean": ["a", "a"]}}
    ) == ("a",)
    assert linked.linked_codeocean_ids({"_id": "x"}) == ()


def test_collections_are_a_setting_checked_by_name(aind_settings: Any) -> None:
    from aind_session.config import get_settings

    aind_settings.set(AIND_SESSION_DOCDB_COLLECTIONS="my_db/assets")
    assert get_settings().docdb_collections == ("my_db/assets",)
    aind_settings.set(AIND_SESSION_DOCDB_COLLECTIONS="assets")
    with pytest.raises(errors.ConfigurationError, match="AIND_SESSION_DOCDB_COLLECTIONS"):
        get_settings()


@pytest.mark.parametrize("kind", ["repeat_token", "missing_token", "bogus_token"])
def test_paging_that_goes_wrong_is_asked_again_from_the_first_page(
    aind_sandbox: Sandbox, cut_pages: list[dict[str, Any]], kind: str, fast_backoff: Any
) -> None:
    aind_sandbox.faults = Faults(rate=1.0, kinds=(kind,), limit=1, services=("docdb",))
    records = docdb.find(V2, {"subject.subject_id": "1"})
    assert sorted(r["_id"] for r in records) == [r["_id"] for r in cut_pages]
    assert [r.fault for r in aind_sandbox.requests("docdb") if r.fault] == [kind]
