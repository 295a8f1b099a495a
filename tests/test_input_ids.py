"""Session and subject IDs: parsed in linear time, platforms found as words, one subject check."""

from __future__ import annotations

import time

import pytest

from aind_session import Session, Subject, errors, get_sessions
from aind_session import subject as subjects
from aind_session.session import parse_session_id

MAIN = "ecephys_676909_2023-12-13_13-43-40"
MEGABYTE = 1_000_000


# -- linear parsing ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "junk",
    [
        "a" * MEGABYTE,
        "ecephys " * (MEGABYTE // 8),
        "_676909" * (MEGABYTE // 7),
        "ecephys_676909_2023-12-13_13-43-4x" * (MEGABYTE // 34),
        "-" * MEGABYTE,
        "a_" * (MEGABYTE // 2),
    ],
    ids=["letters", "words", "subjects", "near-misses", "hyphens", "underscores"],
)
def test_a_megabyte_of_junk_is_refused_well_under_a_second(junk):
    began = time.perf_counter()
    with pytest.raises(errors.SessionIDError) as info:
        Session(junk)
    assert time.perf_counter() - began < 1.0
    assert len(str(info.value)) < 600


def test_a_session_id_at_the_end_of_a_megabyte_is_found_quickly():
    began = time.perf_counter()
    assert Session("x " * (MEGABYTE // 2) + MAIN).id == MAIN
    assert time.perf_counter() - began < 1.0


# -- the platform is a word -----------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        f"my {MAIN}",
        f"https://codeocean.example.org/data-assets?name={MAIN}",
        f"name:{MAIN}",
        f"({MAIN})",
        f"'{MAIN}'",
        f"C:\\data\\{MAIN}_sorted_2024-03-01_16-02-45",
    ],
)
def test_text_before_the_platform_is_not_part_of_it(value):
    session = Session(value)
    assert (session.id, session.platform) == (MAIN, "ecephys")


@pytest.mark.parametrize(
    "platform", ["ecephys", "behavior", "SmartSPIM", "HCR", "exaSPIM", "FIP", "single-plane-ophys"]
)
def test_known_platforms_parse_after_any_separator(platform):
    session_id = f"{platform}_676909_2023-12-13_13-43-40"
    assert Session(f"see: {session_id}").platform == platform


def test_a_platform_run_into_a_non_ascii_letter_is_refused():
    with pytest.raises(errors.SessionIDError, match="caf"):
        Session("caf\u00e9_676909_2023-12-13_13-43-40")


def test_a_platform_longer_than_any_real_one_is_refused():
    with pytest.raises(errors.SessionIDError):
        Session("a" * 65 + "_676909_2023-12-13_13-43-40")
    assert Session("a" * 64 + "_676909_2023-12-13_13-43-40").platform == "a" * 64


def test_every_parsed_platform_passes_the_platform_filter_check():
    for value in (f"my {MAIN}", f"?name={MAIN}", f"a.b-c_{MAIN[8:]}"):
        platform = Session(value).platform
        assert subjects.check_platform(platform) == platform


@pytest.mark.parametrize("platform", ["my ecephys", "ecephys?", "a.b"])
def test_a_platform_filter_that_no_session_can_have_is_refused(aind_sandbox, platform):
    with pytest.raises(errors.InvalidInputError, match=repr(platform).replace("?", r"\?")):
        get_sessions(676909, platform=platform)


# -- the time ends the ID --------------------------------------------------------------------
def test_a_digit_right_after_the_time_means_no_session_id_there():
    with pytest.raises(errors.SessionIDError, match="13-43-409"):
        Session("ecephys_676909_2023-12-13_13-43-409")


def test_a_later_id_is_found_when_an_earlier_candidate_fails():
    value = f"ecephys_676909_2023-12-13_13-43-409/{MAIN}"
    assert Session(value).id == MAIN
    assert Session(f"ecephys_676909_2023-02-31_10-00-00/{MAIN}").id == MAIN


@pytest.mark.parametrize(
    "value",
    [
        f"{MAIN}.123",
        f"{MAIN}.zarr",
        f"{MAIN}_sorted_2024-03-01_16-02-45",
        "ecephys_676909_2023_12_13_13_43_40",
        "ecephys_676909_2023/12/13_13:43:40",
        "ecephys_676909_2023-12-13_13.43.40",
    ],
)
def test_separators_and_suffixes_that_npc_session_accepts_still_parse(value):
    assert parse_session_id(value) == MAIN


@pytest.mark.parametrize("subject", ["12345", "12345678"])
def test_a_session_subject_has_six_or_seven_digits(subject):
    with pytest.raises(errors.SessionIDError, match="6- or 7-digit"):
        Session(f"ecephys_{subject}_2023-12-13_13-43-40")


# -- one subject check ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(676909, "676909"), ("676909", "676909"), (" 676909\n", "676909"), ("0676909", "676909")],
)
def test_normalize_subject_id_accepts_ints_and_digit_strings(value, expected):
    assert subjects.normalize_subject_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [676909.0, None, True, False, "676909 name:ecephys", "", "  ", "-1", -1, "6.5", "\uff16" * 6],
)
def test_normalize_subject_id_refuses_anything_else_naming_it(value):
    with pytest.raises(errors.SessionIDError) as info:
        subjects.normalize_subject_id(value)
    assert repr(value) in str(info.value)
    assert "676909" in str(info.value)  # says what a subject ID looks like


def test_normalize_subject_id_refuses_a_huge_number_without_an_int_error():
    with pytest.raises(errors.SessionIDError):
        subjects.normalize_subject_id("0" + "1" * 10_000)
    with pytest.raises(errors.SessionIDError):
        subjects.normalize_subject_id("0" * 1_000_000)


def test_normalize_subject_id_accepts_integer_types_such_as_numpy_ints():
    class Int64:  # what numpy.int64 offers: __index__, and no int base class
        def __index__(self) -> int:
            return 676909

    assert subjects.normalize_subject_id(Int64()) == "676909"


@pytest.mark.parametrize("value", ["676909 name:ecephys", "mouse 676909", "676909.0", 676909.0])
def test_subject_and_get_sessions_refuse_text_around_a_number(aind_sandbox, value):
    with pytest.raises(errors.SessionIDError, match=repr(value).replace(".", r"\.")):
        Subject(value)
    with pytest.raises(errors.SessionIDError):
        get_sessions(value)


def test_subject_still_takes_a_path_whose_folder_is_the_subject():
    assert Subject("/root/capsule/data/676909/").id == "676909"
    assert Subject(f"/data/{MAIN}/behavior").id == "676909"
