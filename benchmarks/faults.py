"""Reliability figures: the library under every fault the sandbox makes, for each service.

    python benchmarks/faults.py [--write] [--seeds 5] [--only KIND[,KIND...]]
                                [--services codeocean,s3,docdb] [--jobs 2]

For each fault kind and each service, a fresh process runs a fixed set of
public calls (those of ``answers()`` in ``tests/test_fault_suite.py``, each
timed on its own) once without faults, then for each seed in a fresh
``Sandbox`` (bundled world) with a fresh persistent cache
(``AIND_SESSION_CACHE_DIR`` in a temporary folder):

1. with the fault injected, each call's answer must equal the fault-free one
   or the call must raise a ``ServiceError``; a call DocDB only helps may
   instead be answered without it once the library has said so ("without
   DocDB (said)", the documented behaviour); anything else is "wrong";
2. with faults off, the calls again must give the fault-free answers from
   memory, and then after ``aind_session.clear_cache()`` from the disk cache
   ("nothing wrong cached"); DocDB's minute of quiet after a failure is ended
   first, so that this shows what was kept.

Every library setting is its default unless the table's last column says
otherwise; settings are changed only where a fault would take minutes by
design (a stall, a trickle, a day's ``Retry-After``).

Rows "never ends" inject the fault into every request (rate 1.0) and time one
call, ``Session(MAIN).raw_data_dir`` (on S3 after ``raw_data_asset``, so that
S3 is what is asked), until it raises its ``ServiceError``, with the default
11 tries (``AIND_SESSION_MAX_RETRIES=10``) and backoff. Those rows mostly
wait, so they run side by side (each process starts, then all begin their
call together); the rows with random faults then run ``--jobs`` at a time.
Every call has a watchdog (a call that does not end is reported as "hung"),
and every child process a timeout, so the script stops by itself.

DocDB only helps the other calls (see ``aind_session.linked``): under its
faults they must still give the fault-free answers, and its "never ends" rows
time ``Session(NEW).docdb``, the one call DocDB alone answers. The row "every
kind, all services" injects every transient kind into all three at once.

Sandbox start-up (bundled world) is timed by ``benchmarks/run.py`` (row
``sandbox``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MAIN = "ecephys_676909_2023-12-13_13-43-40"
PIPELINE = "1f8f159a-7670-47a9-baf1-078905fc9c2e"
SERVICES = ("codeocean", "s3", "docdb")
LINKED = "ecephys_733691_2025-06-03_10-15-00"  # its raw asset only DocDB's record links
NEW = "780345_2025-02-20_00-00-00"
ALL = "all"  # the mixed row: every transient kind, every service
# the calls DocDB only helps: answered without it (and said) when it cannot be asked
HELPED = ("raw_data_asset linked by DocDB", "get_sessions(733691)")
TRANSIENT = ("truncated", "cut", "badjson", "html", "shape", "429", "500", "503", "drop")
PAGING = ("repeat_token", "missing_token", "bogus_token")
RATE = 0.3
RESULT_MARK = "@@RESULT "
READY_MARK = "@@READY"
CALL_HANG = 150.0  # seconds after which a call is reported as hung (liveness, not speed)
CHILD_TIMEOUT = 420.0
# where a fault would take minutes by design: shorter waits (sandbox), shorter limits (library)
STALL_FAULTS: dict[str, Any] = {"stall_seconds": 10}
STALL_ENV = {"AIND_SESSION_READ_TIMEOUT": "2"}
TRICKLE_FAULTS: dict[str, Any] = {"trickle_interval": 0.05}
TRICKLE_ENV = {"AIND_SESSION_REQUEST_DEADLINE": "5"}
DAY = 86_400


@dataclasses.dataclass(frozen=True)
class Row:
    kind: str
    label: str  # the fault as shown: kind, rate, sandbox parameters
    faults: dict[str, Any]  # Faults fields besides kinds, services and seed
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # settings changed
    never: bool = False  # rate 1.0: one call, timed until its ServiceError
    idle: bool = False  # mostly waits: run side by side with the other idle rows
    seeds_per_process: int = 0  # 0: all seeds in one process

    def settings(self) -> str:
        shown = {k: v for k, v in self.faults.items() if k not in ("rate",)}
        parts = [f"{k}={v}" for k, v in self.env.items()]
        parts += [f"sandbox {k}={v}" for k, v in shown.items()]
        return "; ".join(parts) or "none"


def rows() -> list[Row]:
    """Every row of the table, in order: random faults, then faults that never end."""
    out = []
    for kind in TRANSIENT:
        # 429 and 503 carry the sandbox's Retry-After of 1 s, which is waited for
        out.append(Row(kind, f"{kind}, {RATE:.0%}", {"rate": RATE}, idle=kind in ("429", "503")))
        if kind == "429":  # a day's Retry-After is waited for up to 30 s: one such fault a run
            out.append(
                Row(
                    kind,
                    f"429, {RATE:.0%}, Retry-After 1 day",
                    {"rate": RATE, "retry_after": DAY, "limit": 1},
                    idle=True,
                    seeds_per_process=2,
                )
            )
    stall, trickle = {"rate": RATE, **STALL_FAULTS}, {"rate": RATE, **TRICKLE_FAULTS}
    out.append(Row("stall", f"stall, {RATE:.0%}", stall, STALL_ENV, idle=True))
    out.append(Row("trickle", f"trickle, {RATE:.0%}", trickle, TRICKLE_ENV, idle=True))
    for kind in PAGING:  # few answers are paged: the first two of them go wrong
        out.append(Row(kind, f"{kind}, 100%, first 2", {"rate": 1.0, "limit": 2}))
    out.append(Row(ALL, f"every transient kind, {RATE:.0%}", {"rate": RATE}, idle=True))
    for kind in TRANSIENT:
        out.append(Row(kind, f"{kind}, never ends", {"rate": 1.0}, never=True, idle=True))
        if kind == "429":
            out.append(
                Row(
                    kind,
                    "429, never ends, Retry-After 1 day",
                    {"rate": 1.0, "retry_after": DAY},
                    never=True,
                    idle=True,
                )
            )
    out.append(
        Row("stall", "stall, never ends", {"rate": 1.0, **STALL_FAULTS}, STALL_ENV, True, True)
    )
    out.append(
        Row(
            "trickle",
            "trickle, never ends",
            {"rate": 1.0, **TRICKLE_FAULTS},
            TRICKLE_ENV,
            True,
            True,
        )
    )
    for kind in PAGING:
        out.append(Row(kind, f"{kind}, never ends", {"rate": 1.0}, never=True, idle=True))
    return out


# -- the child: one row, one service, some seeds --------------------------------------------
def _calls() -> list[tuple[str, Callable[[Any], Any]]]:
    """The public calls timed, each asked of one ``Session(MAIN)`` (as ``answers()`` in
    tests/test_fault_suite.py asks them)."""
    import aind_session
    from aind_session import codeocean, errors, verdicts

    def maybe(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except errors.NotAvailableError as exc:
            return type(exc).__name__

    def sorted_assets(s: Any) -> Any:
        return [
            (a.id, maybe(functools.partial(getattr, a, "sorter_name")), a.is_sorting_error)
            for a in s.ecephys.sorted_data_assets
        ]

    def runs(_: Any) -> Any:
        return [
            (r.id, verdicts.get_output_text(r)) for r in codeocean.list_computations(PIPELINE)[:3]
        ]

    return [
        ("data_assets", lambda s: [a.id for a in s.data_assets]),
        ("raw_data_asset", lambda s: s.raw_data_asset.id),
        ("raw_data_dir", lambda s: s.raw_data_dir.as_posix()),
        ("modalities", lambda s: s.modalities),
        ("metadata.subject", lambda s: s.metadata.subject),
        ("sorted assets: sorter_name, is_sorting_error", sorted_assets),
        ("list_computations + output text", runs),
        (
            "Subject(676909).data_assets",
            lambda _: [a.id for a in aind_session.Subject(676909).data_assets],
        ),
        (
            "raw_data_asset linked by DocDB",
            lambda _: aind_session.Session(LINKED).raw_data_asset.id,
        ),
        ("get_sessions(733691)", lambda _: [x.id for x in aind_session.get_sessions(733691)]),
        ("docdb", lambda _: aind_session.Session(NEW).docdb["_id"]),
    ]


def _within(fn: Callable[[], Any], seconds: float) -> tuple[str, Any, float]:
    """``fn()`` in a thread: (outcome, value or error, seconds); outcome is ``answer``,
    ``error`` or ``hung``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["answer"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    thread.join(seconds)
    took = time.perf_counter() - t0
    if thread.is_alive():
        return "hung", None, took
    return ("answer", box["answer"], took) if "answer" in box else ("error", box["error"], took)


def _ask_all(calls: list[tuple[str, Callable[[Any], Any]]]) -> list[tuple[str, Any, float]]:
    from aind_session import Session

    session = Session(MAIN)
    return [_within(functools.partial(fn, session), CALL_HANG) for _, fn in calls]


def _judge(
    outcome: tuple[str, Any, float], want: Any, name: str = "", said: bool = False
) -> tuple[str, str | None]:
    """``right``, ``service error``, ``without DocDB`` (a call DocDB only helps,
    answered without it after the library said so: the documented behaviour)
    or ``wrong``, and what was wrong."""
    from aind_session import errors

    kind, value, _ = outcome
    if kind == "hung":
        return "wrong", f"did not end within {CALL_HANG:.0f} s"
    if kind == "error":
        if isinstance(value, errors.ServiceError):
            return "service error", None
        why = f"raised {type(value).__name__}: {str(value)[:300]}"
    elif value == want:
        return "right", None
    else:
        why = _difference(value, want)
    if said and name in HELPED:
        return "without DocDB", why
    return "wrong", why


class _Said:
    """Whether the library said it answered without DocDB (its warning, once a clear)."""

    def __init__(self) -> None:
        import logging

        self.said = False
        outer = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "answering without it" in record.getMessage():
                    outer.said = True

        logging.getLogger("aind_session.linked").addHandler(Handler(logging.WARNING))


def _difference(got: Any, want: Any, where: str = "the answer") -> str:
    """Where ``got`` first differs from ``want``, in a line."""
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            if a != b:
                return _difference(a, b, f"{where}[{i}]")
    if isinstance(got, dict) and isinstance(want, dict) and got.keys() == want.keys():
        for key in want:
            if got[key] != want[key]:
                return _difference(got[key], want[key], f"{where}[{key!r}]")
    if isinstance(got, str) and isinstance(want, str):
        same = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
            min(len(got), len(want)),
        )
        return (
            f"{where} is {len(got)} characters where the fault-free one is {len(want)}, "
            f"the same for the first {same}"
        )
    return f"{where} is {got!r:.150} where the fault-free one is {want!r:.150}"


def _checked_again(calls: list[tuple[str, Any]], want: list[Any]) -> list[str]:
    """Problems with the answers asked again with faults off: from memory, then from disk."""
    import aind_session
    from aind_session import docdb_api

    # DocDB is left alone for a minute after a failure (documented): end that now,
    # so that what is asked again shows what was kept
    quiet, docdb_api.QUIET_FOR = docdb_api.QUIET_FOR, 0.0
    problems = []
    try:
        for where in ("memory", "disk"):
            if where == "disk":
                aind_session.clear_cache()  # memory gone: the disk cache answers what it holds
            for (name, _), outcome, expected in zip(calls, _ask_all(calls), want, strict=True):
                verdict, why = _judge(outcome, expected)
                if verdict != "right":
                    problems.append(f"{name} from {where}: {why or verdict}")
    finally:
        docdb_api.QUIET_FOR = quiet
    return problems


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import aind_session
    from aind_session import Session
    from aind_session.testing import Faults, Sandbox

    calls = _calls()
    names = [name for name, _ in calls]
    said = _Said()
    root = Path(tempfile.mkdtemp(prefix="aind-session-faults-"))
    result: dict[str, Any] = {"runs": []}
    try:
        os.environ["AIND_SESSION_CACHE_DIR"] = str(root / "clean")
        # the fault-free answers, with the default settings (a 5 s deadline could end a
        # first call that imports botocore on a busy machine); first-use imports happen here
        with Sandbox():
            aind_session.clear_cache(persistent=True)
            outcomes = _ask_all(calls)
            aind_session.clear_cache(persistent=True)
        failed = [
            f"{name}: {value!r:.300}"
            for (name, _), (kind, value, _) in zip(calls, outcomes, strict=True)
            if kind != "answer"
        ]
        if failed:
            raise RuntimeError(f"no answers even without faults: {'; '.join(failed)}")
        clean = [value for _, value, _ in outcomes]
        result["clean"] = repr(clean)
        os.environ.update(spec["env"])  # the row's settings, from here on
        aind_session.clear_cache()
        if spec["barrier"]:  # the parent says go once every side-by-side row is ready
            print(READY_MARK, flush=True)
            sys.stdin.readline()
        for seed in spec["seeds"]:
            os.environ["AIND_SESSION_CACHE_DIR"] = str(root / f"seed-{seed}")
            faults = Faults(
                kinds=TRANSIENT if spec["kind"] == ALL else (spec["kind"],),
                services=SERVICES if spec["service"] == ALL else (spec["service"],),
                seed=seed,
                **spec["faults"],
            )
            run: dict[str, Any] = {"seed": seed, "calls": [], "problems": []}
            with Sandbox() as sb:
                aind_session.clear_cache(persistent=True)
                if spec["never"] and spec["service"] == "docdb":  # the one it alone answers
                    timed = [calls[names.index("docdb")]]
                    wanted = [clean[names.index("docdb")]]
                elif spec["never"]:
                    timed = [("raw_data_dir", lambda s: s.raw_data_dir.as_posix())]
                    if spec["service"] == "s3":  # CodeOcean answers; S3 is asked next
                        _ = Session(MAIN).raw_data_asset
                    wanted = [clean[names.index("raw_data_dir")]]
                else:
                    timed, wanted = calls, clean
                sb.clear_requests()
                sb.faults = faults
                said.said = False
                for (name, _), outcome, want in zip(timed, _ask_all(timed), wanted, strict=True):
                    verdict, why = _judge(outcome, want, name, said.said)
                    kind, value, took = outcome
                    message = " ".join(str(value).split())[:250] if kind == "error" else None
                    run["calls"].append([name, verdict, took, why, message])
                served = sb.requests()
                run["requests"] = len(served)
                run["faults"] = sum(r.fault is not None for r in served)
                sb.faults = None
                run["problems"] = _checked_again(calls, clean)
            result["runs"].append(run)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return result


# -- the parent ------------------------------------------------------------------------------
@dataclasses.dataclass
class Job:
    row: Row
    service: str
    seeds: list[int]
    proc: subprocess.Popen[str] | None = None
    began: float = 0.0
    took: float = 0.0
    out: dict[str, Any] | None = None
    error: str | None = None

    def spec(self, barrier: bool) -> dict[str, Any]:
        return {
            "kind": self.row.kind,
            "service": self.service,
            "faults": self.row.faults,
            "env": self.row.env,
            "never": self.row.never,
            "seeds": self.seeds,
            "barrier": barrier,
        }


def _child_env() -> dict[str, str]:
    """This environment without any aind-session setting: the defaults apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIND_SESSION_")}


def _start(job: Job, barrier: bool, cwd: str) -> None:
    job.began = time.perf_counter()
    job.proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job.spec(barrier))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
        cwd=cwd,  # no ./.env is read
    )


def _finish(job: Job, timeout: float) -> None:
    assert job.proc is not None
    try:
        stdout, stderr = job.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        job.proc.kill()
        stdout, stderr = job.proc.communicate()
        job.error = f"did not end within {timeout:.0f} s"
        return
    job.took = time.perf_counter() - job.began
    print(
        f"    {job.row.label}, {job.service}, seed(s) {job.seeds}: {job.took:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if job.proc.returncode != 0 or not lines:
        job.error = f"exit {job.proc.returncode}: {stderr[-2000:]}"
        return
    job.out = json.loads(lines[-1][len(RESULT_MARK) :])


def _run_side_by_side(jobs: list[Job], cwd: str) -> None:
    """Start every job, wait until each is ready, then let all of them go at once."""
    for job in jobs:
        _start(job, barrier=True, cwd=cwd)
    for job in jobs:
        assert job.proc is not None and job.proc.stdout is not None
        line = job.proc.stdout.readline()  # READY_MARK, or "" when the child died
        if not line.startswith(READY_MARK):
            continue
    for job in jobs:
        assert job.proc is not None and job.proc.stdin is not None
        try:
            job.proc.stdin.write("go\n")
            job.proc.stdin.flush()
        except BrokenPipeError:
            pass
    with ThreadPoolExecutor(len(jobs) or 1) as pool:
        list(pool.map(lambda job: _finish(job, CHILD_TIMEOUT), jobs))


def _run_pooled(jobs: list[Job], cwd: str, workers: int) -> None:
    def one(job: Job) -> None:
        _start(job, barrier=False, cwd=cwd)
        _finish(job, CHILD_TIMEOUT)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, jobs))


def _fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _spread(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _line(
    row: Row, service: str, jobs: list[Job], clean: str | None
) -> tuple[list[str], list[str]]:
    """A table line and the notes it needs (wrong answers, errors, what was cached wrong)."""
    notes: list[str] = []
    failed = [job.error for job in jobs if job.error]
    runs = [run for job in jobs if job.out for run in job.out["runs"]]
    for job in jobs:
        if job.out and clean is not None and job.out["clean"] != clean:
            notes.append("the fault-free answers differed from another process's")
    if failed or not runs:
        notes += [f"the run failed: {e}" for e in failed]
        return [row.label, service, "0", "-", "-", "-", "-", "-", row.settings()], notes
    verdicts = [call[1] for run in runs for call in run["calls"]]
    worst = max(call[2] for run in runs for call in run["calls"])
    seeds_of: dict[str, list[int]] = {}  # a problem, and the seeds that met it
    for run in runs:
        found = [f"wrong answer: {c[0]}: {c[3]}" for c in run["calls"] if c[1] == "wrong"]
        found += [
            f"answered without DocDB (said, as documented): {c[0]}"
            for c in run["calls"]
            if c[1] == "without DocDB"
        ]
        found += [f"cached wrong: {p}" for p in run["problems"]]
        for text in found:
            seeds_of.setdefault(text, []).append(run["seed"])
    for text, seeds in seeds_of.items():
        notes.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}: {text}")
    if row.never:
        messages = [c[4] for run in runs for c in run["calls"] if c[4]]
        if messages:
            notes.append(f"the error: {messages[0]}")
    cached_ok = not any(run["problems"] for run in runs)
    counts = " / ".join(
        str(verdicts.count(v)) for v in ("right", "service error", "without DocDB", "wrong")
    )
    line = [
        row.label,
        service,
        str(len(runs)),
        _spread([run["faults"] for run in runs]),
        _spread([run["requests"] for run in runs]),
        counts,
        _fmt_s(worst),
        "yes" if cached_ok else "NO",
        row.settings(),
    ]
    return line, notes


HEADER = [
    "fault",
    "service",
    "runs",
    "faults injected (per run)",
    "requests (per run)",
    "answers right / service errors / without DocDB (said) / wrong",
    "worst call wall time",
    "nothing wrong cached",
    "settings changed",
]


def _table(lines: list[list[str]]) -> str:
    from run import markdown_table  # the benchmarks' sibling script (benchmarks/ is on the path)

    return markdown_table(HEADER, lines)


def default_worst_cases() -> list[str]:
    """What a fault that never ends costs with the default settings, by the arithmetic of
    aind_session.transport (min(request deadline, call deadline), tries and backoff)."""
    from aind_session import transport
    from aind_session.config import Settings

    d = {name: field.default for name, field in Settings.model_fields.items()}
    tries = d["max_retries"] + 1
    waits = [
        min(d["backoff_factor"] * 2 ** (k - 1), transport.BACKOFF_MAX) for k in range(1, tries)
    ]
    bound = min(d["request_deadline"], d["call_deadline"])
    per_try = d["read_timeout"]
    stall = min(tries * per_try + sum(waits), bound)
    day_waits = int(d["request_deadline"] // d["retry_after_max"])
    if day_waits * d["retry_after_max"] >= d["request_deadline"]:
        day_waits -= 1  # a wait that would reach the deadline is not made
    return [
        "- Requests per never-ending row: one per try, except drop on S3 (aiohttp itself "
        "sends an idempotent request again, once, when a kept-alive connection breaks: two "
        "requests a try), bogus_token (the cursor handed out is refused on the next request) "
        "and repeat_token (a cursor is seen twice on the second page): two requests a try.",
        f"- Defaults: {tries} tries a request (`AIND_SESSION_MAX_RETRIES={d['max_retries']}`), "
        f"backoff {d['backoff_factor']:g} s doubled each time up to {transport.BACKOFF_MAX:g} s "
        f"(waits {', '.join(f'{w:g}' for w in waits)}: {sum(waits):.1f} s in all, or the "
        f"`Retry-After` asked, up to {d['retry_after_max']:g} s), read timeout "
        f"{d['read_timeout']:g} s, request deadline {d['request_deadline']:g} s, "
        f"call deadline {d['call_deadline']:g} s.",
        f"- stall, never ends, default settings: each try waits the read timeout "
        f"({per_try:g} s), so {tries} tries and their backoff would take "
        f"{tries * per_try + sum(waits):.0f} s; the request deadline ends it first: "
        f"min(request_deadline {d['request_deadline']:g} s, call_deadline "
        f"{d['call_deadline']:g} s) = {stall:g} s. Measured above with a 2 s read timeout.",
        f"- trickle, never ends, default settings: a body a byte a second never trips the read "
        f"timeout; the request deadline ends it: min({d['request_deadline']:g} s, "
        f"{d['call_deadline']:g} s) = {bound:g} s. Measured above with a 5 s request deadline.",
        f"- 429 with a day's Retry-After, never ends: {day_waits} waits of "
        f"{d['retry_after_max']:g} s fit in the {d['request_deadline']:g} s request deadline; "
        "the next would not, and the 429 is reported at once (measured above, default settings).",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="also write benchmarks/faults.md")
    parser.add_argument("--seeds", type=int, default=5, help="runs per random-fault row (5)")
    parser.add_argument("--only", help="comma-separated fault kinds (default: all)")
    parser.add_argument("--services", default=",".join(SERVICES), help="codeocean,s3,docdb")
    parser.add_argument(
        "--jobs", type=int, default=2, help="random-fault rows run at once (2, one per CPU)"
    )
    parser.add_argument("--no-never", action="store_true", help="skip the never-ending rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(RESULT_MARK + json.dumps(child(json.loads(args.child))), flush=True)
        os._exit(0)  # a hung call's thread must not keep the process alive
    started = time.perf_counter()
    code = code_version()
    only = set(args.only.split(",")) if args.only else None
    services = [s for s in args.services.split(",") if s]
    chosen = [
        r for r in rows() if (only is None or r.kind in only) and not (args.no_never and r.never)
    ]
    seeds = list(range(1, args.seeds + 1))
    plan: list[tuple[Row, str, list[Job]]] = []
    for row in chosen:
        for service in [ALL] if row.kind == ALL else services:
            if service == "docdb" and row.kind in PAGING:  # its answers here fit one page
                continue
            if row.never:
                groups = [[1]]
            elif row.seeds_per_process:
                groups = [
                    seeds[i : i + row.seeds_per_process]
                    for i in range(0, len(seeds), row.seeds_per_process)
                ]
            else:
                groups = [seeds]
            plan.append((row, service, [Job(row, service, g) for g in groups]))
    idle = [job for row, _, jobs in plan if row.idle for job in jobs]
    busy = [job for row, _, jobs in plan if not row.idle for job in jobs]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aind-session-faults-cwd-") as cwd:
        t0 = time.perf_counter()
        print(f"... {len(idle)} waiting row(s) side by side", file=sys.stderr, flush=True)
        _run_side_by_side(idle, cwd)
        idle_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        print(f"... {len(busy)} row(s), {args.jobs} at a time", file=sys.stderr, flush=True)
        _run_pooled(busy, cwd, args.jobs)
        busy_s = time.perf_counter() - t0
    cleans = Counter(job.out["clean"] for _, _, jobs in plan for job in jobs if job.out)
    clean = cleans.most_common(1)[0][0] if cleans else None  # what (nearly) all agree on
    lines, notes = [], []
    for row, service, jobs in plan:
        line, row_notes = _line(row, service, jobs, clean)
        lines.append(line)
        notes += [f"- {row.label}, {service}: {n}" for n in row_notes]
    table = _table(lines)
    total = time.perf_counter() - started
    bad = [n for n in notes if "the error:" not in n and "without DocDB (said" not in n]
    summary = (
        "no wrong answer, nothing wrong cached, every call ended"
        if not bad
        else f"{len(bad)} problem(s): see the notes"
    )
    conditions = (
        f"bundled world, no added latency; {len(idle)} waiting process(es) side by side "
        f"({idle_s:.0f} s), then {len(busy)} at {args.jobs} at a time ({busy_s:.0f} s); "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
        f"run took {total:.0f} s"
    )
    notes += default_worst_cases()
    print("\n" + table + "\n")
    print("\n".join(notes) + "\n")
    print(summary + ".")
    print(f"({conditions})")
    if code_version() != code:
        code += f", then {code_version()}: the code changed during the run, run it again"
        print(f"warning: {code}", file=sys.stderr)
    if args.write:
        _write(table, notes, summary, conditions, code)
    return 0 if not bad else 1


def code_version() -> str:
    """The commit measured, and whether ``src/`` had changes not committed (read-only git)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "src")
    return commit + (" with uncommitted changes in src/" if changed else "")


def _write(table: str, notes: list[str], summary: str, conditions: str, code: str) -> None:
    text = "\n".join(
        [
            "# aind-session under faults",
            "",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- machine: {platform.platform()}, {os.cpu_count()} CPUs",
            f"- Python: {platform.python_version()} ({platform.python_implementation()})",
            f"- conditions: {conditions}",
            f"- code: {code}",
            f"- command: `python benchmarks/faults.py {' '.join(sys.argv[1:])}`",
            "",
            'How each row is run: see the docstring of `benchmarks/faults.py`. "runs": seeds '
            "(a fresh sandbox and a fresh persistent cache each); a paged fault at 100% on the "
            'first 2 paged answers is the same draw whatever the seed. "answers": one per '
            f'call per run ({len(_calls())} calls; 1 in a never-ending row). "worst call wall '
            'time": the '
            'longest single public call under the fault. "nothing wrong cached": with faults '
            "off, every call's answer, from memory and then from the disk cache, equals the "
            "fault-free answer.",
            "",
            table,
            "",
            summary + ".",
            "",
            "## Notes",
            "",
            *notes,
            "",
        ]
    )
    (HERE / "faults.md").write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'faults.md'}")


if __name__ == "__main__":
    sys.exit(main())
