"""Session tables: `aind_session.tables.session_rows`, `sessions_table` and `write_table`,
against the bundled sandbox world (facts as in tests/test_cli.py) and generated worlds."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from typing import Any

import pytest

import aind_session
from aind_session import errors, tables
from aind_session.testing import Faults, Sandbox
from aind_session.testing.generate import raw_session_ids, sessions_world

MAIN = "ecephys_676909_2023-12-13_13-43-40"  # latest sorting failed, an older one usable
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
MAIN_NWB_ID = "fc3206c1-7797-46aa-9ba8-5521e4c3aa7d"
MAIN_LATEST_SORTED = "30d6d645-0ec1-4d71-b088-6af2b1c0feaa"
SECOND = "ecephys_676909_2023-12-14_12-43-11"
BEHAVIOR = "behavior_676909_2023-12-15_09-30-00"
RUNNING = "ecephys_713655_2024-04-22_14-21-05"  # a sorting pipeline run in progress
NO_ASSET = "ecephys_686740_2024-01-20_12-00-00"  # S3 data, no CodeOcean asset
NEW = "780345_2025-02-20_00-00-00"  # 2.x ID with a DocDB record
LATENCY = 0.3  # so that requests sent together overlap in the sandbox's log (see test_round_trips)


def row(session: str, *columns: str) -> dict[str, Any]:
    (found,) = tables.session_rows([session], columns or None)
    return found


@pytest.fixture
def quick(aind_settings: Any) -> None:
    """No waiting between tries."""
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")


@pytest.fixture
def many(aind_sandbox: Sandbox, no_collection_pauses: None) -> list[str]:
    """40 sessions of 4 subjects, with latency."""
    world = sessions_world(subjects=4, sessions=10)
    aind_sandbox.load(world)
    aind_sandbox.latency = LATENCY
    return raw_session_ids(world)


# -- rows ----------------------------------------------------------------------------------
def test_a_row_has_the_identity_keys_then_the_columns_asked_in_their_order_then_unknown(
    aind_sandbox: Sandbox,
) -> None:
    assert list(row(MAIN, "sorted", "uploaded")) == [
        "id",
        "platform",
        "subject_id",
        "start_time",
        "sorted",
        "uploaded",
        "unknown",
    ]


def test_a_row_of_every_column_states_the_sample_worlds_facts(aind_sandbox: Sandbox) -> None:
    assert row(MAIN) == {
        "id": MAIN,
        "platform": "ecephys",
        "subject_id": "676909",
        "start_time": "2023-12-13T13:43:40-08:00",
        "raw_data_asset_id": MAIN_RAW_ID,
        "raw_data_dir": f"s3://aind-ephys-data/{MAIN}",
        "uploaded": True,
        "modalities": ["behavior", "ecephys"],
        "sorted": True,
        "sorters": ["kilosort2_5", "kilosort4"],
        "latest_sorted_asset_id": MAIN_LATEST_SORTED,
        "latest_sorting_status": "error",
        "nwb_asset_id": MAIN_NWB_ID,
        "sorting_running": False,
        "docdb_record": True,
        "unknown": {},
    }


def test_the_ecephys_columns_of_a_behavior_session_are_null(aind_sandbox: Sandbox) -> None:
    found = row(BEHAVIOR)
    assert [found[c] for c in tables._ECEPHYS] == [None] * len(tables._ECEPHYS)
    assert (found["uploaded"], found["unknown"]) == (True, {})


def test_the_ecephys_columns_of_a_behavior_session_ask_nothing(aind_sandbox: Sandbox) -> None:
    row(BEHAVIOR, "sorted", "sorters", "latest_sorting_status", "sorting_running")
    assert aind_sandbox.requests() == []


def test_latest_sorting_status_is_null_without_a_sorted_asset(aind_sandbox: Sandbox) -> None:
    found = row(NO_ASSET, "latest_sorted_asset_id", "latest_sorting_status", "sorted")
    assert (found["latest_sorted_asset_id"], found["latest_sorting_status"]) == (None, None)
    assert found["sorted"] is False


def test_sorting_running_is_true_while_the_pipeline_runs_on_the_raw_asset(
    aind_sandbox: Sandbox,
) -> None:
    assert row(RUNNING, "sorting_running")["sorting_running"] is True


def test_a_session_without_an_nwb_asset_has_a_null_nwb_asset_id(aind_sandbox: Sandbox) -> None:
    assert row(SECOND, "nwb_asset_id")["nwb_asset_id"] is None


def test_docdb_record_says_whether_docdb_has_one(aind_sandbox: Sandbox) -> None:
    assert [row(s, "docdb_record")["docdb_record"] for s in (NEW, SECOND)] == [True, False]


def test_a_column_that_could_not_be_found_out_is_null_with_its_reason_never_no(
    aind_sandbox: Sandbox, quick: None
) -> None:
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0, services=("s3",))
    found = row(MAIN, "uploaded", "raw_data_asset_id")
    assert found["uploaded"] is None
    assert set(found["unknown"]) == {"uploaded"}
    assert found["unknown"]["uploaded"].startswith("S3 did not answer a listing of")
    assert found["raw_data_asset_id"] == MAIN_RAW_ID  # CodeOcean answered


def test_codeocean_failing_leaves_the_asset_columns_unknown_and_docdb_record_answered(
    aind_sandbox: Sandbox, quick: None
) -> None:
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0, services=("codeocean",))
    found = row(MAIN, "raw_data_asset_id", "nwb_asset_id", "docdb_record")
    assert (found["raw_data_asset_id"], found["nwb_asset_id"]) == (None, None)
    assert set(found["unknown"]) == {"raw_data_asset_id", "nwb_asset_id"}
    assert found["docdb_record"] is True


def test_docdb_failing_leaves_docdb_record_unknown_never_false(
    aind_sandbox: Sandbox, quick: None
) -> None:
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0, services=("docdb",))
    found = row(SECOND, "docdb_record")
    assert found["docdb_record"] is None
    assert "DocDB" in found["unknown"]["docdb_record"]


def test_a_sorting_status_that_could_not_be_found_out_is_unknown(
    aind_sandbox: Sandbox, quick: None
) -> None:
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), retry_after=0, services=("s3",))
    found = row(MAIN, "latest_sorting_status")
    assert found["latest_sorting_status"] == "unknown"
    assert "latest_sorting_status" in found["unknown"]


def test_a_refused_token_is_raised_not_reported_as_unknown(
    aind_sandbox: Sandbox, aind_settings: Any
) -> None:
    aind_settings.set(CODE_OCEAN_API_TOKEN="cop_refused_token_for_this_test")
    with pytest.raises(errors.AuthenticationError):
        row(MAIN, "raw_data_asset_id")


def test_an_unknown_column_is_invalid_input_listing_the_columns(aind_sandbox: Sandbox) -> None:
    with pytest.raises(errors.InvalidInputError, match=r"'sortd'.*raw_data_asset_id.*docdb_record"):
        tables.session_rows([MAIN], ["sorted", "sortd"])
    assert aind_sandbox.requests() == []


# -- requests and rounds -------------------------------------------------------------------
def test_a_column_of_asset_names_asks_codeocean_and_docdb_only(aind_sandbox: Sandbox) -> None:
    row(MAIN, "nwb_asset_id", "latest_sorted_asset_id")
    assert aind_sandbox.requests("s3") == []


def test_docdb_record_alone_asks_docdb_only(aind_sandbox: Sandbox) -> None:
    row(MAIN, "docdb_record")
    assert {r.service for r in aind_sandbox.requests()} == {"docdb"}


def test_docdb_records_of_many_sessions_take_one_query_per_collection(
    aind_sandbox: Sandbox, many: list[str]
) -> None:
    rows = tables.session_rows(many, ["docdb_record"])
    assert [r["docdb_record"] for r in rows] == [True] * len(many)
    assert len(aind_sandbox.requests("docdb")) <= 2
    assert aind_sandbox.requests("codeocean") == aind_sandbox.requests("s3") == []


def test_every_column_of_many_sessions_is_asked_in_two_rounds(
    aind_sandbox: Sandbox, many: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="aind_session.batch"):
        rows = tables.session_rows(many)
    assert [r["unknown"] for r in rows] == [{}] * len(many)
    assert all(r["sorted"] and r["uploaded"] and r["docdb_record"] for r in rows)
    # the searches, the pipeline's runs and DocDB at once, then everything on S3 at once
    rounds = [r for r in caplog.records if r.getMessage().startswith("batch round")]
    assert len(rounds) == 2
    assert len(aind_sandbox.requests("docdb")) <= 2  # the records' summaries, shared
    prefixes = {s[:20] for s in many}  # one search per 20-character name prefix
    assert len(aind_sandbox.requests("codeocean")) == len(prefixes) + 1  # and the runs


def test_every_column_of_a_few_sessions_takes_two_round_trips(
    aind_sandbox: Sandbox, many: list[str]
) -> None:
    tables.session_rows(many[:6])  # 42 S3 requests: fewer than S3's 64 in flight
    assert aind_sandbox.round_trips() == 2


def test_progress_moves_from_the_first_session_in_growing_batches(
    aind_sandbox: Sandbox, many: list[str]
) -> None:
    done: list[int] = []
    tables.session_rows(many, ["uploaded"], progress=done.append)
    assert done == [1, 8, len(many) - 9]


# -- the DataFrame -------------------------------------------------------------------------
def test_a_subjects_table_is_indexed_by_session_id_in_date_order(aind_sandbox: Sandbox) -> None:
    table = aind_session.sessions_table(676909, columns=["uploaded"])
    assert table.index.name == "id"
    assert list(table.index) == [MAIN, SECOND, BEHAVIOR, "SmartSPIM_676909_2024-01-18_11-05-32"]


def test_a_subjects_table_takes_the_get_sessions_filters(aind_sandbox: Sandbox) -> None:
    table = aind_session.sessions_table(["676909"], platform="ecephys", start_date="2023-12-14")
    assert list(table.index) == [SECOND]


def test_the_sessions_of_many_subjects_are_found_together(
    aind_sandbox: Sandbox, many: list[str]
) -> None:
    subjects = sorted({s.split("_")[1] for s in many})
    table = aind_session.sessions_table(subjects, columns=["docdb_record"])
    assert sorted(table.index) == many
    # every subject's searches at once, then the records' summaries
    assert aind_sandbox.round_trips() == 2


def test_the_columns_of_a_table_are_typed(aind_sandbox: Sandbox) -> None:
    table = aind_session.sessions_table(sessions=[MAIN, BEHAVIOR, NEW])
    dtypes = {name: str(dtype) for name, dtype in table.dtypes.items()}
    assert dtypes == {
        "platform": "string",
        "subject_id": "string",
        "start_time": "datetime64[ns, America/Los_Angeles]",
        "raw_data_asset_id": "string",
        "raw_data_dir": "string",
        "uploaded": "boolean",
        "modalities": "object",
        "sorted": "boolean",
        "sorters": "object",
        "latest_sorted_asset_id": "string",
        "latest_sorting_status": "category",
        "nwb_asset_id": "string",
        "sorting_running": "boolean",
        "docdb_record": "boolean",
        "unknown": "object",
    }
    assert list(table["latest_sorting_status"].cat.categories) == ["ok", "error", "unknown"]
    assert table.loc[MAIN, "modalities"] == ["behavior", "ecephys"]
    assert table.loc[MAIN, "start_time"].isoformat() == "2023-12-13T13:43:40-08:00"


def test_neither_subjects_nor_sessions_is_invalid_input(aind_sandbox: Sandbox) -> None:
    with pytest.raises(errors.InvalidInputError, match="neither of subjects and sessions"):
        aind_session.sessions_table()


def test_both_subjects_and_sessions_is_invalid_input(aind_sandbox: Sandbox) -> None:
    with pytest.raises(errors.InvalidInputError, match="both"):
        aind_session.sessions_table(676909, [MAIN])


def test_filters_with_sessions_given_are_invalid_input(aind_sandbox: Sandbox) -> None:
    with pytest.raises(errors.InvalidInputError, match="platform='ecephys'"):
        aind_session.sessions_table(sessions=[MAIN], platform="ecephys")


def test_a_table_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(errors.ConfigurationError, match=r"pip install '\.\[table\]'"):
        aind_session.sessions_table(sessions=[MAIN])


def test_importing_the_package_and_naming_sessions_table_import_no_pandas() -> None:
    code = (
        "import sys, aind_session\n"
        "aind_session.sessions_table\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'pyarrow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- files ---------------------------------------------------------------------------------
@pytest.fixture
def table(aind_sandbox: Sandbox) -> Any:
    return aind_session.sessions_table(sessions=[MAIN, BEHAVIOR, NEW])


def test_a_table_written_as_csv_reads_back_with_its_lists_and_unknown(table: Any) -> None:
    import pandas as pd

    out = io.StringIO()
    tables.write_table(table, out, "csv")
    back = pd.read_csv(io.StringIO(out.getvalue()), index_col="id")
    assert list(back.index) == list(table.index)
    assert json.loads(back.loc[MAIN, "sorters"]) == ["kilosort2_5", "kilosort4"]
    assert json.loads(back.loc[MAIN, "unknown"]) == {}
    assert back.loc[MAIN, "start_time"] == "2023-12-13T13:43:40-08:00"


def test_a_table_written_as_parquet_reads_back_with_list_and_map_columns(
    table: Any, tmp_path: Any
) -> None:
    import pandas as pd

    path = tmp_path / "sessions.parquet"
    tables.write_table(table, path, "parquet")
    back = pd.read_parquet(path).set_index("id")
    assert list(back.loc[MAIN, "modalities"]) == ["behavior", "ecephys"]
    assert back.loc[BEHAVIOR, "sorters"] is None
    assert dict(back.loc[MAIN, "unknown"]) == {}
    assert back.loc[MAIN, "start_time"] == table.loc[MAIN, "start_time"]
    assert isinstance(back["latest_sorting_status"].dtype, pd.CategoricalDtype)
    assert back["latest_sorting_status"].isna().tolist() == [False, True, True]
    assert back.loc[MAIN, "latest_sorting_status"] == "error"


def test_a_table_written_as_json_reads_back_as_its_rows(table: Any) -> None:
    out = io.BytesIO()
    tables.write_table(table, out, "json")
    assert json.loads(out.getvalue()) == tables.session_rows([MAIN, BEHAVIOR, NEW])


def test_an_unknown_file_format_is_invalid_input(table: Any) -> None:
    with pytest.raises(errors.InvalidInputError, match=r"'xlsx'.*csv, parquet, json"):
        tables.write_table(table, io.StringIO(), "xlsx")
