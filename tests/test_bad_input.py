"""Bad input, refused with a clear error that names it; property-based ID parsing."""

from __future__ import annotations

import logging
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aind_session
from aind_session import Session, Subject, codeocean, errors, get_sessions

CASES = [
    # (what, call, expected exception, text the message must hold)
    ("non-string", lambda: Session(123), ValueError, "int"),
    ("None", lambda: Session(None), ValueError, "NoneType"),
    ("empty string", lambda: Session(""), ValueError, "''"),
    ("no session ID", lambda: Session("my_experiment"), ValueError, "'my_experiment'"),
    (
        "impossible date",
        lambda: Session("ecephys_676909_2023-13-45_13-43-40"),
        ValueError,
        "2023-13-45",
    ),
    (
        "impossible time",
        lambda: Session("ecephys_676909_2023-12-13_25-43-40"),
        ValueError,
        "25-43-40",
    ),
    ("path traversal", lambda: Session("../../etc/passwd"), ValueError, "../../etc/passwd"),
    (
        "full-width digits",
        lambda: Session("ecephys_\uff16\uff17\uff16\uff19\uff10\uff19_2023-12-13_13-43-40"),
        ValueError,
        "\uff16\uff17\uff16\uff19\uff10\uff19",
    ),
    ("NUL byte", lambda: Session("ecephys\x00_676909"), ValueError, "\\x00"),
    ("subject not a number", lambda: Subject("mouse-42"), ValueError, "'mouse-42'"),
    ("subject as float", lambda: Subject(6.5), ValueError, "float"),
    (
        "malformed UUID",
        lambda: codeocean.get_data_asset("16d46411-540a"),
        ValueError,
        "'16d46411-540a'",
    ),
    ("UUID of wrong type", lambda: codeocean.get_data_asset(3.14), ValueError, "3.14"),
    (
        "platform with an underscore",
        lambda: get_sessions(676909, platform="ece_phys"),
        ValueError,
        "'ece_phys'",
    ),
    (
        "impossible date filter",
        lambda: get_sessions(676909, date="2023-02-30"),
        ValueError,
        "'2023-02-30'",
    ),
    (
        "date and range",
        lambda: get_sessions(676909, date="2023-12-13", end_date="2024-01-01"),
        ValueError,
        "not both",
    ),
    (
        "unknown computation state",
        lambda: codeocean.search_computations("x", state="done"),
        ValueError,
        "'done'",
    ),
]


@pytest.mark.parametrize(("what", "call", "exception", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_message_naming_it(what, call, exception, text):
    with pytest.raises(exception) as info:
        call()
    assert text in str(info.value) or text in repr(str(info.value))


def test_path_traversal_around_a_valid_id_keeps_only_the_id():
    assert (
        Session("../../ecephys_676909_2023-12-13_13-43-40/../../etc").id
        == "ecephys_676909_2023-12-13_13-43-40"
    )


def test_unknown_uuid_says_it_is_unknown(aind_sandbox):
    unknown = str(uuid.uuid4())
    with pytest.raises(errors.NotFoundError, match=unknown):
        codeocean.get_data_asset(unknown)


def test_unknown_platform_is_allowed_with_a_warning_naming_it(aind_sandbox, caplog):
    with caplog.at_level(logging.WARNING, logger="aind_session"):
        assert get_sessions(676909, platform="ecefys") == ()
    assert any("'ecefys'" in r.getMessage() for r in caplog.records)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError) as info:
        Session("x" * 10_000)
    assert len(str(info.value)) < 500


# -- property-based --------------------------------------------------------------------------
PLATFORMS = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"),
    min_size=1,
    max_size=20,
)
SUBJECTS = st.integers(min_value=100000, max_value=9999999).map(str)
MOMENTS = st.datetimes(
    min_value=__import__("datetime").datetime(2010, 1, 1),
    max_value=__import__("datetime").datetime(2029, 12, 31),
)
NOISE = st.text(alphabet=st.sampled_from("abcxyz/._-"), max_size=15)


@given(PLATFORMS, SUBJECTS, MOMENTS)
def test_any_valid_id_parses_to_its_parts(platform, subject, moment):
    moment = moment.replace(microsecond=0)
    session_id = f"{platform}_{subject}_{moment:%Y-%m-%d_%H-%M-%S}"
    session = Session(session_id)
    assert (session.id, session.platform, session.subject_id, session.dt) == (
        session_id,
        platform,
        subject,
        moment,
    )


@given(PLATFORMS, SUBJECTS, MOMENTS, NOISE, NOISE)
def test_a_valid_id_is_found_inside_paths_and_names(platform, subject, moment, before, after):
    moment = moment.replace(microsecond=0)
    session_id = f"{platform}_{subject}_{moment:%Y-%m-%d_%H-%M-%S}"
    value = f"{before}/{session_id}_{after}"
    assert Session(value).id == session_id


@given(PLATFORMS, SUBJECTS, MOMENTS)
def test_parsing_agrees_with_npc_session(platform, subject, moment):
    import npc_session

    session_id = f"{platform}_{subject}_{moment:%Y-%m-%d_%H-%M-%S}"
    assert Session(session_id).id == str(npc_session.AINDSessionRecord(session_id))


@given(st.text(max_size=60))
def test_any_text_parses_or_raises_session_id_error(text):
    try:
        session = Session(text)
    except errors.SessionIDError:
        return
    assert session.id in text.replace("_", "-") or session.subject_id in text


@given(
    st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.text(alphabet="0123456789", min_size=1, max_size=9),
    )
)
def test_numeric_subject_ids_round_trip(value):
    assert Subject(value).id == str(int(value)) or Subject(value).id == str(value)


def test_settings_error_for_a_bad_bucket_list(monkeypatch):
    monkeypatch.setenv("AIND_SESSION_DATA_BUCKETS", " , ")
    aind_session.clear_cache()
    try:
        with pytest.raises(errors.ConfigurationError, match="AIND_SESSION_DATA_BUCKETS"):
            aind_session.get_settings()
    finally:
        monkeypatch.delenv("AIND_SESSION_DATA_BUCKETS")
        aind_session.clear_cache()
