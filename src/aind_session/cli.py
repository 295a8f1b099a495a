"""The ``aind-session`` command line.

::

    aind-session info SESSION... [--json] [--sandbox [WORLD]] [-v | --debug]
    aind-session sessions SUBJECT... [--platform P] [--date D | --start-date D --end-date D]
    aind-session assets SESSION
    aind-session sandbox [--world FILE] [--latency-ms N]

Exit codes: 0 found, 1 not found, a remote error or an answer that could not be
found out (shown as "unknown" with its reason), 2 bad usage or bad input.
Errors are one or two lines on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from aind_session import errors

T = TypeVar("T")
R = TypeVar("R")

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2
# what the sandbox takes out of the environment of its own process (other
# credentials would win over its keys), for the lines printed for another shell
SANDBOX_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
UNKNOWN_NOTE = (
    "aind-session: some answers are unknown: a service did not answer or access was denied "
    "(the reasons are given above); try again later, or check your credentials."
)


class _Style:
    """ANSI styles on a terminal (unless NO_COLOR is set), plain text otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and not os.environ.get("NO_COLOR")

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)


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


def _emit(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class _Progress:
    """A progress bar on stderr, shown only on a terminal and when asked."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self.total, self.label, self.done = total, label, 0
        self.on = show and sys.stderr.isatty() and total > 1
        self.lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        with self.lock:
            self.done += count
            if self.on:
                filled = int(30 * self.done / self.total)
                sys.stderr.write(
                    f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
                )
                sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * (len(self.label) + 45) + "\r")


def _progress_map(fn: Callable[[T], R], items: Sequence[T], label: str, show: bool) -> list[R]:
    """``fn`` over ``items`` on a bounded pool, with a progress bar on a terminal."""
    from concurrent.futures import ThreadPoolExecutor

    from aind_session.config import get_settings

    progress = _Progress(len(items), label, show)

    def step(item: T) -> R:
        result = fn(item)
        progress.advance()
        return result

    workers = max(1, min(len(items), get_settings().max_concurrency))
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(step, items))
    progress.close()
    return results


def _progress_batches(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], label: str, show: bool, size: int = 25
) -> list[R]:
    """``fn`` over batches of ``items`` (each batch asks its services in a few rounds)."""
    progress = _Progress(len(items), label, show)
    if not progress.on:
        size = max(1, len(items))  # no bar to move: one batch, fewest rounds
    results: list[R] = []
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        results += fn(batch)
        progress.advance(len(batch))
    progress.close()
    return results


def _table(rows: list[list[str]], header: list[str], style: _Style) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        style.bold("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    ]
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines)


# -- commands ------------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from aind_session.session import Session

    sessions = [Session(value) for value in args.sessions]  # bad input fails before any request
    from aind_session.report import describe_many

    summaries = _progress_batches(describe_many, sessions, "sessions", not args.json)
    if args.json:
        _emit(summaries[0] if len(summaries) == 1 else summaries)
    else:
        style = _Style(sys.stdout)
        print("\n\n".join(_format_info(s, style) for s in summaries))
    found = all(s["raw_data_asset"] or s["raw_data_dir"] for s in summaries)
    unknown = any(s["unknown"] for s in summaries)
    if unknown:
        print(UNKNOWN_NOTE, file=sys.stderr)
    return EXIT_OK if found and not unknown else EXIT_NOT_FOUND


def _format_info(summary: dict[str, Any], style: _Style) -> str:
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
    lines.append(row("platform", summary["platform"]))
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
        lines.append(f"      {_sorted_state(entry, style)}")
        reasons = dict.fromkeys(entry["unknown"].values())
        if reasons:
            lines.append(f"      {style.red('unknown: ' + '; '.join(reasons))}")
    running = summary["running_pipeline_computations"]
    if summary["platform"] == "ecephys" or running:
        lines.append(
            row("running sorting", "" if running else why("running_pipeline_computations"))
        )
    for run in running or ():
        lines.append(f"    {run['id']}  {run['state']}  (created {run['created']})")
    return "\n".join(lines)


def _sorted_state(entry: dict[str, Any], style: _Style) -> str:
    """``sorter X; probes; ok`` of a sorted asset: "unknown" where it could not be found out."""
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


def _session_rows(sessions: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of many sessions, their questions asked in a few rounds for all."""
    from aind_session import s3
    from aind_session.report import prefetch

    with s3.batch():
        prefetch(sessions, sorted_parts=("error",), pipeline_runs=False)
        return [_session_row(s) for s in sessions]


def _session_row(session: Any) -> dict[str, Any]:
    """One row of ``sessions``: None where a verdict does not apply (``sorted`` of a
    session that is not ecephys, ``latest_sorting_failed`` without a sorted asset)
    or could not be found out (its reason in ``unknown``)."""
    from aind_session.report import ask

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
    for key, question in questions.items():
        outcome = ask(question)
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
    found = _progress_map(
        lambda s: get_sessions(s, args.platform, args.date, args.start_date, args.end_date),
        subjects,
        "subjects",
        not args.json,
    )
    sessions = [s for group in found for s in group]
    rows = _progress_batches(_session_rows, sessions, "sessions", not args.json)
    if args.json:
        _emit(rows)
    else:
        style = _Style(sys.stdout)

        def cell(
            row: dict[str, Any], key: str, says: tuple[str, str] = ("yes", "no"), good: bool = True
        ) -> str:
            if key in row["unknown"]:
                return style.red("unknown")
            if row[key] is None:
                return "-"
            text = says[0] if row[key] else says[1]
            return style.green(text) if row[key] is good else style.red(text)

        if rows:
            print(
                _table(
                    [
                        [
                            r["id"],
                            r["platform"],
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
            )
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
        _emit(rows)
    elif rows:
        style = _Style(sys.stdout)
        print(
            _table(
                [[r["id"], r["name"], r["created"], r["type"], r["kind"]] for r in rows],
                ["ID", "NAME", "CREATED", "TYPE", "KIND"],
                style,
            )
        )
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
