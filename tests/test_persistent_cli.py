"""The CLI with a persistent cache, first used by several threads at once (it deadlocked)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

IDS = ["ecephys_676909_2023-12-13_13-43-40", "ecephys_644547_2022-12-06_13-24-58"]
RUNS = 20
MAIN = "import sys; from aind_session.cli import main; sys.exit(main())"


def _info(env):
    return subprocess.run(
        [sys.executable, "-c", MAIN, "info", *IDS, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def filled_cache(aind_sandbox, tmp_path):
    env = {**os.environ, **aind_sandbox.env, "AIND_SESSION_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("AIND_SESSION_OFFLINE", None)
    first = _info(env)
    assert first.returncode == 0, first.stderr
    return env, first.stdout


def _twenty(env):
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(_info, [env] * RUNS))


def test_twenty_cli_runs_answer_from_a_filled_persistent_cache(filled_cache):
    env, expected = filled_cache
    results = _twenty(env)
    failures = [r.stderr[-500:] for r in results if r.returncode != 0]
    assert not failures, f"{len(failures)} of {RUNS} runs failed; the first: {failures[0]}"
    assert all(r.stdout == expected for r in results)


def test_twenty_offline_cli_runs_need_no_token_and_answer_the_same(filled_cache, aind_sandbox):
    env, expected = filled_cache
    env = {**env, "AIND_SESSION_OFFLINE": "1"}
    del env["CODE_OCEAN_API_TOKEN"]
    aind_sandbox.clear_requests()
    results = _twenty(env)
    failures = [r.stderr[-500:] for r in results if r.returncode != 0]
    assert not failures, f"{len(failures)} of {RUNS} runs failed; the first: {failures[0]}"
    assert all(r.stdout == expected for r in results)
    assert aind_sandbox.requests() == [], "offline runs must ask nothing of the network"
