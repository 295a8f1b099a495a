"""The command line in a real terminal: tmux, 100 columns. Its screen is read back
(``capture-pane``, with and without escape codes) and checked: no line is wider than
the terminal, every value starts under its column's header, colour marks problems
only, and the progress bar and log lines do not run into each other.

tmux must be installed; where it is not, the test is skipped, unless
``AIND_SESSION_REQUIRE_TMUX`` is set (CI sets it, and installs tmux).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

MAIN = "ecephys_676909_2023-12-13_13-43-40"
WIDTH = 100
ANSI = re.compile(r"\x1b\[[0-9;]*m")
START, DONE = "__aind_session_start__", "__aind_session_done__"

if shutil.which("tmux") is None:
    if os.environ.get("AIND_SESSION_REQUIRE_TMUX"):
        raise RuntimeError("tmux is required here (AIND_SESSION_REQUIRE_TMUX) but not installed")
    pytest.skip("tmux is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def screen(tmp_path_factory, aind_sandbox_session):
    """Run the commands in a 100-column tmux window against the session's sandbox (its
    bundled world); the screen's text of each command, plain and with escape codes."""

    socket = str(tmp_path_factory.mktemp("tmux") / "socket")
    name = f"aind-{uuid.uuid4().hex[:8]}"
    commands = {
        "sessions": ["sessions", "676909", "713655"],
        "info": ["info", MAIN],
        "assets": ["assets", MAIN],
    }
    results: dict[str, tuple[str, str]] = {}
    sandbox = aind_sandbox_session  # the session's: not stopped here
    sandbox.reset()
    env = {**os.environ, **sandbox.env, "TERM": "xterm-256color"}
    for var in ("NO_COLOR", "COLUMNS", "LINES"):
        env.pop(var, None)
    base = ["tmux", "-S", socket]
    subprocess.run(
        [*base, "new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", "80"], env=env, check=True
    )
    try:
        for key, argv in commands.items():
            cli = [sys.executable, "-c", "from aind_session.cli import main; main()", *argv]
            # the end mark names the command: the screen of the one before has its own
            line = f"clear; echo {START}; {shlex.join(cli)}; echo {DONE}{key}"
            subprocess.run([*base, "send-keys", "-t", name, line, "Enter"], check=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                plain = _capture(base, name, escapes=False)
                if re.search(rf"^{DONE}{key}$", plain, re.M):
                    break
                time.sleep(0.3)
            else:
                pytest.fail(f"{key} did not finish in tmux: {plain[-2000:]}")
            results[key] = (plain, _capture(base, name, escapes=True))
    finally:
        subprocess.run([*base, "kill-server"], check=False)
    return results


def _capture(base: list[str], name: str, escapes: bool) -> str:
    """The screen, lines tmux wrapped joined again (-J), with escape codes (-e) or not."""
    argv = [*base, "capture-pane", "-p", "-J", "-t", name, *(["-e"] if escapes else [])]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _output(text: str) -> list[str]:
    """The lines the command printed: after the command line, before the end mark."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if ANSI.sub("", line).startswith(START))
    end = next(i for i, line in enumerate(lines) if ANSI.sub("", line).startswith(DONE))
    return [line.rstrip() for line in lines[start + 1 : end]]


@pytest.mark.parametrize("command", ["sessions", "info", "assets"])
def test_no_line_is_wider_than_the_100_column_terminal(screen, command):
    plain, escaped = screen[command]
    # -J joins lines tmux wrapped: a line over 100 columns would show here as longer
    printed = _output(plain)
    assert len(printed) > 3
    assert max(len(line) for line in printed) <= WIDTH
    assert max(len(ANSI.sub("", line)) for line in _output(escaped)) <= WIDTH


@pytest.mark.parametrize("command", ["sessions", "assets"])
def test_every_value_starts_under_its_header(screen, command):
    lines = [line for line in _output(screen[command][0]) if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.startswith("ID "))
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[header])]
    rows = [line for line in lines[header + 1 :] if not line.startswith("aind-session")]
    assert rows
    for row in rows:
        for start in starts:
            assert row[start] != " " and (start == 0 or row[start - 1] == " "), (row, start)


def test_colour_marks_the_failed_sorting_only(screen):
    escaped = _output(screen["sessions"][1])
    main = next(line for line in escaped if ANSI.sub("", line).startswith(MAIN))
    assert re.search(r"\x1b\[31m\s*error", main)  # red
    others = [
        line
        for line in escaped
        if ANSI.sub("", line).startswith(("ecephys_676909_2023-12-14", "ecephys_713655"))
    ]
    assert len(others) == 2
    for line in others:  # found and ok: no colour at all
        assert not re.search(r"\x1b\[3[0-7]m", line), line  # 39 is tmux's default colour


def test_the_header_is_bold_and_not_applicable_is_dim(screen):
    escaped = _output(screen["sessions"][1])
    assert any(line.startswith("\x1b[1mID") for line in escaped)
    behavior = next(line for line in escaped if "behavior_676909" in line)
    assert "\x1b[2m-" in behavior


def test_a_log_line_does_not_run_into_the_progress_bar(screen):
    printed = _output(screen["sessions"][0])
    warnings = [line for line in printed if "WARNING" in line]
    assert warnings  # the bundled world has a sorting that reports a CUDA error
    for line in warnings:
        assert line.startswith("WARNING"), line
