"""The ``aind-session`` command line: commands, output, exit codes and errors.

Most cases run in-process through `aind_session.cli.main` against the
``aind_sandbox`` fixture (so they must not pass ``--sandbox``: one sandbox runs
per process). A few run the installed entry point in a subprocess with
``--sandbox``. Each child starts its own sandbox (a few seconds), so they all
start together with the module's first test and run in parallel with the
in-process tests (see `entry_point`).

Every run is checked for the CodeOcean token, except ``aind-session sandbox``,
whose job is to print it (a test checks it appears only in its export line).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import aind_session
from aind_session.cli import main
from aind_session.testing import Faults
from conftest import Run

MAIN = "ecephys_676909_2023-12-13_13-43-40"
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
MAIN_RAW_DIR = "s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"
NO_ASSET = "ecephys_686740_2024-01-20_12-00-00"  # S3 data, no CodeOcean asset
EMPTY_FOLDER = "behavior_700000_2024-02-02_10-00-00"  # asset pointing at an empty folder
RUNNING = "ecephys_713655_2024-04-22_14-21-05"  # a sorting pipeline run in progress
TWO_RAW = "ecephys_699846_2024-01-25_15-38-41"  # two raw assets: the later one is used
NOWHERE = "ecephys_999999_2020-01-01_00-00-00"  # neither an asset nor a folder

INFO_KEYS = [
    "id",
    "platform",
    "subject_id",
    "start_time",
    "raw_data_asset",
    "raw_data_dir",
    "modalities",
    "metadata_files",
    "sorted_data_assets",
    "running_pipeline_computations",
    "problems",
    "unknown",
]
SESSION_ROW_KEYS = [
    "id",
    "platform",
    "subject_id",
    "start_time",
    "uploaded",
    "sorted",
    "latest_sorting_status",
    "unknown",
]
ASSET_ROW_KEYS = ["id", "name", "created", "type", "kind"]
ANSI = "\x1b["
PROGRESS_BAR = re.compile(r"\[[#.]+\] \d+/\d+")
SANDBOX_TOKEN_PREFIX = "COP_sandbox_"  # every sandbox token starts with it


# -- running the command line in-process ---------------------------------------------------
# `cli` (a run of the command line in-process) and `Run` are in conftest.py


@pytest.fixture
def env() -> Iterator[pytest.MonkeyPatch]:
    """A monkeypatch for the environment; the library's settings are rebuilt after undo."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
    aind_session.clear_cache()


@pytest.fixture
def codeocean_down(aind_sandbox, aind_settings) -> Iterator[None]:
    """Every response of the sandbox is a 503; the library retries without waiting."""
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0)
    yield
    aind_sandbox.faults = None


@pytest.fixture
def no_token(env, aind_settings, tmp_path) -> None:
    """No CodeOcean token anywhere: not in the environment, nor in a .env file."""
    env.chdir(tmp_path)
    aind_settings.set(CODE_OCEAN_API_TOKEN=None, HOME=str(tmp_path))


def info_rows(text: str) -> dict[str, str]:
    """The ``label  value`` rows of ``info``'s text output (not the indented asset lines)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^  (\S.{15}) (.*)$", line)
        if match:
            rows[match[1].strip()] = match[2].strip()
    return rows


def table_rows(text: str) -> list[list[str]]:
    """The rows of a table (header left out), split on whitespace."""
    return [line.split() for line in text.strip().splitlines()[1:]]


# -- info ----------------------------------------------------------------------------------
def test_info_prints_the_session_id_platform_subject_date_and_time(cli):
    run = cli("info", MAIN)
    assert run.out.splitlines()[0] == MAIN
    rows = info_rows(run.out)
    assert (rows["platform"], rows["subject"]) == ("ecephys", "676909")
    assert rows["date, time"] == "2023-12-13 13:43:40"


def test_info_prints_the_raw_data_asset_id_name_and_creation_time(cli):
    row = info_rows(cli("info", MAIN).out)["raw data asset"]
    assert MAIN_RAW_ID in row
    assert MAIN in row
    assert "created 2023-12-15 06:13:48 UTC" in row


def test_info_prints_the_raw_data_dir(cli):
    assert info_rows(cli("info", MAIN).out)["raw data dir"] == MAIN_RAW_DIR


def test_info_prints_the_modalities(cli):
    assert info_rows(cli("info", MAIN).out)["modalities"] == "behavior, ecephys"


def test_info_prints_the_metadata_files(cli):
    files = info_rows(cli("info", MAIN).out)["metadata files"].split(", ")
    assert {"subject.json", "data_description.json", "session.json", "rig.json"} <= set(files)


def test_info_lists_each_sorted_asset_with_its_sorter_probes_and_state(cli):
    lines = cli("info", MAIN).out.splitlines()
    good = next(i for i, line in enumerate(lines) if "a782c5e4-a16b-495d-baea-7ca9ba29015c" in line)
    failed = next(
        i for i, line in enumerate(lines) if "30d6d645-0ec1-4d71-b088-6af2b1c0feaa" in line
    )
    assert "kilosort4" in lines[good + 1]
    assert "ProbeA, ProbeB, ProbeF" in lines[good + 1]
    assert lines[good + 1].endswith("ok")
    assert lines[failed + 1].endswith("sorting error")


def test_info_lists_running_pipeline_computations(cli):
    lines = cli("info", RUNNING).out.splitlines()
    running = [line for line in lines if "31299b75-98af-4a99-906a-819bf1e759f2" in line]
    assert len(running) == 1
    assert "running" in running[0].split()


def test_info_says_in_one_line_why_there_is_no_raw_data_asset_and_prints_the_rest(cli):
    run = cli("info", NO_ASSET)
    rows = info_rows(run.out)
    assert "no raw data asset exists" in rows["raw data asset"]
    assert rows["raw data dir"] == f"s3://aind-ephys-data/{NO_ASSET}"
    assert "ecephys" in rows["modalities"]
    assert "subject.json" in rows["metadata files"]


def test_info_says_in_one_line_why_there_is_no_raw_data_dir_and_prints_the_rest(cli):
    rows = info_rows(cli("info", EMPTY_FOLDER).out)
    assert rows["raw data dir"].startswith("No raw data folder was found")
    assert "2f731d3f-f67e-4974-bc58-68dc5f3b4faa" in rows["raw data asset"]
    assert rows["platform"] == "behavior"


def test_info_prints_every_session_given(cli):
    out = cli("info", MAIN, RUNNING).out
    assert out.splitlines()[0] == MAIN
    assert RUNNING in out.split("\n\n")[1].splitlines()[0]


def test_info_accepts_a_path_holding_the_session_id(cli):
    run = cli("info", f"/data/{MAIN}_sorted_2024-03-01_16-02-45/nwb")
    assert (run.code, run.out.splitlines()[0]) == (0, MAIN)


def test_info_does_not_claim_nothing_is_running_when_codeocean_is_down(cli, codeocean_down):
    rows = info_rows(cli("info", MAIN).out)
    assert rows["running sorting"] != "none"
    assert rows["metadata files"] != "none"


# -- sessions ------------------------------------------------------------------------------
def test_sessions_prints_a_table_of_id_platform_date_uploaded_sorted_and_latest_sorting(cli):
    out = cli("sessions", "676909").out
    assert out.splitlines()[0].split() == [
        "ID",
        "PLATFORM",
        "START",
        "UPLOADED",
        "SORTED",
        "LATEST",
        "SORTING",
    ]
    assert [row[:4] for row in table_rows(out)] == [
        [MAIN, "ecephys", "2023-12-13", "13:43:40"],
        ["ecephys_676909_2023-12-14_12-43-11", "ecephys", "2023-12-14", "12:43:11"],
        ["behavior_676909_2023-12-15_09-30-00", "behavior", "2023-12-15", "09:30:00"],
        ["SmartSPIM_676909_2024-01-18_11-05-32", "SmartSPIM", "2024-01-18", "11:05:32"],
    ]


def test_sessions_says_whether_each_session_is_uploaded(cli):
    rows = {row[0]: row[4] for row in table_rows(cli("sessions", "676909", "700000").out)}
    assert rows[MAIN] == "yes"
    assert rows[EMPTY_FOLDER] == "no"


def test_sessions_says_whether_ecephys_sessions_are_sorted_and_leaves_others_blank(cli):
    rows = {row[0]: row[5] for row in table_rows(cli("sessions", "676909").out)}
    assert rows["ecephys_676909_2023-12-14_12-43-11"] == "yes"
    assert rows["behavior_676909_2023-12-15_09-30-00"] == "-"
    assert rows["SmartSPIM_676909_2024-01-18_11-05-32"] == "-"


def test_sessions_says_sorted_when_an_older_sorting_is_usable_and_that_the_latest_failed(cli):
    rows = {row[0]: row[5:] for row in table_rows(cli("sessions", "676909").out)}
    assert rows[MAIN] == ["yes", "error"]  # three good sortings, the newest failed
    assert rows["ecephys_676909_2023-12-14_12-43-11"] == ["yes", "ok"]
    assert rows["behavior_676909_2023-12-15_09-30-00"] == ["-", "-"]


def test_sessions_json_says_sorted_and_that_the_latest_sorting_failed(cli):
    rows = json.loads(cli("sessions", "676909", "--json").out)["sessions"]
    row = next(r for r in rows if r["id"] == MAIN)
    assert (row["sorted"], row["latest_sorting_status"]) == (True, "error")


def test_sessions_keeps_only_the_platform_asked_for(cli):
    rows = table_rows(cli("sessions", "676909", "--platform", "behavior").out)
    assert [row[0] for row in rows] == ["behavior_676909_2023-12-15_09-30-00"]


def test_sessions_keeps_only_the_day_asked_for(cli):
    rows = table_rows(cli("sessions", "676909", "--date", "20231214").out)
    assert [row[0] for row in rows] == ["ecephys_676909_2023-12-14_12-43-11"]


def test_sessions_keeps_a_date_range_with_both_ends_included(cli):
    run = cli("sessions", "676909", "--start-date", "2023-12-14", "--end-date", "2023-12-15")
    assert [row[0] for row in table_rows(run.out)] == [
        "ecephys_676909_2023-12-14_12-43-11",
        "behavior_676909_2023-12-15_09-30-00",
    ]


def test_sessions_lists_the_sessions_of_every_subject_given(cli):
    rows = table_rows(cli("sessions", "676909", "713655").out)
    assert len(rows) == 5
    assert rows[-1][0] == RUNNING


def test_sessions_says_on_stderr_when_nothing_matches_naming_the_flags_given(cli):
    run = cli("sessions", "676909", "--platform", "FIP", "--start-date", "2023-01-01")
    assert run.out == ""
    assert run.err_lines == [
        "No sessions found for subject 676909 with --platform FIP --start-date 2023-01-01."
    ]


def test_sessions_of_a_subject_with_none_says_no_filter_it_was_not_given(cli):
    run = cli("sessions", "686740")
    assert run.err_lines[0] == "No sessions found for subject 686740."


def test_version_names_the_package_and_the_sdk_and_exits_0(cli):
    from importlib import metadata

    run = cli("--version")
    assert run.code == 0
    assert run.out.strip() == (
        f"aind-session {metadata.version('aind-session')} "
        f"(codeocean SDK {metadata.version('codeocean')})"
    )


class _ClosedPipe:
    """stdout whose reader has gone (``| head``): every write fails as a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(aind_sandbox, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["sessions", "676909", "--json"]) == 0
    said = capsys.readouterr().err  # warnings of the answer itself may be there
    assert "Broken pipe" not in said and "aind-session: error" not in said


def test_sessions_lists_each_session_once_when_a_subject_is_given_twice(cli):
    rows = table_rows(cli("sessions", "676909", MAIN).out)
    assert len(rows) == len({row[0] for row in rows})


# -- assets --------------------------------------------------------------------------------
def test_assets_prints_a_table_of_id_name_created_type_and_kind(cli):
    out = cli("assets", MAIN).out
    assert out.splitlines()[0].split() == ["ID", "NAME", "CREATED", "TYPE", "KIND"]
    rows = {row[0]: row for row in table_rows(out)}
    assert len(rows) == 6
    assert rows[MAIN_RAW_ID] == [
        MAIN_RAW_ID,
        MAIN,
        "2023-12-15",
        "06:13:48",
        "UTC",
        "dataset",
        "raw",
    ]


def test_assets_tells_raw_sorted_and_derived_assets_apart(cli):
    kinds = {row[0]: row[-1] for row in table_rows(cli("assets", MAIN).out)}
    assert kinds[MAIN_RAW_ID] == "raw"
    assert kinds["a782c5e4-a16b-495d-baea-7ca9ba29015c"] == "sorted"
    assert kinds["fc3206c1-7797-46aa-9ba8-5521e4c3aa7d"] == "derived"  # the _nwb_ asset


def test_assets_says_on_stderr_when_a_session_has_none(cli):
    run = cli("assets", NOWHERE)
    assert run.out == ""
    assert run.err_lines == [f"No data assets are named {NOWHERE}*."]


# -- --json --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["info", MAIN],
        ["info", MAIN, NO_ASSET],
        ["info", NOWHERE],
        ["sessions", "676909"],
        ["sessions", "999999"],
        ["assets", MAIN],
        ["assets", NOWHERE],
    ],
    ids=" ".join,
)
def test_json_output_is_one_json_document(cli, argv):
    json.loads(cli(*argv, "--json").out)


def info_json(cli, *sessions: str) -> list[dict]:
    """The sessions of ``info --json``."""
    doc = json.loads(cli("info", *sessions, "--json").out)
    assert (doc["contract"], doc["command"]) == (1, "info")
    return doc["sessions"]


def test_info_json_has_the_raw_data_asset_and_dir(cli):
    [summary] = info_json(cli, MAIN)
    assert summary["raw_data_asset"]["id"] == MAIN_RAW_ID
    assert summary["raw_data_dir"] == MAIN_RAW_DIR


def test_info_json_keys_are_stable(cli):
    assert list(info_json(cli, MAIN)[0]) == INFO_KEYS


def test_info_json_describes_each_sorted_asset(cli):
    [summary] = info_json(cli, MAIN)
    by_id = {entry["id"]: entry for entry in summary["sorted_data_assets"]}
    good = by_id["a782c5e4-a16b-495d-baea-7ca9ba29015c"]
    assert (good["sorter"], good["probes"], good["status"]) == (
        "kilosort4",
        ["ProbeA", "ProbeB", "ProbeF"],
        "ok",
    )
    assert by_id["30d6d645-0ec1-4d71-b088-6af2b1c0feaa"]["status"] == "error"


def test_info_json_lists_running_pipeline_computations(cli):
    [summary] = info_json(cli, RUNNING)
    assert summary["running_pipeline_computations"] == [
        {
            "id": "31299b75-98af-4a99-906a-819bf1e759f2",
            "name": summary["running_pipeline_computations"][0]["name"],
            "state": "running",
            "created": "2024-05-02T09:15:33+00:00",
        }
    ]


def test_info_json_says_why_a_section_is_empty(cli):
    [summary] = info_json(cli, NO_ASSET)
    assert summary["raw_data_asset"] is None
    assert list(summary["problems"]) == ["raw_data_asset"]
    assert summary["raw_data_dir"] == f"s3://aind-ephys-data/{NO_ASSET}"


def test_info_json_of_several_sessions_is_a_list_in_the_order_given(cli):
    assert [s["id"] for s in info_json(cli, RUNNING, MAIN)] == [RUNNING, MAIN]


def test_info_json_of_one_session_has_the_shape_of_several(cli):
    one, two = (json.loads(cli("info", *s, "--json").out) for s in ([MAIN], [MAIN, RUNNING]))
    assert list(one) == list(two) == ["contract", "command", "sessions"]
    assert one["sessions"] == two["sessions"][:1]


def test_sessions_json_has_stable_keys_and_the_table_values(cli):
    doc = json.loads(cli("sessions", "676909", "700000", "--json").out)
    assert (doc["subjects"], doc["columns"]) == (
        ["676909", "700000"],
        ["uploaded", "sorted", "latest_sorting_status"],
    )
    rows = doc["sessions"]
    assert all(list(row) == SESSION_ROW_KEYS for row in rows)
    behavior = next(r for r in rows if r["id"] == "behavior_676909_2023-12-15_09-30-00")
    assert behavior == {
        "id": "behavior_676909_2023-12-15_09-30-00",
        "platform": "behavior",
        "subject_id": "676909",
        "start_time": "2023-12-15T09:30:00-08:00",
        "uploaded": True,
        "sorted": None,
        "latest_sorting_status": None,
        "unknown": {},
    }
    assert next(r for r in rows if r["id"] == EMPTY_FOLDER)["uploaded"] is False


def test_assets_json_has_stable_keys_and_the_table_values(cli):
    [session] = json.loads(cli("assets", MAIN, "--json").out)["sessions"]
    assert session["id"] == MAIN
    rows = session["data_assets"]
    assert all(list(row) == ASSET_ROW_KEYS for row in rows)
    assert rows[0] == {
        "id": MAIN_RAW_ID,
        "name": MAIN,
        "created": "2023-12-15T06:13:48+00:00",
        "type": "dataset",
        "kind": "raw",
    }


# -- exit codes ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["info", MAIN], 0),
        (["info", NO_ASSET], 0),
        (["info", EMPTY_FOLDER], 0),
        (["info", NOWHERE], 1),
        (["info", MAIN, NOWHERE], 1),
        (["info", "not-a-session"], 2),
        (["sessions", "676909"], 0),
        (["sessions", "999999"], 1),
        (["sessions", "abc"], 2),
        (["sessions", "676909", "--date", "2023-13-45"], 2),
        (["sessions", "676909", "--date", "2023-12-13", "--start-date", "2023-12-01"], 2),
        (["sessions", "676909", "--start-date", "2024-01-01", "--end-date", "2023-01-01"], 2),
        (["assets", MAIN], 0),
        (["assets", NOWHERE], 1),
        (["assets", "not-a-session"], 2),
        (["frobnicate"], 2),
        ([], 2),
        (["info"], 2),
        (["sessions"], 2),
        (["assets"], 2),
        (["sessions", "676909", "--bogus-flag"], 2),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_exit_code_is_0_found_1_not_found_2_bad_usage_or_input(cli, argv, code):
    assert cli(*argv).code == code


@pytest.mark.parametrize("command", [["info", MAIN], ["sessions", "676909"], ["assets", MAIN]])
def test_exit_code_is_1_when_codeocean_keeps_failing(cli, codeocean_down, command):
    assert cli(*command).code == 1


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["info", "not-a-session"],
        ["sessions", "abc"],
        ["sessions", "676909", "--date", "2023-13-45"],
        ["sessions", "676909", "--date", "2023-12-13", "--start-date", "2023-12-01"],
        ["sessions", "999999"],
        ["assets", NOWHERE],
    ],
    ids=" ".join,
)
def test_an_error_is_one_or_two_plain_lines_on_stderr(cli, argv):
    run = cli(*argv)
    assert run.out == ""
    assert 1 <= len(run.err_lines) <= 2
    assert "Traceback" not in run.err
    assert ANSI not in run.err


def test_an_error_names_the_bad_input(cli):
    (line,) = cli("info", "not-a-session").err_lines
    assert line.startswith(
        "aind-session: error: 'not-a-session' holds no session ID of the form "
        "<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS> ("
    )
    assert "<subject>_<YYYY-MM-DD>_<HH-MM-SS> (aind-data-schema 2.x" in line  # both forms
    assert line.endswith(
        ", e.g. 'ecephys_676909_2023-12-13_13-43-40' or '780345_2025-02-20_00-00-00'."
    )


def test_assets_says_each_sessions_assets_are_unknown_and_the_failure_once(cli, codeocean_down):
    run = cli("assets", MAIN, RUNNING)
    assert run.code == 1
    assert run.out.splitlines().count("data assets unknown [1]") == 2
    said = [line for line in run.err_lines if line.startswith("aind-session: unknown [1]")]
    assert len(said) == 1 and "503" in said[0] and "data assets (2)" in said[0]
    doc = json.loads(cli("assets", MAIN, RUNNING, "--json").out)
    assert [s["data_assets"] for s in doc["sessions"]] == [None, None]
    assert all("503" in s["unknown"]["data_assets"] for s in doc["sessions"])


@pytest.mark.parametrize("command", [["sessions", "676909"]])
def test_a_remote_error_is_one_line_naming_the_status(cli, codeocean_down, command):
    run = cli(*command)
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("aind-session: error: CodeOcean")
    assert "503" in run.err_lines[0]


def test_info_marks_each_section_codeocean_left_unknown_and_says_why_once(cli, codeocean_down):
    run = cli("info", MAIN)
    rows = info_rows(run.out)
    assert rows["platform"] == "ecephys"
    assert rows["raw data asset"] == rows["sorted assets"] == "unknown [1]"
    (said,) = [line for line in run.err_lines if line.startswith("aind-session: unknown [1]")]
    assert "503" in said
    assert "affected: raw data asset, raw data dir, modalities" in said


def test_one_failure_of_s3_is_said_once_for_many_sessions_with_what_it_affected(
    cli, aind_sandbox, aind_settings
):
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("s3",))
    run = cli("info", MAIN, "ecephys_676909_2023-12-14_12-43-11")
    said = [line for line in run.err_lines if line.startswith("aind-session: unknown")]
    assert len(said) == 1, run.err
    assert "S3 did not answer" in said[0]
    assert "more like it" in said[0]
    assert "raw data dir (2)" in said[0] and "sorted asset (5)" in said[0]
    assert "unknown [1]" in info_rows(run.out)["raw data dir"]
    assert "S3 did not answer" not in run.out  # the reason is said once, on stderr


def test_a_usage_error_ends_with_one_error_line_and_no_traceback(cli):
    run = cli("info")
    assert run.err_lines[-1] == (
        "aind-session info: error: the following arguments are required: SESSION"
    )
    assert "Traceback" not in run.err


def test_debug_adds_the_traceback_to_an_error(cli):
    run = cli("info", "not-a-session", "--debug")
    assert "Traceback (most recent call last)" in run.err
    assert run.err_lines[-1].startswith("aind-session: error: 'not-a-session'")


def test_a_remote_error_with_debug_has_a_traceback_and_no_token(cli, codeocean_down):
    run = cli("sessions", "676909", "--debug")  # `cli` checks for the token
    assert "aind_session.errors.ServiceError" in run.err


def test_debug_logging_never_shows_the_token(cli, aind_sandbox):
    run = cli("info", RUNNING, "--debug")  # `cli` checks every run for the token
    assert "DEBUG" in run.err
    assert aind_sandbox.token not in run.err


def test_a_refused_token_is_not_printed(cli, env):
    env.setenv("CODE_OCEAN_API_TOKEN", "COP_not_the_sandbox_token_0123456789")
    aind_session.clear_cache()
    run = cli("assets", MAIN, "--debug")
    assert run.code == 1
    assert "401" in run.err
    assert "COP_not_the_sandbox_token_0123456789" not in run.out + run.err


def test_a_missing_token_exits_2_with_a_hint_to_try_the_sandbox(cli, no_token):
    run = cli("assets", MAIN)
    assert run.code == 2
    assert run.err_lines[-1] == (
        "aind-session: hint: try --sandbox to see the tool work without credentials"
    )


def test_info_without_a_token_fails_like_the_other_commands(cli, no_token):
    run = cli("info", MAIN)
    assert run.code == 2
    assert "hint: try --sandbox" in run.err


# -- terminals, colours and progress bars --------------------------------------------------
def pretend_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the captured stdout and stderr claim to be a terminal, with NO_COLOR unset.

    Call it in the test body: capsys's streams are only in place once the test runs.
    """
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "120")  # whatever terminal runs the tests
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


def test_a_table_header_is_bold_on_a_terminal(cli, monkeypatch):
    pretend_terminal(monkeypatch)
    assert cli("sessions", "676909").out.startswith("\x1b[1mID")


def test_no_color_turns_ansi_codes_off_on_a_terminal(cli, monkeypatch):
    pretend_terminal(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")
    run = cli("info", MAIN)
    assert ANSI not in run.out + run.err


def test_output_that_is_not_a_terminal_has_no_ansi_codes(cli):
    run = cli("info", MAIN, RUNNING)
    assert ANSI not in run.out + run.err


def test_info_of_several_sessions_shows_a_progress_bar_on_a_terminal(cli, monkeypatch):
    pretend_terminal(monkeypatch)
    err = cli("info", MAIN, RUNNING).err
    assert "\r" in err
    assert PROGRESS_BAR.search(err)


def test_json_output_never_shows_a_progress_bar(cli, monkeypatch):
    pretend_terminal(monkeypatch)
    err = cli("info", MAIN, RUNNING, "--json").err
    assert "\r" not in err
    assert not PROGRESS_BAR.search(err)


def test_json_output_has_no_ansi_codes_on_a_terminal(cli, monkeypatch):
    pretend_terminal(monkeypatch)
    assert ANSI not in cli("sessions", "676909", "--json").out


# -- logging -------------------------------------------------------------------------------
def test_verbose_logs_info_messages_to_stderr(cli):
    err = cli("sessions", "999999", "-v").err
    assert "INFO aind_session.subject: no sessions found for subject 999999" in err


def test_without_verbose_info_messages_are_not_logged(cli):
    assert "INFO" not in cli("sessions", "999999").err


def test_verbose_logs_which_raw_data_asset_was_chosen(cli):
    err = cli("info", TWO_RAW, "-v").err
    assert "using the latest, 281cac9e-ccb2-467d-8d2e-1a6aaab699a1" in err


# -- --sandbox WORLD -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        None,
        "{not json",
        '{"data_assets": [{"name": "ecephys_123456_2024-06-01_10-00-00"}]}',
        '{"sessions": []}',
    ],
    ids=["missing file", "invalid JSON", "asset without id", "unknown key"],
)
def test_a_bad_world_file_exits_2_with_one_line_naming_the_file(cli, tmp_path, content):
    world = tmp_path / "world.json"
    if content is not None:
        world.write_text(content)
    run = cli("info", MAIN, "--sandbox", str(world))  # fails before a sandbox would start
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("aind-session: error: World file")
    assert str(world) in run.err_lines[0]


# -- the installed entry point, in subprocesses --------------------------------------------
SMALL_WORLD_SESSION = "ecephys_123456_2024-06-01_10-00-00"
SMALL_WORLD_ASSET_ID = "11111111-2222-4333-8444-555555555555"
SMALL_WORLD = {
    "data_assets": [
        {
            "id": SMALL_WORLD_ASSET_ID,
            "name": SMALL_WORLD_SESSION,
            "created": 1717236000,
            "custom_metadata": {"data level": "raw data", "subject id": "123456"},
            "source_bucket": {
                "origin": "aws",
                "bucket": "aind-ephys-data",
                "prefix": SMALL_WORLD_SESSION,
            },
        }
    ],
    # a run of the sorting pipeline, so that "nothing is being sorted" is an answer
    "computations": [
        {
            "id": "11111111-2222-4333-8444-666666666666",
            "capsule_id": "1f8f159a-7670-47a9-baf1-078905fc9c2e",
            "state": "completed",
            "data_assets": [{"id": SMALL_WORLD_ASSET_ID, "mount": SMALL_WORLD_SESSION}],
        }
    ],
    "pipelines": [{"id": "1f8f159a-7670-47a9-baf1-078905fc9c2e", "name": "sorting pipeline"}],
    "s3": {f"aind-ephys-data/{SMALL_WORLD_SESSION}/subject.json": {"subject_id": "123456"}},
}
CLOSED_PORT_TOKEN = "COP_closed_port_token_0123456789abcdef"
CLOSED_PORT = {  # no sandbox: every request fails at once
    "CODE_OCEAN_DOMAIN": "http://127.0.0.1:9",
    "CODE_OCEAN_API_TOKEN": CLOSED_PORT_TOKEN,
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    "AIND_SESSION_DOCDB_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "closed-port",
    "AWS_SECRET_ACCESS_KEY": "closed-port",
    "AIND_SESSION_MAX_RETRIES": "0",
}
# name -> (arguments, environment added); only the first four start a sandbox
ENTRY_POINT_RUNS: dict[str, tuple[list[str], dict[str, str]]] = {
    "quick start": (["info", MAIN, "--sandbox"], {}),
    "sessions": (["sessions", "676909", "--sandbox"], {}),
    "small world": (["info", SMALL_WORLD_SESSION, "--json", "--sandbox", "{world}"], {}),
    "sandbox": (["sandbox", "-v"], {}),
    "remote error": (["sessions", "676909"], CLOSED_PORT),
    "bad input": (["info", "not-a-session"], {}),
    "unknown command": (["frobnicate"], {}),
}


def _exports(text: str) -> dict[str, str]:
    """The variables of the ``export KEY=VALUE`` lines of ``aind-session sandbox``."""
    return dict(
        line.removeprefix("export ").partition("=")[::2]
        for line in text.splitlines()
        if line.startswith("export ")
    )


def _ask_sandbox(printed: str) -> int:
    """Get the main raw data asset from the sandbox whose export lines are ``printed``."""
    import base64
    import urllib.request

    env = _exports(printed)
    token = base64.b64encode(f"{env['CODE_OCEAN_API_TOKEN']}:".encode()).decode()
    request = urllib.request.Request(
        f"{env['CODE_OCEAN_DOMAIN']}/api/v1/data_assets/{MAIN_RAW_ID}",
        headers={"Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def _entry_point() -> str:
    beside_python = Path(sys.executable).with_name("aind-session")
    found = str(beside_python) if beside_python.exists() else shutil.which("aind-session")
    assert found, "the aind-session entry point is not installed (pip install -e '.[test]')"
    return found


class EntryPointRuns:
    """Subprocesses of the installed ``aind-session``, started at once, awaited one by one."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.results: dict[str, Run] = {}
        self.asked: dict[str, int] = {}  # status of the request made to a running sandbox

    def start(self, key: str, argv: list[str], extra_env: dict[str, str], world: Path) -> None:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("CODE_OCEAN", "AWS_", "AIND_SESSION_"))
            and name != "NO_COLOR"
            and not value.startswith("COP_")
        }
        env["HOME"] = str(self.home)  # no ~/.env
        env.update(extra_env)
        self.processes[key] = subprocess.Popen(
            [_entry_point(), *(arg.format(world=world) for arg in argv)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # bytes: text mode would turn a bar's "\r" into "\n"
            cwd=self.home,  # no ./.env
            env=env,
        )

    def result(self, key: str) -> Run:
        """The finished run; ``sandbox`` is stopped with Ctrl-C once it says it is running.

        Every run but ``sandbox`` (whose job is to print the environment, token
        included) is checked for a sandbox token and for the closed-port token.
        """
        if key not in self.results:
            process = self.processes[key]
            head = b""
            if key == "sandbox":
                assert process.stdout is not None
                watchdog = threading.Timer(120, process.kill)  # a hung start fails, not hangs
                watchdog.start()
                try:
                    for line in process.stdout:
                        head += line
                        if line.startswith(b"# press Ctrl-C"):
                            break
                finally:
                    watchdog.cancel()
                self.asked[key] = _ask_sandbox(head.decode())
                process.send_signal(signal.SIGINT)
            out_bytes, err_bytes = process.communicate(timeout=120)
            out, err = (head + out_bytes).decode(), err_bytes.decode()
            if key != "sandbox":
                for token in (SANDBOX_TOKEN_PREFIX, CLOSED_PORT_TOKEN):
                    assert token not in out + err, f"the token was printed by {key!r}"
            self.results[key] = Run(process.returncode, out, err)
        return self.results[key]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.fixture(scope="module")
def entry_point(tmp_path_factory) -> Iterator[EntryPointRuns]:
    """Every run of `ENTRY_POINT_RUNS`, started in parallel (four start their own sandbox)."""
    home = tmp_path_factory.mktemp("entry_point")
    world = home / "small_world.json"
    world.write_text(json.dumps(SMALL_WORLD))
    runs = EntryPointRuns(home)
    try:
        for key, (argv, extra_env) in ENTRY_POINT_RUNS.items():
            runs.start(key, argv, extra_env, world)
        yield runs
    finally:
        runs.stop()


@pytest.fixture(scope="module", autouse=True)
def _start_entry_point_runs_early(request: pytest.FixtureRequest) -> None:
    """When an entry-point test is selected, start the subprocesses with the module's first
    test, so that they run while the in-process tests do."""
    items = request.session.items  # doctests have no module: compare with getattr
    selected = [item for item in items if getattr(item, "module", None) is request.module]
    if any("entry_point" in item.fixturenames for item in selected):
        request.getfixturevalue("entry_point")


def test_quick_start_prints_the_raw_data_asset_and_its_folder(entry_point):
    run = entry_point.result("quick start")
    assert run.code == 0
    assert MAIN_RAW_ID in run.out
    assert MAIN_RAW_DIR in run.out


def test_the_entry_point_prints_the_sessions_table(entry_point):
    run = entry_point.result("sessions")
    assert run.code == 0
    assert [row[0] for row in table_rows(run.out)][:2] == [
        MAIN,
        "ecephys_676909_2023-12-14_12-43-11",
    ]


def test_piped_output_has_no_ansi_codes_and_no_progress_bar(entry_point):
    run = entry_point.result("sessions")  # 4 sessions: a terminal would show a bar
    assert ANSI not in run.out + run.err
    assert "\r" not in run.err
    assert not PROGRESS_BAR.search(run.err)


def test_the_entry_point_exits_1_with_one_line_on_a_remote_error(entry_point):
    run = entry_point.result("remote error")
    assert run.code == 1
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("aind-session: error: ")


def test_the_entry_point_exits_2_with_one_line_on_bad_input(entry_point):
    run = entry_point.result("bad input")
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("aind-session: error: 'not-a-session'")


def test_sandbox_with_a_world_file_serves_that_world(entry_point):
    run = entry_point.result("small world")
    [summary] = json.loads(run.out)["sessions"]
    assert run.code == 0
    assert summary["raw_data_asset"]["id"] == SMALL_WORLD_ASSET_ID
    assert summary["raw_data_dir"] == f"s3://aind-ephys-data/{SMALL_WORLD_SESSION}"
    assert summary["metadata_files"] == ["subject.json"]


def test_the_entry_point_exits_2_on_an_unknown_command(entry_point):
    run = entry_point.result("unknown command")
    assert run.code == 2
    assert "invalid choice: 'frobnicate'" in run.err_lines[-1]


def test_the_sandbox_command_prints_its_environment_and_stops_cleanly_on_ctrl_c(entry_point):
    run = entry_point.result("sandbox")
    assert run.code == 0
    assert "export CODE_OCEAN_DOMAIN=http://127.0.0.1:" in run.out
    assert run.err_lines[-1] == "# sandbox stopped"


def test_the_sandbox_command_prints_its_token_only_in_the_export_line(entry_point):
    run = entry_point.result("sandbox")
    with_token = [line for line in (run.out + run.err).splitlines() if SANDBOX_TOKEN_PREFIX in line]
    assert [line.partition("=")[0] for line in with_token] == ["export CODE_OCEAN_API_TOKEN"]


def test_the_sandbox_command_with_verbose_logs_each_request_it_serves(entry_point):
    run = entry_point.result("sandbox")
    assert entry_point.asked["sandbox"] == 200
    logged = [
        line for line in run.err_lines if line.startswith("INFO aind_session.testing.sandbox")
    ]
    assert (
        f"INFO aind_session.testing.sandbox: codeocean GET /api/v1/data_assets/{MAIN_RAW_ID} 200"
        in logged
    )


def test_the_sandbox_command_prints_a_line_unsetting_other_aws_credentials(entry_point):
    out = entry_point.result("sandbox").out
    unset = [line for line in out.splitlines() if line.startswith("unset ")]
    assert unset == ["unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN"]
    assert out.index(unset[0]) < out.index("export ")  # before the exports, as Sandbox() does


def test_a_2x_session_shows_no_platform_in_info_and_sessions(cli):
    info = cli("info", "780345_2025-02-20_00-00-00")
    assert info.code == 0, info.err
    assert "platform         - (not in the ID; see modalities)" in info.out
    assert "modalities       behavior" in info.out
    table = cli("sessions", "780345")
    assert table.code == 0, table.err
    (row,) = [line for line in table.out.splitlines() if line.startswith("780345_")]
    assert row.split()[:2] == ["780345_2025-02-20_00-00-00", "-"]
    assert row.split()[-2:] == ["no", "-"]  # sorted: asked (no); latest sorting: none
