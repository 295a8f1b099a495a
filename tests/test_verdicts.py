"""Unknown is not ok: a verdict that could not be reached (a service down, access
denied, a corrupt file) is said as "unknown" with its reason, in Python, in
``describe()`` (dict and HTML) and in every output of the command line, which
then exits 1.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

import aind_session
from aind_session import Session, errors
from aind_session.cli import main
from aind_session.testing import Faults

MAIN = "ecephys_676909_2023-12-13_13-43-40"  # three good sortings, the newest failed
FAILED_SORTING = "30d6d645-0ec1-4d71-b088-6af2b1c0feaa"
GOOD_SORTING = "a782c5e4-a16b-495d-baea-7ca9ba29015c"
BUCKETS = ("aind-ephys-data", "codeocean-s3datasetsbucket-1u41qdg42ur9")

# a small world: one session, a raw asset, and sorted assets made by `world`
SID = "ecephys_612345_2024-06-01_10-00-00"
RAW_ID = "61234500-0000-4000-8000-000000000000"
RAW_BUCKET = "aind-ephys-data"
OTHER_BUCKET = "aind-private-data-prod-o5171v"
PROCESSING = {
    "processing_pipeline": {
        "data_processes": [{"name": "Spike sorting", "parameters": {"sorter_name": "kilosort4"}}]
    }
}
RECORDING = "experiment1_Record Node 104#Neuropix-PXI-100.ProbeA-AP_recording1"


def sorted_files(kind: str) -> dict[str, Any]:
    """The files of a sorted asset: ``good``, ``failed`` (only an output with an
    error) or ``corrupt`` (a good run whose processing.json is truncated)."""
    if kind == "failed":
        return {"output": "Traceback (most recent call last):\nOut of memory.\n"}
    files: dict[str, Any] = {
        "output": "N E X T F L O W\nSucceeded\n",
        f"curated/{RECORDING}/spikes.npy": "<sandbox placeholder: spikes>",
        "nwb/x.nwb": "<sandbox placeholder: nwb>",
        "processing.json": PROCESSING,
    }
    if kind == "corrupt":
        files["processing.json"] = '{"processing_pipeline": {"data_pro'
    return files


def world(*sortings: tuple[str, str]) -> dict[str, Any]:
    """A world of session `SID` whose sorted assets, oldest first, are ``(kind, bucket)``."""
    assets: list[dict[str, Any]] = [
        {
            "id": RAW_ID,
            "name": SID,
            "created": 1717236000,
            "custom_metadata": {"data level": "raw data", "subject id": "612345"},
            "source_bucket": {"origin": "aws", "bucket": RAW_BUCKET, "prefix": SID},
        }
    ]
    s3: dict[str, Any] = {
        f"{RAW_BUCKET}/{SID}/subject.json": {"subject_id": "612345"},
        f"{RAW_BUCKET}/{SID}/ecephys/ecephys_clipped/x.dat": "<sandbox placeholder: dat>",
    }
    for day, (kind, bucket) in enumerate(sortings, start=2):
        name = f"{SID}_sorted_2024-06-{day:02d}_10-00-00"
        assets.append(
            {
                "id": f"61234500-0000-4000-8000-0000000000{day:02d}",
                "name": name,
                "created": 1717236000 + day * 86400,
                "type": "result",
                "source_bucket": {"origin": "aws", "bucket": bucket, "prefix": name},
            }
        )
        s3.update({f"{bucket}/{name}/{path}": data for path, data in sorted_files(kind).items()})
    return {"data_assets": assets, "s3": s3}


@pytest.fixture
def s3_down(aind_sandbox, fast_backoff) -> None:
    """Every S3 response is a 503 (CodeOcean answers)."""
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), services=("s3",), retry_after=0)


@pytest.fixture
def s3_denied(aind_sandbox) -> None:
    """S3 answers 403 AccessDenied for the buckets of the main session and its sortings."""
    aind_sandbox.denied_buckets.update(BUCKETS)


@pytest.fixture
def codeocean_down(aind_sandbox, fast_backoff) -> None:
    """Every CodeOcean response is a 503 (S3 answers)."""
    aind_sandbox.faults = Faults(rate=1.0, kinds=("503",), services=("codeocean",), retry_after=0)


@pytest.fixture
def cli(aind_sandbox, capsys) -> Callable[..., tuple[int, str, str]]:
    """Run ``aind-session ARGS...`` in-process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        root = logging.getLogger()
        saved = (root.handlers[:], root.level)
        try:
            code = main(list(argv))
        finally:
            root.handlers[:], _ = saved
            root.setLevel(saved[1])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def sorted_lines(out: str, asset_id: str) -> str:
    """The line of ``info``'s text after a sorted asset's name line: sorter, probes, state."""
    lines = out.splitlines()
    index = next(i for i, line in enumerate(lines) if asset_id in line)
    return lines[index + 1]


# -- info: text ----------------------------------------------------------------------------
def test_info_does_not_call_a_sorting_ok_when_s3_is_down(cli, s3_down):
    _, out, _ = cli("info", MAIN)
    line = sorted_lines(out, FAILED_SORTING)
    assert not line.endswith("ok")
    assert "unknown" in line


def test_info_exits_1_when_s3_is_down(cli, s3_down):
    code, _, err = cli("info", MAIN)
    assert code == 1
    assert "unknown" in err


def test_info_says_unknown_with_the_reason_for_the_raw_data_folder_when_s3_is_down(cli, s3_down):
    _, out, err = cli("info", MAIN)
    rows = {line[:19].strip(): line[19:] for line in out.splitlines() if line.startswith("  ")}
    # the folder's failure, said once on stderr, and what waited on it marked with it
    assert rows["raw data dir"] == rows["modalities"] == rows["metadata files"] == "unknown [1]"
    assert "aind-session: unknown [1]: S3 did not answer" in err


def test_info_exits_1_and_says_unknown_when_access_is_denied(cli, s3_denied):
    code, out, err = cli("info", MAIN)
    assert code == 1
    line = sorted_lines(out, GOOD_SORTING)
    assert not line.endswith("ok")
    assert "unknown [" in line and "denied" in err


def test_info_of_a_fully_resolved_session_exits_0_with_nothing_unknown(cli):
    code, out, err = cli("info", MAIN)
    assert code == 0
    assert "unknown" not in out + err


# -- info --json and describe --------------------------------------------------------------
def test_info_json_says_why_each_sorting_verdict_is_unknown_when_s3_is_down(cli, s3_down):
    code, out, _ = cli("info", MAIN, "--json")
    [summary] = json.loads(out)["sessions"]
    assert code == 1
    for entry in summary["sorted_data_assets"]:
        assert entry["status"] == "unknown"
        assert "S3 did not answer" in entry["unknown"]["status"]
    assert "sorted_data_assets" in summary["unknown"]


def test_describe_says_modalities_are_unknown_not_none_when_s3_is_down(s3_down):
    summary = Session(MAIN).describe()
    assert summary["modalities"] is None and summary["metadata_files"] is None
    assert {"raw_data_dir", "modalities", "metadata_files"} <= set(summary["unknown"])
    assert "S3 did not answer" in summary["unknown"]["raw_data_dir"]
    assert summary["unknown"]["modalities"] == (
        "raw_data_dir could not be found out, so neither could modalities (see raw_data_dir)."
    )


def test_describe_of_a_fully_resolved_session_has_nothing_unknown(aind_sandbox):
    summary = Session(MAIN).describe()
    assert summary["unknown"] == {}
    assert all(entry["unknown"] == {} for entry in summary["sorted_data_assets"])


def test_describe_keys_of_each_sorted_asset_are_stable(aind_sandbox, s3_down):
    entries = Session(MAIN).describe()["sorted_data_assets"]
    keys = ["id", "name", "created", "dir", "sorter", "probes", "status", "problems", "unknown"]
    assert all(list(entry) == keys for entry in entries)


def test_describe_says_every_section_is_unknown_when_codeocean_is_down(codeocean_down):
    summary = Session(MAIN).describe()
    sections = aind_session.report.SECTIONS
    assert all(summary[name] is None for name in sections)
    assert list(summary["unknown"]) == list(sections)
    assert all("503" in reason for reason in summary["unknown"].values())


def test_describe_html_says_unknown_with_the_reason_when_s3_is_down(s3_down):
    rendered = Session(MAIN).describe()._repr_html_()
    assert "raw data folder unknown" in rendered and "modalities unknown" in rendered
    assert "raw data folder</b> <span style='opacity:.72'>&mdash; S3 did not answer" in rendered
    assert "modalities</b> <span style='opacity:.72'>&mdash; raw_data_dir could" in rendered
    assert "sorter unknown" in rendered and "sorter: S3 did not answer" in rendered


def test_a_corrupt_processing_json_makes_the_sorter_unknown_not_missing(aind_sandbox):
    aind_sandbox.load(world(("corrupt", RAW_BUCKET)))
    (asset,) = Session(SID).ecephys.sorted_data_assets
    with pytest.raises(errors.CorruptFileError, match=r"processing\.json"):
        asset.sorter_name
    (entry,) = Session(SID).describe()["sorted_data_assets"]
    assert entry["sorter"] is None
    assert "processing.json" in entry["unknown"]["sorter"]


# -- sessions ------------------------------------------------------------------------------
def session_rows(out: str) -> dict[str, list[str]]:
    return {row.split()[0]: row.split() for row in out.strip().splitlines()[1:]}


def test_sessions_says_uploaded_is_unknown_not_blank_when_s3_is_down(cli, s3_down):
    code, out, err = cli("sessions", "676909")
    rows = session_rows(out)
    assert code == 1
    assert rows[MAIN][4] == "unknown"
    assert rows["behavior_676909_2023-12-15_09-30-00"][4] == "unknown"
    assert MAIN in err and "S3 did not answer" in err


def test_sessions_prints_its_table_when_access_is_denied(cli, s3_denied):
    code, out, err = cli("sessions", "676909")
    rows = session_rows(out)
    assert code == 1
    assert re.fullmatch(r"(unknown \[\d\] ?){3}", " ".join(rows[MAIN][4:]))
    assert rows["SmartSPIM_676909_2024-01-18_11-05-32"][4] == "yes"  # another bucket
    assert "denied" in err


def test_sessions_json_gives_the_reason_for_each_unknown(cli, s3_down):
    code, out, _ = cli("sessions", "676909", "--json")
    row = next(r for r in json.loads(out)["sessions"] if r["id"] == MAIN)
    assert code == 1
    assert (row["uploaded"], row["sorted"], row["latest_sorting_status"]) == (None, None, "unknown")
    assert set(row["unknown"]) == {"uploaded", "sorted", "latest_sorting_status"}
    assert all("S3 did not answer" in reason for reason in row["unknown"].values())


def test_sessions_json_of_resolved_sessions_has_nothing_unknown(cli):
    code, out, _ = cli("sessions", "676909", "--json")
    assert code == 0
    assert all(row["unknown"] == {} for row in json.loads(out)["sessions"])


# -- Python: the properties raise rather than answer "no" ----------------------------------
def test_is_sorted_raises_rather_than_says_no_when_s3_is_down(s3_down):
    with pytest.raises(errors.ServiceError):
        Session(MAIN).ecephys.is_sorted


def test_sorter_names_raise_rather_than_leave_out_a_sorter_that_cannot_be_read(aind_sandbox):
    aind_sandbox.load(world(("good", RAW_BUCKET), ("corrupt", RAW_BUCKET)))
    sorter = Session(SID).ecephys.sorter
    with pytest.raises(errors.CorruptFileError):
        sorter.names
    with pytest.raises(errors.CorruptFileError):
        sorter.kilosort4.sorted_data_assets
