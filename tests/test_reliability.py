"""Reliability: faults survived, nothing hangs, failures never cached, access denied said."""

from __future__ import annotations

import threading
import time

import pytest

import aind_session
from aind_session import Session, errors, get_sessions
from aind_session.testing import Faults

MAIN = "ecephys_676909_2023-12-13_13-43-40"
SESSIONS = [
    MAIN,
    "ecephys_644547_2022-12-06_13-24-58",  # no source_bucket: bucket probes
    "ecephys_713655_2024-04-22_14-21-05",  # 2024 layout, running pipeline
    "ecephys_686740_2024-01-20_12-00-00",  # on S3 without an asset
    "SmartSPIM_693124_2023-11-01_14-12-37",
]


def _maybe(fn):
    try:
        return fn()
    except errors.NotAvailableError as exc:
        return type(exc).__name__
    except ValueError as exc:
        return f"ValueError: {exc}"


def every_answer():
    """Every public property and helper over a spread of sessions."""
    from aind_session import codeocean, verdicts

    out = []
    for session_id in SESSIONS:
        session = Session(session_id)
        ecephys = session.ecephys
        out.append(
            (
                [a.id for a in session.data_assets],
                _maybe(lambda: session.raw_data_asset.id),
                _maybe(lambda: session.raw_data_dir.as_posix()),
                session.is_uploaded,
                session.modalities,
                _maybe(lambda: [p.name for p in session.metadata.json_files]),
                _maybe(lambda: session.metadata.subject),
                [
                    (
                        a.id,
                        _maybe(lambda: a.sorter_name),
                        a.sorted_probes,
                        a.is_sorting_error,
                        a.is_sorting_analyzer,
                    )
                    for a in ecephys.sorted_data_assets
                ],
                _maybe(lambda: ecephys.sorted_data_asset.id),
                _maybe(lambda: ecephys.clipped_dir.as_posix()),
                _maybe(lambda: [c.id for c in ecephys.current_sorting_pipeline_computations]),
            )
        )
    out.append([s.id for s in get_sessions(676909)])
    out.append([a.id for a in aind_session.Subject(713655).data_assets])
    runs = codeocean.list_computations("1f8f159a-7670-47a9-baf1-078905fc9c2e")
    out.append(
        [(r.id, verdicts.is_computation_error(r), verdicts.get_output_text(r)) for r in runs]
    )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_answers_with_30_percent_faults_equal_answers_without(aind_sandbox, fast_backoff, seed):
    expected = every_answer()
    clean = len(aind_sandbox.requests())
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    aind_sandbox.faults = Faults(rate=0.3, seed=seed, retry_after=0)
    assert every_answer() == expected
    served = aind_sandbox.requests()
    failed = [r for r in served if r.status in (0, 429, 500, 503)]
    assert failed, "the faults should have been met"
    assert len(served) <= clean * 11  # at most max_retries + 1 tries per request


def test_each_fault_kind_alone_is_survived(aind_sandbox, fast_backoff):
    session = Session(MAIN)
    expected = (session.raw_data_dir.as_posix(), session.metadata.subject)
    for kind in ("429", "500", "503", "drop"):
        aind_session.clear_cache()
        aind_sandbox.faults = Faults(rate=0.5, kinds=(kind,), seed=7, retry_after=0)
        assert (session.raw_data_dir.as_posix(), session.metadata.subject) == expected, kind


def test_s3_that_stays_down_says_which_service_what_and_how_often(aind_sandbox, fast_backoff):
    Session(MAIN).raw_data_asset
    aind_sandbox.clear_requests()
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), services=("s3",), retry_after=0)
    with pytest.raises(errors.ServiceError) as info:
        Session(MAIN).raw_data_dir
    message = str(info.value)
    assert "S3" in message and f"s3://aind-ephys-data/{MAIN}" in message and "11 tries" in message
    assert len(aind_sandbox.requests("s3")) == 11


def test_s3_failure_is_not_cached(aind_sandbox, fast_backoff):
    aind_sandbox.faults = Faults(rate=1.0, kinds=("500",), services=("s3",), retry_after=0)
    with pytest.raises(errors.ServiceError):
        Session(MAIN).metadata.subject
    aind_sandbox.faults = None
    assert Session(MAIN).metadata.subject["subject_id"] == "676909"


def test_a_service_that_never_answers_times_out(aind_sandbox, fast_backoff, monkeypatch):
    monkeypatch.setenv("AIND_SESSION_READ_TIMEOUT", "0.2")
    monkeypatch.setenv("AIND_SESSION_MAX_RETRIES", "1")
    aind_session.clear_cache()
    aind_sandbox.latency = 1.0
    start = time.perf_counter()
    with pytest.raises(errors.ServiceError, match="CodeOcean"):
        Session(MAIN).raw_data_asset
    assert time.perf_counter() - start < 2.0


def test_access_denied_bucket_is_named_in_the_error(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    with pytest.raises(PermissionError) as info:
        Session(MAIN).raw_data_dir
    assert isinstance(info.value, errors.AccessDeniedError)
    assert f"Access was denied to s3://aind-ephys-data/{MAIN}" in str(info.value)
    assert "credentials" in str(info.value)


def test_access_denied_on_one_probed_bucket_does_not_hide_another(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-open-data")
    folder = Session("ecephys_644547_2022-12-06_13-24-58").raw_data_dir
    assert folder.as_posix() == "s3://aind-ephys-data/ecephys_644547_2022-12-06_13-24-58"


def test_access_denied_reading_a_file_raises_permission_error(aind_sandbox):
    session = Session(MAIN)
    session.metadata.json_files
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    with pytest.raises(PermissionError):
        session.metadata.subject


def test_sixteen_threads_on_different_sessions_get_the_right_answers_once(aind_sandbox):
    expected = {}
    for session_id in SESSIONS:
        session = Session(session_id)
        expected[session_id] = (_maybe(lambda: session.raw_data_dir.as_posix()), session.modalities)
    clean = len(aind_sandbox.requests())
    aind_session.clear_cache()
    aind_sandbox.clear_requests()
    aind_sandbox.latency = 0.02
    results: dict[int, tuple] = {}

    def work(i):
        session = Session(SESSIONS[i % len(SESSIONS)])
        results[i] = (
            session.id,
            (_maybe(lambda: session.raw_data_dir.as_posix()), session.modalities),
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer == expected[session_id] for session_id, answer in results.values())
    assert len(results) == 16
    # empty folders are not cached, so sessions without data may be probed again;
    # every other question is asked once
    assert len(aind_sandbox.requests()) <= clean + 7 * 3


def test_threads_starting_at_once_share_one_s3_filesystem(aind_sandbox):
    from aind_session import s3

    aind_session.clear_cache()
    start = threading.Barrier(16)
    built: list[object] = []

    def work():
        start.wait()
        built.append(s3.get_filesystem())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 16
    assert len({id(fs) for fs in built}) == 1  # each one costs a botocore set-up


def test_access_denied_is_never_reported_as_not_uploaded(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    with pytest.raises(PermissionError):
        Session(MAIN).is_uploaded
    with pytest.raises(PermissionError):
        Session(MAIN).modalities


def test_access_denied_never_turns_a_good_sorting_into_an_error(aind_sandbox):
    good = "a782c5e4-a16b-495d-baea-7ca9ba29015c"
    aind_sandbox.denied_buckets.add("codeocean-s3datasetsbucket-1u41qdg42ur9")
    (asset,) = [a for a in Session(MAIN).ecephys.sorted_data_assets if a.id == good]
    with pytest.raises(PermissionError):
        asset.is_sorting_error
    aind_sandbox.denied_buckets.clear()
    assert asset.is_sorting_error is False  # nothing wrong was kept


def test_no_raw_data_asset_says_s3_could_not_be_checked_when_access_is_denied(aind_sandbox):
    aind_sandbox.denied_buckets.add("aind-ephys-data")
    session = Session("ecephys_686740_2024-01-20_12-00-00")
    with pytest.raises(errors.NoRawDataAssetError, match="access denied"):
        session.raw_data_asset
    assert getattr(session, "raw_data_asset", None) is None
