"""The world loader: what a world file may hold, the defaults it fills in, and how it fails."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from aind_session.testing.world import CODEOCEAN_BUCKET, WorldError, load_world

ASSET_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
OTHER_ID = "e7f467f7-8ce3-4173-b593-3e53948adb30"
COMPUTATION_ID = "ea765a89-ca64-4aa5-91a1-60457ae44bb5"
CAPSULE_ID = "1f8f159a-7670-47a9-baf1-078905fc9c2e"
ASSET_NAME = "ecephys_676909_2023-12-13_13-43-40"


def asset(**fields: Any) -> dict[str, Any]:
    return {"id": ASSET_ID, "name": ASSET_NAME, **fields}


def computation(**fields: Any) -> dict[str, Any]:
    return {"id": COMPUTATION_ID, "capsule_id": CAPSULE_ID, **fields}


def world_error(world: Any) -> str:
    with pytest.raises(WorldError) as info:
        load_world(world)
    return str(info.value)


# -- sources -----------------------------------------------------------------------------
def test_bundled_sample_world_loads_with_assets_computations_and_objects() -> None:
    world = load_world()
    assert world.data_assets and world.computations and world.s3


def test_world_loads_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"data_assets": [asset()]}))
    world = load_world(path)
    assert world.data_assets[ASSET_ID]["name"] == ASSET_NAME


def test_world_loads_from_a_path_given_as_a_string(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"data_assets": [asset()]}))
    assert ASSET_ID in load_world(str(path)).data_assets


def test_world_with_no_keys_is_empty() -> None:
    world = load_world({})
    assert (world.data_assets, world.computations, world.s3) == ({}, {}, {})


def test_loading_a_dict_does_not_keep_references_to_it() -> None:
    raw = {"data_assets": [asset(tags=["raw"])]}
    world = load_world(raw)
    raw["data_assets"][0]["tags"].append("changed")
    assert world.data_assets[ASSET_ID]["tags"] == ["raw"]


def test_world_copy_is_independent_of_the_original() -> None:
    world = load_world({"data_assets": [asset(tags=["raw"])]})
    copy = world.copy()
    copy.data_assets[ASSET_ID]["tags"].append("changed")
    copy.s3["bucket/new"] = b"x"
    assert world.data_assets[ASSET_ID]["tags"] == ["raw"]
    assert "bucket/new" not in world.s3


# -- defaults ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "expected"),
    [("state", "ready"), ("type", "dataset"), ("mount", ASSET_NAME), ("last_used", 0)],
)
def test_asset_gets_a_default_for_a_required_field_it_omits(field: str, expected: Any) -> None:
    assert load_world({"data_assets": [asset()]}).data_assets[ASSET_ID][field] == expected


def test_asset_gets_an_owner_when_it_names_none() -> None:
    record = load_world({"data_assets": [asset()]}).data_assets[ASSET_ID]
    assert uuid.UUID(record["owner"])


def test_asset_is_neither_archived_nor_favourite_by_default() -> None:
    record = load_world({"data_assets": [asset()]}).data_assets[ASSET_ID]
    assert (record["archived"], record["favorite"]) == (False, False)


def test_asset_fields_given_in_the_world_win_over_defaults() -> None:
    given = asset(state="failed", type="result", mount="elsewhere", created=1702620828)
    record = load_world({"data_assets": [given]}).data_assets[ASSET_ID]
    assert {k: record[k] for k in ("state", "type", "mount", "created")} == {
        "state": "failed",
        "type": "result",
        "mount": "elsewhere",
        "created": 1702620828,
    }


def test_asset_id_in_upper_case_is_stored_in_canonical_form() -> None:
    world = load_world({"data_assets": [asset(id=ASSET_ID.upper())]})
    assert list(world.data_assets) == [ASSET_ID]


def test_computation_gets_a_name_state_and_run_time_when_it_omits_them() -> None:
    record = load_world({"computations": [computation()]}).computations[COMPUTATION_ID]
    assert (record["name"], record["state"], record["run_time"]) == ("Run 1", "completed", 0)


@pytest.mark.parametrize(("results", "has_results"), [({"output": "done"}, True), ({}, False)])
def test_computation_has_results_follows_its_result_files(
    results: dict[str, str], has_results: bool
) -> None:
    world = load_world({"computations": [computation(results=results)]})
    assert world.computations[COMPUTATION_ID]["has_results"] is has_results


def test_computation_may_name_a_pipeline_instead_of_a_capsule() -> None:
    entry = {"id": COMPUTATION_ID, "pipeline_id": CAPSULE_ID}
    assert COMPUTATION_ID in load_world({"computations": [entry]}).computations


# -- S3 objects --------------------------------------------------------------------------
def test_s3_string_value_is_stored_as_that_text() -> None:
    world = load_world({"s3": {"bucket/folder/a.txt": "text é"}})
    assert world.s3["bucket/folder/a.txt"] == "text é".encode()


def test_s3_json_value_is_stored_serialized() -> None:
    value = {"genotype": "wt/wt", "subject_id": "676909", "n": [1, 2]}
    world = load_world({"s3": {"bucket/subject.json": value}})
    assert json.loads(world.s3["bucket/subject.json"]) == value


def test_asset_files_live_under_its_source_bucket_and_prefix() -> None:
    bucket = {"origin": "aws", "bucket": "aind-ephys-data", "prefix": f"/{ASSET_NAME}/"}
    world = load_world({"data_assets": [asset(source_bucket=bucket)]})
    assert world.asset_folder(world.data_assets[ASSET_ID]) == f"aind-ephys-data/{ASSET_NAME}"


def test_asset_without_source_bucket_keeps_its_files_in_the_codeocean_bucket() -> None:
    world = load_world({"data_assets": [asset()]})
    assert world.asset_folder(world.data_assets[ASSET_ID]) == f"{CODEOCEAN_BUCKET}/{ASSET_ID}"


# -- bad worlds --------------------------------------------------------------------------
def test_world_error_is_a_value_error() -> None:
    assert issubclass(WorldError, ValueError)


def test_unknown_top_level_key_is_rejected_by_name() -> None:
    message = world_error({"data_assets": [], "assets": []})
    assert "'assets'" in message and "top-level" in message


def test_world_file_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([asset()]))
    assert "must hold a JSON object, not list" in world_error(path)


def test_data_assets_that_are_not_a_list_are_rejected() -> None:
    assert "'data_assets' must be a list" in world_error({"data_assets": asset()})


def test_asset_without_id_is_rejected_naming_the_entry() -> None:
    message = world_error({"data_assets": [asset(), {"name": "second"}]})
    assert "data_assets[1] ('second') has no 'id'" in message


@pytest.mark.parametrize("name", [None, ""])
def test_asset_without_name_is_rejected_naming_the_entry(name: str | None) -> None:
    entry = {"id": ASSET_ID} if name is None else {"id": ASSET_ID, "name": name}
    message = world_error({"data_assets": [entry]})
    assert "data_assets[0]" in message and "has no 'name'" in message


def test_duplicate_asset_id_is_rejected_naming_both_entries() -> None:
    message = world_error({"data_assets": [asset(), asset(name="copy")]})
    assert "data_assets[1] ('copy') repeats id" in message and "data_assets[0]" in message


def test_id_shared_by_an_asset_and_a_computation_is_rejected() -> None:
    message = world_error({"data_assets": [asset()], "computations": [computation(id=ASSET_ID)]})
    assert "computations[0]" in message and "repeats id" in message


def test_asset_id_that_is_not_a_uuid_is_rejected_with_the_value() -> None:
    message = world_error({"data_assets": [asset(id="asset-1")]})
    assert "'asset-1'" in message and "not a UUID" in message


def test_computation_id_that_is_not_a_uuid_is_rejected() -> None:
    assert "not a UUID" in world_error({"computations": [computation(id="run-1")]})


def test_unknown_asset_field_is_rejected_by_name() -> None:
    message = world_error({"data_assets": [asset(subject_id="676909")]})
    assert "unknown field(s) 'subject_id'" in message


def test_asset_value_the_sdk_rejects_is_rejected() -> None:
    message = world_error({"data_assets": [asset(state="almost ready")]})
    assert "not a valid DataAsset" in message


def test_computation_without_capsule_is_rejected() -> None:
    message = world_error({"computations": [{"id": COMPUTATION_ID}]})
    assert "computations[0]" in message and "capsule_id" in message


def test_computation_results_that_are_not_text_are_rejected() -> None:
    message = world_error({"computations": [computation(results={"output": 1})]})
    assert "'results' must map file paths to text" in message


@pytest.mark.parametrize("key", ["bucket", "/path/to/file", "bucket/", "bucket/folder/"])
def test_s3_key_without_bucket_and_file_path_is_rejected(key: str) -> None:
    message = world_error({"s3": {key: "text"}})
    assert repr(key) in message


def test_s3_section_that_is_not_an_object_is_rejected() -> None:
    assert "'s3' must be an object" in world_error({"s3": ["bucket/key"]})


def test_invalid_json_file_is_rejected_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"data_assets": [\n  {"id": "x",}\n]}')
    message = world_error(path)
    assert str(path) in message and "not valid JSON" in message and "line 2" in message


def test_missing_world_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    message = world_error(path)
    assert str(path) in message and "does not exist" in message


def test_error_in_a_world_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"data_assets": [{"name": "no id"}]}))
    assert str(path) in world_error(path)


def test_asset_name_that_is_not_a_string_is_rejected() -> None:
    world_error({"data_assets": [asset(name=676909)]})


def test_asset_created_that_is_not_an_integer_is_rejected() -> None:
    world_error({"data_assets": [asset(created="1702620828")]})


def test_asset_tags_that_are_not_strings_are_rejected() -> None:
    world_error({"data_assets": [asset(tags=[2023])]})
