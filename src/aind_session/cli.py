"""The ``aind-session`` command line.

::

    aind-session info SESSION... [--json] [--sandbox [WORLD]] [--no-cache | --refresh] [-v | --debug]
    aind-session sessions SUBJECT... [--platform P] [--date D | --start-date D --end-date D]
                 [--columns C1,C2 | --columns all] [--format table|json|csv|parquet] [-o FILE]
    aind-session assets SESSION...
    aind-session sandbox [--world FILE] [--latency-ms N]
    aind-session --version

Exit codes: 0 found, 1 not found, a remote error or an answer that could not be
found out (shown as "unknown" with its reason), 2 bad usage or bad input.
Errors are one or two lines on stderr; ``--debug`` adds the traceback. A reader
that closes the pipe early (``... --json | head``) ends the command quietly, with 0.
Answers are kept on disk in the user's cache folder for the cache's time-to-live
(``--no-cache``, ``--refresh``; see :mod:`aind_session.cli_cache`).

This module parses the arguments and calls the commands, which are in
:mod:`aind_session.cli_commands` (and re-exported here); how their answers are
shown (tables, text, JSON, progress bars) is in :mod:`aind_session.cli_output`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aind_session import cli_cache, errors

# the commands, their exit codes and the note on unknown answers: defined
# there, and still read from here
from aind_session.cli_commands import (
    COMMANDS,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    UNKNOWN_NOTE,  # noqa: F401  (re-exported)
    cmd_assets,  # noqa: F401  (re-exported)
    cmd_info,  # noqa: F401  (re-exported)
    cmd_sessions,  # noqa: F401  (re-exported)
)

# what the sandbox takes out of the environment of its own process (other
# credentials would win over its keys), for the lines printed for another shell
SANDBOX_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


# -- argument parsing --------------------------------------------------------------------
SESSION_HELP = (
    "a session ID (ecephys_676909_2023-12-13_13-43-40, 780345_2025-02-20_00-00-00), "
    "or a path or data asset name holding one"
)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="print one JSON document (see cli.schema.json)"
    )
    common.add_argument(
        "--sandbox",
        nargs="?",
        const="",
        default=None,
        metavar="WORLD",
        help="run against a local sandbox (the bundled world, or WORLD, a world JSON file)",
    )
    caching = common.add_mutually_exclusive_group()
    caching.add_argument(
        "--no-cache",
        action="store_true",
        help="keep no answers on disk (by default, answers are kept in the user's cache "
        "folder for AIND_SESSION_CACHE_TTL seconds)",
    )
    caching.add_argument(
        "--refresh",
        action="store_true",
        help="ask every service again, and keep the new answers in the disk cache",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log what is being done")
    common.add_argument("--debug", action="store_true", help="debug logging and tracebacks")

    parser = argparse.ArgumentParser(
        prog="aind-session",
        description="Find the CodeOcean data assets, S3 folders and sorting results of AIND sessions.",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="print the versions of aind-session and its SDK"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", parents=[common], help="everything about one or more sessions")
    info.add_argument("sessions", nargs="+", metavar="SESSION", help=SESSION_HELP)

    sessions = sub.add_parser("sessions", parents=[common], help="table of a subject's sessions")
    sessions.add_argument(
        "subjects", nargs="+", metavar="SUBJECT", help="a subject ID (676909), or several"
    )
    sessions.add_argument("--platform", help="only this platform, e.g. ecephys or behavior")
    sessions.add_argument("--date", help="only this day (2023-12-13, 20231213, ...)")
    sessions.add_argument("--start-date", help="from this day or moment (inclusive)")
    sessions.add_argument("--end-date", help="to this day or moment (inclusive)")
    sessions.add_argument(
        "--columns",
        type=_columns,
        metavar="C1,C2",
        help="the columns after ID, platform and start, comma-separated, or 'all' "
        "(default: uploaded,sorted,latest_sorting_status); see the README for each",
    )
    sessions.add_argument(
        "--format",
        choices=("table", "json", "csv", "parquet"),
        help="table (the default), json (as --json), csv, or parquet (needs -o)",
    )
    sessions.add_argument(
        "-o", "--output", metavar="FILE", help="write the csv, json or parquet to FILE"
    )

    assets = sub.add_parser(
        "assets", parents=[common], help="table of the data assets of one or more sessions"
    )
    assets.add_argument("sessions", nargs="+", metavar="SESSION", help=SESSION_HELP)

    sandbox = sub.add_parser("sandbox", help="run a sandbox in the foreground until Ctrl-C")
    sandbox.add_argument(
        "--world", default=None, metavar="FILE", help="world JSON file (default: the bundled one)"
    )
    sandbox.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds added to every response",
    )
    sandbox.add_argument("-v", "--verbose", action="store_true", help="log every request served")
    sandbox.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    return parser


def _columns(text: str) -> list[str]:
    """``--columns``: names checked against the table's (an unknown one is a usage error
    listing them)."""
    from aind_session.tables import COLUMNS

    if text.strip() == "all":
        return list(COLUMNS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    wrong = [n for n in names if n not in COLUMNS]
    if wrong or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(map(repr, wrong)) or repr(text)} is not a column; "
            f"choose among {', '.join(COLUMNS)}, or 'all'"
        )
    return names


# -- entry point ---------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (never exits the interpreter itself).

    >>> main(['assets', 'ecephys_676909_2023-12-14_12-43-11'])
    ID                                    NAME                                                           CREATED                  TYPE     KIND
    6934b008-bd2e-4e54-82e8-a6c5d91a88d8  ecephys_676909_2023-12-14_12-43-11                             2023-12-16 02:40:31 UTC  dataset  raw
    6028f0d9-38ec-4e59-a9b2-ed4076228d65  ecephys_676909_2023-12-14_12-43-11_sorted_2023-12-19_02-15-37  2023-12-19 02:15:37 UTC  result   sorted
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(_sandbox_last(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # argparse has printed the usage error
        return int(exc.code or 0)
    with _logging(args):
        try:
            if args.command == "sandbox":
                return _run_sandbox(args)
            with _maybe_sandbox(args.sandbox), cli_cache.disk_cache(args):
                code = int(COMMANDS[args.command](args))
            sys.stdout.flush()  # here, so that a reader gone is seen here
            return code
        except BrokenPipeError:  # the reader closed the pipe (``| head``): it had enough
            _stdout_to_devnull()
            return EXIT_OK
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


def run() -> None:
    """The ``aind-session`` executable: :func:`main`, its code the exit status. Its
    process ends without the collections of the interpreter's teardown
    (:func:`aind_session.exits.quick_exit`): it is this command's own process.
    """
    from aind_session import exits

    exits.quick_exit()
    sys.exit(main())


class _Version(argparse.Action):
    """``--version``, read from the packages' metadata only when asked (a run that does
    not ask pays nothing for it)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(_version())
        parser.exit()


def _version() -> str:
    """``aind-session X (codeocean SDK Y)``, from the installed packages' metadata (no
    SDK imported)."""
    from importlib import metadata

    def of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"aind-session {of('aind-session')} (codeocean SDK {of('codeocean')})"


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that nothing more is written to a closed pipe, not
    even Python's last flush at exit (which would print a traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (a test's)
        pass


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


class _LogHandler(logging.StreamHandler):
    """Log lines on stderr, each starting on a line of its own (a progress bar drawn
    there is erased first), and a warning about one failure said once a run, however
    many sessions it touched (:func:`~aind_session.cli_output.failure_key`)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.said: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        from aind_session.cli_output import failure_key
        from aind_session.cli_progress import erase_progress

        if record.levelno >= logging.WARNING:
            key = f"{record.name} {failure_key(record.getMessage())}"
            if key in self.said:
                return
            self.said.add(key)
        erase_progress()
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        """The line, wrapped to the terminal's width (on a terminal)."""
        import textwrap

        from aind_session.cli_output import terminal_width

        text = super().format(record)
        width = terminal_width(self.stream)
        if width is None or "\n" in text or len(text) <= width:
            return text
        return textwrap.fill(text, width, subsequent_indent="  ", break_on_hyphens=False)


@contextmanager
def _logging(args: argparse.Namespace) -> Iterator[None]:
    """Log aind-session's own messages to stderr at the level asked, for this call only."""
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    handler = _LogHandler(sys.stderr)
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
            "--sandbox needs the sandbox extra: from a clone of aind-session, "
            "pip install '.[sandbox]' (the package of that name on the index is another)"
        ) from None
    with Sandbox(world or None):
        yield


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
