"""The one batching mechanism: tasks run, reads deferred, one round, replay.

The first tests use a leaf of their own (a fetcher that records what it was
asked), so that rounds are counted exactly; the last ones use the sandbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Any

import pytest

from aind_session import Session, batch, cache, errors, s3
from aind_session.testing import Sandbox


class Leaf:
    """A remote question for the tests: ``ask(x)`` is ``x * 10``, or a failure for 'bad'."""

    def __init__(self) -> None:
        self.rounds: list[list[Hashable]] = []

    def fetch(self, requests: list[Any]) -> dict[Any, Any]:
        self.rounds.append(list(requests))
        return {r: ValueError(f"bad {r}") if r == "bad" else r * 10 for r in requests}

    def ask(self, x: Any) -> Any:
        known = batch.recall(self.fetch, x)
        if known is batch.NOT_ASKED:
            batch.defer(self.fetch, [x])  # inside gather: Pending
            known = self.fetch([x])[x]
            batch.remember(self.fetch, {x: known})
        if isinstance(known, Exception):
            raise known
        return known


def test_gather_returns_each_tasks_value_or_the_exception_it_raised() -> None:
    leaf = Leaf()
    ten, bad, three = batch.gather([lambda: leaf.ask(1), lambda: leaf.ask("bad"), lambda: 3])
    assert (ten, three) == (10, 3)
    assert isinstance(bad, ValueError) and str(bad) == "bad bad"
    assert leaf.rounds == [[1, "bad"]]


def test_reads_of_many_tasks_are_fetched_in_one_round() -> None:
    leaf = Leaf()
    assert batch.gather([lambda x=x: leaf.ask(x) + leaf.ask(x + 100) for x in range(5)]) == [
        10 * x + 10 * (x + 100) for x in range(5)
    ]
    # each task's second read depends on nothing, but is reached only once the
    # first is answered: two rounds, each holding all five tasks' reads
    assert [sorted(r) for r in leaf.rounds] == [[0, 1, 2, 3, 4], [100, 101, 102, 103, 104]]


def test_a_gather_inside_a_task_sends_independent_reads_in_the_same_round() -> None:
    leaf = Leaf()

    def task(x: int) -> int:
        first, second = batch.gather([lambda: leaf.ask(x), lambda: leaf.ask(x + 100)])
        return first + second  # type: ignore[operator]

    assert batch.gather([lambda x=x: task(x) for x in range(3)]) == [
        10 * x + 10 * (x + 100) for x in range(3)
    ]
    assert [sorted(r) for r in leaf.rounds] == [[0, 1, 2, 100, 101, 102]]


def test_a_question_is_asked_once_within_a_batch_even_when_it_failed() -> None:
    leaf = Leaf()
    results = batch.gather([lambda: leaf.ask("bad"), lambda: leaf.ask("bad"), lambda: 1])
    assert isinstance(results[0], ValueError) and isinstance(results[1], ValueError)
    assert leaf.rounds == [["bad"]]


def test_pending_passes_the_handlers_that_turn_errors_into_unknown() -> None:
    leaf = Leaf()

    def careful() -> Any:
        try:
            return leaf.ask(2)
        except Exception:  # what report.ask and the properties do
            return "unknown"

    assert batch.gather([careful]) == [20]


def test_hints_go_with_a_round_only_when_one_is_made() -> None:
    leaf = Leaf()

    def guessing(x: int) -> int:
        batch.hint(leaf.fetch, [x + 1])
        return leaf.ask(x) + leaf.ask(x + 1)

    assert batch.gather([lambda: guessing(1)]) == [30]
    assert leaf.rounds == [[1, 2]]  # the guess went with the first round: no second
    leaf.rounds.clear()
    batch.gather([lambda: batch.hint(leaf.fetch, [7])])
    assert leaf.rounds == []  # nothing was pending: the guess is not fetched


def test_a_fetcher_that_raises_answers_each_of_its_requests_with_the_error() -> None:
    def broken(requests: list[Any]) -> dict[Any, Any]:
        raise ConnectionError("down")

    def ask(x: int) -> Any:
        known = batch.recall(broken, x)
        if known is batch.NOT_ASKED:
            batch.defer(broken, [x])
        raise known

    results = batch.gather([lambda: ask(1), lambda: ask(2)])
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]


def test_a_leaf_that_ignores_its_answer_is_an_internal_error_not_a_hang() -> None:
    leaf = Leaf()

    def stubborn() -> Any:
        batch.recall(leaf.fetch, "x")  # and then asks again all the same
        batch.defer(leaf.fetch, ["x"])

    with pytest.raises(errors.InternalError, match="nothing to fetch"):
        batch.gather([stubborn])
    assert leaf.rounds == [["x"]]


def test_a_leaf_that_asks_something_new_each_time_stops_after_max_rounds() -> None:
    def forgetful() -> Any:
        batch.defer(lambda requests: {}, ["x"])  # a new fetcher each time: never recalled

    with pytest.raises(errors.InternalError, match=f"after {batch.MAX_ROUNDS} rounds"):
        batch.gather([forgetful])


def test_once_remembers_within_the_block_and_fetches_at_once() -> None:
    leaf = Leaf()
    with batch.once():
        assert batch.active() and not batch.deferring()
        assert leaf.ask(3) == 30 and leaf.ask(3) == 30
    assert leaf.rounds == [[3]]
    assert leaf.ask(3) == 30  # the block is over
    assert leaf.rounds == [[3], [3]]


def test_outside_a_batch_a_leaf_fetches_at_once() -> None:
    leaf = Leaf()
    assert not batch.active()
    assert leaf.ask(4) == 40 and leaf.ask(4) == 40
    assert leaf.rounds == [[4], [4]]


# -- with the sandbox --------------------------------------------------------------------
SESSIONS = [
    "ecephys_676909_2023-12-13_13-43-40",
    "ecephys_644547_2022-12-06_13-24-58",
    "ecephys_686740_2024-01-20_12-00-00",
]


def _raw_dirs() -> list[Any]:
    return batch.gather([lambda s=s: Session(s).raw_data_dir for s in SESSIONS])


def test_properties_gathered_give_what_they_give_one_by_one(aind_sandbox: Sandbox) -> None:
    together = [str(p) for p in _raw_dirs()]
    aind_sandbox.clear_requests()
    cache.clear_cache()
    assert [str(Session(s).raw_data_dir) for s in SESSIONS] == together


def test_gathered_properties_ask_each_service_together(aind_sandbox: Sandbox) -> None:
    aind_sandbox.latency = 0.3
    _raw_dirs()
    searches = aind_sandbox.requests("codeocean")
    assert len(searches) == len({s[:20] for s in SESSIONS})
    # the searches at once; the folders where source_bucket says (or the known
    # buckets by session ID) at once; the known buckets where that was empty
    assert aind_sandbox.round_trips("codeocean") == 1
    assert aind_sandbox.round_trips() <= 3


def test_a_gather_with_the_cache_off_still_answers_and_asks_nothing_twice(
    aind_sandbox: Sandbox, aind_settings: Any
) -> None:
    aind_settings.set(AIND_SESSION_CACHE_TTL="0")
    dirs = [str(p) for p in _raw_dirs()]
    assert dirs[0] == "s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"
    asked = [(r.method, r.path, r.query) for r in aind_sandbox.requests("s3")]
    assert len(asked) == len(set(asked))
    assert len(aind_sandbox.requests("codeocean")) == len({s[:20] for s in SESSIONS})


def _listings_of(sandbox: Sandbox, url: str) -> int:
    from urllib.parse import quote

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    wanted = f"prefix={quote(prefix + '/', safe='')}&"
    return sum(1 for r in sandbox.requests("s3") if r.path == f"/{bucket}" and wanted in r.query)


def test_threads_gathering_the_same_sessions_send_each_request_once(
    aind_sandbox: Sandbox,
) -> None:
    aind_sandbox.latency = 0.2
    start = threading.Barrier(6)
    answers: list[list[str]] = []

    def work() -> None:
        start.wait()
        answers.append([str(p) for p in _raw_dirs()])

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and all(a == answers[0] for a in answers)
    # the empty candidates are not cached, so a thread whose round came after
    # another's may list one again; every search and every folder found, once
    assert len(aind_sandbox.requests("codeocean")) == len({s[:20] for s in SESSIONS})
    assert [_listings_of(aind_sandbox, url) for url in answers[0]] == [1] * len(SESSIONS)


def test_an_answer_worked_out_in_a_batch_is_not_kept_after_a_clear(
    aind_sandbox: Sandbox,
) -> None:
    from aind_session import folders

    session = SESSIONS[0]

    def then_clear() -> str:
        value = folders.raw_data_dir(session)
        cache.clear_cache()  # within the same public call: the answer is the old settings'
        return value

    with cache.public_call():
        batch.gather([then_clear])
    aind_sandbox.clear_requests()
    folders.raw_data_dir(session)
    assert aind_sandbox.requests()  # asked again: nothing of before the clear was kept


def test_s3_batch_is_the_block_that_asks_each_question_once() -> None:
    assert s3.batch is batch.once


# -- found by review: each failed before its fix -----------------------------------------
def test_a_remote_cached_function_missing_inside_once_is_fetched_once() -> None:
    cache.clear_cache()
    asked: list[int] = []

    @cache.cached(remote=True)
    def leaf(x: int) -> int:
        asked.append(x)
        return x * 10

    with batch.once():  # recursed without end: the leaf saw the batch while fetching
        assert leaf(1) == 10 and leaf(1) == 10
    assert asked == [1]


def test_a_session_inside_s3_batch_finds_its_assets(aind_sandbox: Sandbox) -> None:
    with s3.batch():
        assert Session(SESSIONS[0]).data_assets


def test_a_derived_answer_of_a_round_a_clear_came_during_is_not_kept() -> None:
    from aind_session import persistent

    cache.clear_cache()
    state = {"answer": "old settings", "cleared": False}

    @cache.cached(remote=True)
    def leaf(x: int) -> str:
        answer = state["answer"]
        if not state["cleared"]:  # new credentials arrive while the round is out
            state["cleared"] = True
            worker = threading.Thread(target=cache.clear_cache)
            worker.start()
            worker.join()
            state["answer"] = "new settings"
        return answer

    @cache.cached
    def derived(x: int) -> str:
        return leaf(x) + "!"

    @cache.public_call()
    def prop() -> str:
        return derived(1)

    # the round's answers are dropped, and asked again with the new settings
    assert batch.gather([prop]) == ["new settings!"]
    assert cache.peek_call(derived, 1) == "new settings!"
    assert not persistent.is_missing(cache.peek_call(leaf, 1))


def test_a_derived_answer_worked_out_across_a_clear_is_not_kept() -> None:
    from aind_session import persistent

    cache.clear_cache()

    @cache.cached
    def derived(x: int) -> str:
        cache.clear_cache()  # while this is worked out (another thread, say)
        return "old"

    with batch.once():
        assert derived(1) == "old"
    assert persistent.is_missing(cache.peek_call(derived, 1))


def test_a_clear_inside_once_makes_it_ask_again(aind_sandbox: Sandbox) -> None:
    found = "s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"
    with s3.batch():
        s3.list_folder(found)
        cache.clear_cache()
        aind_sandbox.clear_requests()
        s3.list_folder(found)
        assert len(aind_sandbox.requests("s3")) == 1  # not the memory of before the clear


FOUND = "aind-ephys-data/ecephys_676909_2023-12-13_13-43-40"
HELD = "aind-ephys-data/held-by-another-thread"


def _held_then_failed(error: Exception) -> threading.Thread:
    """Another thread 'listing' HELD, which fails after a moment."""
    started = threading.Event()

    def run() -> None:
        key = ("s3.list", HELD)
        _, _, mine = cache.claim([key], s3.LISTING)
        assert mine == [key]
        started.set()
        time.sleep(0.5)
        cache.settle(key, error=error)

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    return worker


def test_another_threads_failure_is_the_answer_of_its_folder_only(aind_sandbox: Sandbox) -> None:
    worker = _held_then_failed(errors.ServiceError("S3 failed the other thread"))
    try:
        listed = s3.list_folders([f"s3://{FOUND}", f"s3://{HELD}"])
    finally:
        worker.join()
    assert isinstance(listed[HELD], errors.ServiceError)
    assert listed[FOUND].exists


def test_in_a_batch_another_threads_denial_does_not_spread_over_the_round(
    aind_sandbox: Sandbox,
) -> None:
    from aind_session import folders

    worker = _held_then_failed(errors.AccessDeniedError("denied to the other thread"))
    try:
        found, held = batch.gather(
            [
                lambda: folders.locate([("the folder", [f"s3://{FOUND}"])]),
                lambda: s3.list_folder(HELD),
            ]
        )
    finally:
        worker.join()
    assert isinstance(held, errors.AccessDeniedError)
    assert not isinstance(found, Exception) and found.url == f"s3://{FOUND}"


def test_a_loop_over_sorted_assets_inside_s3_batch_waits_no_more_than_outside(
    aind_sandbox: Sandbox,
) -> None:
    import gc

    # no collection pauses while round trips are counted (see tests/test_round_trips.py)
    gc.collect()
    gc.disable()
    try:
        _compare_loops(aind_sandbox)
    finally:
        gc.enable()


def _compare_loops(aind_sandbox: Sandbox) -> None:
    import contextlib

    aind_sandbox.latency = 0.3

    def loop(block: Any) -> int:
        assets = Session(SESSIONS[0]).ecephys.sorted_data_assets
        aind_sandbox.clear_requests()
        with block():
            for asset in assets:
                with contextlib.suppress(AttributeError):
                    asset.sorter_name
        return aind_sandbox.round_trips("s3")

    plain = loop(contextlib.nullcontext)
    cache.clear_cache()
    assert loop(s3.batch) <= plain


def test_a_folder_off_s3_is_globbed_once_per_describe(
    aind_sandbox: Sandbox, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from importlib import resources

    from aind_session.report import describe_many

    session = SESSIONS[0]
    world = json.loads(
        resources.files("aind_session.testing").joinpath("sample_world.json").read_text("utf-8")
    )
    (tmp_path / session).mkdir()
    (tmp_path / session / "data_description.json").write_text("{}")
    for asset in world["data_assets"]:
        if asset["name"] == session:
            asset["source_bucket"] = {"origin": "local", "bucket": str(tmp_path), "prefix": session}
    aind_sandbox.load(world)
    globs: list[str] = []
    real = s3.upath

    class Counting:
        def __init__(self, path: Any) -> None:
            self._path = path

        def glob(self, pattern: str) -> Any:
            globs.append(pattern)
            return self._path.glob(pattern)

    monkeypatch.setattr(
        s3, "upath", lambda p: Counting(real(p)) if p.startswith("file://") else real(p)
    )
    [summary] = describe_many([Session(session)])
    assert summary["metadata_files"] == ["data_description.json"]
    assert summary["sorted_data_assets"]
    assert len(globs) == 1  # it was once per round
