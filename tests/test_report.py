"""Summaries and HTML: `Session.describe`, and the cards of `Session` and `Subject`.

The cards come from parsed fields only, so they are checked both against the
sandbox (no request served) and with CodeOcean and S3 pointed at a closed port.
"""

from __future__ import annotations

import datetime
import html.parser
import json
import logging
import types

import pytest

import aind_session
from aind_session import Session, Subject
from aind_session.cli import main
from aind_session.report import SECTIONS

MAIN = "ecephys_676909_2023-12-13_13-43-40"
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
NO_ASSET = "ecephys_686740_2024-01-20_12-00-00"
EMPTY_FOLDER = "behavior_700000_2024-02-02_10-00-00"
RUNNING = "ecephys_713655_2024-04-22_14-21-05"
ODD = "<script>&'\""  # HTML's special characters
ODD_SORTED = f"{MAIN}_sorted_{ODD}"  # a sorted asset's name holding them
CLOSED_PORT = "http://127.0.0.1:9"


class _TagChecker(html.parser.HTMLParser):
    """Records the tags of a fragment and whether every opened tag is closed in order."""

    VOID = frozenset({"br", "hr", "img", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: set[str] = set()
        self.balanced = True
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_html(fragment: str) -> _TagChecker:
    checker = _TagChecker()
    checker.feed(fragment)
    checker.close()
    return checker


@pytest.fixture
def nothing_reachable(aind_settings) -> None:
    """CodeOcean, S3 and DocDB point at a closed local port, with no token: any request would fail."""
    aind_settings.set(
        CODE_OCEAN_DOMAIN=CLOSED_PORT,
        AWS_ENDPOINT_URL=CLOSED_PORT,
        AWS_ENDPOINT_URL_S3=CLOSED_PORT,
        AIND_SESSION_DOCDB_URL=CLOSED_PORT,
        CODE_OCEAN_API_TOKEN=None,
        AIND_SESSION_MAX_RETRIES="0",
    )


def info_json(capsys: pytest.CaptureFixture[str], session_id: str) -> dict:
    """What ``aind-session info SESSION --json`` prints, parsed (logging put back after)."""
    root, codeocean_logger = logging.getLogger(), logging.getLogger("aind_session.codeocean")
    saved = (root.handlers[:], root.level, codeocean_logger.level)
    try:
        main(["info", session_id, "--json"])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        codeocean_logger.setLevel(saved[2])
    return json.loads(capsys.readouterr().out)


# -- the session card ----------------------------------------------------------------------
def test_session_card_is_one_element_with_every_tag_closed():
    card = Session(MAIN)._repr_html_()
    checker = parse_html(card)
    assert checker.balanced
    assert checker.open == []
    assert card.startswith("<div") and card.endswith("</div>")


def test_session_card_escapes_html_special_characters():
    # a Session's fields cannot hold them (a platform is letters, digits and hyphens):
    # the card of a stand-in with the same fields shows that it escapes what it is given
    odd = types.SimpleNamespace(
        id=f"{ODD}_676909_2023-12-13_13-43-40",
        platform=ODD,
        subject_id="676909",
        dt=datetime.datetime(2023, 12, 13, 13, 43, 40),
    )
    card = aind_session.report.session_card(odd)
    checker = parse_html(card)
    assert "script" not in checker.tags
    assert "<script>" not in card
    assert "&lt;script&gt;&amp;&#x27;&quot;" in card
    assert odd.id in checker.text  # and it reads back as the id


def test_session_card_makes_no_request(aind_sandbox):
    Session(MAIN)._repr_html_()
    assert aind_sandbox.requests() == []


def test_session_card_renders_with_nothing_reachable(nothing_reachable):
    assert MAIN in Session(MAIN)._repr_html_()


# -- the subject card ----------------------------------------------------------------------
def test_subject_card_shows_the_subject_id():
    assert "676909" in parse_html(Subject(676909)._repr_html_()).text


def test_subject_card_is_one_element_with_every_tag_closed():
    card = Subject("676909")._repr_html_()
    checker = parse_html(card)
    assert checker.balanced
    assert checker.open == []
    assert card.startswith("<div") and card.endswith("</div>")


def test_subject_card_makes_no_request(aind_sandbox):
    Subject(676909)._repr_html_()
    assert aind_sandbox.requests() == []


def test_subject_card_renders_with_nothing_reachable(nothing_reachable):
    assert "676909" in Subject(676909)._repr_html_()


# -- describe ------------------------------------------------------------------------------
@pytest.mark.parametrize("session_id", [MAIN, NO_ASSET, RUNNING])
def test_describe_returns_what_info_json_prints(aind_sandbox, capsys, session_id):
    [printed] = info_json(capsys, session_id)["sessions"]
    aind_session.clear_cache()  # describe asks again rather than reusing info's answers
    assert dict(Session(session_id).describe()) == printed


def test_describe_keys_are_the_parsed_fields_the_sections_problems_and_unknown(aind_sandbox):
    keys = list(Session(MAIN).describe())
    assert keys == [
        "id",
        "platform",
        "subject_id",
        "start_time",
        *SECTIONS,
        "problems",
        "unknown",
    ]


def test_describe_of_a_fully_resolved_session_has_no_problems(aind_sandbox):
    summary = Session(MAIN).describe()
    assert summary["problems"] == {}
    assert summary["raw_data_asset"]["id"] == MAIN_RAW_ID


def test_describe_leaves_an_unresolved_section_empty_and_says_why(aind_sandbox):
    summary = Session(EMPTY_FOLDER).describe()
    assert summary["raw_data_dir"] is None
    assert summary["problems"]["raw_data_dir"].startswith("No raw data folder was found")
    assert summary["raw_data_asset"]["id"] == "2f731d3f-f67e-4974-bc58-68dc5f3b4faa"


def test_describe_gives_each_problem_in_one_line(aind_sandbox):
    problems = Session("ecephys_999999_2020-01-01_00-00-00").describe()["problems"]
    assert problems
    assert all("\n" not in reason for reason in problems.values())


def test_describe_searches_codeocean_once(aind_sandbox):
    Session(RUNNING).describe()
    searches = [r for r in aind_sandbox.requests() if r.path.endswith("/data_assets/search")]
    assert len(searches) == 1


def test_describe_renders_as_a_card_of_its_sections(aind_sandbox):
    checker = parse_html(Session(MAIN).describe()._repr_html_())
    assert checker.balanced
    assert "Raw data" in checker.text and "Sorted data assets" in checker.text
    assert MAIN_RAW_ID in checker.text


def test_describe_html_shows_why_a_section_is_missing(aind_sandbox):
    text = parse_html(Session(NO_ASSET).describe()._repr_html_()).text
    assert "no raw data asset exists in CodeOcean" in text


def test_describe_html_escapes_html_special_characters(aind_sandbox):
    aind_sandbox.load(
        {"data_assets": [{"id": "0dd0dd00-0000-4000-8000-000000000000", "name": ODD_SORTED}]}
    )
    rendered = Session(MAIN).describe()._repr_html_()
    checker = parse_html(rendered)
    assert "script" not in checker.tags
    assert checker.balanced
    assert ODD_SORTED in checker.text


def test_describing_a_session_not_uploaded_probes_the_buckets_twice_at_most(aind_sandbox):
    from aind_session import Session

    summary = Session("ecephys_600000_2024-01-01_00-00-00").describe()
    assert summary["raw_data_dir"] is None and summary["modalities"] == []
    # the raw data asset's message and the raw data folder each probe the 7 known buckets
    assert len(aind_sandbox.requests("s3")) <= 14


def test_a_sorting_verdict_not_there_to_read_is_unknown_with_its_reason(monkeypatch):
    from types import SimpleNamespace

    from aind_session import folders, report

    class Asset(SimpleNamespace):
        @property
        def is_sorting_error(self):
            raise aind_session.errors.NoSortedDataError("no output to read")

    monkeypatch.setattr(folders, "data_asset_dir", lambda asset: "s3://bucket/x")
    asset = Asset(id="x", name="n", created=0, sorter_name="ks4", sorted_probes=["ProbeA"])
    entry = report._describe_sorted(asset)
    assert entry["status"] == "unknown"
    assert entry["unknown"]["status"] == "no output to read"
