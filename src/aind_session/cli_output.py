"""How the ``aind-session`` command line shows its answers.

The commands (in :mod:`aind_session.cli`) find things out; this module turns
what they found into output: ANSI styles on a terminal (:class:`Style`), JSON
for scripts (:func:`emit`), the tables of ``sessions`` and ``assets``, the text
of ``info`` (:func:`format_info`), and a progress bar on stderr while many
sessions are asked about (:func:`progress_map`, :func:`progress_batches`).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Style:
    """ANSI styles on a terminal (unless NO_COLOR is set), plain text otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and not os.environ.get("NO_COLOR")

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def bold(self, text: str) -> str:
        """``text`` in bold on a terminal; as it is otherwise.

        >>> import io
        >>> style = Style(io.StringIO())  # not a terminal
        >>> style.bold('ok')
        'ok'
        >>> style.on = True
        >>> style.bold('ok')
        '\\x1b[1mok\\x1b[0m'
        """
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        """``text`` dimmed on a terminal; as it is otherwise.

        >>> import io
        >>> style = Style(io.StringIO())  # not a terminal
        >>> style.dim('ok')
        'ok'
        >>> style.on = True
        >>> style.dim('ok')
        '\\x1b[2mok\\x1b[0m'
        """
        return self._wrap("2", text)

    def red(self, text: str) -> str:
        """``text`` in red on a terminal; as it is otherwise.

        >>> import io
        >>> style = Style(io.StringIO())  # not a terminal
        >>> style.red('ok')
        'ok'
        >>> style.on = True
        >>> style.red('ok')
        '\\x1b[31mok\\x1b[0m'
        """
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        """``text`` in green on a terminal; as it is otherwise.

        >>> import io
        >>> style = Style(io.StringIO())  # not a terminal
        >>> style.green('ok')
        'ok'
        >>> style.on = True
        >>> style.green('ok')
        '\\x1b[32mok\\x1b[0m'
        """
        return self._wrap("32", text)


def emit(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# -- progress ------------------------------------------------------------------------------
class Progress:
    """A progress bar on stderr, shown only on a terminal and when asked."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self.total, self.label, self.done = total, label, 0
        self.on = show and sys.stderr.isatty() and total > 1
        self.lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done, and redraw the bar when it is shown."""
        with self.lock:
            self.done += count
            if self.on:
                filled = int(30 * self.done / self.total)
                sys.stderr.write(
                    f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
                )
                sys.stderr.flush()

    def close(self) -> None:
        """Erase the bar when it is shown."""
        if self.on:
            sys.stderr.write("\r" + " " * (len(self.label) + 45) + "\r")


def progress_map(fn: Callable[[T], R], items: Sequence[T], label: str, show: bool) -> list[R]:
    """``fn`` over ``items`` on a bounded pool, with a progress bar on a terminal.

    The answers are in the order of ``items``.

    >>> progress_map(str.upper, ['ProbeA', 'ProbeB'], 'probes', show=False)
    ['PROBEA', 'PROBEB']
    """
    from concurrent.futures import ThreadPoolExecutor

    from aind_session.config import get_settings

    progress = Progress(len(items), label, show)

    def step(item: T) -> R:
        result = fn(item)
        progress.advance()
        return result

    workers = max(1, min(len(items), get_settings().max_concurrency))
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(step, items))
    progress.close()
    return results


def progress_batches(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], label: str, show: bool, size: int = 25
) -> list[R]:
    """``fn`` over batches of ``items`` (each batch asks its services in a few rounds).

    Without a bar to move, all ``items`` go in one batch.

    >>> progress_batches(lambda batch: [len(batch)] * len(batch), 'abc', 'letters', show=False)
    [3, 3, 3]
    """
    progress = Progress(len(items), label, show)
    if not progress.on:
        size = max(1, len(items))  # no bar to move: one batch, fewest rounds
    results: list[R] = []
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        results += fn(batch)
        progress.advance(len(batch))
    progress.close()
    return results


# -- tables --------------------------------------------------------------------------------
def table(rows: list[list[str]], header: list[str], style: Style) -> str:
    """``rows`` in columns as wide as their widest cell, under a bold ``header``.

    >>> import io
    >>> print(table([['ProbeA', '455'], ['ProbeB', '301']], ['PROBE', 'UNITS'], Style(io.StringIO())))
    PROBE   UNITS
    ProbeA  455
    ProbeB  301
    """
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        style.bold("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    ]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def sessions_table(rows: list[dict[str, Any]], style: Style) -> str:
    """The table of ``sessions``: a session's verdicts are yes/no (or failed/ok), "-"
    where one does not apply and "unknown" where it could not be found out.

    >>> import io
    >>> rows = [
    ...     {'id': 'ecephys_676909_2023-12-13_13-43-40', 'platform': 'ecephys',
    ...      'date': '2023-12-13 13:43:40', 'uploaded': True, 'sorted': True,
    ...      'latest_sorting_failed': True, 'unknown': {}},
    ...     {'id': 'behavior_676909_2023-12-15_09-30-00', 'platform': 'behavior',
    ...      'date': '2023-12-15 09:30:00', 'uploaded': True, 'sorted': None,
    ...      'latest_sorting_failed': None, 'unknown': {}},
    ... ]
    >>> print(sessions_table(rows, Style(io.StringIO())))
    ID                                   PLATFORM  DATE                 UPLOADED  SORTED  LATEST SORTING
    ecephys_676909_2023-12-13_13-43-40   ecephys   2023-12-13 13:43:40  yes       yes     failed
    behavior_676909_2023-12-15_09-30-00  behavior  2023-12-15 09:30:00  yes       -       -
    """

    def cell(
        row: dict[str, Any], key: str, says: tuple[str, str] = ("yes", "no"), good: bool = True
    ) -> str:
        if key in row["unknown"]:
            return style.red("unknown")
        if row[key] is None:
            return "-"
        text = says[0] if row[key] else says[1]
        return style.green(text) if row[key] is good else style.red(text)

    return table(
        [
            [
                r["id"],
                r["platform"] or "-",  # an aind-data-schema 2.x ID names none
                r["date"],
                cell(r, "uploaded"),
                cell(r, "sorted"),
                cell(r, "latest_sorting_failed", ("failed", "ok"), good=False),
            ]
            for r in rows
        ],
        ["ID", "PLATFORM", "DATE", "UPLOADED", "SORTED", "LATEST SORTING"],
        style,
    )


def assets_table(rows: list[dict[str, Any]], style: Style) -> str:
    """The table of ``assets``: one data asset a row.

    >>> import io
    >>> rows = [{'id': '6934b008-bd2e-4e54-82e8-a6c5d91a88d8',
    ...          'name': 'ecephys_676909_2023-12-14_12-43-11',
    ...          'created': '2023-12-16 02:40:31 UTC', 'type': 'dataset', 'kind': 'raw'}]
    >>> print(assets_table(rows, Style(io.StringIO())))
    ID                                    NAME                                CREATED                  TYPE     KIND
    6934b008-bd2e-4e54-82e8-a6c5d91a88d8  ecephys_676909_2023-12-14_12-43-11  2023-12-16 02:40:31 UTC  dataset  raw
    """
    return table(
        [[r["id"], r["name"], r["created"], r["type"], r["kind"]] for r in rows],
        ["ID", "NAME", "CREATED", "TYPE", "KIND"],
        style,
    )


# -- info ------------------------------------------------------------------------------------
def format_info(summary: dict[str, Any], style: Style) -> str:
    """The text of ``info`` for one session's summary (from ``report.describe``).

    >>> import io
    >>> from aind_session import Session
    >>> from aind_session.report import describe
    >>> summary = describe(Session('ecephys_676909_2023-12-14_12-43-11'))
    >>> print(format_info(summary, Style(io.StringIO())))
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

    def why(section: str) -> str:
        if section in unknown:
            return style.red(f"unknown: {unknown[section]}")
        return style.red(problems.get(section, "none"))

    def row(label: str, value: str) -> str:
        return f"  {label:<16} {value}".rstrip()

    def listed(section: str) -> str:
        return ", ".join(summary[section] or ()) or why(section)

    lines = [style.bold(summary["id"])]
    lines.append(row("platform", summary["platform"] or "- (not in the ID; see modalities)"))
    lines.append(row("subject", summary["subject_id"]))
    lines.append(row("date, time", f"{summary['date']} {summary['time']}"))
    raw = summary["raw_data_asset"]
    lines.append(
        row(
            "raw data asset",
            f"{raw['id']}  {raw['name']}  (created {raw['created']})"
            if raw
            else why("raw_data_asset"),
        )
    )
    lines.append(row("raw data dir", summary["raw_data_dir"] or why("raw_data_dir")))
    lines.append(row("modalities", listed("modalities")))
    lines.append(row("metadata files", listed("metadata_files")))
    sorted_assets = summary["sorted_data_assets"]
    lines.append(row("sorted assets", "" if sorted_assets else why("sorted_data_assets")))
    for entry in sorted_assets or ():
        lines.append(f"    {entry['name']}  {style.dim(entry['id'])}")
        lines.append(f"      {sorted_state(entry, style)}")
        reasons = dict.fromkeys(entry["unknown"].values())
        if reasons:
            lines.append(f"      {style.red('unknown: ' + '; '.join(reasons))}")
    running = summary["running_pipeline_computations"]
    if summary["platform"] in ("ecephys", None) or running:
        lines.append(
            row("running sorting", "" if running else why("running_pipeline_computations"))
        )
    for run in running or ():
        lines.append(f"    {run['id']}  {run['state']}  (created {run['created']})")
    return "\n".join(lines)


def sorted_state(entry: dict[str, Any], style: Style) -> str:
    """``sorter X; probes; ok`` of a sorted asset: "unknown" where it could not be found out.

    >>> import io
    >>> plain = Style(io.StringIO())
    >>> sorted_state({'sorter': 'kilosort4', 'probes': ['ProbeA', 'ProbeB'], 'error': False,
    ...               'unknown': {}}, plain)
    'sorter kilosort4; ProbeA, ProbeB; ok'
    >>> sorted_state({'sorter': None, 'probes': [], 'error': None,
    ...               'unknown': {'error': 'S3 did not answer'}}, plain)
    'sorter not named; no probes; sorting unknown'
    """
    unknown = entry["unknown"]
    sorter = "unknown" if "sorter" in unknown else entry["sorter"] or "not named"
    probes = (
        "probes unknown" if "probes" in unknown else ", ".join(entry["probes"] or ()) or "no probes"
    )
    if "error" in unknown or entry["error"] is None:
        state = style.red("sorting unknown")
    else:
        state = style.red("sorting error") if entry["error"] else style.green("ok")
    return f"sorter {sorter}; {probes}; {state}"
