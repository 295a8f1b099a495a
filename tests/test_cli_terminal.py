"""The command line on a terminal and beyond one run: colour only for problems, widths
measured as seen and fitted to the terminal, progress from the first session, help
for every argument, flags named in errors, and the disk cache it keeps by default."""

from __future__ import annotations

import argparse
import json
import re
import sys

import pytest

from aind_session import cli, cli_cache

MAIN = "ecephys_676909_2023-12-13_13-43-40"
SECOND = "ecephys_676909_2023-12-14_12-43-11"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED, YELLOW, DIM = "\x1b[31m", "\x1b[33m", "\x1b[2m"


@pytest.fixture
def terminal(monkeypatch):
    """Call ``terminal(width=100)`` in the test's body (capsys's streams are in place only
    then): stdout and stderr are a terminal of ``width`` columns."""

    def make(width: int = 100) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("COLUMNS", str(width))
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    return make


def seen(text: str) -> str:
    return ANSI.sub("", text)


# -- colour ---------------------------------------------------------------------------------
def test_only_problems_are_coloured_a_failed_sorting_red(cli, terminal):
    terminal()
    out = cli("sessions", "676909").out
    main = next(line for line in out.splitlines() if line.startswith(MAIN))
    assert f"{RED}error" in main
    second = next(line for line in out.splitlines() if line.startswith(SECOND))
    assert ANSI.search(second) is None  # all found, all ok: nothing coloured


def test_not_applicable_is_dim_and_never_red(cli, terminal):
    terminal()
    out = cli("sessions", "676909").out
    behavior = next(line for line in out.splitlines() if line.startswith("behavior_"))
    assert f"{DIM}-" in behavior
    assert RED not in behavior


def test_unknown_is_yellow_with_its_footnote(cli, terminal, aind_sandbox, aind_settings):
    terminal()
    from aind_session.testing import Faults

    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0")
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), retry_after=0, services=("s3",))
    run = cli("sessions", "676909")
    assert f"{YELLOW}unknown [1]" in run.out
    assert "unknown [1]: S3 did not answer" in seen(run.err)


def test_nothing_found_in_info_is_dim_not_red(cli, terminal):
    terminal()
    out = cli("info", "ecephys_686740_2024-01-20_12-00-00").out  # no raw data asset
    line = next(li for li in out.splitlines() if "raw data asset" in li)
    assert DIM in line and RED not in line


# -- widths ---------------------------------------------------------------------------------
def test_columns_line_up_as_seen_though_cells_are_coloured(cli, terminal):
    terminal()
    lines = [seen(line) for line in cli("sessions", "676909").out.splitlines()]
    header = lines[0]
    start = header.index("LATEST SORTING")
    for line in lines[1:]:
        assert line[start - 2 : start] == "  "
        assert line[start] != " "  # every value starts under its header


@pytest.mark.parametrize(
    "argv", [["assets", MAIN], ["info", MAIN], ["sessions", "676909", "--columns", "all"]]
)
def test_no_line_is_wider_than_the_terminal(cli, terminal, argv):
    terminal(80)
    lines = cli(*argv).out.splitlines()
    assert max(len(seen(line)) for line in lines) <= 80


def test_a_narrow_terminal_shows_what_follows_the_session_id_in_asset_names(cli, terminal):
    terminal(100)
    rows = [line.split() for line in seen(cli("assets", MAIN).out).splitlines()[1:]]
    names = {row[0]: row[1] for row in rows}
    assert names["a782c5e4-a16b-495d-baea-7ca9ba29015c"] == "…_sorted_2024-03-01_16-02-45"
    raw = names["16d46411-540a-4122-b47f-8cb2a15d593a"]  # the session ID: its two ends
    assert raw.startswith("ecephys_676909_") and raw.endswith("13-43-40")


def test_a_name_shortened_in_the_middle_keeps_its_start_and_its_end():
    import io

    from aind_session.cli_output import Style, shorten
    from aind_session.cli_text import assets_text

    style = Style(io.StringIO())
    style.width = 80
    name = f"{MAIN}_sorted_2024-03-01_16-02-45"
    row = {"id": "a782c5e4-a16b-495d-baea-7ca9ba29015c", "name": name, "type": "result"}
    text = assets_text([{**row, "created": "2024-03-01T16:02:45+00:00", "kind": "sorted"}], style)
    shown = text.splitlines()[1].split()[1]
    assert "…" in shown and shown == shorten(name, len(shown))
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_pipe_gets_whole_lines_whatever_the_terminal(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    out = cli("assets", MAIN).out
    assert "…" not in out
    assert f"{MAIN}_sorted_2024-03-01_16-02-45" in out


# -- progress -------------------------------------------------------------------------------
def test_the_progress_bar_is_drawn_before_the_first_session_is_done(cli, terminal):
    terminal()
    err = cli("info", MAIN).err
    assert "[..............................] 0/1" in err
    assert "] 1/1" in err


def test_the_progress_bar_moves_after_the_first_of_many_sessions(cli, terminal):
    terminal()
    err = cli("sessions", "676909").err
    assert "] 0/4" in err and "] 1/4" in err and "] 4/4" in err


# -- help and errors ------------------------------------------------------------------------
def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for inner in _actions(sub):
                    yield f"{name} {inner[0]}", inner[1]
        else:
            yield "/".join(action.option_strings) or action.dest, action


def test_every_argument_of_every_command_has_help():
    missing = [name for name, action in _actions(cli._parser()) if not action.help]
    assert missing == []


def test_help_of_assets_explains_session(cli):
    out = cli("assets", "--help").out
    assert "a session ID (ecephys_676909_2023-12-13_13-43-40" in " ".join(out.split())


def test_assets_takes_several_sessions(cli):
    doc = json.loads(cli("assets", MAIN, SECOND, "--json").out)
    assert [s["id"] for s in doc["sessions"]] == [MAIN, SECOND]


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--start-date", "foo"], "--start-date 'foo'"),
        (["--end-date", "2023-13-45"], "--end-date '2023-13-45'"),
        (["--start-date", "2024-01-01", "--end-date", "2023-01-01"], "--end-date"),
        (["--platform", "e/e"], "--platform"),
        (["--format", "parquet"], "-o FILE"),
    ],
)
def test_an_error_names_the_flag_not_the_python_argument(cli, argv, flag):
    run = cli("sessions", "676909", *argv)
    assert run.code == 2
    (line,) = run.err_lines
    assert flag in line
    assert "start_date" not in line and "end_date" not in line


# -- the disk cache -------------------------------------------------------------------------
@pytest.fixture
def real_domain(monkeypatch, tmp_path):
    """The sandbox taken for a remote CodeOcean (so the CLI's default cache is on), and
    the user's cache folder in ``tmp_path``."""
    monkeypatch.setattr(cli_cache, "is_local", lambda domain: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("AIND_SESSION_CACHE_DIR", raising=False)
    return tmp_path / "aind-session"


def test_the_cli_keeps_answers_in_the_users_cache_folder_by_default(cli, aind_sandbox, real_domain):
    first = cli("info", MAIN, "--json").out
    asked = len(aind_sandbox.requests())
    assert asked > 0
    assert (real_domain / "aind-session-cache.sqlite3").is_file()
    assert cli("info", MAIN, "--json").out == first
    assert len(aind_sandbox.requests()) == asked  # the second run asked nothing


def test_refresh_asks_again_and_keeps_the_new_answers(cli, aind_sandbox, real_domain):
    cli("info", MAIN, "--json")
    asked = len(aind_sandbox.requests())
    cli("info", MAIN, "--json", "--refresh")
    again = len(aind_sandbox.requests()) - asked
    assert again >= asked  # every question asked again
    cli("info", MAIN, "--json")
    assert len(aind_sandbox.requests()) == asked + again  # and kept


def test_no_cache_keeps_nothing_on_disk(cli, aind_sandbox, real_domain):
    cli("info", MAIN, "--json", "--no-cache")
    assert not real_domain.exists()


def test_no_cache_wins_over_the_librarys_setting(
    cli, aind_sandbox, real_domain, tmp_path, aind_settings
):
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(tmp_path / "mine"))
    cli("info", MAIN, "--json", "--no-cache")
    assert not (tmp_path / "mine").exists()


def test_the_cli_keeps_nothing_on_disk_for_a_sandbox(cli, aind_sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cli("info", MAIN)
    assert not (tmp_path / "aind-session").exists()


def test_the_cli_leaves_the_environment_as_it_found_it(cli, real_domain):
    import os

    before = dict(os.environ)
    cli("info", MAIN, "--refresh")
    assert dict(os.environ) == before


def test_an_output_file_that_cannot_be_written_is_refused_before_any_request(
    cli, aind_sandbox, tmp_path
):
    aind_sandbox.clear_requests()
    run = cli("sessions", "676909", "--format", "csv", "-o", str(tmp_path / "no" / "x.csv"))
    assert run.code == 2
    assert "-o" in run.err_lines[0] and "cannot be written" in run.err_lines[0]
    assert aind_sandbox.requests() == []


def test_no_cache_and_refresh_are_not_given_together(cli):
    run = cli("info", MAIN, "--no-cache", "--refresh")
    assert run.code == 2
    assert "not allowed with argument" in run.err


def test_flag_names_replace_whole_words_only():
    from aind_session import errors
    from aind_session.cli_commands import _flag_names

    with pytest.raises(errors.InvalidInputError) as caught, _flag_names():
        raise errors.InvalidInputError("end_date='x' is before start_date; platforms differ")
    assert str(caught.value) == "--end-date 'x' is before --start-date; platforms differ"


def test_a_warning_about_one_failure_is_logged_once_a_run():
    import io
    import logging

    stream = io.StringIO()
    handler = cli._LogHandler(stream)
    log = logging.getLogger("aind_session.test_once")
    for path in ("s3://b/one", "s3://b/two"):  # the same failure, two folders
        handler.handle(
            log.makeRecord(log.name, logging.WARNING, "", 0, f"S3 refused {path}", (), None)
        )
    handler.handle(log.makeRecord(log.name, logging.WARNING, "", 0, "DocDB down", (), None))
    handler.handle(log.makeRecord(log.name, logging.INFO, "", 0, "chose s3://b/one", (), None))
    handler.handle(log.makeRecord(log.name, logging.INFO, "", 0, "chose s3://b/one", (), None))
    assert stream.getvalue().splitlines() == [
        "S3 refused s3://b/one",
        "DocDB down",
        "chose s3://b/one",  # what is not a warning is logged as it comes
        "chose s3://b/one",
    ]
