"""The command line's JSON contract: every command's ``--json`` validates against the
schema shipped in the package (``aind_session/cli.schema.json``), found or not,
one argument or several, with answers unknown; the same facts have the same keys
across commands; and the schema refuses what breaks the contract."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from aind_session.testing import Faults

MAIN = "ecephys_676909_2023-12-13_13-43-40"
SECOND = "ecephys_676909_2023-12-14_12-43-11"
BEHAVIOR = "behavior_676909_2023-12-15_09-30-00"
NO_ASSET = "ecephys_686740_2024-01-20_12-00-00"
NOWHERE = "ecephys_999999_2020-01-01_00-00-00"
RUNNING = "ecephys_713655_2024-04-22_14-21-05"
SCHEMA2 = "780345_2025-02-20_00-00-00"

COMMANDS = {
    "info one": ["info", MAIN],
    "info several": ["info", MAIN, BEHAVIOR, NO_ASSET, NOWHERE, RUNNING],
    "info 2.x ID": ["info", SCHEMA2],
    "sessions": ["sessions", "676909", "713655"],
    "sessions none": ["sessions", "999999"],
    "sessions all columns": ["sessions", "676909", "713655", "--columns", "all"],
    "sessions filtered": ["sessions", "676909", "--platform", "ecephys", "--date", "2023-12-13"],
    "assets one": ["assets", MAIN],
    "assets several": ["assets", MAIN, NOWHERE, SCHEMA2],
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = resources.files("aind_session").joinpath("cli.schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def valid(validator, doc) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors)


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_commands_json_validates_against_the_shipped_schema(cli, validator, argv):
    doc = json.loads(cli(*argv, "--json").out)
    valid(validator, doc)
    assert doc["command"] == argv[0]


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_every_commands_json_validates_while_s3_is_down(
    cli, validator, aind_sandbox, aind_settings, argv
):
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("s3",))
    doc = json.loads(cli(*argv, "--json").out)
    valid(validator, doc)


def test_unknown_answers_are_null_with_their_reason_under_the_same_key(
    cli, aind_sandbox, aind_settings
):
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("s3",))
    [summary] = json.loads(cli("info", MAIN, "--json").out)["sessions"]
    assert summary["raw_data_dir"] is None
    assert "S3 did not answer" in summary["unknown"]["raw_data_dir"]
    for entry in summary["sorted_data_assets"]:
        assert entry["status"] == "unknown"
        assert "S3 did not answer" in entry["unknown"]["status"]
    rows = json.loads(cli("sessions", "676909", "--json").out)["sessions"]
    main = next(r for r in rows if r["id"] == MAIN)
    assert (main["uploaded"], main["latest_sorting_status"]) == (None, "unknown")
    assert set(main["unknown"]) == {"uploaded", "sorted", "latest_sorting_status"}


def test_the_same_facts_have_the_same_keys_and_values_in_every_command(cli):
    [summary] = json.loads(cli("info", MAIN, "--json").out)["sessions"]
    rows = json.loads(cli("sessions", "676909", "--columns", "all", "--json").out)["sessions"]
    [assets] = json.loads(cli("assets", MAIN, "--json").out)["sessions"]
    row = next(r for r in rows if r["id"] == MAIN)
    identity = ("id", "platform", "subject_id", "start_time")
    assert (
        [summary[k] for k in identity]
        == [row[k] for k in identity]
        == [assets[k] for k in identity]
    )
    assert summary["start_time"] == "2023-12-13T13:43:40-08:00"
    assert row["raw_data_asset_id"] == summary["raw_data_asset"]["id"]
    assert row["raw_data_dir"] == summary["raw_data_dir"]
    assert row["modalities"] == summary["modalities"]
    raw = next(a for a in assets["data_assets"] if a["kind"] == "raw")
    assert raw["created"] == summary["raw_data_asset"]["created"] == "2023-12-15T06:13:48+00:00"
    latest = max(summary["sorted_data_assets"], key=lambda e: e["created"])
    assert (row["latest_sorted_asset_id"], row["latest_sorting_status"]) == (
        latest["id"],
        latest["status"],
    )


def test_the_schemas_columns_are_the_tables_columns(validator):
    from aind_session.tables import COLUMNS

    defs = validator.schema["$defs"]
    assert defs["sessions"]["properties"]["columns"]["items"]["enum"] == list(COLUMNS)
    assert set(defs["session_row"]["properties"]) == {*COLUMNS, "unknown"}


@pytest.mark.parametrize(
    "broken",
    [
        "a bare summary, as info printed for one session",
        "a space-separated time, as sessions printed",
        "a time without its zone",
        "a verdict that is a boolean",
        "a key the contract does not have",
        "an unknown column",
    ],
)
def test_the_schema_refuses_what_breaks_the_contract(cli, validator, broken):
    doc = json.loads(cli("info", MAIN, "--json").out)
    rows = json.loads(cli("sessions", "676909", "--json").out)
    summary = doc["sessions"][0]
    if broken.startswith("a bare summary"):
        doc = summary
    elif broken.startswith("a space-separated"):
        rows["sessions"][0]["start_time"] = "2023-12-13 13:43:40"
        doc = rows
    elif broken.startswith("a time without"):
        summary["raw_data_asset"]["created"] = "2023-12-15T06:13:48"
    elif broken.startswith("a verdict"):
        summary["sorted_data_assets"][0]["status"] = False
    elif broken.startswith("a key"):
        summary["date"] = "2023-12-13"
    else:
        rows["columns"].append("colour")
        doc = rows
    assert not validator.is_valid(doc)


def test_the_schema_is_in_the_installed_package():
    assert resources.files("aind_session").joinpath("cli.schema.json").is_file()
