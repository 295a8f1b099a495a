"""Subject and get_sessions."""

from __future__ import annotations

import datetime
import logging
import pathlib

import pytest

from aind_session import Session, Subject, errors, get_sessions
from aind_session.subject import parse_subject_id

MAIN = "ecephys_676909_2023-12-13_13-43-40"
ALL_676909 = [
    MAIN,
    "ecephys_676909_2023-12-14_12-43-11",
    "behavior_676909_2023-12-15_09-30-00",
    "SmartSPIM_676909_2024-01-18_11-05-32",
]


@pytest.mark.parametrize(
    "value",
    [676909, "676909", " 676909 ", f"/data/{MAIN}", pathlib.Path(f"/data/{MAIN}"), Subject(676909)],
)
def test_subject_id_from_ints_strings_and_paths(value):
    assert Subject(value).id == "676909"


@pytest.mark.parametrize(
    "value", ["abc", "", "mouse", None, 3.5, True, -1, "12-34", "676909_700000"]
)
def test_subject_id_that_is_not_a_number_raises_value_error_naming_it(value):
    with pytest.raises(ValueError) as info:
        Subject(value)
    assert isinstance(info.value, errors.SessionIDError)
    assert repr(value) in str(info.value) or type(value).__name__ in str(info.value)


def test_subjects_are_equal_hashed_and_ordered_by_id():
    assert Subject(676909) == Subject("676909") and len({Subject(1), Subject("1")}) == 1
    assert sorted([Subject(700000), Subject(99999), Subject(676909)]) == [
        Subject(99999),
        Subject(676909),
        Subject(700000),
    ]
    assert repr(Subject(676909)) == "Subject('676909')"


def test_subject_is_immutable():
    subject = Subject(676909)
    with pytest.raises(AttributeError, match="immutable"):
        subject.id = "1"  # type: ignore[misc]


def test_get_sessions_finds_every_platform_sorted_by_date(aind_sandbox):
    assert [s.id for s in get_sessions(676909)] == ALL_676909


def test_get_sessions_includes_sessions_found_by_custom_metadata_only(aind_sandbox):
    # the histology asset is found by `subject id` custom metadata; its name holds MAIN
    assert Session(MAIN) in get_sessions("676909")


def test_get_sessions_costs_at_most_two_searches(aind_sandbox):
    get_sessions(676909)
    assert len(aind_sandbox.requests("codeocean")) <= 2
    assert aind_sandbox.requests("s3") == []


def test_get_sessions_builds_no_model_of_its_subjects_assets(aind_sandbox, monkeypatch):
    """The sessions are found in the assets' names: no SDK model is built for them."""
    from aind_session.codeocean import assets

    def refused(record):
        raise AssertionError(f"a model was built for {record.get('name')!r}")

    monkeypatch.setattr(assets, "build_data_asset", refused)
    assert [s.id for s in get_sessions(676909)] == ALL_676909


def test_get_sessions_skips_an_asset_whose_name_is_not_text(aind_sandbox, monkeypatch):
    from aind_session.codeocean import assets

    real = assets._subject_records

    def with_odd_names(subject):
        return [*real(subject), {"id": "x", "name": ["ecephys_676909_2030-01-01_00-00-00"]}]

    monkeypatch.setattr(assets, "_subject_records", with_odd_names)
    assert [s.id for s in get_sessions(676909)] == ALL_676909


@pytest.mark.parametrize("platform", ["ecephys", "ECEPHYS"])
def test_get_sessions_by_platform(aind_sandbox, platform):
    assert [s.id for s in get_sessions(676909, platform=platform)] == ALL_676909[:2]


@pytest.mark.parametrize(
    "date",
    [
        "2023-12-14",
        "20231214",
        datetime.date(2023, 12, 14),
        "2023-12-14_12-43-11",
        "2023-12-14 12:43:11",
        "20231214_124311",
        datetime.datetime(2023, 12, 14, 12, 43, 11),
    ],
)
def test_get_sessions_on_a_date_in_every_form(aind_sandbox, date):
    assert [s.id for s in get_sessions(676909, date=date)] == ["ecephys_676909_2023-12-14_12-43-11"]


def test_a_date_with_another_time_matches_nothing(aind_sandbox):
    assert get_sessions(676909, date="2023-12-14 12:43:12") == ()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2023-12-14", None, ALL_676909[1:]),
        (None, "2023-12-14", ALL_676909[:2]),
        ("2023-12-13", "2023-12-15", ALL_676909[:3]),
        ("2023-12-13_13-43-41", "20240118", ALL_676909[1:]),
        (None, None, ALL_676909),
    ],
)
def test_get_sessions_in_inclusive_ranges_open_at_either_end(aind_sandbox, start, end, expected):
    assert [s.id for s in get_sessions(676909, start_date=start, end_date=end)] == expected


def test_date_with_a_range_raises(aind_sandbox):
    with pytest.raises(ValueError, match="not both"):
        get_sessions(676909, date="2023-12-14", start_date="2023-12-01")


@pytest.mark.parametrize("bad", ["2023-13-45", "yesterday", "2023/12/14", 20231214])
def test_unparseable_date_raises_naming_it(bad):
    with pytest.raises(ValueError, match=repr(bad) if isinstance(bad, str) else "int"):
        get_sessions(676909, date=bad)


def test_no_match_returns_empty_and_logs_the_filters(aind_sandbox, caplog):
    with caplog.at_level(logging.INFO, logger="aind_session"):
        assert get_sessions(676909, platform="SmartSPIM", end_date="2023-01-01") == ()
    assert any(
        "SmartSPIM" in r.getMessage() and "2023-01-01" in r.getMessage() for r in caplog.records
    )


def test_unknown_subject_has_no_sessions(aind_sandbox):
    assert get_sessions(600000) == ()


def test_subject_sessions_and_data_assets(aind_sandbox):
    subject = Subject(676909)
    assert [s.id for s in subject.sessions] == ALL_676909
    assert {a.name for a in subject.data_assets} >= {
        MAIN,
        "pvalb_chr2_opto_tagging_cohort_combined",
    }


def test_parse_subject_id_prefers_the_session_subject_in_a_path():
    assert parse_subject_id("/data/1234567/ecephys_676909_2023-12-13_13-43-40") == "676909"
