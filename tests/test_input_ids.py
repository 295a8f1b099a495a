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


# -- aind-data-schema 2.x IDs: <subject>_<YYYY-MM-DD>_<HH-MM-SS> ---------------------------
V2 = "780345_2025-02-20_00-00-00"


@pytest.mark.parametrize(
    "value",
    [
        V2,
        f"s3://bucket/{V2}/ecephys/ecephys_compressed/x.zarr",
        f"/data/{V2}",
        f"{V2}_sorted_2025-03-01_10-00-00",
        f"{V2}_processed_2025-03-01_10-00-00",
        f"{V2}_nwb_2025-03-01_10-00-00",
        f"{V2}_stitched_2025-03-01_10-00-00",
        f"{V2}_sorted_2025-03-01_10-00-00_curated_2025-03-02_10-00-00",
        f"?name={V2}",
        f"{V2}.zarr",
    ],
)
def test_a_2x_id_is_found_alone_in_paths_and_in_derived_names(value):
    session = Session(value)
    assert (session.id, session.platform, session.subject_id) == (V2, None, "780345")


def test_a_2x_id_has_no_platform_and_its_date_and_time():
    session = Session("676909_2023-12-13_13-43-40")
    assert (session.platform, session.subject_id) == (None, "676909")
    assert (session.date.isoformat(), session.time.isoformat()) == ("2023-12-13", "13:43:40")


def test_a_platform_prefix_means_the_legacy_reading_wins():
    session = Session(MAIN)
    assert (session.id, session.platform, session.subject_id) == (MAIN, "ecephys", "676909")
    assert Session(f"{MAIN}_sorted_2024-03-01_16-02-45").platform == "ecephys"


def test_a_subject_after_an_underscore_is_never_read_as_a_2x_id():
    # an 8-digit subject is not legacy, and is not taken as a 2.x ID without the platform
    with pytest.raises(errors.SessionIDError, match="6- or 7-digit"):
        Session("ecephys_12345678_2023-12-13_13-43-40")


def test_the_first_id_in_a_string_wins_whichever_form():
    assert Session(f"/{V2}/{MAIN}").id == V2
    assert Session(f"/{MAIN}/{V2}").id == MAIN


@pytest.mark.parametrize(
    "value",
    [
        "780345_2025-02-30_00-00-00",  # no such day
        "780345_2025-02-20_24-00-00",  # no such hour
        "780345_2025-02-20_00-00-001",  # a digit after the time
        "x780345_2025-02-20_00-00-00",  # the subject run into a word
        "mouse_2025-02-20_00-00-00",  # a subject that is not a number
        "780345_2025-02-20T000000",  # a pre-release form, not read
        "780345_2025_02_20_00_00_00",  # only the schema's hyphens
    ],
)
def test_a_bad_2x_id_is_refused_naming_the_input_and_both_forms(value):
    with pytest.raises(errors.SessionIDError) as info:
        Session(value)
    message = str(info.value)
    assert repr(value) in message
    assert "<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>" in message
    assert "<subject>_<YYYY-MM-DD>_<HH-MM-SS> (aind-data-schema 2.x" in message


def test_a_2x_id_round_trips_and_compares_by_id():
    import pickle

    assert pickle.loads(pickle.dumps(Session(V2))) == Session(V2)
    assert str(Session(f"/data/{V2}")) == V2


def test_a_2x_session_card_shows_no_platform():
    html = Session(V2)._repr_html_()
    assert "platform" not in html and "780345" in html


def test_a_2x_session_gives_its_subject():
    assert Subject(f"s3://bucket/{V2}/behavior").id == "780345"
    assert Session(V2).subject == Subject(780345)


def test_a_2x_session_is_found_among_its_subjects_assets_and_resolves(aind_sandbox):
    (session,) = get_sessions(780345)
    assert (session.id, session.platform) == (V2, None)
    assert Subject(780345).sessions == (session,)
    assert session.modalities == ("behavior",)
    assert session.raw_data_asset.id == "944059e0-f1a7-45cd-a188-6a42b674b682"
    assert session.raw_data_dir.as_posix() == f"s3://aind-private-data-prod-o5171v/{V2}"


def test_a_platform_filter_leaves_out_2x_sessions_and_says_so(aind_sandbox, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="aind_session"):
        assert get_sessions(780345, platform="behavior") == ()
    assert V2 in caplog.text and "names no platform" in caplog.text


def test_a_2x_session_summary_shows_no_platform_and_asks_the_ecephys_sections(aind_sandbox):
    summary = Session(V2).describe()
    assert summary["platform"] is None and summary["modalities"] == ["behavior"]
    assert summary["sorted_data_assets"] == [] and summary["unknown"] == {}
