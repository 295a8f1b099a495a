"""Date filters with a time zone are converted to the sessions' time zone, never stripped."""

from __future__ import annotations

import datetime

import pytest

from aind_session import dates, errors, get_sessions
from aind_session.dates import date_range, parse_date

UTC = datetime.timezone.utc
# ecephys_676909_2023-12-14_12-43-11 was recorded at 12:43:11 in Seattle: 20:43:11 UTC
SECOND_SESSION_UTC = datetime.datetime(2023, 12, 14, 20, 43, 11, tzinfo=UTC)


@pytest.fixture
def timezone(aind_settings):
    """Set ``AIND_SESSION_TIMEZONE`` for one test (settings re-read before and after)."""
    return lambda name: aind_settings.set(AIND_SESSION_TIMEZONE=name)


def test_an_aware_datetime_is_converted_to_seattle_time_by_default():
    assert parse_date(SECOND_SESSION_UTC) == (datetime.datetime(2023, 12, 14, 12, 43, 11), True)


def test_an_aware_datetime_in_summer_time_is_converted_with_the_summer_offset():
    moment = datetime.datetime(2024, 7, 1, 19, 0, tzinfo=UTC)
    assert parse_date(moment).value == datetime.datetime(2024, 7, 1, 12, 0)


@pytest.mark.parametrize(
    "text",
    [
        "2023-12-14T20:43:11+00:00",
        "2023-12-14T20:43:11Z",
        "2023-12-14 20:43:11+0000",
        "2023-12-14T21:43:11+01:00",
        "2023-12-14T12:43:11-08:00",
        "2023-12-14T20:43:11.000000+00:00",
    ],
)
def test_an_iso_string_with_an_offset_is_converted(text):
    assert parse_date(text) == (datetime.datetime(2023, 12, 14, 12, 43, 11), True)


def test_an_impossible_offset_is_refused_naming_the_value():
    with pytest.raises(errors.InvalidInputError, match=r"'2023-12-14T20:43:11\+25:00'"):
        parse_date("2023-12-14T20:43:11+25:00")


def test_a_naive_datetime_is_taken_as_session_time_unchanged():
    moment = datetime.datetime(2023, 12, 14, 12, 43, 11)
    assert parse_date(moment).value == moment


def test_the_time_zone_setting_decides_the_conversion(timezone):
    timezone("UTC")
    assert parse_date(SECOND_SESSION_UTC).value == datetime.datetime(2023, 12, 14, 20, 43, 11)
    timezone("Asia/Tokyo")
    assert parse_date("2023-12-14T20:43:11Z").value == datetime.datetime(2023, 12, 15, 5, 43, 11)


def test_an_unknown_time_zone_is_a_configuration_error_naming_the_variable(timezone):
    timezone("Mars/Olympus_Mons")
    with pytest.raises(errors.ConfigurationError) as info:
        parse_date(SECOND_SESSION_UTC)
    assert "AIND_SESSION_TIMEZONE" in str(info.value)
    assert "'Mars/Olympus_Mons'" in str(info.value)
    assert "the environment" in str(info.value)


def test_an_aware_moment_is_compared_in_session_time():
    window = date_range(date="2023-12-14")
    assert SECOND_SESSION_UTC in window
    assert datetime.datetime(2023, 12, 15, 7, 0, tzinfo=UTC) in window  # 23:00 in Seattle
    assert datetime.datetime(2023, 12, 15, 9, 0, tzinfo=UTC) not in window


def test_from_timestamp_gives_session_time():
    assert dates.from_timestamp(SECOND_SESSION_UTC.timestamp()) == datetime.datetime(
        2023, 12, 14, 12, 43, 11
    )


def test_get_sessions_finds_a_session_by_its_utc_time(aind_sandbox):
    assert [s.id for s in get_sessions(676909, date=SECOND_SESSION_UTC)] == [
        "ecephys_676909_2023-12-14_12-43-11"
    ]
    assert get_sessions(676909, date=SECOND_SESSION_UTC.replace(tzinfo=None)) == ()


def test_get_sessions_range_with_an_offset_string(aind_sandbox):
    found = get_sessions(676909, start_date="2023-12-14T20:43:11Z", end_date="2023-12-14T20:43:11Z")
    assert [s.id for s in found] == ["ecephys_676909_2023-12-14_12-43-11"]
