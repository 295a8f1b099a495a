"""Dates in every common form and inclusive ranges; property-based checks."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aind_session.dates import date_range, parse_date

MOMENTS = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2099, 12, 31)
)


@given(MOMENTS)
def test_every_string_form_of_a_moment_parses_back(moment):
    moment = moment.replace(microsecond=0)
    for text in (
        moment.strftime("%Y-%m-%d_%H-%M-%S"),
        moment.strftime("%Y-%m-%d %H:%M:%S"),
        moment.strftime("%Y%m%d_%H%M%S"),
    ):
        assert parse_date(text) == (moment, True)
    for text in (moment.strftime("%Y-%m-%d"), moment.strftime("%Y%m%d")):
        assert parse_date(text) == (moment.replace(hour=0, minute=0, second=0), False)


@given(MOMENTS, MOMENTS)
def test_a_range_holds_exactly_the_moments_between_its_days(a, b):
    start, end = sorted((a, b))
    window = date_range(start_date=start.date(), end_date=end.date())
    assert start in window and end in window
    assert (
        start.replace(hour=0, minute=0, second=0, microsecond=0)
        - datetime.timedelta(microseconds=1)
        not in window
    )
    assert (
        end.replace(hour=23, minute=59, second=59, microsecond=999999)
        + datetime.timedelta(microseconds=1)
        not in window
    )


@given(MOMENTS)
def test_a_date_holds_its_whole_day_and_nothing_else(moment):
    window = date_range(date=moment.date())
    midnight = datetime.datetime.combine(moment.date(), datetime.time())
    assert moment in window and midnight in window
    assert midnight + datetime.timedelta(days=1) not in window
    assert midnight - datetime.timedelta(microseconds=1) not in window


@pytest.mark.parametrize(
    "bad", ["2023-13-45", "2023-02-30", "2023-12-13 25:00:00", "13/12/2023", "", "2023-12"]
)
def test_impossible_or_unknown_dates_raise_naming_the_value(bad):
    with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(").replace(")", r"\)")):
        parse_date(bad)


def test_a_range_that_ends_before_it_starts_raises():
    with pytest.raises(ValueError, match="before"):
        date_range(start_date="2024-01-02", end_date="2024-01-01")


def test_open_ranges():
    assert date_range() == (None, None)
    assert date_range(end_date="2024-01-01").start is None
