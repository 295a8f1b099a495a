"""How the ``aind-session`` command line shows its answers: styles, tables, JSON, progress.

The commands (in :mod:`aind_session.cli_commands`) find things out; this module
turns what they found into output:

- :class:`Style`: colour on a terminal for problems only: red for an error (a
  failed sorting), yellow for unknown, dim for nothing found; plain otherwise,
  and with ``NO_COLOR`` set.
- :func:`table`: columns as wide as their widest cell *as seen* (escape codes
  are not counted), fitted to the terminal by shortening the columns that may
  be shortened, in the middle (``ecephys_676909_…_sorted_2023-12-19_02-15-37``).
- :class:`Footnotes`: an answer that could not be found out shows as
  ``unknown [1]``; each failure is said once, on stderr, with what it affected.
- :func:`emit`: one JSON document (the contract of ``--json``: see
  ``cli.schema.json`` beside this module).

The progress bar is in :mod:`aind_session.cli_progress`.
The text of ``info`` is in :mod:`aind_session.cli_text`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections import Counter
from typing import Any, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ELLIPSIS = "…"
MIN_SHORTENED = {"middle": 12, "time": 10}  # characters a column keeps


class Style:
    """ANSI styles on a terminal (unless NO_COLOR is set), plain text otherwise.

    >>> import io
    >>> style = Style(io.StringIO())  # not a terminal
    >>> style.red('error'), style.dim('none')
    ('error', 'none')
    >>> style.on = True
    >>> style.bold('ID'), style.red('error'), style.yellow('unknown'), style.dim('none')
    ('\\x1b[1mID\\x1b[0m', '\\x1b[31merror\\x1b[0m', '\\x1b[33munknown\\x1b[0m', '\\x1b[2mnone\\x1b[0m')
    """

    def __init__(self, stream: TextIO) -> None:
        self.on = is_terminal(stream) and not os.environ.get("NO_COLOR")
        self.width = terminal_width(stream)

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        """``text`` in bold: a table's header, a session's ID.

        >>> import io
        >>> Style(io.StringIO()).bold('ID')  # not a terminal
        'ID'
        """
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        """``text`` dimmed: nothing found, or not applicable.

        >>> import io
        >>> Style(io.StringIO()).dim('-')
        '-'
        """
        return self._wrap("2", text)

    def red(self, text: str) -> str:
        """``text`` in red: an error (a failed sorting).

        >>> import io
        >>> Style(io.StringIO()).red('error')
        'error'
        """
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        """``text`` in yellow: an answer that could not be found out.

        >>> import io
        >>> Style(io.StringIO()).yellow('unknown [1]')
        'unknown [1]'
        """
        return self._wrap("33", text)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for a closed stream or one without a file).

    >>> import io
    >>> is_terminal(io.StringIO())
    False
    """
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed, or not a file
        return False


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit output to: the terminal's columns (``COLUMNS`` wins), or None
    when ``stream`` is not a terminal (a file or a pipe gets whole lines).

    >>> import io
    >>> terminal_width(io.StringIO()) is None
    True
    """
    if not is_terminal(stream):
        return None
    return shutil.get_terminal_size((100, 24)).columns


def visible_len(text: str) -> int:
    """The length of ``text`` as a terminal shows it: escape codes count for nothing.

    >>> visible_len('\\x1b[31merror\\x1b[0m')
    5
    """
    return len(ANSI.sub("", text))


def shorten_time(text: str, width: int) -> str:
    """A time ``2023-12-16 02:40:31 UTC`` cut to ``width``: its seconds and zone go
    first, then its time of day.

    >>> shorten_time('2023-12-16 02:40:31 UTC', 18), shorten_time('2023-12-16 02:40:31', 12)
    ('2023-12-16 02:40', '2023-12-16')
    """
    if len(text) <= width or ANSI.search(text):
        return text
    return text[:16] if width >= 16 else text[:10] if width >= 10 else shorten(text, width)


def shorten(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (both ends are kept: a name's
    session and its suffix); as it is when it fits. Only plain text is shortened.

    >>> shorten('ecephys_676909_2023-12-14_12-43-11_sorted_2023-12-19_02-15-37', 40)
    'ecephys_676909_2023…_2023-12-19_02-15-37'
    """
    if len(text) <= width or ANSI.search(text):
        return text
    keep = max(1, width - 1)
    head = keep // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]


def emit(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# -- unknown answers, each failure said once -------------------------------------------------
_VARYING = re.compile(
    r"'[^']*'|s3://\S+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\b\w+_\d{6,}_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\w*|\b\d{6,}_\d{4}-\d{2}-\d{2}_\S+"
)
_DERIVED = re.compile(r"^(?P<needed>\w+) could not be found out, so neither could \w+")


class Footnotes:
    """Reasons of unknown answers, numbered: ``mark`` gives the cell's text
    (``unknown [1]``), ``lines`` the footnotes for stderr. Reasons that differ only
    in what they name (a folder, an asset, a session) are one failure, said once
    with a count of what it affected.

    >>> import io
    >>> notes = Footnotes(Style(io.StringIO()))
    >>> notes.mark('S3 did not answer a listing of s3://b/x after 3 tries', 'raw data dir')
    'unknown [1]'
    >>> notes.mark('S3 did not answer a listing of s3://b/y after 3 tries', 'raw data dir')
    'unknown [1]'
    >>> notes.mark('DocDB refused', 'docdb record')
    'unknown [2]'
    >>> print('\\n'.join(notes.lines()))
    aind-session: unknown [1]: S3 did not answer a listing of s3://b/x after 3 tries (and 1 more like it); affected: raw data dir (2)
    aind-session: unknown [2]: DocDB refused; affected: docdb record
    """

    def __init__(self, style: Style) -> None:
        self.style = style
        self.numbers: dict[str, int] = {}
        self.first: dict[int, str] = {}
        self.seen: dict[int, set[str]] = {}
        self.affected: dict[int, Counter[str]] = {}

    def number(self, reason: str, what: str | None) -> int:
        """The footnote of ``reason``, noting that it left ``what`` unknown (None: the
        same thing again, not counted twice).

        >>> import io
        >>> Footnotes(Style(io.StringIO())).number('S3 refused', 'raw data dir')
        1
        """
        key = failure_key(reason)
        if key not in self.numbers:
            self.numbers[key] = n = len(self.numbers) + 1
            self.first[n], self.seen[n], self.affected[n] = reason, set(), Counter()
        n = self.numbers[key]
        self.seen[n].add(reason)
        if what is not None:
            self.affected[n][what] += 1
        return n

    def mark(self, reason: str, what: str | None) -> str:
        """The text of a cell whose answer is unknown for ``reason``.

        >>> import io
        >>> Footnotes(Style(io.StringIO())).mark('S3 refused', 'raw data dir')
        'unknown [1]'
        """
        return self.style.yellow(f"unknown [{self.number(reason, what)}]")

    def lines(self) -> list[str]:
        """One line per failure, for stderr (see the class's example).

        >>> import io
        >>> Footnotes(Style(io.StringIO())).lines()
        []
        """
        out = []
        for n, reason in self.first.items():
            more = len(self.seen[n]) - 1
            like = f" (and {more} more like it)" if more else ""
            hit = ", ".join(
                f"{what} ({count})" if count > 1 else what
                for what, count in self.affected[n].items()
            )
            affected = f"; affected: {hit}" if hit else ""
            out.append(f"aind-session: unknown [{n}]: {reason}{like}{affected}")
        return out


def failure_key(text: str) -> str:
    """What is the same in messages about one failure: ``text`` with what varies from
    one question to the next (a path, an asset, a session, a quoted value) left out.

    >>> failure_key("S3 did not answer a listing of s3://b/x after 3 tries")
    'S3 did not answer a listing of … after 3 tries'
    """
    return _VARYING.sub("…", text)


def derived_from(reason: str) -> str | None:
    """The section an unknown answer waited on (``raw_data_dir could not be found out,
    so neither could modalities``), or None.

    >>> derived_from('raw_data_dir could not be found out, so neither could modalities (see raw_data_dir).')
    'raw_data_dir'
    """
    match = _DERIVED.match(reason)
    return match["needed"] if match else None


# -- tables --------------------------------------------------------------------------------
def fitted_widths(
    rows: list[list[str]], header: list[str], width: int | None, shrink: dict[int, str]
) -> tuple[list[int], bool]:
    """The columns' widths as seen, those in ``shrink`` narrowed (widest first, down to
    12 characters) until the table fits ``width``; and whether it fits.

    >>> fitted_widths([['a' * 30, '1']], ['NAME', 'N'], 20, {0: 'middle'})
    ([17, 1], True)
    >>> fitted_widths([['a' * 30, '1']], ['NAME', 'N'], 10, {0: 'middle'})
    ([12, 1], False)
    """
    widths = [max(visible_len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if width is None:
        return widths, True
    over = sum(widths) + 2 * (len(widths) - 1) - width
    while over > 0:
        candidates = [i for i in shrink if widths[i] > MIN_SHORTENED[shrink[i]]]
        if not candidates:
            break
        times = [i for i in candidates if shrink[i] == "time"]  # the cheapest loss first
        widest = max(times or candidates, key=lambda i: widths[i])
        least = MIN_SHORTENED[shrink[widest]]
        cut = max(1, min(over, widths[widest] - max(least, _second(widths, candidates))))
        if shrink[widest] == "time":  # whole parts: 16 (no seconds), then 10 (the day)
            cut = widths[widest] - (16 if widths[widest] - cut >= 16 else 10)
        widths[widest] -= cut
        over -= cut
    return widths, over <= 0


def _second(widths: list[int], candidates: list[int]) -> int:
    """The width of the second widest candidate (so the widest is cut down to it first)."""
    ordered = sorted((widths[i] for i in candidates), reverse=True)
    return ordered[1] if len(ordered) > 1 else 0


def table(
    rows: list[list[str]],
    header: list[str],
    style: Style,
    shrink: dict[int, str] | None = None,
) -> str:
    """``rows`` in columns as wide as their widest cell as seen, under a bold ``header``.

    On a terminal narrower than the table, the columns in ``shrink`` (index -> how:
    ``"middle"`` or ``"time"``) are shortened, the widest first (see
    :data:`MIN_SHORTENED`).
    A table that still does not fit is shown as one block of ``header: value`` lines
    per row (:func:`records`).

    >>> import io
    >>> print(table([['ProbeA', '455'], ['ProbeB', '301']], ['PROBE', 'UNITS'], Style(io.StringIO())))
    PROBE   UNITS
    ProbeA  455
    ProbeB  301
    >>> narrow = Style(io.StringIO()); narrow.width = 20
    >>> print(table([['a' * 30, '1']], ['NAME', 'N'], narrow, shrink={0: 'middle'}))
    NAME               N
    aaaaaaaa…aaaaaaaa  1
    """
    shrink = shrink or {}
    widths, fits = fitted_widths(rows, header, style.width, shrink)
    if not fits:
        return records(rows, header, style)
    cut = {"middle": shorten, "time": shorten_time}
    rows = [
        [cut[shrink[i]](c, widths[i]) if i in shrink else c for i, c in enumerate(r)] for r in rows
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c + " " * (w - visible_len(c)) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join([style.bold(line(header)), *(line(r) for r in rows)])


def records(rows: list[list[str]], header: list[str], style: Style) -> str:
    """Each row as a block: its first cell in bold, then one ``header  value`` line per
    other column (a table too wide for the terminal).

    >>> import io
    >>> print(records([['ProbeA', '455']], ['PROBE', 'UNITS'], Style(io.StringIO())))
    ProbeA
      units  455
    """
    labels = [h.lower() for h in header[1:]]
    pad = max(map(len, labels), default=0)
    room = None if style.width is None else max(MIN_SHORTENED["middle"], style.width - pad - 4)
    blocks = []
    for r in rows:
        lines = [style.bold(r[0])]
        lines += [
            f"  {label:<{pad}}  {value if room is None else shorten(value, room)}".rstrip()
            for label, value in zip(labels, r[1:], strict=True)
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
