"""The library beyond one process: what users get pickles, and worker processes
started by ``fork`` and by ``spawn`` answer as the parent does.

A forked child starts as a copy of its parent with one thread: the fork tests
warm the library in the parent (clients, connections, s3fs's event loop, the
disk cache's SQLite connection exist), then ask in a child something the parent
had not asked. A child that hangs (on a lock, or on a question only a parent's
thread was answering) fails by ``CHILD_TIMEOUT``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aind_session import Session, Subject, codeocean, errors
from aind_session.testing import Sandbox

SESSION = "ecephys_676909_2023-12-13_13-43-40"  # asked in the parent before a fork
OTHER = "ecephys_699846_2024-01-25_15-38-41"  # asked first in the child
CHILD_TIMEOUT = 30.0  # seconds: a child that hangs fails the test, and is killed

forking = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
# Python 3.12+ warns that forking a process with threads may deadlock the child:
# what these tests check is that the library's child does not
fork_warning = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def summary(session_id: str) -> dict[str, Any]:
    """Everything ``describe`` finds out of a session (every service is asked)."""
    return dict(Session(session_id).describe())


def in_child(method: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker process started by ``method``; forked here, now."""
    with multiprocessing.get_context(method).Pool(1) as pool:
        return pool.apply_async(fn, args).get(CHILD_TIMEOUT)


# -- pickling --------------------------------------------------------------------------


def roundtrip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
def test_a_session_and_a_subject_pickle_to_equal_objects(protocol: int) -> None:
    for value in (Session(SESSION), Subject("676909"), Session("780345_2025-02-20_00-00-00")):
        copy = pickle.loads(pickle.dumps(value, protocol))
        assert copy == value and type(copy) is type(value)
        assert (copy.id, getattr(copy, "dt", None)) == (value.id, getattr(value, "dt", None))


def test_an_unpickled_session_has_working_namespaces(aind_sandbox: Sandbox) -> None:
    session = Session(SESSION)
    before = (session.ecephys.sorted_data_asset, session.metadata.subject)  # namespaces built
    copy = roundtrip(session)
    assert (copy.ecephys.sorted_data_asset, copy.metadata.subject) == before
    assert copy.ecephys._base is copy and copy.metadata._base is copy


def test_data_assets_and_computations_pickle_to_equal_objects(aind_sandbox: Sandbox) -> None:
    from aind_session.config import get_settings

    session = Session(SESSION)
    runs = codeocean.list_computations(get_settings().sorting_pipeline_id)
    assert runs and session.data_assets
    for value in (session.raw_data_asset, session.data_assets, runs, session.raw_data_dir):
        copy = roundtrip(value)
        assert copy == value and type(copy) is type(value)


def test_sorted_data_assets_pickle_to_equal_ones_whose_properties_work(
    aind_sandbox: Sandbox,
) -> None:
    assets = Session(SESSION).ecephys.sorted_data_assets
    assert assets
    copies = roundtrip(assets)
    assert copies == assets and [type(a) for a in copies] == [type(a) for a in assets]
    assert [a.sorted_probes for a in copies] == [a.sorted_probes for a in assets]
    assert [a.is_sorting_error for a in copies] == [a.is_sorting_error for a in assets]


def test_a_summary_pickles_to_an_equal_one(aind_sandbox: Sandbox) -> None:
    described = Session(SESSION).describe()
    copy = roundtrip(described)
    assert copy == described and type(copy) is type(described)


def test_every_error_pickles_to_an_equal_one() -> None:
    """A worker's error reaches the parent pickled (dask, multiprocessing)."""
    made = {
        name: getattr(errors, name)(f"what went wrong with {name}")
        for name in errors.__all__
        if name != "DeadlineExceededError"
    }
    made["DeadlineExceededError"] = errors.DeadlineExceededError(3, 10.0)
    for name, error in made.items():
        copy = roundtrip(error)
        assert type(copy) is type(error), name
        assert (str(copy), copy.args, vars(copy)) == (str(error), error.args, vars(error)), name


# -- fork ------------------------------------------------------------------------------


@pytest.fixture
def requests_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Each request the sandbox serves, as (service, the client's address): a
    client address names a connection (the parent keeps its own open meanwhile)."""
    from aind_session.testing.faults import Middleware

    seen: list[tuple[str, Any]] = []
    serve = Middleware.__call__

    def recording(self: Middleware, environ: dict[str, Any], start_response: Any) -> Any:
        seen.append((self.service, environ["aind_sandbox.socket"].getpeername()))
        return serve(self, environ, start_response)

    monkeypatch.setattr(Middleware, "__call__", recording)
    yield seen


@forking
@fork_warning
def test_a_forked_child_answers_what_its_parent_had_not_asked(aind_sandbox: Sandbox) -> None:
    summary(SESSION)  # clients, connections and s3fs's loop exist in the parent
    child = in_child("fork", summary, OTHER)
    assert child == summary(OTHER)
    assert child["unknown"] == {} and child["raw_data_dir"]


@forking
@fork_warning
def test_a_forked_child_sends_its_requests_over_connections_of_its_own(
    aind_sandbox: Sandbox, requests_seen: list[tuple[str, Any]]
) -> None:
    summary(SESSION)
    parents = set(requests_seen)
    assert {service for service, _ in parents} == {"codeocean", "s3", "docdb"}
    del requests_seen[:]
    in_child("fork", summary, OTHER)
    childs = set(requests_seen)
    assert {service for service, _ in childs} == {"codeocean", "s3", "docdb"}
    assert childs.isdisjoint(parents)  # a connection of the parent's is shared by two processes


@forking
@fork_warning
def test_a_question_a_parents_thread_was_answering_at_fork_time_is_asked_by_the_child(
    aind_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aind_session.testing.faults import Middleware

    summary(SESSION)
    arrived, go_on = threading.Event(), threading.Event()
    serve = Middleware.__call__

    def held(self: Middleware, environ: dict[str, Any], start_response: Any) -> Any:
        arrived.set()
        go_on.wait(CHILD_TIMEOUT)  # until the child is forked
        return serve(self, environ, start_response)

    monkeypatch.setattr(Middleware, "__call__", held)
    asking = threading.Thread(target=lambda: Session(OTHER).raw_data_asset, daemon=True)
    asking.start()
    assert arrived.wait(CHILD_TIMEOUT)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:  # forked with the question open
            go_on.set()
            monkeypatch.setattr(Middleware, "__call__", serve)
            child = pool.apply_async(_raw_data_asset_id, (OTHER,)).get(CHILD_TIMEOUT)
    finally:
        go_on.set()
        asking.join(CHILD_TIMEOUT)
    assert child == Session(OTHER).raw_data_asset.id


def _raw_data_asset_id(session_id: str) -> str:
    return Session(session_id).raw_data_asset.id


def _library_locks() -> list[Any]:
    """The locks the library keeps at module level (not the sandbox's)."""
    kinds = (type(threading.Lock()), type(threading.RLock()))
    return [
        value
        for name, module in sorted(sys.modules.items())
        if name.startswith("aind_session") and not name.startswith("aind_session.testing")
        for value in vars(module).values()
        if isinstance(value, kinds)
    ]


@forking
@fork_warning
def test_locks_another_thread_held_at_fork_time_are_free_in_the_child(
    aind_sandbox: Sandbox,
) -> None:
    summary(SESSION)
    locks = _library_locks()
    assert len(locks) >= 5  # the cache's, the settings', the disk cache's, s3's, ...
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        for lock in locks:
            lock.acquire()
        holding.set()
        release.wait(CHILD_TIMEOUT)
        for lock in reversed(locks):
            lock.release()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(CHILD_TIMEOUT)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:  # forked with the locks held
            release.set()
            child = pool.apply_async(summary, (OTHER,)).get(CHILD_TIMEOUT)
    finally:
        release.set()
        holder.join(CHILD_TIMEOUT)
    assert child == summary(OTHER)


def _cache_files_opened(folder: str, asset_id: str) -> tuple[set[Any], set[Any], Any]:
    """The descriptors (number, file) of the disk cache's files open in this process
    before and after asking for the data asset ``asset_id`` (from this thread),
    and the asset."""

    def opened() -> set[tuple[str, str]]:
        found = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(folder):
                found.add((fd, target))
        return found

    gc.collect()  # connections of the parent's other threads, closed here before counting
    before = opened()
    asset = codeocean.get_data_asset(asset_id)
    return before, opened(), asset


@forking
@fork_warning
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_forked_child_opens_the_disk_cache_itself(
    aind_sandbox: Sandbox, aind_settings: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "cache"
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(folder))
    wanted = Session(OTHER).raw_data_asset.id
    aind_settings.set(AIND_SESSION_CACHE_DIR=str(folder))  # in memory: nothing
    codeocean.get_data_asset(Session(SESSION).raw_data_asset.id)  # this thread's connection
    before, after, child = in_child("fork", _cache_files_opened, str(folder), wanted)
    assert before  # the parent's, inherited
    assert after - before  # a connection of its own, not the parent's (SQLite forbids that)
    assert child == codeocean.get_data_asset(wanted)


# -- spawn ------------------------------------------------------------------------------


def _summaries_with(env: dict[str, str], session_ids: list[str]) -> dict[str, Any]:
    os.environ.update(env)
    return {
        session_id: (Session(session_id).describe(), Session(session_id).raw_data_asset)
        for session_id in session_ids
    }


def test_a_spawned_child_given_the_sandbox_settings_answers_as_the_parent(
    aind_sandbox: Sandbox,
) -> None:
    ids = [SESSION, OTHER]
    child = in_child("spawn", _summaries_with, dict(aind_sandbox.env), ids)
    parent = {i: (Session(i).describe(), Session(i).raw_data_asset) for i in ids}
    assert child == parent  # assets and summaries made there, pickled and read here
