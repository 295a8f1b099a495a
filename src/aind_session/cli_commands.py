"""The commands of the ``aind-session`` command line: ``info``, ``sessions``, ``assets``.

Each takes the parsed arguments and returns the exit code: 0 found, 1 not found
or unknown. :mod:`aind_session.cli` parses the arguments and calls them (through
:data:`COMMANDS`); how their answers are shown is in :mod:`aind_session.cli_text`
and :mod:`aind_session.cli_output`.

With ``--json`` each prints one document of the CLI's contract (``cli.schema.json``
beside this module, checked by the tests): an object with ``contract`` (its
version), ``command`` and ``sessions``, a list whatever the number of arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from aind_session import errors
from aind_session.cli_output import Footnotes, Style, emit
from aind_session.cli_progress import progress_batches, progress_map
from aind_session.cli_text import assets_text, format_info, sessions_text

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
CONTRACT = 1  # the version of the --json documents (cli.schema.json)
UNKNOWN_NOTE = (
    "aind-session: some answers are unknown: a service did not answer or access was denied "
    "(the reasons are given above); try again later, or check your credentials."
)
JSON_UNKNOWN_NOTE = UNKNOWN_NOTE.replace("above", "under 'unknown'")  # after a --json document
# the keyword arguments of the library that are flags here: errors name the flag
FLAGS = {
    "platform": "--platform",
    "date": "--date",
    "start_date": "--start-date",
    "end_date": "--end-date",
}


def document(command: str, sessions: list[Any], **fields: Any) -> dict[str, Any]:
    """A ``--json`` document: the contract's version, the command, what it was asked
    (``fields``) and its sessions.

    >>> document('assets', [])
    {'contract': 1, 'command': 'assets', 'sessions': []}
    """
    return {"contract": CONTRACT, "command": command, **fields, "sessions": sessions}


def _said(notes: Footnotes) -> bool:
    """Say each failure once on stderr, then the note on unknown answers; whether any."""
    lines = notes.lines()
    for line in lines:
        print(line, file=sys.stderr)
    if lines:
        print(UNKNOWN_NOTE, file=sys.stderr)
    return bool(lines)


# -- commands ------------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    """``aind-session info``: a summary of each session; the exit code.

    0 when every session's raw data was found and nothing is unknown.

    >>> args = argparse.Namespace(sessions=['ecephys_676909_2023-12-14_12-43-11'], json=False)
    >>> cmd_info(args)
    ecephys_676909_2023-12-14_12-43-11
      platform         ecephys
      ...
      sorted assets
        ecephys_676909_2023-12-14_12-43-11_sorted_2023-12-19_02-15-37  6028f0d9-38ec-4e59-a9b2-ed4076228d65
          sorter kilosort2_5; ProbeA; ok
      running sorting  none
    0
    """
    from aind_session.session import Session

    sessions = [Session(value) for value in args.sessions]  # bad input fails before any request
    from aind_session.report import describe_many

    summaries = progress_batches(describe_many, sessions, "sessions", not args.json)
    unknown = any(s["unknown"] for s in summaries)
    if args.json:
        emit(document("info", summaries))
        if unknown:
            print(JSON_UNKNOWN_NOTE, file=sys.stderr)
    else:
        style = Style(sys.stdout)
        notes = Footnotes(Style(sys.stderr))
        print("\n\n".join(format_info(s, style, notes) for s in summaries))
        sys.stdout.flush()
        _said(notes)
    found = all(s["raw_data_asset"] or s["raw_data_dir"] for s in summaries)
    return EXIT_OK if found and not unknown else EXIT_NOT_FOUND


def cmd_sessions(args: argparse.Namespace) -> int:
    """``aind-session sessions``: a table of the subjects' sessions; the exit code.

    0 when sessions were found and nothing is unknown.

    >>> args = argparse.Namespace(subjects=['713655'], platform=None, date=None,
    ...                           start_date=None, end_date=None, json=False)
    >>> cmd_sessions(args)
    ID                                  PLATFORM  START                UPLOADED  SORTED  LATEST SORTING
    ecephys_713655_2024-04-22_14-21-05  ecephys   2024-04-22 14:21:05  yes       yes     ok
    0
    """
    from aind_session.subject import get_sessions, parse_subject_id
    from aind_session.tables import CLI_COLUMNS, session_rows

    columns = list(getattr(args, "columns", None) or CLI_COLUMNS)
    subjects = list(dict.fromkeys(parse_subject_id(s) for s in args.subjects))
    if args.date and (args.start_date or args.end_date):
        raise errors.InvalidInputError(
            f"--date {args.date!r} was given with --start-date or --end-date: give --date "
            "for one day, or --start-date and/or --end-date for a range, not both."
        )
    _check_dates(args)
    fmt = _format(args)
    shown = fmt == "table"
    with _flag_names():
        found = progress_map(
            lambda s: get_sessions(s, args.platform, args.date, args.start_date, args.end_date),
            subjects,
            "subjects",
            shown,
        )
    sessions = [s for group in found for s in group]
    rows = progress_batches(lambda part: session_rows(part, columns), sessions, "sessions", shown)
    unknown = any(r["unknown"] for r in rows)
    if fmt == "json":
        filters = {name: getattr(args, name) for name in FLAGS}
        doc = document("sessions", rows, subjects=subjects, filters=filters, columns=columns)
        _to_file_or_stdout(doc, getattr(args, "output", None))
    elif fmt != "table":
        _write(rows, columns, fmt, args.output)
    elif rows:
        notes = Footnotes(Style(sys.stderr))
        print(sessions_text(rows, columns, Style(sys.stdout), notes))
        sys.stdout.flush()
        _said(notes)
    if not rows:
        print(f"No sessions found for {_asked(subjects, args)}.", file=sys.stderr)
    elif unknown and fmt != "table":
        print(JSON_UNKNOWN_NOTE, file=sys.stderr)
    return EXIT_OK if rows and not unknown else EXIT_NOT_FOUND


def _check_dates(args: argparse.Namespace) -> None:
    """Each date flag read before any request; a bad one is named by its flag."""
    from aind_session.dates import parse_date

    for name in ("date", "start_date", "end_date"):
        value = getattr(args, name, None)
        if value is None:
            continue
        flag = FLAGS[name]
        try:
            parse_date(value)
        except errors.InvalidInputError as exc:
            raise errors.InvalidInputError(f"{flag} {value!r}: {exc}") from None


def _format(args: argparse.Namespace) -> str:
    """The output format asked: ``--json`` is ``--format json``."""
    fmt = getattr(args, "format", None)
    if args.json and fmt not in (None, "json"):
        raise errors.InvalidInputError(
            f"--json was given with --format {fmt}: give one of them (--json is --format json)."
        )
    fmt = "json" if args.json else fmt or "table"
    output = getattr(args, "output", None)
    if fmt == "parquet" and not output:
        raise errors.InvalidInputError(
            "--format parquet writes a binary file: give it a name with -o FILE."
        )
    if fmt == "table" and output:
        raise errors.InvalidInputError(
            f"-o {output} was given with the table format: choose --format csv, json or "
            "parquet to write a file."
        )
    if output:  # before any request: a run is not lost on a file it cannot write
        folder = os.path.dirname(os.path.abspath(output))
        if os.path.isdir(output) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise errors.InvalidInputError(
                f"-o {output!r} cannot be written: give a file in a folder that exists "
                "and is writable."
            )
    return fmt


def _to_file_or_stdout(doc: dict[str, Any], output: str | None) -> None:
    """The JSON document ``doc`` on stdout, or in the file ``output``."""
    if not output:
        emit(doc)
        return
    import json

    with open(output, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"aind-session: wrote {len(doc['sessions'])} sessions to {output}", file=sys.stderr)


def _write(rows: list[dict[str, Any]], columns: list[str], fmt: str, output: str | None) -> None:
    """``rows`` as a csv, json or parquet file ``output`` (stdout when None)."""
    from aind_session.tables import frame_of, write_table

    frame = frame_of(rows, columns)
    write_table(frame, output if output else sys.stdout, fmt)
    if output:
        print(f"aind-session: wrote {len(rows)} sessions to {output}", file=sys.stderr)


class _flag_names:
    """Inside: an InvalidInputError naming a keyword argument of the library names the
    command line's flag instead (``end_date`` -> ``--end-date``)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, errors.InvalidInputError):
            text = str(exc)
            for name in ("platform", "start_date", "end_date"):  # not 'date': a plain word
                flag = FLAGS[name]  # whole words: 'platforms' stays
                text = re.sub(rf"(?<![\w-]){name}\b=", f"{flag} ", text)  # end_date='x'
                text = re.sub(rf"(?<![\w-]){name}\b", flag, text)
            if text != str(exc):
                raise errors.InvalidInputError(text) from exc


def _asset_kind(asset: Any, session_id: str) -> str:
    from aind_session.codeocean import raw_data_asset_reason
    from aind_session.extensions.ecephys import Ecephys

    if raw_data_asset_reason(asset, session_id):
        return "raw"
    return "sorted" if Ecephys.is_sorted_data_asset(asset) else "derived"


def cmd_assets(args: argparse.Namespace) -> int:
    """``aind-session assets``: the data assets of each session; the exit code.

    0 when every session has data assets.

    >>> args = argparse.Namespace(sessions=['ecephys_676909_2023-12-14_12-43-11'], json=True)
    >>> cmd_assets(args)
    {
      "contract": 1,
      "command": "assets",
      "sessions": [
        {
          "id": "ecephys_676909_2023-12-14_12-43-11",
          ...
          "data_assets": [
            {
              "id": "6934b008-bd2e-4e54-82e8-a6c5d91a88d8",
              "name": "ecephys_676909_2023-12-14_12-43-11",
              "created": "2023-12-16T02:40:31+00:00",
              "type": "dataset",
              "kind": "raw"
            },
            ...
    0
    """
    from aind_session.dates import iso_session_time, iso_utc
    from aind_session.outcomes import ask
    from aind_session.session import Session

    sessions = [Session(value) for value in args.sessions]  # bad input fails before any request
    found = progress_map(
        lambda s: ask(lambda: s.data_assets, ()), sessions, "sessions", not args.json
    )
    entries: list[dict[str, Any]] = []
    for session, outcome in zip(sessions, found, strict=True):
        assets = (
            None
            if outcome.unknown
            else [
                {
                    "id": a.id,
                    "name": a.name,
                    "created": iso_utc(a.created),
                    "type": str(getattr(a.type, "value", a.type)),
                    "kind": _asset_kind(a, session.id),
                }
                for a in outcome.value
            ]
        )
        entries.append(
            {
                "id": session.id,
                "platform": session.platform,
                "subject_id": session.subject_id,
                "start_time": iso_session_time(session.dt),
                "data_assets": assets,  # None: not found out (the reason under unknown)
                "unknown": {"data_assets": str(outcome.reason)} if outcome.unknown else {},
            }
        )
    unknown = any(e["unknown"] for e in entries)
    if args.json:
        emit(document("assets", entries))
        if unknown:
            print(JSON_UNKNOWN_NOTE, file=sys.stderr)
    else:
        _assets_out(entries)
    return EXIT_OK if all(e["data_assets"] for e in entries) else EXIT_NOT_FOUND


def _assets_out(entries: list[dict[str, Any]]) -> None:
    """The text of ``assets``: a table per session (its ID above it when there are
    several); a session without assets said on stderr; each failure said once."""
    style = Style(sys.stdout)
    notes = Footnotes(Style(sys.stderr))
    blocks = []
    for entry in entries:
        title = style.bold(entry["id"]) + "\n" if len(entries) > 1 else ""
        if entry["data_assets"]:
            blocks.append(title + assets_text(entry["data_assets"], style, entry["id"]))
        elif entry["unknown"]:
            mark = notes.mark(entry["unknown"]["data_assets"], "data assets")
            blocks.append(f"{title}data assets {mark}" if title else f"data assets {mark}")
        else:
            blocks.append(title.rstrip())
            print(f"No data assets are named {entry['id']}*.", file=sys.stderr)
    text = "\n\n".join(b for b in blocks if b)
    if text:
        print(text)
    sys.stdout.flush()
    _said(notes)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": cmd_info,
    "sessions": cmd_sessions,
    "assets": cmd_assets,
}


def _asked(subjects: list[str], args: argparse.Namespace) -> str:
    """What ``sessions`` was asked, as the flags given: ``subject 123 with --platform
    ecephys``, or the subject(s) alone when no filter was given."""
    flags = [
        f"{flag} {value}"
        for name, flag in FLAGS.items()
        if (value := getattr(args, name, None)) is not None
    ]
    who = f"subject{'s' if len(subjects) > 1 else ''} {', '.join(subjects)}"
    return f"{who} with {' '.join(flags)}" if flags else who
