"""The text the ``aind-session`` commands print on a terminal or into a pipe: the
tables of ``sessions`` and ``assets``, and the summary of ``info``.

Values are plain; only problems are coloured (see :class:`~aind_session.cli_output.Style`):
a failed sorting in red, an unknown answer as ``unknown [n]`` in yellow (its
reason said once on stderr, see :class:`~aind_session.cli_output.Footnotes`),
nothing found and not applicable dimmed.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from aind_session.card_parts import when
from aind_session.cli_output import Footnotes, Style, derived_from, shorten, table

_STYLED = re.compile(r"(\x1b\[[0-9;]*m)(.*)(\x1b\[0m)", re.S)

# how the columns of a session row are headed in a table
HEADERS = {
    "id": "ID",
    "platform": "PLATFORM",
    "start_time": "START",
    "raw_data_asset_id": "RAW ASSET",
    "raw_data_dir": "RAW DATA DIR",
    "uploaded": "UPLOADED",
    "modalities": "MODALITIES",
    "sorted": "SORTED",
    "sorters": "SORTERS",
    "latest_sorted_asset_id": "LATEST SORTED ASSET",
    "latest_sorting_status": "LATEST SORTING",
    "nwb_asset_id": "NWB ASSET",
    "sorting_running": "SORTING RUNNING",
    "docdb_record": "DOCDB",
}
_SHORTENED = {"raw_data_dir", "modalities", "sorters"}  # long, and still told apart cut


def shown_time(iso: str | None) -> str:
    """An ISO 8601 time of the JSON contract as the text shows it: a session's start in
    session time (``2023-12-13 13:43:40``), a UTC moment with its zone named.

    >>> shown_time('2023-12-15T06:13:48+00:00'), shown_time('2023-12-13T13:43:40-08:00')
    ('2023-12-15 06:13:48 UTC', '2023-12-13 13:43:40')
    >>> shown_time(None)
    '-'
    """
    if iso is None:
        return "-"
    return when(iso, zone=iso.endswith("+00:00"))  # the cards' form: one way to show a time


def cell(row: dict[str, Any], key: str, style: Style, notes: Footnotes) -> str:
    """One value of a session row as a table shows it: yes/no, ok/error (red), a list,
    ``-`` (dim) where it does not apply or nothing was found, ``unknown [n]``.

    >>> import io
    >>> plain = Style(io.StringIO())
    >>> notes = Footnotes(plain)
    >>> row = {'uploaded': True, 'sorted': None, 'latest_sorting_status': 'error',
    ...        'modalities': ['behavior', 'ecephys'], 'unknown': {'docdb_record': 'DocDB down'},
    ...        'docdb_record': None}
    >>> [cell(row, k, plain, notes) for k in
    ...  ('uploaded', 'sorted', 'latest_sorting_status', 'modalities', 'docdb_record')]
    ['yes', '-', 'error', 'behavior, ecephys', 'unknown [1]']
    """
    if key in row["unknown"]:
        return notes.mark(row["unknown"][key], HEADERS.get(key, key).lower())
    value = row[key]
    if value is None or value == []:
        return style.dim("-")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "start_time":
        return shown_time(value)
    if key.endswith("_status"):
        return style.red(value) if value == "error" else str(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def sessions_text(
    rows: list[dict[str, Any]], columns: Sequence[str], style: Style, notes: Footnotes
) -> str:
    """The table of ``sessions``: the sessions' ID, platform and start, then ``columns``.

    >>> import io
    >>> plain = Style(io.StringIO())
    >>> rows = [
    ...     {'id': 'ecephys_676909_2023-12-13_13-43-40', 'platform': 'ecephys',
    ...      'start_time': '2023-12-13T13:43:40-08:00', 'uploaded': True, 'sorted': True,
    ...      'latest_sorting_status': 'error', 'unknown': {}},
    ...     {'id': 'behavior_676909_2023-12-15_09-30-00', 'platform': 'behavior',
    ...      'start_time': '2023-12-15T09:30:00-08:00', 'uploaded': True, 'sorted': None,
    ...      'latest_sorting_status': None, 'unknown': {}},
    ... ]
    >>> columns = ['uploaded', 'sorted', 'latest_sorting_status']
    >>> print(sessions_text(rows, columns, plain, Footnotes(plain)))
    ID                                   PLATFORM  START                UPLOADED  SORTED  LATEST SORTING
    ecephys_676909_2023-12-13_13-43-40   ecephys   2023-12-13 13:43:40  yes       yes     error
    behavior_676909_2023-12-15_09-30-00  behavior  2023-12-15 09:30:00  yes       -       -
    """
    keys = ["id", "platform", "start_time", *columns]
    return table(
        [[cell(r, k, style, notes) for k in keys] for r in rows],
        [HEADERS.get(k, k.upper()) for k in keys],
        style,
        shrink={
            i: "time" if k == "start_time" else "middle"
            for i, k in enumerate(keys)
            if k in _SHORTENED or k == "start_time"
        },
    )


def assets_text(rows: list[dict[str, Any]], style: Style, session_id: str = "") -> str:
    """The table of ``assets``: one data asset a row. On a narrow terminal a name that
    starts with ``session_id`` shows only what follows it (``…_sorted_2023-12-19_02-15-37``),
    and names are shortened in the middle.

    >>> import io
    >>> rows = [{'id': '6934b008-bd2e-4e54-82e8-a6c5d91a88d8',
    ...          'name': 'ecephys_676909_2023-12-14_12-43-11',
    ...          'created': '2023-12-16T02:40:31+00:00', 'type': 'dataset', 'kind': 'raw'}]
    >>> print(assets_text(rows, Style(io.StringIO())))
    ID                                    NAME                                CREATED                  TYPE     KIND
    6934b008-bd2e-4e54-82e8-a6c5d91a88d8  ecephys_676909_2023-12-14_12-43-11  2023-12-16 02:40:31 UTC  dataset  raw
    """
    names = [r["name"] for r in rows]
    fixed = 36 + 16 + 7 + 7 + 8  # ID, CREATED to the minute, TYPE, KIND and the gaps
    if style.width is not None and session_id and max(map(len, names)) > style.width - fixed:
        names = ["…" + n[len(session_id) :] if n.startswith(session_id + "_") else n for n in names]
    return table(
        [
            [r["id"], name, shown_time(r["created"]), r["type"], r["kind"]]
            for r, name in zip(rows, names, strict=True)
        ],
        ["ID", "NAME", "CREATED", "TYPE", "KIND"],
        style,
        shrink={1: "middle", 2: "time"},
    )


# -- info ------------------------------------------------------------------------------------
LABELS = {
    "raw_data_asset": "raw data asset",
    "raw_data_dir": "raw data dir",
    "modalities": "modalities",
    "metadata_files": "metadata files",
    "sorted_data_assets": "sorted assets",
    "running_pipeline_computations": "running sorting",
}


def format_info(summary: dict[str, Any], style: Style, notes: Footnotes) -> str:
    """The text of ``info`` for one session's summary (from ``report.describe``).

    >>> import io
    >>> from aind_session import Session
    >>> from aind_session.report import describe
    >>> plain = Style(io.StringIO())
    >>> summary = describe(Session('ecephys_676909_2023-12-14_12-43-11'))
    >>> print(format_info(summary, plain, Footnotes(plain)))
    ecephys_676909_2023-12-14_12-43-11
      platform         ecephys
      subject          676909
      date, time       2023-12-14 12:43:11
      raw data asset   6934b008-bd2e-4e54-82e8-a6c5d91a88d8  ecephys_676909_2023-12-14_12-43-11  (created 2023-12-16 02:40:31 UTC)
      raw data dir     s3://aind-ephys-data/ecephys_676909_2023-12-14_12-43-11
      modalities       behavior, ecephys
      metadata files   data_description.json, metadata.nd.json, procedures.json, processing.json, rig.json, session.json, subject.json
      sorted assets
        ecephys_676909_2023-12-14_12-43-11_sorted_2023-12-19_02-15-37  6028f0d9-38ec-4e59-a9b2-ed4076228d65
          sorter kilosort2_5; ProbeA; ok
      running sorting  none
    """
    problems, unknown = summary["problems"], summary["unknown"]
    width = style.width

    def why(section: str) -> str:
        if section in unknown:
            reason = unknown[section]
            needed = derived_from(reason)
            if needed in unknown:  # it waited on another section: that one's failure
                reason = unknown[needed]
            return notes.mark(reason, LABELS[section])
        return style.dim(problems.get(section, "none"))

    def row(label: str, value: str) -> str:
        line = f"  {label:<16} {value}".rstrip()
        styled = _STYLED.fullmatch(value)
        plain = styled[2] if styled else value
        if width is None or len(f"  {label:<16} {plain}") <= width or "\x1b" in plain:
            return line
        wrapped = textwrap.wrap(plain, width - 19)
        if styled:
            wrapped = [f"{styled[1]}{w}{styled[3]}" for w in wrapped]
        return "\n".join(f"  {label if i == 0 else '':<16} {w}" for i, w in enumerate(wrapped))

    def listed(section: str) -> str:
        return ", ".join(summary[section] or ()) or why(section)

    lines = [style.bold(summary["id"])]
    lines.append(row("platform", summary["platform"] or "- (not in the ID; see modalities)"))
    lines.append(row("subject", summary["subject_id"]))
    lines.append(row("date, time", shown_time(summary["start_time"])))
    raw = summary["raw_data_asset"]
    if raw:
        created = f"(created {shown_time(raw['created'])})"
        lines.append(row("raw data asset", f"{raw['id']}  {raw['name']}  {created}"))
    else:
        lines.append(row("raw data asset", why("raw_data_asset")))
    lines.append(row("raw data dir", summary["raw_data_dir"] or why("raw_data_dir")))
    lines.append(row("modalities", listed("modalities")))
    lines.append(row("metadata files", listed("metadata_files")))
    sorted_assets = summary["sorted_data_assets"]
    applies = summary["platform"] in ("ecephys", None) or bool(sorted_assets)
    if applies or "sorted_data_assets" in unknown:
        lines.append(row("sorted assets", "" if sorted_assets else why("sorted_data_assets")))
    for entry in sorted_assets or ():
        name = f"    {entry['name']}  {entry['id']}"
        state = f"      {sorted_state(entry, style, notes)}"
        if width is not None and len(name) > width:  # the ID goes on a line of its own
            lines += [f"    {shorten(entry['name'], width - 4)}", state, f"      {entry['id']}"]
        else:
            lines += [name, state]
    running = summary["running_pipeline_computations"]
    if applies or running or "running_pipeline_computations" in unknown:
        lines.append(
            row("running sorting", "" if running else why("running_pipeline_computations"))
        )
    for run in running or ():
        lines.append(f"    {run['id']}  {run['state']}  (created {shown_time(run['created'])})")
    return "\n".join(lines)


def sorted_state(entry: dict[str, Any], style: Style, notes: Footnotes) -> str:
    """``sorter X; probes; ok`` of a sorted asset: ``unknown [n]`` where it could not be
    found out, a sorting error in red.

    >>> import io
    >>> plain = Style(io.StringIO())
    >>> sorted_state({'sorter': 'kilosort4', 'probes': ['ProbeA', 'ProbeB'], 'status': 'ok',
    ...               'unknown': {}}, plain, Footnotes(plain))
    'sorter kilosort4; ProbeA, ProbeB; ok'
    >>> sorted_state({'sorter': None, 'probes': [], 'status': 'unknown',
    ...               'unknown': {'status': 'S3 did not answer'}}, plain, Footnotes(plain))
    'sorter not named; no probes; sorting unknown [1]'
    """
    unknown = entry["unknown"]
    counted: list[str] = []

    def part(key: str, text: str) -> str:
        if key not in unknown:
            return text
        what = None if counted else "sorted asset"  # one asset, counted once
        counted.append(key)
        return notes.mark(unknown[key], what)

    sorter = part("sorter", entry["sorter"] or "not named")
    probes = ", ".join(entry["probes"] or ()) or "no probes"
    probes = f"probes {part('probes', '')}" if "probes" in unknown else probes
    if entry["status"] == "unknown":
        reason = unknown.get("status") or next(iter(unknown.values()), "not found out")
        state = "sorting " + notes.mark(reason, None if counted else "sorted asset")
    else:
        state = style.red("sorting error") if entry["status"] == "error" else "ok"
    return f"sorter {sorter}; {probes}; {state}"
