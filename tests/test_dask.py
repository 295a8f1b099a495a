"""A function mapped over 200 sessions on a local ``dask.distributed`` cluster
(two worker processes) sharing one persistent cache: every worker's answers
are the parent's.

The workers are started by spawn (dask's default), so they are given the
sandbox's settings through their environment, and the shared cache folder.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aind_session import Session, batch
from aind_session.testing import Sandbox
from aind_session.testing.generate import raw_session_ids, subject_world

distributed = pytest.importorskip("distributed")

SUBJECT = "712815"
SESSIONS = 200


def answers(session_id: str) -> tuple[dict[str, Any], int]:
    """What a user's function asks of one session (CodeOcean and S3), and the
    process that answered."""
    session = Session(session_id)
    found = {
        "raw_data_asset": session.raw_data_asset,
        "raw_data_dir": session.raw_data_dir.as_posix(),
        "modalities": session.modalities,
        "sorted_data_assets": session.ecephys.sorted_data_assets,
    }
    return found, os.getpid()


@pytest.fixture
def sessions(aind_sandbox: Sandbox) -> list[str]:
    world = subject_world(
        sessions=SESSIONS, assets_per_session=3, sorted_per_session=1, other_subjects=0
    )
    aind_sandbox.load(world)
    ids = raw_session_ids(world, SUBJECT)
    assert len(ids) == SESSIONS
    return ids


@pytest.fixture
def client(aind_sandbox: Sandbox, tmp_path: Path) -> Iterator[Any]:
    """Two worker processes on 127.0.0.1 that reach the sandbox and share a disk cache."""
    env = {**aind_sandbox.env, "AIND_SESSION_CACHE_DIR": str(tmp_path / "cache")}
    before = set(multiprocessing.active_children())
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env=env,
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected
    assert set(multiprocessing.active_children()) <= before  # the workers are gone


def test_every_workers_answers_over_200_sessions_are_the_parents(
    sessions: list[str],
    client: Any,
    aind_sandbox: Sandbox,
    aind_settings: Any,
    tmp_path: Path,
) -> None:
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    halves = [sessions[0::2], sessions[1::2]]  # each worker answers its half
    submitted = [
        client.map(answers, half, workers=[worker], pure=False)
        for worker, half in zip(workers, halves, strict=True)
    ]
    on_workers: dict[str, tuple[dict[str, Any], int]] = {}
    for half, futures in zip(halves, submitted, strict=True):
        on_workers.update(zip(half, client.gather(futures), strict=True))
    assert aind_sandbox.requests("codeocean") and aind_sandbox.requests("s3")  # they asked
    processes = {pid for _, pid in on_workers.values()}
    assert len(processes) == 2 and os.getpid() not in processes

    aind_sandbox.clear_requests()  # the parent's own answers (no disk cache), in few rounds
    asked = batch.gather([functools.partial(answers, session_id) for session_id in sessions])
    here = {}
    for session_id, answered in zip(sessions, asked, strict=True):
        assert not isinstance(answered, Exception), answered
        here[session_id] = answered[0]
    assert aind_sandbox.requests()
    assert {session_id: found for session_id, (found, _) in on_workers.items()} == here

    aind_settings.set(AIND_SESSION_CACHE_DIR=str(tmp_path / "cache"))  # what the workers kept
    aind_sandbox.clear_requests()
    from_disk = {session_id: answers(session_id)[0] for session_id in sessions}
    assert from_disk == here
    assert aind_sandbox.requests("codeocean") == [] and aind_sandbox.requests("s3") == []
