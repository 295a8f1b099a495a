"""The opt-in persistent cache and offline mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

import aind_session
from aind_session import Session, errors
from aind_session.persistent import FILE_NAME

MAIN = "ecephys_676909_2023-12-13_13-43-40"


def everything(session):
    return (
        session.raw_data_asset.id,
        session.raw_data_dir.as_posix(),
        session.modalities,
        session.metadata.subject,
        [(a.name, a.sorter_name) for a in session.ecephys.sorted_data_assets[1:3]],
    )


def test_answers_survive_a_cleared_memory_cache(aind_sandbox, cache_dir):
    first = everything(Session(MAIN))
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    assert everything(Session(MAIN)) == first
    assert aind_sandbox.requests() == []


def test_answers_are_shared_with_another_process(aind_sandbox, cache_dir):
    code = (
        "import aind_session; s = aind_session.Session('" + MAIN + "'); "
        "print(s.raw_data_dir.as_posix(), s.metadata.subject['genotype'])"
    )
    env = {**os.environ, **aind_sandbox.env, "AIND_SESSION_CACHE_DIR": str(cache_dir)}
    outputs = []
    for _ in range(2):
        aind_sandbox.clear_requests()
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        outputs.append((result.stdout, len(aind_sandbox.requests())))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == 5 and outputs[1][1] == 0  # CodeOcean 1, DocDB 2, S3 2


def test_cache_folder_and_file_are_private(aind_sandbox, cache_dir):
    Session(MAIN).raw_data_asset
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache_dir / FILE_NAME).stat().st_mode) == 0o600


def test_token_is_never_written_to_the_cache(aind_sandbox, cache_dir):
    everything(Session(MAIN))
    for path in cache_dir.iterdir():
        assert aind_sandbox.token.encode() not in path.read_bytes()


def test_offline_mode_answers_from_the_cache_without_any_request(
    aind_sandbox, cache_dir, monkeypatch
):
    first = everything(Session(MAIN))
    monkeypatch.setenv("AIND_SESSION_OFFLINE", "1")
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    assert everything(Session(MAIN)) == first
    assert aind_sandbox.requests() == []


def test_offline_mode_raises_when_an_answer_is_not_cached(aind_sandbox, cache_dir, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_OFFLINE", "1")
    aind_session.clear_cache()
    with pytest.raises(errors.OfflineCacheMissError, match="AIND_SESSION_OFFLINE"):
        Session(MAIN).raw_data_asset
    assert aind_sandbox.requests() == []


def test_offline_mode_never_runs_anything(aind_sandbox, cache_dir, monkeypatch):
    Session(MAIN).raw_data_asset
    monkeypatch.setenv("AIND_SESSION_OFFLINE", "1")
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    with pytest.raises(errors.OfflineCacheMissError):
        Session(MAIN).ecephys.run_sorting(skip_already_sorting=False)
    assert aind_sandbox.requests() == []


def test_clear_cache_persistent_empties_the_disk(aind_sandbox, cache_dir):
    Session(MAIN).raw_data_asset
    aind_session.clear_cache(persistent=True)
    aind_sandbox.clear_requests()
    Session(MAIN).raw_data_asset
    assert len(aind_sandbox.requests()) == 3  # the search, and DocDB's links (2 collections)


def test_expired_disk_answers_are_asked_again(aind_sandbox, cache_dir, monkeypatch):
    import time

    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", "0.2")
    aind_session.clear_cache()
    Session(MAIN).raw_data_asset
    time.sleep(0.3)
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    Session(MAIN).raw_data_asset
    assert len(aind_sandbox.requests()) == 3  # the search, and DocDB's links (2 collections)
