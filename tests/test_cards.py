"""Notebook cards: a bare `Session` and `Subject`, `Session.describe()` and `Subject.describe()`.

Cards are read back as a browser would: their text, their links and their
tags (:class:`Page`), never by the styles they happen to use.
"""

from __future__ import annotations

import html.parser

import pytest

from aind_session import Session, Subject, cards
from aind_session.config import get_settings
from aind_session.testing import Faults

MAIN = "ecephys_676909_2023-12-13_13-43-40"  # its latest sorting failed; an older one is used
MAIN_RAW_ID = "16d46411-540a-4122-b47f-8cb2a15d593a"
FAILED = "30d6d645-0ec1-4d71-b088-6af2b1c0feaa"
CHOSEN = "a782c5e4-a16b-495d-baea-7ca9ba29015c"
BEHAVIOR = "behavior_676909_2023-12-15_09-30-00"
HOSTILE = "x' onmouseover='alert(1)' <script>alert(2)</script>&amp;"


class Page(html.parser.HTMLParser):
    """A fragment as a browser reads it: its text, tags, attributes, links, and the
    text of each sorted asset's entry (the elements that carry ``data-asset-id``)."""

    VOID = frozenset({"br", "hr", "img", "wbr"})
    BLOCKS = frozenset({"div", "br", "p", "tr", "td", "th", "li"})  # a browser breaks text there

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.titles: list[str] = []
        self.entries: dict[str, str] = {}  # asset id -> its text
        self.balanced = True
        self._open: list[tuple[str, str | None]] = []  # (tag, asset id of an entry)
        self._href: str | None = None
        self._link_text = ""
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in self.BLOCKS:
            self.text += " "
        self.tags.add(tag)
        self.attributes.update(found)
        if found.get("title"):
            self.titles.append(str(found["title"]))
        if tag == "a":
            self._href, self._link_text = found.get("href"), ""
        if tag not in self.VOID:
            entry = found.get("data-asset-id")
            if entry is not None:
                self.entries[entry] = ""
            self._open.append((tag, entry))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.text += " "
        if not self._open or self._open.pop()[0] != tag:
            self.balanced = False
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._link_text))
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._href is not None:
            self._link_text += data
        for _, entry in self._open:
            if entry is not None:
                self.entries[entry] += data


@pytest.fixture
def quick(aind_settings) -> None:
    """No waiting between tries, and no retries: a fault is met once."""
    aind_settings.set(AIND_SESSION_BACKOFF_FACTOR="0", AIND_SESSION_MAX_RETRIES="0")


def test_a_bare_session_card_makes_no_request(aind_sandbox):
    card = Session(MAIN)._repr_html_()
    assert aind_sandbox.requests() == []
    assert MAIN in Page(card).text  # and it was drawn


def test_a_bare_subject_card_makes_no_request(aind_sandbox):
    card = Subject(676909)._repr_html_()
    assert aind_sandbox.requests() == []
    assert "676909" in Page(card).text


def test_a_bare_session_card_shows_its_id_platform_subject_and_start():
    text = Page(Session(MAIN)._repr_html_()).text
    assert MAIN in text
    assert "platform ecephys" in text
    assert "subject 676909" in text
    assert "started 2023-12-13 13:43:40" in text


def test_the_describe_card_marks_the_failed_sorting(aind_sandbox):
    page = Page(Session(MAIN).describe()._repr_html_())
    assert "failed" in page.entries[FAILED]
    assert "No sorter name was found" in page.entries[FAILED]  # with its reason
    assert [i for i, text in page.entries.items() if "failed" in text] == [FAILED]
    assert "latest sorting failed" in page.text


def test_the_describe_card_marks_the_chosen_sorted_asset(aind_sandbox):
    page = Page(Session(MAIN).describe()._repr_html_())
    chosen = [i for i, text in page.entries.items() if "chosen" in text]
    assert chosen == [CHOSEN] == [Session(MAIN).ecephys.sorted_data_asset.id]


def test_the_describe_card_marks_the_chosen_raw_data_asset(aind_sandbox):
    text = Page(Session(MAIN).describe()._repr_html_()).text
    assert f"{MAIN} ★ chosen" in " ".join(text.split())


def test_a_behavior_session_card_has_no_sorting_section(aind_sandbox):
    behavior = Page(Session(BEHAVIOR).describe()._repr_html_()).text
    ecephys = Page(Session(MAIN).describe()._repr_html_()).text
    assert "Sorted data assets" in ecephys and "sorted" in ecephys
    assert "Sorted data assets" not in behavior
    assert "sorted" not in behavior.lower() and "sorting" not in behavior.lower()
    assert "Raw data" in behavior


def test_what_could_not_be_found_out_is_shown_unknown_with_its_reason(aind_sandbox, quick):
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), services=("s3",), retry_after=0)
    summary = Session(MAIN).describe()
    page = Page(summary._repr_html_())
    assert summary["raw_data_dir"] is None
    assert "raw data folder unknown" in page.text  # its badge, not "no raw data folder"
    assert "no raw data folder" not in page.text
    assert "could not be found out" in page.text
    reason = summary["unknown"]["raw_data_dir"]
    assert reason.startswith("S3 did not answer")
    assert reason in page.text  # said in a line
    assert reason in page.titles  # and in the badge's tooltip


def test_the_describe_card_links_each_asset_to_codeocean_and_its_folder_to_the_s3_console(
    aind_sandbox,
):
    summary = Session(MAIN).describe()
    links = dict(Page(summary._repr_html_()).links)
    domain = get_settings().codeocean_domain.rstrip("/")
    pages = {f"{domain}/data-assets/{e['id']}" for e in summary["sorted_data_assets"]}
    assert {href for href, text in links.items() if text.startswith("CodeOcean")} == {
        f"{domain}/data-assets/{MAIN_RAW_ID}",
        *pages,
    }
    console = "https://s3.console.aws.amazon.com/s3/buckets"
    folders = [
        f"{console}/{e['dir'][5:].replace('/', '?prefix=', 1)}/"
        for e in reversed(summary["sorted_data_assets"])  # the card lists the newest first
    ]
    assert all(e["dir"].startswith("s3://") for e in summary["sorted_data_assets"])
    assert [href for href, text in links.items() if text.startswith("S3")] == [
        f"{console}/aind-ephys-data?prefix={MAIN}/",
        *folders,
    ]


def test_a_summary_card_escapes_hostile_text_everywhere():
    hostile = {
        "id": HOSTILE,
        "platform": HOSTILE,
        "subject_id": HOSTILE,
        "start_time": HOSTILE,
        "raw_data_asset": {"id": HOSTILE, "name": HOSTILE, "created": HOSTILE},
        "raw_data_dir": f"s3://{HOSTILE}/{HOSTILE}",
        "modalities": [HOSTILE],
        "metadata_files": [HOSTILE],
        "sorted_data_assets": [
            {
                "id": HOSTILE,
                "name": HOSTILE,
                "created": HOSTILE,
                "sorter": None,
                "probes": None,
                "status": "unknown",
                "problems": {"sorter": HOSTILE},
                "unknown": {"sorter": HOSTILE},
                "dir": f"s3://{HOSTILE}",
            }
        ],
        "running_pipeline_computations": None,
        "problems": {"running_pipeline_computations": HOSTILE},
        "unknown": {"running_pipeline_computations": HOSTILE},
    }
    card = cards.summary_card(hostile, codeocean_domain="https://codeocean.example.org")
    page = Page(card)
    assert page.balanced
    assert "script" not in page.tags
    assert "onmouseover" not in page.attributes
    assert HOSTILE in page.text and HOSTILE in page.titles  # read back as given
    assert all(href.startswith("https://") and "'" not in href for href, _ in page.links)


def test_a_hostile_sorted_asset_name_from_codeocean_is_escaped(aind_sandbox):
    name = f"{MAIN}_sorted_{HOSTILE}"
    aind_sandbox.load(
        {"data_assets": [{"id": "0dd0dd00-0000-4000-8000-000000000000", "name": name}]}
    )
    page = Page(Session(MAIN).describe()._repr_html_())
    assert "script" not in page.tags and "onmouseover" not in page.attributes
    assert name in page.text


def test_subject_describe_counts_sessions_by_platform_with_their_date_range(aind_sandbox):
    summary = Subject(676909).describe()
    assert summary["sessions"] == 4
    assert (summary["first_start_time"], summary["last_start_time"]) == (
        "2023-12-13T13:43:40-08:00",
        "2024-01-18T11:05:32-08:00",
    )
    assert [
        (p["platform"], p["sessions"], p["first_start_time"], p["last_start_time"])
        for p in summary["platforms"]
    ] == [
        ("ecephys", 2, "2023-12-13T13:43:40-08:00", "2023-12-14T12:43:11-08:00"),
        ("behavior", 1, "2023-12-15T09:30:00-08:00", "2023-12-15T09:30:00-08:00"),
        ("SmartSPIM", 1, "2024-01-18T11:05:32-08:00", "2024-01-18T11:05:32-08:00"),
    ]
    assert summary["platforms"][0]["session_ids"] == [MAIN, "ecephys_676909_2023-12-14_12-43-11"]


def test_subject_describe_renders_as_a_card_of_its_platforms(aind_sandbox):
    text = " ".join(Page(Subject(676909).describe()._repr_html_()).text.split())
    assert "4 sessions" in text
    assert "ecephys 2 2023-12-13 13:43:40 2023-12-14 12:43:11" in text
    assert "SmartSPIM 1" in text


def test_subject_describe_says_its_sessions_are_unknown_when_codeocean_is_down(aind_sandbox, quick):
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), services=("codeocean",), retry_after=0)
    summary = Subject(676909).describe()
    assert summary["sessions"] is None and summary["platforms"] is None
    assert "503" in summary["unknown"]["sessions"]
    assert summary["unknown"]["sessions"] in Page(summary._repr_html_()).text
