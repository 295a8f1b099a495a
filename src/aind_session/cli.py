"""The ``aind-session`` command line.

::

    aind-session info SESSION... [--json] [--sandbox [WORLD]] [-v | --debug]
    aind-session sessions SUBJECT... [--platform P] [--date D | --start-date D --end-date D]
    aind-session assets SESSION
    aind-session sandbox [--world FILE] [--latency-ms N]

Exit codes: 0 found, 1 not found, a remote error or an answer that could not be
found out (shown as "unknown" with its reason), 2 bad usage or bad input.
Errors are one or two lines on stderr; ``--debug`` adds the traceback.

This module parses the arguments and runs the commands; how their answers are
shown (tables, text, JSON, progress bars) is in :mod:`aind_session.cli_output`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
# what the sandbox takes out of the environment of its own process (other
# credentials would win over its keys), for the lines printed for another shell
SANDBOX_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
UNKNOWN_NOTE = (
    "aind-session: some answers are unknown: a service did not answer or access was denied "
    "(the reasons are given above); try again later, or check your credentials."
)


# -- argument parsing --------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document, for scripts")
    common.add_argument(
        "--sandbox",
        nargs="?",
        const="",
        default=None,
        metavar="WORLD",
        help="run against a local sandbox (the bundled world, or WORLD, a world JSON file)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log what is being done")
    common.add_argument("--debug", action="store_true", help="debug logging and tracebacks")

    parser = argparse.ArgumentParser(
        prog="aind-session",
        description="Find the CodeOcean data assets, S3 folders and sorting results of AIND sessions.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", parents=[common], help="everything about one or more sessions")
    info.add_argument(
        "sessions", nargs="+", metavar="SESSION", help="session ID, or a path or name holding one"
    )

    sessions = sub.add_parser("sessions", parents=[common], help="table of a subject's sessions")
    sessions.add_argument("subjects", nargs="+", metavar="SUBJECT", help="subject ID(s)")
    sessions.add_argument("--platform", help="only this platform, e.g. ecephys")
    sessions.add_argument("--date", help="only this day (2023-12-13, 20231213, ...)")
    sessions.add_argument("--start-date", help="from this day (inclusive)")
    sessions.add_argument("--end-date", help="to this day (inclusive)")

    assets = sub.add_parser("assets", parents=[common], help="table of a session's data assets")
    assets.add_argument("session", metavar="SESSION")

    sandbox = sub.add_parser("sandbox", help="run a sandbox in the foreground until Ctrl-C")
    sandbox.add_argument("--world", default=None, help="world JSON file (default: the bundled one)")
    sandbox.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every response"
    )
    sandbox.add_argument("-v", "--verbose", action="store_true", help="log every request served")
    sandbox.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return parser


# -- entry point ---------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never exits the interpreter itself)."""
    parser = _parser()
    try:
        args = parser.parse_args(_sandbox_last(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # argparse has printed the usage error
        return int(exc.code or 0)
    with _logging(args):
        try:
            if args.command == "sandbox":
                return _run_sandbox(args)
            with _maybe_sandbox(args.sandbox):
                return int(COMMANDS[args.command](args))
        except KeyboardInterrupt:
            print("aind-session: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:
            if args.debug:
                import traceback

                traceback.print_exc()
            print(f"aind-session: error: {' '.join(str(exc).split())}", file=sys.stderr)
            if isinstance(exc, errors.MissingTokenError):
                print(
                    "aind-session: hint: try --sandbox to see the tool work without credentials",
                    file=sys.stderr,
                )
            elif (
                not isinstance(exc, (errors.AindSessionError, ValueError, OSError))
                and not args.debug
            ):
                print(
                    "aind-session: this is unexpected; rerun with --debug for details",
                    file=sys.stderr,
                )
            return EXIT_USAGE if _is_bad_input(exc) else EXIT_NOT_FOUND


def _sandbox_last(argv: list[str]) -> list[str]:
    """``--sandbox X``: X is a world only when it is an existing file or ends in .json;
    otherwise it is left as the next argument (``info --sandbox SESSION`` works)."""
    for i, token in enumerate(argv[:-1]):
        if token == "--sandbox":
            following = argv[i + 1]
            if not following.startswith("-") and not (
                following.endswith(".json") or os.path.isfile(following)
            ):
                argv[i] = "--sandbox="
    return argv


@contextmanager
def _logging(args: argparse.Namespace) -> Iterator[None]:
    """Log aind-session's own messages to stderr at the level asked, for this call only."""
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    ours = logging.getLogger("aind_session")
    before = (ours.level, ours.propagate)
    ours.setLevel(level)
    ours.addHandler(handler)
    ours.propagate = False  # not twice through a root handler the caller may have
    try:
        yield
    finally:
        ours.removeHandler(handler)
        ours.setLevel(before[0])
        ours.propagate = before[1]


def _is_bad_input(exc: Exception) -> bool:
    if isinstance(exc, (errors.InvalidInputError, errors.ConfigurationError)):
        return True
    world = sys.modules.get("aind_session.testing.world")  # only loaded with --sandbox
    if world is not None and isinstance(exc, world.WorldError):
        return True
    return isinstance(exc, ValueError) and not isinstance(exc, errors.AindSessionError)


@contextmanager
def _maybe_sandbox(world: str | None) -> Iterator[None]:
    if world is None:
        yield
        return
    try:
        from aind_session.testing.sandbox import Sandbox
    except ImportError:
        raise errors.ConfigurationError(
            "--sandbox needs the sandbox extra: pip install 'aind-session[sandbox]'"
        ) from None
    with Sandbox(world or None):
        yield


# -- commands ------------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
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
    from aind_session.report import ask_many

    questions: dict[str, Callable[[], Any]] = {"uploaded": lambda: session.is_uploaded}
    if session.platform == "ecephys":
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
            print(
                f"No sessions found for subject(s) {', '.join(subjects)} with these filters.",
                file=sys.stderr,
            )
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


def _run_sandbox(args: argparse.Namespace) -> int:
    import time

    from aind_session.testing.sandbox import Sandbox

    served = logging.getLogger("aind_session.testing.sandbox")
    verbose = served.isEnabledFor(logging.INFO)
    with Sandbox(args.world, latency=args.latency_ms / 1000) as sandbox:
        logged = 0
        try:
            print("# sandbox running; in another shell, run:")
            print(f"unset {' '.join(SANDBOX_UNSET)}")
            for key, value in sandbox.env.items():
                print(f"export {key}={shlex.quote(value)}")
            print("# press Ctrl-C to stop", flush=True)
            while True:
                time.sleep(0.2 if verbose else 3600)
                logged = _log_requests(sandbox, logged, served)
        except KeyboardInterrupt:
            _log_requests(sandbox, logged, served)
            print("# sandbox stopped", file=sys.stderr)
    return EXIT_OK


def _log_requests(sandbox: Any, logged: int, logger: logging.Logger) -> int:
    """Log the requests ``sandbox`` served after the first ``logged`` (at info level,
    for ``-v``); returns how many are logged now. No header, so no token, is logged."""
    if not logger.isEnabledFor(logging.INFO):
        return logged
    served = sandbox.requests()
    for request in served[logged:]:
        query = f"?{request.query}" if request.query else ""
        logger.info(
            "%s %s %s%s %s", request.service, request.method, request.path, query, request.status
        )
    return len(served)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": cmd_info,
    "sessions": cmd_sessions,
    "assets": cmd_assets,
}
