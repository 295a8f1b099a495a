"""The commands of the ``aind-session`` command line: ``info``, ``sessions``, ``assets``.

Each takes the parsed arguments and returns the exit code: 0 found, 1 not found
or unknown. :mod:`aind_session.cli` parses the arguments and calls them (through
:data:`COMMANDS`); how their answers are shown is in :mod:`aind_session.cli_output`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from aind_session import errors
from aind_session.cli_output import (
    Style,
    assets_table,
    emit,
    format_info,
    progress_batches,
    progress_map,
    sessions_table,
)

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
UNKNOWN_NOTE = (
    "aind-session: some answers are unknown: a service did not answer or access was denied "
    "(the reasons are given above); try again later, or check your credentials."
)


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
    if args.json:
        emit(summaries[0] if len(summaries) == 1 else summaries)
    else:
        style = Style(sys.stdout)
        print("\n\n".join(format_info(s, style) for s in summaries))
    found = all(s["raw_data_asset"] or s["raw_data_dir"] for s in summaries)
    unknown = any(s["unknown"] for s in summaries)
    if unknown:
        print(UNKNOWN_NOTE, file=sys.stderr)
    return EXIT_OK if found and not unknown else EXIT_NOT_FOUND


def _session_rows(sessions: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of many sessions, their questions asked together, in a few rounds for all."""
    import functools

    from aind_session import batch, cache

    with cache.public_call():  # one deadline for the whole
        rows = batch.gather([functools.partial(_session_row, s) for s in sessions])
    for row in rows:
        if isinstance(row, Exception):
            raise row
    return rows  # type: ignore[return-value]


def _session_row(session: Any) -> dict[str, Any]:
    """One row of ``sessions``: None where a verdict does not apply (``sorted`` of a
    session that is not ecephys, ``latest_sorting_failed`` without a sorted asset)
    or could not be found out (its reason in ``unknown``)."""
    from aind_session.conventions import may_be_ecephys
    from aind_session.report import ask_many

    questions: dict[str, Callable[[], Any]] = {"uploaded": lambda: session.is_uploaded}
    if may_be_ecephys(session.platform):
        questions["sorted"] = lambda: session.ecephys.is_sorted
        questions["latest_sorting_failed"] = lambda: (
            session.ecephys.latest_sorting_failed if session.ecephys.sorted_data_assets else None
        )
    row: dict[str, Any] = {
        "id": session.id,
        "platform": session.platform,
        "subject_id": session.subject_id,
        "date": session.dt.isoformat(sep=" "),
        "uploaded": None,
        "sorted": None,
        "latest_sorting_failed": None,
        "unknown": {},
    }
    answers = ask_many([(q, None) for q in questions.values()])
    for key, outcome in zip(questions, answers, strict=True):
        row[key] = outcome.value
        if outcome.reason is not None:  # none of these raises "not there": say it all
            row["unknown"][key] = outcome.reason
    return row


def cmd_sessions(args: argparse.Namespace) -> int:
    """``aind-session sessions``: a table of the subjects' sessions; the exit code.

    0 when sessions were found and nothing is unknown.

    >>> args = argparse.Namespace(subjects=['713655'], platform=None, date=None,
    ...                           start_date=None, end_date=None, json=False)
    >>> cmd_sessions(args)
    ID                                  PLATFORM  DATE                 UPLOADED  SORTED  LATEST SORTING
    ecephys_713655_2024-04-22_14-21-05  ecephys   2024-04-22 14:21:05  yes       yes     ok
    0
    """
    from aind_session.subject import get_sessions, parse_subject_id

    subjects = list(dict.fromkeys(parse_subject_id(s) for s in args.subjects))
    if args.date and (args.start_date or args.end_date):
        raise errors.InvalidInputError(
            f"--date {args.date!r} was given with --start-date or --end-date: give --date "
            "for one day, or --start-date and/or --end-date for a range, not both."
        )
    found = progress_map(
        lambda s: get_sessions(s, args.platform, args.date, args.start_date, args.end_date),
        subjects,
        "subjects",
        not args.json,
    )
    sessions = [s for group in found for s in group]
    rows = progress_batches(_session_rows, sessions, "sessions", not args.json)
    if args.json:
        emit(rows)
    else:
        style = Style(sys.stdout)
        if rows:
            print(sessions_table(rows, style))
        else:
            print(f"No sessions found for {_asked(subjects, args)}.", file=sys.stderr)
    unknown = [r for r in rows if r["unknown"]]
    for row in unknown:
        fields = ", ".join(row["unknown"])
        first = next(iter(row["unknown"].values()))
        print(f"aind-session: {row['id']}: {fields} unknown: {first}", file=sys.stderr)
    if unknown:
        print(UNKNOWN_NOTE, file=sys.stderr)
    return EXIT_OK if rows and not unknown else EXIT_NOT_FOUND


def _asset_kind(asset: Any, session_id: str) -> str:
    from aind_session.codeocean import raw_data_asset_reason
    from aind_session.extensions.ecephys import Ecephys

    if raw_data_asset_reason(asset, session_id):
        return "raw"
    return "sorted" if Ecephys.is_sorted_data_asset(asset) else "derived"


def cmd_assets(args: argparse.Namespace) -> int:
    """``aind-session assets``: the data assets of one session; the exit code.

    0 when the session has data assets.

    >>> cmd_assets(argparse.Namespace(session='ecephys_676909_2023-12-14_12-43-11', json=True))
    [
      {
        "id": "6934b008-bd2e-4e54-82e8-a6c5d91a88d8",
        "name": "ecephys_676909_2023-12-14_12-43-11",
        "created": "2023-12-16 02:40:31 UTC",
        "type": "dataset",
        "kind": "raw"
      },
      ...
    ]
    0
    """
    from aind_session.report import _iso
    from aind_session.session import Session

    session = Session(args.session)
    rows = [
        {
            "id": a.id,
            "name": a.name,
            "created": _iso(a.created),
            "type": str(getattr(a.type, "value", a.type)),
            "kind": _asset_kind(a, session.id),
        }
        for a in session.data_assets
    ]
    if args.json:
        emit(rows)
    elif rows:
        style = Style(sys.stdout)
        print(assets_table(rows, style))
    else:
        print(f"No data assets are named {session.id}*.", file=sys.stderr)
    return EXIT_OK if rows else EXIT_NOT_FOUND


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": cmd_info,
    "sessions": cmd_sessions,
    "assets": cmd_assets,
}


def _asked(subjects: list[str], args: argparse.Namespace) -> str:
    """What ``sessions`` was asked, as the flags given: ``subject 123 with --platform
    ecephys``, or the subject(s) alone when no filter was given."""
    flags = [
        f"--{name.replace('_', '-')} {value}"
        for name in ("platform", "date", "start_date", "end_date")
        if (value := getattr(args, name, None)) is not None
    ]
    who = f"subject{'s' if len(subjects) > 1 else ''} {', '.join(subjects)}"
    return f"{who} with {' '.join(flags)}" if flags else who
