"""A fast first question: S3 is set up while CodeOcean is asked, the exit skips the
teardown's collections, and the answers and their requests are the same."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import aind_session
from aind_session import s3, s3_client
from aind_session.testing import Sandbox

SESSION = "ecephys_676909_2023-12-13_13-43-40"
RAW_DIR = f"s3://aind-ephys-data/{SESSION}"


@pytest.fixture
def cold(aind_sandbox: Sandbox) -> Iterator[Sandbox]:
    """No answer, client or S3 set-up left from another test; slow answers, so that
    what is sent together overlaps (nothing is timed)."""
    aind_session.clear_cache()
    aind_sandbox.latency = 0.5
    aind_sandbox.clear_requests()
    yield aind_sandbox
    thread = s3_client._warming
    if thread is not None:
        thread.join(30)
    aind_session.clear_cache()


def _subprocess(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_raw_data_dir_sets_up_s3_while_codeocean_is_asked(
    cold: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered_before: list[int] = []  # CodeOcean requests answered when S3 was first set up
    real = s3_client.get_filesystem

    def get_filesystem() -> Any:
        if not answered_before:
            answered_before.append(len(cold.requests("codeocean")))
        return real()

    monkeypatch.setattr(s3_client, "get_filesystem", get_filesystem)
    assert aind_session.Session(SESSION).raw_data_dir.as_posix() == RAW_DIR
    assert answered_before == [0]


def test_raw_data_dir_makes_the_same_requests_with_the_set_up_ahead(cold: Sandbox) -> None:
    assert aind_session.Session(SESSION).modalities == ("behavior", "ecephys")
    assert len(cold.requests("codeocean")) == 1  # the session's search
    assert [r.method for r in cold.requests("s3")] == ["GET"]  # its folder's listing
    assert cold.round_trips("codeocean") + cold.round_trips("s3") == 2


def test_the_set_up_ahead_is_a_daemon_thread_started_once(cold: Sandbox) -> None:
    s3.warm_up()
    thread = s3_client._warming
    assert thread is not None and thread.daemon
    s3.warm_up()
    assert s3_client._warming is thread
    fs = s3.get_filesystem()  # waits for the set-up: the filesystem it built
    assert not thread.is_alive()
    assert fs is s3.get_filesystem()


def test_no_set_up_ahead_when_offline(cold: Sandbox, aind_settings: Any) -> None:
    aind_settings.set(AIND_SESSION_OFFLINE="1")
    s3.hint_connect()
    assert s3_client._warming is None


def test_a_failed_set_up_ahead_is_raised_where_s3_is_first_used(
    cold: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, Any]:
        raise aind_session.errors.ConfigurationError("The S3 settings are broken.")

    monkeypatch.setattr(s3_client, "storage_options", broken)
    s3.warm_up()
    assert s3_client._warming is not None
    s3_client._warming.join(30)
    assert s3_client._fs is None
    with pytest.raises(aind_session.errors.ConfigurationError, match="S3 settings are broken"):
        s3.get_filesystem()


def _forked_child_answer(path: str) -> tuple[bool, tuple[str, ...]]:
    return s3_client._warming is None, s3.list_folder(path).folders


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_sets_up_s3_its_own_way(cold: Sandbox) -> None:
    cold.latency = 0
    s3.warm_up()
    assert s3_client._warming is not None
    s3_client._warming.join(30)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        forgotten, folders = pool.apply(_forked_child_answer, (RAW_DIR,))
    assert forgotten
    assert "behavior" in folders


def test_import_starts_no_thread_and_registers_no_exit_handler() -> None:
    code = (
        "import atexit, logging, sys, threading\n"  # logging's own handler, at its import
        "before = atexit._ncallbacks()\n"
        "import aind_session\n"
        "aind_session.Session('ecephys_676909_2023-12-13_13-43-40')\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'codeocean', 's3fs', 'boto3', "
        "'botocore', 'pydantic', 'requests'}\n"
        "print(threading.active_count(), atexit._ncallbacks() - before, sorted(heavy))\n"
    )
    done = _subprocess(code, {})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0", "[]"]


LIBRARY_QUESTION = (
    "import atexit, gc\n"
    "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
    "import aind_session\n"
    "class Cycle:\n"
    "    def __del__(self):\n"
    "        print('garbage finalized')\n"
    f"print(aind_session.Session({SESSION!r}).raw_data_asset.name)\n"
    "gc.disable()  # only the collection at exit can find the cycle made now\n"
    "c = Cycle(); c.me = c; del c\n"
    "gc.enable()\n"
)


def test_a_librarys_first_question_freezes_what_is_left_at_exit_after_a_last_collection(
    aind_sandbox: Sandbox,
) -> None:
    done = _subprocess(LIBRARY_QUESTION, aind_sandbox.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [SESSION, "garbage finalized", "frozen at exit: True"]


def test_quick_exit_off_leaves_the_interpreters_exit_as_it_is(aind_sandbox: Sandbox) -> None:
    done = _subprocess(LIBRARY_QUESTION, {**aind_sandbox.env, "AIND_SESSION_QUICK_EXIT": "false"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == SESSION
    assert "frozen at exit: False" in lines  # the cycle: finalized by Python's own teardown


def test_the_command_line_freezes_what_is_left_at_exit_after_a_last_collection(
    aind_sandbox: Sandbox,
) -> None:
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from aind_session import cli\n"
        "class Cycle:\n"
        "    def __del__(self):\n"
        "        print('garbage finalized')\n"
        "answer = cli.main\n"
        "def main():\n"
        "    code = answer()\n"
        "    gc.disable()  # only the collection at exit can find the cycle made now\n"
        "    c = Cycle(); c.me = c; del c\n"
        "    gc.enable()\n"
        "    print('asked')\n"
        "    return code\n"
        "cli.main = main\n"
        f"sys.argv = ['aind-session', 'assets', {SESSION!r}, '--json']\n"
        "cli.run()\n"
    )
    done = _subprocess(code, aind_sandbox.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == ["asked", "garbage finalized", "frozen at exit: True"]


def test_quick_exit_is_registered_once() -> None:
    code = (
        "import atexit\n"
        "from aind_session import exits\n"
        "before = atexit._ncallbacks()\n"
        "exits.quick_exit(); exits.quick_exit()\n"
        "print(atexit._ncallbacks() - before)\n"
    )
    done = _subprocess(code, {})
    assert done.stdout.strip() == "1", done.stderr
