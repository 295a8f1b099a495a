"""The cache: time-to-live, failures never kept, one computation per key under concurrency."""

from __future__ import annotations

import threading
import time

import pytest

import aind_session
from aind_session import cache, store


@pytest.fixture
def short_ttl(aind_settings):
    aind_settings.set(AIND_SESSION_CACHE_TTL="0.2")


def test_answers_are_kept_until_the_time_to_live_passes(short_ttl):
    calls = []

    @cache.cached
    def ask(x):
        calls.append(x)
        return x * 2

    assert ask(2) == ask(2) == 4 and calls == [2]
    time.sleep(0.25)
    assert ask(2) == 4 and calls == [2, 2]


def test_failures_are_never_cached(short_ttl):
    calls = []

    @cache.cached
    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("down")
        return "up"

    with pytest.raises(ConnectionError):
        flaky()
    assert flaky() == "up" and len(calls) == 2


def test_clear_cache_forgets_answers(short_ttl):
    calls = []

    @cache.cached
    def ask():
        calls.append(1)
        return len(calls)

    assert ask() == 1
    aind_session.clear_cache()
    assert ask() == 2


def test_concurrent_callers_share_one_computation(short_ttl):
    calls = []
    gate = threading.Event()

    @cache.cached
    def slow(key):
        calls.append(key)
        gate.wait(2)
        return key

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow("k"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["k"] * 16 and calls == ["k"]


def test_clear_cache_builds_a_new_s3_client_that_upath_shares(aind_sandbox, monkeypatch):
    from aind_session import Session, s3

    before = s3.get_filesystem()
    # credentials are read when a client is built and are not part of fsspec's
    # key for its shared instances: a new key must mean a new client
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "another-key")
    aind_session.clear_cache()
    after = s3.get_filesystem()
    assert after is not before
    # and paths handed to users go through the same client (one connection pool)
    assert Session("ecephys_676909_2023-12-13_13-43-40").raw_data_dir.fs is after


def test_zero_ttl_keeps_nothing(monkeypatch):
    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", "0")
    aind_session.clear_cache()
    calls = []

    @cache.cached
    def ask():
        calls.append(1)

    ask()
    ask()
    assert len(calls) == 2
    monkeypatch.undo()
    aind_session.clear_cache()


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setenv("AIND_SESSION_CACHE_MAXSIZE", "10")
    aind_session.clear_cache()

    @cache.cached
    def ask(x):
        return x

    for i in range(50):
        ask(i)
    assert cache.cache_info()["size"] <= 10
    monkeypatch.undo()
    aind_session.clear_cache()


def test_sixteen_threads_on_one_session_ask_the_service_once(aind_sandbox):
    session_id = "ecephys_676909_2023-12-13_13-43-40"
    aind_sandbox.latency = 0.05
    results = []

    def work():
        session = aind_session.Session(session_id)
        results.append(
            (session.raw_data_asset.id, session.raw_data_dir.as_posix(), session.modalities)
        )

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 16
    assert len(aind_sandbox.requests("codeocean")) == 1
    assert len(aind_sandbox.requests("s3")) == 1


def test_a_function_that_asks_its_own_question_raises_instead_of_hanging(short_ttl):
    @cache.cached
    def loop(x):
        return loop(x)

    with pytest.raises(RuntimeError, match="cycle"):
        loop(1)


def test_a_caller_arriving_while_an_answer_is_settled_joins_it_or_reads_it(short_ttl, monkeypatch):
    """Between the release of waiters and the storing of the answer, a new caller
    must find one or the other: the window is held open by a barrier."""
    calls = []
    release = threading.Event()
    arrived = threading.Event()

    @cache.cached
    def ask(key):
        calls.append(key)
        return key

    real_ttl = store._ttl

    def slow_ttl():  # asked while the answer is being settled: hold that moment open
        if threading.current_thread() is first:
            arrived.set()
            release.wait(2)
        return real_ttl()

    monkeypatch.setattr(store, "_ttl", slow_ttl)
    first = threading.Thread(target=ask, args=("k",))
    first.start()
    assert arrived.wait(2)
    second = []
    late = threading.Thread(target=lambda: second.append(ask("k")))
    late.start()
    late.join(0.5)
    release.set()
    first.join(2)
    late.join(2)
    assert second == ["k"]
    assert calls == ["k"], "the late caller asked again"


def test_an_answer_that_began_before_a_clear_is_never_stored(short_ttl):
    calls = []
    started, go_on = threading.Event(), threading.Event()

    @cache.cached
    def ask():
        calls.append(1)
        if len(calls) == 1:
            started.set()
            go_on.wait(2)
            return "old domain"
        return "new domain"

    results = []
    thread = threading.Thread(target=lambda: results.append(ask()))
    thread.start()
    assert started.wait(2)
    aind_session.clear_cache()  # e.g. after CODE_OCEAN_DOMAIN changed
    go_on.set()
    thread.join(2)
    assert results == ["old domain"]  # its own caller gets what it asked for
    assert ask() == "new domain"  # but nobody after the clear does
    assert len(calls) == 2


def test_a_caller_after_a_clear_does_not_join_a_request_begun_before_it(short_ttl):
    calls = []
    started, go_on = threading.Event(), threading.Event()

    @cache.cached
    def ask():
        calls.append(1)
        if len(calls) == 1:
            started.set()
            go_on.wait(2)
            return "old"
        return "new"

    thread = threading.Thread(target=ask)
    thread.start()
    assert started.wait(2)
    aind_session.clear_cache()
    try:
        assert ask() == "new"
    finally:
        go_on.set()
        thread.join(2)


def test_sixty_four_threads_over_twenty_keys_compute_each_key_once(short_ttl, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_CACHE_TTL", "600")
    aind_session.clear_cache()
    for _ in range(50):
        aind_session.clear_cache()
        calls = []
        lock = threading.Lock()

        @cache.cached
        def ask(key):
            with lock:
                calls.append(key)
            return key

        barrier = threading.Barrier(64)

        def worker(offset):
            barrier.wait()
            for i in range(20):
                ask((i + offset) % 20)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(calls) == list(range(20))


def test_one_public_call_gives_every_question_inside_it_one_deadline(short_ttl):
    seen = []

    @cache.cached
    def first():
        seen.append(cache.call_deadline())
        return 1

    @cache.cached
    def second():
        seen.append(cache.call_deadline())
        return 2

    @cache.public_call()
    def public():
        return first() + second()

    assert public() == 3
    assert len(seen) == 2 and seen[0] is not None and seen[0] == seen[1]
    assert cache.call_deadline() is None  # and none is left behind


def test_a_session_property_asks_all_its_questions_under_one_deadline(aind_sandbox, monkeypatch):
    from aind_session import Session, transport

    seen = []
    real = transport.deadline

    def spy():
        seen.append(cache.call_deadline())
        return real()

    monkeypatch.setattr(transport, "deadline", spy)
    aind_session.clear_cache()
    assert Session("ecephys_676909_2023-12-13_13-43-40").modalities
    assert len(seen) >= 2  # a search and a listing, at least
    assert None not in seen
    # one deadline for the call; DocDB's links, asked alongside, end sooner
    # (AIND_SESSION_DOCDB_HELP_DEADLINE) within it
    call = max(seen)
    assert seen.count(call) >= 2
    assert len(set(seen)) <= 2


def _owner_and_waiter(body, key="k"):
    """A cached ``ask(key)`` whose first caller (the owner) runs ``body(started, go_on)``;
    a second caller joins its flight. Returns (ask, outcomes, go_on, threads)."""
    started, go_on = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    @cache.cached
    def ask(key):
        if threading.current_thread().name == "owner":
            started.set()
            go_on.wait(2)
            return body()
        return "asked again"

    def run(role):
        try:
            outcomes[role] = ask(key)
        except BaseException as exc:
            outcomes[role] = exc

    first = threading.Thread(target=run, args=("owner",), name="owner", daemon=True)
    first.start()
    assert started.wait(2)
    second = threading.Thread(target=run, args=("waiter",), name="waiter", daemon=True)
    second.start()
    deadline = time.monotonic() + 2
    while not store._inflight and time.monotonic() < deadline:  # the owner's flight exists
        time.sleep(0.01)
    time.sleep(0.1)  # and the waiter has joined it
    return ask, outcomes, go_on, (first, second)


def test_waiters_are_answered_even_when_storing_the_answer_fails(short_ttl, monkeypatch):
    _ask, outcomes, go_on, threads = _owner_and_waiter(lambda: "answer")

    def broken_settings():
        raise aind_session.errors.ConfigurationError("settings became invalid")

    monkeypatch.setattr(store, "_ttl", broken_settings)
    go_on.set()
    for thread in threads:
        thread.join(3)
    assert not any(t.is_alive() for t in threads), "a waiter was never answered"
    assert outcomes["waiter"] == "answer"


def test_an_answer_begun_before_a_forget_is_not_stored(short_ttl):
    ask, outcomes, go_on, threads = _owner_and_waiter(lambda: "before the run started")
    cache.forget(ask, "k")  # e.g. run_capsule after starting a run
    go_on.set()
    for thread in threads:
        thread.join(3)
    assert outcomes["owner"] == "before the run started"
    assert ask("k") == "asked again"


def test_a_ctrl_c_of_the_asking_thread_reaches_its_waiters_as_an_internal_error(short_ttl):
    def interrupted():
        raise KeyboardInterrupt

    _ask, outcomes, go_on, threads = _owner_and_waiter(interrupted)
    go_on.set()
    for thread in threads:
        thread.join(3)
    assert isinstance(outcomes["owner"], KeyboardInterrupt)
    assert isinstance(outcomes["waiter"], aind_session.errors.InternalError)
