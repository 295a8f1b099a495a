"""Benchmarks of aind-session against the sandbox: requests, round trips and wall time.

    python benchmarks/run.py [--latency-ms 20] [--repeat 5] [--only NAME[,NAME...]]
                             [--verbose] [--write] [--sandbox-in-process]

Every operation is measured cold in a fresh process (a child of this script
that starts a sandbox holding the operation's world, then times the operation
once) and warm in that same process (the operation repeated after it ran: it
must make no request). The first child of each operation also clears the
library's caches and times it once more ("cache cleared"): cold minus that is
roughly the cost of first-use imports.

The parent builds each world from its seed and checks it once with the
sandbox's own loader, then hands it to the children as a pickled ``World`` in
a temporary folder removed at the end. See benchmarks/README.md for the rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import math
import os
import pickle
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aind_session.testing import generate as wg  # stdlib only

HERE = Path(__file__).resolve().parent

SEED = 0
SUBJECT_ID = "712815"  # subject_world's default
FORBIDDEN = ("codeocean", "s3fs", "boto3", "botocore", "aiobotocore", "moto", "pydantic")
RESULT_MARK = "@@RESULT "
CHILD_TIMEOUT = 300
PAGE = 1000  # results per search page, as the library asks
MIN_RUNS = 3  # cold runs made even past the time budget

# targets
IMPORT_MS = 60.0
SESSION_US = 50.0
INFO_S = 3.0
SANDBOX_S = 2.0
LISTING_REQUESTS = 10
LISTING_MB = 200.0


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    label: str
    world: str  # key of aind_session.testing.generate.WORLDS
    warm_repeat: int = 5


BENCHMARKS = [
    Benchmark("import", "import aind_session", "empty"),
    Benchmark("sandbox", "sandbox start-up (bundled world)", "empty"),
    Benchmark("session", "Session(id) x 10,000 (per call)", "empty", warm_repeat=3),
    Benchmark("raw_data_asset", "raw_data_asset", "subject"),
    Benchmark("raw_data_dir", "raw_data_dir", "subject"),
    Benchmark("modalities", "modalities", "subject"),
    Benchmark("metadata_subject", "metadata.subject (after modalities)", "subject"),
    Benchmark("get_sessions", "get_sessions(subject with 2,000 assets)", "subject"),
    Benchmark("sorted_loop", "20 sorted assets: sorter_name + sorted_probes, for loop", "sorted"),
    Benchmark(
        "sorted_threads", "20 sorted assets: sorter_name + sorted_probes, 16 threads", "sorted"
    ),
    Benchmark("listing", "search_data_assets over 10,000 assets", "listing", warm_repeat=3),
    Benchmark(
        "describe",
        "aind-session info x 100 sessions (in-process, --json)",
        "subject",
        warm_repeat=3,
    ),
    Benchmark("docdb", "session.docdb", "indexed"),
    Benchmark("raw_data_asset_linked", "raw_data_asset only DocDB links", "indexed"),
    Benchmark(
        "describe_indexed",
        "aind-session info x 100 sessions, each with a DocDB record",
        "indexed",
        warm_repeat=3,
    ),
    Benchmark(
        "sessions_table",
        "sessions_table x 1,000 sessions, every column",
        "sessions",
        warm_repeat=1,
    ),
    Benchmark("first", "first question of a fresh process", "subject"),
]
BY_NAME = {b.name: b for b in BENCHMARKS}

Check = Callable[[Any], "str | None"]
Operation = tuple[Callable[[], Any], Callable[[], Any], Check]  # setup, op, check


# -- the operations (run in a child) ------------------------------------------------------
def _session_ids(n: int) -> list[str]:
    """``n`` distinct, valid session IDs."""
    base = datetime.datetime(2022, 1, 1, 8, 0, 0)
    return [
        f"ecephys_{700000 + i % 90000}_{(base + datetime.timedelta(minutes=7 * i)):%Y-%m-%d_%H-%M-%S}"
        for i in range(n)
    ]


def _nothing() -> None:
    return None


def _expect(want: Any, got: Callable[[Any], Any] = lambda x: x) -> Check:
    return lambda out: None if got(out) == want else f"expected {want!r}, got {got(out)!r}"


def _prepare(name: str, params: dict[str, Any]) -> Operation:
    """``(setup, op, check)``: untimed setup, the operation timed, and a check of its
    answer (None when right, else what is wrong)."""
    import aind_session
    from aind_session import Session

    if name == "session":
        ids = _session_ids(10_000)
        return _nothing, lambda: [Session(i) for i in ids], _expect(10_000, len)

    if name in ("raw_data_asset", "raw_data_dir", "modalities", "metadata_subject"):
        s = Session(params["session_id"])
        if name == "raw_data_asset":
            return _nothing, lambda: s.raw_data_asset, _expect(s.id, lambda a: a.name)
        if name == "raw_data_dir":
            want = f"s3://{wg.RAW_BUCKET}/{s.id}"
            return _nothing, lambda: s.raw_data_dir, _expect(want, lambda p: p.as_posix())
        if name == "modalities":
            return _nothing, lambda: s.modalities, _expect(("behavior", "ecephys"))
        return (
            lambda: s.modalities,  # the raw folder is found and listed already
            lambda: s.metadata.subject,
            _expect(s.subject_id, lambda d: d.get("subject_id")),
        )

    if name == "docdb":
        s = Session(params["session_id"])
        return _nothing, lambda: s.docdb, _expect(s.id, lambda r: r["name"])

    if name == "raw_data_asset_linked":
        s = Session(params["session_id"])
        return _nothing, lambda: s.raw_data_asset, _expect(params["asset_id"], lambda a: a.id)

    if name == "get_sessions":
        subject = params["subject_id"]
        return (
            _nothing,
            lambda: aind_session.get_sessions(subject),
            _expect(params["sessions"], len),
        )

    if name in ("sorted_loop", "sorted_threads"):
        from concurrent.futures import ThreadPoolExecutor

        s = Session(params["session_id"])

        def names_and_probes(asset: Any) -> tuple[str, tuple[str, ...]]:
            return asset.sorter_name, asset.sorted_probes

        def loop() -> Any:
            return [names_and_probes(a) for a in s.ecephys.sorted_data_assets]

        def threads() -> Any:
            with ThreadPoolExecutor(16) as pool:
                return list(pool.map(names_and_probes, s.ecephys.sorted_data_assets))

        def check(out: Any) -> str | None:
            if len(out) != params["sorted"]:
                return f"{len(out)} sorted assets, expected {params['sorted']}"
            bad = [o for o in out if o[0] not in wg.SORTERS or not o[1]]
            return f"unexpected answers, e.g. {bad[:2]}" if bad else None

        return _nothing, loop if name == "sorted_loop" else threads, check

    if name == "listing":
        query = {"query": "name:ecephys"}
        return (
            _nothing,
            lambda: aind_session.search_data_assets(query),
            _expect(params["assets"], len),
        )

    if name in ("describe", "describe_indexed"):
        import contextlib
        import io

        from aind_session import cli

        ids = list(params["session_ids"])

        def describe_all() -> Any:
            """What `aind-session info ID... --json` does, through its real entry function."""
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                cli.main(["info", *ids, "--json"])
            return json.loads(out.getvalue())["sessions"]  # the contract's document

        def check(out: Any) -> str | None:
            problems = [(d["id"], d["problems"]) for d in out if d["problems"]]
            problems += [
                (d["id"], e["problems"])
                for d in out
                for e in d["sorted_data_assets"]
                if e.get("problems")
            ]
            return f"{len(problems)} problem(s), e.g. {problems[0]}" if problems else None

        return _nothing, describe_all, check

    if name == "sessions_table":
        return _prepare_sessions_table(params)
    raise SystemExit(f"unknown benchmark {name!r}")


def _prepare_sessions_table(params: dict[str, Any]) -> Operation:
    """``aind_session.sessions_table`` of 1,000 sessions given by ID, every column, one
    batch (no progress callback: the fewest rounds). The memory cache holds 50,000
    answers: their 7,000-odd do not fit the default 4,096, and warm would ask again."""
    import logging

    import aind_session

    ids = list(params["session_ids"])

    def setup() -> None:
        os.environ["AIND_SESSION_CACHE_MAXSIZE"] = "50000"
        aind_session.clear_cache()  # the settings read again

    rounds: list[str] = []  # the batch's rounds, from its debug log

    class Rounds(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("batch round"):
                rounds.append(record.getMessage())

    def table() -> Any:
        log = logging.getLogger("aind_session.batch")
        handler, level = Rounds(), log.level
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        try:
            return aind_session.sessions_table(sessions=ids)
        finally:
            log.removeHandler(handler)
            log.setLevel(level)

    def check(frame: Any) -> str | None:
        if len(rounds) > 2:
            return f"{len(rounds)} rounds, not 2: {rounds}"
        unknown = [(i, u) for i, u in frame["unknown"].items() if u]
        if unknown:
            return f"{len(unknown)} row(s) with unknown columns, e.g. {unknown[0]}"
        if len(frame) != len(ids) or not (frame["sorted"].all() and frame["docdb_record"].all()):
            return f"{len(frame)} rows, not all sorted and indexed"
        return None

    return setup, table, check


def _sessions_table_lower(world: dict[str, Any], params: dict[str, Any]) -> str:
    """The searches (one per 20-character prefix), the pipeline's runs and DocDB's
    summaries (both collections, 100 names a query) at once; then every S3 request:
    per session its raw folder, per sorted asset its folder, ``output`` and
    ``processing.json``."""
    from aind_session.config import Settings

    ids = params["session_ids"]
    assets = world["data_assets"]
    prefixes = {sid[:20].lower() for sid in ids}
    searches = sum(_pages(sum(p in a["name"].lower() for a in assets)) for p in prefixes)
    n_sorted = sum("_sorted_" in a["name"] for a in assets)
    s3 = len(ids) + 3 * n_sorted
    docdb = 2 * math.ceil(len(ids) / 100)
    in_flight = Settings.model_fields["s3_max_concurrency"].default
    return (
        f"2 ({searches + 1 + s3} + {docdb} DocDB); {math.ceil(s3 / in_flight)} at "
        f"{in_flight} in flight"
    )


def _warm_up_servers(sb: Any) -> None:
    """One request of each kind to the sandbox's servers, so that their own
    first-use imports (moto's S3 handlers, werkzeug's) are not timed as the library's."""
    import base64
    import urllib.request
    from urllib.parse import quote

    token = base64.b64encode(f"{sb.env['CODE_OCEAN_API_TOKEN']}:".encode()).decode()
    requests = [
        urllib.request.Request(
            f"{sb.env['CODE_OCEAN_DOMAIN']}/api/v1/data_assets/search",
            data=json.dumps({"query": "name:warm-up", "limit": 1}).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
    ]
    key = next(iter(sb.world.s3), None)
    if key is not None:
        # moto picks the service from the credential scope of the signature
        scope = "Credential=sandbox-access-key/20240101/us-east-1/s3/aws4_request"
        auth = {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}
        s3 = sb.env["AWS_ENDPOINT_URL"]
        bucket = key.partition("/")[0]
        requests += [
            urllib.request.Request(
                f"{s3}/{bucket}?list-type=2&prefix=warm-up%2F&delimiter=%2F", headers=auth
            ),
            urllib.request.Request(f"{s3}/{quote(key)}", headers=auth),
        ]
    docdb = sb.env.get("AIND_SESSION_DOCDB_URL")
    if docdb:
        found = quote(json.dumps({"name": "warm-up"}))
        requests.append(
            urllib.request.Request(f"{docdb}/v1/metadata_index_v2/data_assets/find?filter={found}")
        )
    for request in requests:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


class _Local:
    """The sandbox running in this process (the normal case)."""

    def __init__(self, payload: dict[str, Any], latency_ms: float) -> None:
        from aind_session.testing import Sandbox

        # strict searches: a row's requests are then a function of its world alone
        # (the near misses of loose searches are the suite's business, not a cost)
        self.sb = Sandbox(payload["world"], latency=latency_ms / 1000, search="strict")

    def __enter__(self) -> _Local:
        self.sb.start()
        _warm_up_servers(self.sb)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sb.stop()

    def clear(self) -> None:
        self.sb.clear_requests()

    def requests(self) -> list[list[Any]]:
        return [[r.service, r.method, r.path, r.query, r.status] for r in self.sb.requests()]

    def cpu(self) -> float:
        return 0.0  # counted with this process's


class _Remote:
    """The sandbox in a process of its own (the default), driven over a pipe,
    so that its CPU time does not compete with the library's for one GIL."""

    def __init__(self, payload_path: str, latency_ms: float) -> None:
        self.command = [sys.executable, __file__, "--serve", "--payload", payload_path]
        self.command += ["--latency-ms", str(latency_ms)]

    def __enter__(self) -> _Remote:
        import aind_session

        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        env = self._ask("env")
        if not env:
            raise RuntimeError("the sandbox process did not start; see its error above")
        os.environ.update(json.loads(env))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        aind_session.clear_cache()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ask("quit")
        self.proc.wait(timeout=30)

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def clear(self) -> None:
        self._ask("clear")

    def requests(self) -> list[list[Any]]:
        return json.loads(self._ask("requests"))

    def cpu(self) -> float:
        return float(self._ask("cpu"))


def serve(payload_path: str, latency_ms: float) -> None:
    """The other end of `_Remote`: a sandbox answering ``env``, ``clear``, ``requests``,
    ``cpu`` and ``quit``, one line each."""
    with open(payload_path, "rb") as f:
        payload = pickle.load(f)
    # a server of many threads, most asleep (the latency) or waiting on sockets: a thread
    # woken waits for the interpreter up to this long while another computes (5 ms by
    # default), which no service's scheduler adds to its answers
    sys.setswitchinterval(0.0005)
    with _Local(payload, latency_ms) as local:
        for line in sys.stdin:
            command = line.strip()
            if command == "env":
                answer = json.dumps(local.sb.env)
            elif command == "clear":
                local.clear()
                answer = "ok"
            elif command == "requests":
                answer = json.dumps(local.requests())
            elif command == "cpu":
                answer = str(time.process_time())
            else:
                print("bye", flush=True)
                break
            print(answer, flush=True)


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def child(name: str, payload_path: str, latency_ms: float, own_process: bool, recold: bool) -> None:
    """Start a sandbox; time the operation cold, then warm; print one JSON line."""
    import aind_session

    with open(payload_path, "rb") as f:
        payload = pickle.load(f)
    bench = BY_NAME[name]
    _rss_mb()  # import `resource` now, not while timing
    sandbox = _Remote(payload_path, latency_ms) if own_process else _Local(payload, latency_ms)
    with sandbox as sb:
        setup, op, check = _prepare(name, payload["params"])
        setup()
        sb.clear()
        rss_before = _rss_mb()
        modules_before = set(sys.modules)
        cpu0, server_cpu0 = time.process_time(), sb.cpu()
        t0 = time.perf_counter()
        out = op()
        cold = time.perf_counter() - t0
        cpu, server_cpu = time.process_time() - cpu0, sb.cpu() - server_cpu0
        rss_after = _rss_mb()
        cold_requests = sb.requests()
        packages_before = {m.partition(".")[0] for m in modules_before}
        new_packages = sorted(
            {m.partition(".")[0] for m in set(sys.modules) - modules_before} - packages_before
        )
        problem = check(out)
        del out
        sb.clear()
        warm = []
        for _ in range(bench.warm_repeat):
            t0 = time.perf_counter()
            op()
            warm.append(time.perf_counter() - t0)
        warm_requests = sb.requests()
        recold_s, recold_requests = None, 0
        if recold and name != "session":  # Session() has no remote cache to clear
            aind_session.clear_cache()
            setup()
            sb.clear()
            t0 = time.perf_counter()
            op()
            recold_s = time.perf_counter() - t0
            recold_requests = len(sb.requests())
    result = {
        "cold": cold,
        "cpu": cpu,
        "server_cpu": server_cpu,
        "warm": warm,
        "recold": recold_s,
        "recold_requests": recold_requests,
        "requests": cold_requests,
        "warm_requests": warm_requests,
        "problem": problem,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "new_packages": new_packages,
    }
    print(RESULT_MARK + json.dumps(result))


# -- the parent ------------------------------------------------------------------------------
def _run(args: list[str], timeout: float = CHILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure_import(repeat: int) -> dict[str, Any]:
    """Fresh interpreters: ``import aind_session`` minus bare start-up, and what it imports."""
    bare: list[float] = []
    loaded: list[float] = []
    for _ in range(max(2 * repeat, 10)):  # interleaved, so drift hits both alike
        for code, into in (("pass", bare), ("import aind_session", loaded)):
            t0 = time.perf_counter()
            done = _run([sys.executable, "-c", code])
            into.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise SystemExit(f"python -c {code!r} failed:\n{done.stderr}")
    timed = _run([sys.executable, "-X", "importtime", "-c", "import aind_session"])
    entries = []  # (depth, module, cumulative µs); a module's imports come before it
    for line in timed.stderr.splitlines():
        m = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|( +)(\S+)", line)
        if m:
            entries.append(((len(m[2]) - 1) // 2, m[3], int(m[1])))
    top = max(i for i, e in enumerate(entries) if e[:2] == (0, "aind_session"))
    first = max((i for i in range(top) if entries[i][0] == 0), default=-1) + 1
    direct = sorted((e for e in entries[first:top] if e[0] == 1), key=lambda e: -e[2])
    probe = (
        "import json, sys, aind_session\n"
        "aind_session.Session('ecephys_676909_2023-12-13_13-43-40')\n"
        f"print(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}} & set({list(FORBIDDEN)!r}))))"
    )
    return {
        "over_ms": (_median(loaded) - _median(bare)) * 1000,
        "bare_ms": _median(bare) * 1000,
        "with_ms": _median(loaded) * 1000,
        "importtime_ms": entries[top][2] / 1000,
        "heavy_import": sorted({e[1].partition(".")[0] for e in entries} & set(FORBIDDEN)),
        "heavy_session": json.loads(_run([sys.executable, "-c", probe]).stdout),
        "slowest": [(module, us) for _, module, us in direct[:5]],
    }


SANDBOX_PROBE = """
import json, time
t0 = time.perf_counter()
from aind_session.testing import Sandbox
t1 = time.perf_counter()
sb = Sandbox()
t2 = time.perf_counter()
sb.start()
t3 = time.perf_counter()
sb.stop()
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "start": t3 - t2, "stop": t4 - t3}))
"""


def measure_sandbox(repeat: int) -> dict[str, Any]:
    """Fresh interpreters: ``Sandbox()`` (the bundled world loaded and checked) and
    ``start()`` (moto imported, both servers up, S3 loaded), then ``stop()``; medians."""
    runs = []
    for _ in range(repeat):
        done = _run([sys.executable, "-c", SANDBOX_PROBE])
        if done.returncode != 0:
            raise SystemExit(f"the sandbox start-up probe failed:\n{done.stderr[-3000:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = {key: _median([r[key] for r in runs]) for key in runs[0]}
    out["up"] = _median([r["load"] + r["start"] for r in runs])
    out["runs"] = len(runs)
    return out


# -- the first question of a one-question script ---------------------------------------
FIRST_MARGIN_MS = 100.0  # target: over the floors (see measure_first) <= this
FIRST_RUNS = 31  # each first question's fewest runs (a run's median varies by ±25 ms at 15)


@dataclasses.dataclass(frozen=True)
class FirstQuestion:
    name: str
    label: str
    # the packages its answer cannot do without; "package:Name" where the package's
    # import is lazy (upath's is: its modules come with its first name taken)
    needs: tuple[str, ...]
    round_trips: int  # its lower bound in the subject world

    @property
    def packages(self) -> list[str]:
        return [need.partition(":")[0] for need in self.needs]

    def floor_code(self) -> str:
        """The imports floor's program: ``aind_session`` and each package needed."""
        lines = ["import " + ", ".join(["aind_session", *self.packages])]
        lines += [
            f"from {p} import {n}" for p, _, n in map(lambda x: x.partition(":"), self.needs) if n
        ]
        return "\n".join(lines)


# npc_session: the design's parser of legacy IDs (the world's are legacy ones)
_BASE = ("pydantic_settings", "codeocean", "npc_session")
FIRST_QUESTIONS = [
    FirstQuestion("raw_data_asset", "Session(id).raw_data_asset", _BASE, 1),
    FirstQuestion("raw_data_dir", "Session(id).raw_data_dir", (*_BASE, "s3fs", "upath:UPath"), 2),
    FirstQuestion("modalities", "Session(id).modalities", (*_BASE, "s3fs"), 2),
    FirstQuestion("get_sessions", "get_sessions(subject)", _BASE, 2),
    FirstQuestion(
        "info", "aind-session info ID (CLI)", ("aind_session.cli", *_BASE, "s3fs", "upath:UPath"), 2
    ),
]


def _first_command(question: FirstQuestion, params: dict[str, Any]) -> list[str]:
    """The whole one-question program: a fresh interpreter asking ``question``."""
    sid = params["session_id"]
    if question.name == "info":
        script = Path(sys.executable).with_name("aind-session")
        if script.exists():
            return [sys.executable, str(script), "info", sid]
        code = f"import sys\nfrom aind_session.cli import main\nsys.exit(main(['info', {sid!r}]))"
        return [sys.executable, "-c", code]
    expr = {
        "raw_data_asset": "s.raw_data_asset.name",
        "raw_data_dir": "s.raw_data_dir.as_posix()",
        "modalities": "s.modalities",
        "get_sessions": f"len(aind_session.get_sessions({params['subject_id']!r}))",
    }[question.name]
    code = (
        f"import aind_session\ns = aind_session.Session({sid!r})\n"
        f"print({RESULT_MARK!r} + repr({expr}))"
    )
    return [sys.executable, "-c", code]


def _first_answer_problem(
    question: FirstQuestion, params: dict[str, Any], done: subprocess.CompletedProcess[str]
) -> str | None:
    """What is wrong with the answer of a one-question program; None when it is right."""
    sid = params["session_id"]
    if done.returncode != 0:
        return f"exit status {done.returncode}: {done.stderr.strip()[-300:]}"
    if question.name == "info":
        return None if sid in done.stdout else f"{sid} not in the output"
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    got = lines[-1][len(RESULT_MARK) :] if lines else None
    want = {
        "raw_data_asset": repr(sid),
        "raw_data_dir": repr(f"s3://{wg.RAW_BUCKET}/{sid}"),
        "modalities": repr(("behavior", "ecephys")),
        "get_sessions": repr(params["sessions"]),
    }[question.name]
    return None if got == want else f"expected {want}, got {got}"


def _timed(
    command: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU (user + system) seconds of a child process, and what it did."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False, env=env
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def measure_first(
    world: dict[str, Any], payload_path: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Each first question as a one-question program in a fresh interpreter, against a
    sandbox in a process of its own, next to its floors measured in the same run:
    a fresh interpreter importing only ``aind_session`` and the packages the question
    needs (whole processes both: start-up and exit count alike), and its lower-bound
    round trips times the latency. Interleaved, so that drift hits all alike."""
    sandbox = _Remote(payload_path, args.latency_ms)
    sandbox.proc = subprocess.Popen(
        sandbox.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    answer = sandbox._ask("env")
    if not answer:
        raise SystemExit("the sandbox process did not start; see its error above")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIND_SESSION_"))}
    base.pop("CODE_OCEAN_API_TOKEN", None)
    base.pop("CODE_OCEAN_DOMAIN", None)
    base.update(json.loads(answer))
    # an installed package has its bytecode compiled (pip does it at install): a
    # PYTHONDONTWRITEBYTECODE of the machine's would make every fresh process compile
    # the library's sources again, which no user's first question pays
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    out: dict[str, Any] = {"questions": []}
    # a tenth of a second is the target and the machine's own noise is of that size:
    # never fewer than FIRST_RUNS runs of each
    runs = max(args.repeat, FIRST_RUNS)
    try:
        with tempfile.TemporaryDirectory(prefix="aind-session-first-") as home:
            for question in FIRST_QUESTIONS:
                params = {
                    **_params("raw_data_asset", world),
                    **_params("get_sessions", world),
                }
                command = _first_command(question, params)
                floor_command = [
                    sys.executable,
                    "-c",
                    question.floor_code(),
                ]
                walls, floors, requests, problems = [], [], [], []
                cpus, floor_cpus = [], []
                with tempfile.TemporaryDirectory(prefix="aind-session-warm-") as warm:
                    _timed(command, {**base, "HOME": warm, "XDG_CACHE_HOME": warm})  # bytecode
                for i in range(runs + 1):
                    # no cache from an earlier run (the CLI's is in the user's cache folder)
                    env = {
                        **base,
                        "HOME": home,
                        "XDG_CACHE_HOME": os.path.join(home, f"cache-{question.name}-{i}"),
                    }
                    floor_wall, floor_cpu, _ = _timed(floor_command, env)
                    floors.append(floor_wall)
                    floor_cpus.append(floor_cpu)
                    if i == runs:  # the floor after the last question
                        break
                    sandbox.clear()
                    wall, cpu, done = _timed(command, env)
                    walls.append(wall)
                    cpus.append(cpu)
                    requests.append(sandbox.requests())
                    problem = _first_answer_problem(question, params, done)
                    if problem:
                        problems.append(problem)
                # each run's floor: the mean of the floors measured just before and just
                # after it, so that the machine's drift (its speed changes by a fifth
                # within a minute) is not counted as the question's
                around = [(a + b) / 2 for a, b in itertools.pairwise(floors)]
                out["questions"].append(
                    {
                        "question": question,
                        "wall": _median(walls),
                        "walls": walls,
                        "imports": _median(floors),
                        # the median over runs of each one's wall over its own floors
                        "over": _median([w - f for w, f in zip(walls, around, strict=True)])
                        - question.round_trips * args.latency_ms / 1000,
                        "cpu": _median(cpus),
                        "imports_cpu": _median(floor_cpus),
                        "round_trips": question.round_trips * args.latency_ms / 1000,
                        "requests": requests,
                        "problems": problems,
                    }
                )
    finally:
        sandbox._ask("quit")
        sandbox.proc.wait(timeout=30)
    out["runs"] = runs
    return out


def _first_table(row: dict[str, Any], verdicts: list[tuple[str, bool]]) -> str:
    """The first-question table: each program's wall time next to its two floors."""
    header = [
        "first question (fresh process)",
        "requests: CodeOcean / S3 / DocDB",
        "floor: imports (packages needed)",
        "floor: round trips x latency",
        "median wall",
        "over floors",
        "target",
    ]
    lines = []
    for q in row["first"]["questions"]:
        question: FirstQuestion = q["question"]
        counts = [
            _spread([sum(r[0] == service for r in rs) for rs in q["requests"]])
            for service in ("codeocean", "s3", "docdb")
        ]
        label = f"{question.name} within floors + {FIRST_MARGIN_MS:g} ms"
        ok = q["over"] <= FIRST_MARGIN_MS / 1000 and not q["problems"]
        verdicts.append((label, ok))
        target = f"{label}: {'PASS' if ok else 'FAIL'}"
        if q["problems"]:
            target += f" (answer wrong: {q['problems'][0]})"
        lines.append(
            [
                question.label,
                " / ".join(counts),
                f"{_fmt_time(q['imports'])} ({', '.join(question.packages)})",
                f"{_fmt_time(q['round_trips'])} ({question.round_trips})",
                _fmt_time(q["wall"]),
                f"{q['over'] * 1000:+.0f} ms",
                target,
            ]
        )
    return markdown_table(header, lines)


def markdown_table(header: list[str], lines: list[list[str]]) -> str:
    """``lines`` under ``header`` as a Markdown table, its columns padded to line up
    (benchmarks/faults.py prints its table with it too)."""
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(len(header))]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    return "\n".join(out)


def _pages(n: int) -> int:
    return max(1, math.ceil(n / PAGE))


def lower_bound(name: str, world: dict[str, Any], params: dict[str, Any]) -> str:
    """Fewest sequential round trips, and (requests), the operation could take in this world."""
    assets = world.get("data_assets", [])
    if name in ("session",):
        return "0"
    # DocDB's links are asked with a session's search: its two collections at once
    if name == "raw_data_asset":
        return "1 (1 + 2 DocDB)"
    if name in ("raw_data_dir", "modalities"):
        return "2 (2 + 2 DocDB)"
    if name == "docdb":
        return "1 (1 DocDB)"
    if name == "raw_data_asset_linked":  # the search and DocDB, then the linked asset
        return "2 (2 + 2 DocDB)"
    if name == "metadata_subject":
        return "1 (1)"
    if name == "get_sessions":
        subject = params["subject_id"]
        by_meta = _pages(
            sum((a.get("custom_metadata") or {}).get("subject id") == subject for a in assets)
        )
        by_name = _pages(sum(subject in a["name"] for a in assets))
        return f"{max(by_meta, by_name)} ({by_meta + by_name} + 2 DocDB)"
    if name in ("sorted_loop", "sorted_threads"):
        return f"2 ({1 + 2 * params['sorted']} + 2 DocDB)"
    if name == "listing":
        return f"{_pages(len(assets))} ({_pages(len(assets))})"
    if name in ("describe", "describe_indexed"):
        prefixes = {sid[:20].lower() for sid in params["session_ids"]}
        searches = sum(_pages(sum(p in a["name"].lower() for a in assets)) for p in prefixes)
        n_sorted = sum(
            (a.get("source_bucket") or {}).get("bucket") == wg.CODEOCEAN_BUCKET
            and SUBJECT_ID in a["name"]
            for a in assets
        )
        total = searches + 1 + len(params["session_ids"]) + 4 * n_sorted
        from aind_session.config import Settings

        in_flight = Settings.model_fields["s3_max_concurrency"].default
        # a raw asset only its record links is fetched once DocDB answers, its folder after
        rounds, linked = (3, 1) if name == "describe_indexed" else (2, 0)
        return (
            f"{rounds} ({total + linked} + 2 DocDB); {math.ceil(total / in_flight)} at "
            f"{in_flight} in flight"
        )
    if name == "sessions_table":
        return _sessions_table_lower(world, params)
    return "?"


def _params(name: str, world: dict[str, Any]) -> dict[str, Any]:
    """What the child needs to know about the world: which session to ask about, etc."""
    if name in ("raw_data_asset", "raw_data_dir", "modalities", "metadata_subject"):
        ids = wg.raw_session_ids(world, SUBJECT_ID)
        return {"session_id": ids[len(ids) // 2]}
    if name == "get_sessions":
        return {"subject_id": SUBJECT_ID, "sessions": len(wg.raw_session_ids(world, SUBJECT_ID))}
    if name in ("sorted_loop", "sorted_threads"):
        (session_id,) = wg.raw_session_ids(world)
        return {
            "session_id": session_id,
            "sorted": sum("_sorted_" in a["name"] for a in world["data_assets"]),
        }
    if name == "listing":
        return {"assets": len(world["data_assets"])}
    if name == "describe":
        return {"session_ids": wg.raw_session_ids(world, SUBJECT_ID)}
    if name == "docdb":
        ids = wg.raw_session_ids(world, SUBJECT_ID)
        return {"session_id": ids[len(ids) // 3]}
    if name in ("raw_data_asset_linked", "describe_indexed"):
        linked = wg.linked_session_id(world)
        record = next(
            r for r in world["docdb"]["metadata_index_v2/data_assets"] if r["name"] == linked
        )
        return {
            "session_id": linked,
            "asset_id": record["other_identifiers"]["Code Ocean"][0],
            "session_ids": sorted([*wg.raw_session_ids(world, SUBJECT_ID), linked]),
        }
    if name == "sessions_table":
        return {"session_ids": wg.raw_session_ids(world)}
    return {}


def _fmt_time(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _spread(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _show_request(r: list[Any]) -> str:
    service, method, path, query, status = r
    query = re.sub(r"(^|&)(x-id|encoding-type)=[^&]*", "", query).strip("&")
    return f"{service:9} {method:4} {status} {path}{'?' + query if query else ''}"


def _request_kind(r: list[Any]) -> str:
    service, method, path, query, _ = r
    if service == "codeocean":
        return f"CodeOcean {method} {re.sub(r'[0-9a-f-]{36}', '<id>', path)}"
    bucket = path.strip("/").split("/")[0]
    what = "ListObjectsV2" if "list-type" in query else "GetObject" if method == "GET" else method
    return f"S3 {what} {bucket}"


def _run_benchmark(name: str, payload_path: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Up to ``--repeat`` fresh children; fewer (never under ``MIN_RUNS``) once the
    operation's runs have taken ``--budget`` seconds."""
    results = []
    started = time.perf_counter()
    for i in range(args.repeat):
        spent = time.perf_counter() - started
        if args.budget and i >= MIN_RUNS and spent > args.budget:
            break
        command = [sys.executable, __file__, "--child", name, "--payload", payload_path]
        command += ["--latency-ms", str(args.latency_ms)]
        command += [] if args.sandbox_process else ["--sandbox-in-process"]
        command += ["--recold"] if i == 0 else []  # once: it only explains the cold figure
        done = _run(command)
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"benchmark {name} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(lines[-1][len(RESULT_MARK) :]))
    return results


def run(args: argparse.Namespace) -> int:
    names = [n for n in (args.only or ",".join(BY_NAME)).split(",") if n]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print(
            f"Unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}.",
            file=sys.stderr,
        )
        return 2
    from aind_session.testing import load_world

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aind-session-bench-") as tmp:
        worlds: dict[str, tuple[dict[str, Any], Any]] = {}
        for name in names:
            bench = BY_NAME[name]
            print(f"... {name}", file=sys.stderr, flush=True)
            if name == "import":
                rows.append({"bench": bench, "import": measure_import(args.repeat)})
                continue
            if name == "sandbox":
                rows.append({"bench": bench, "sandbox": measure_sandbox(args.repeat)})
                continue
            if bench.world not in worlds:
                t0 = time.perf_counter()
                world = wg.WORLDS[bench.world](seed=SEED)
                worlds[bench.world] = (world, load_world(world))  # checked by the sandbox's loader
                if args.verbose:
                    print(
                        f"    world {bench.world!r} made and checked in {time.perf_counter() - t0:.1f} s",
                        file=sys.stderr,
                    )
            world, loaded = worlds[bench.world]
            params = _params(name, world)
            payload_path = os.path.join(tmp, f"{name}.pickle")
            with open(payload_path, "wb") as f:
                pickle.dump({"world": loaded, "params": params}, f)
            if name == "first":
                rows.append({"bench": bench, "first": measure_first(world, payload_path, args)})
                continue
            results = _run_benchmark(name, payload_path, args)
            rows.append(
                {"bench": bench, "results": results, "lower": lower_bound(name, world, params)}
            )
    table, verdicts = _table(rows, args.repeat)
    table += "".join("\n\n" + _first_table(row, verdicts) for row in rows if "first" in row)
    notes = [line for row in rows for line in _notes(row, args, args.verbose)]
    load_after = os.getloadavg()[0]
    failed = [label for label, ok in verdicts if not ok]
    summary = f"{len(verdicts) - len(failed)}/{len(verdicts)} targets pass" + (
        f"; failing: {', '.join(failed)}" if failed else ""
    )
    budget = (
        f" (fewer, at least {MIN_RUNS}, past {args.budget:g} s per operation)"
        if args.budget and args.repeat > MIN_RUNS
        else ""
    )
    where = "in its own process" if args.sandbox_process else "in the measured process"
    conditions = (
        f"latency {args.latency_ms:g} ms per request, up to {args.repeat} cold run(s) each{budget}, "
        f"sandbox {where}; load average {load_before:.1f} before, {load_after:.1f} after, "
        f"on {os.cpu_count()} CPU(s)"
    )
    print("\n" + table + "\n")
    print("\n".join(notes) + "\n")
    print(summary)
    print(f"({conditions}; run took {time.perf_counter() - started:.0f} s)")
    if load_before > (os.cpu_count() or 1) / 2:
        print("warning: the machine was busy with other work; wall times are inflated.")
    if args.write:
        brief = [line for row in rows for line in _notes(row, args, verbose=False)]
        _write(table, brief, summary, conditions)
    return 1 if failed else 0


def _table(rows: list[dict[str, Any]], repeat: int) -> tuple[str, list[tuple[str, bool]]]:
    header = [
        "operation",
        "CodeOcean requests",
        "S3 requests",
        "DocDB requests",
        "lower bound: round trips (requests)",
        "median wall (cold)",
        "median wall (warm)",
        "wall, cache cleared (1 run)",
        "targets",
    ]
    lines: list[list[str]] = []
    verdicts: list[tuple[str, bool]] = []

    def verdict(label: str, ok: bool) -> str:
        verdicts.append((label, ok))
        return f"{label}: {'PASS' if ok else 'FAIL'}"

    for row in rows:
        bench: Benchmark = row["bench"]
        if "first" in row:  # a table of its own (see _first_table)
            continue
        if "import" in row:
            info = row["import"]
            targets = [
                verdict(f"import < {IMPORT_MS:g} ms", info["over_ms"] < IMPORT_MS),
                verdict(
                    "imports none of " + "/".join(FORBIDDEN),
                    not (info["heavy_import"] or info["heavy_session"]),
                ),
            ]
            lines.append(
                [
                    bench.label,
                    "0",
                    "0",
                    "0",
                    "0",
                    f"{info['over_ms']:.1f} ms over interpreter",
                    "-",
                    "-",
                    "; ".join(targets),
                ]
            )
            continue
        if "sandbox" in row:
            info = row["sandbox"]
            target = verdict(f"sandbox start-up < {SANDBOX_S:g} s", info["up"] < SANDBOX_S)
            lines.append([bench.label, "0", "0", "0", "0", _fmt_time(info["up"]), "-", "-", target])
            continue
        results = row["results"]
        co = [sum(r[0] == "codeocean" for r in res["requests"]) for res in results]
        s3 = [sum(r[0] == "s3" for r in res["requests"]) for res in results]
        docdb = [sum(r[0] == "docdb" for r in res["requests"]) for res in results]
        total = max(a + b for a, b in zip(co, s3, strict=True))
        cold = _median([res["cold"] for res in results])
        warm = _median([w for res in results for w in res["warm"]])
        recold = next((res["recold"] for res in results if res["recold"] is not None), None)
        warm_requests = max(len(res["warm_requests"]) for res in results)
        if bench.name == "session":
            cold_s, warm_s = f"{_fmt_time(cold / 10_000)} each", f"{_fmt_time(warm / 10_000)} each"
        else:
            cold_s, warm_s = _fmt_time(cold), _fmt_time(warm)
        if len(results) < repeat:
            cold_s += f" (n={len(results)})"
        targets = []
        if bench.name == "session":
            targets.append(
                verdict(f"Session() < {SESSION_US:g} µs", cold / 10_000 * 1e6 < SESSION_US)
            )
        elif bench.name in ("raw_data_dir", "modalities"):
            targets.append(verdict(f"{bench.name} cold 2 requests", total <= 2))
        elif bench.name == "metadata_subject":
            targets.append(verdict("metadata.subject after modalities 1 request", total <= 1))
        elif bench.name == "listing":
            rss = max(res["rss_after"] for res in results)
            targets.append(
                verdict(f"listing <= {LISTING_REQUESTS} requests", total <= LISTING_REQUESTS)
            )
            targets.append(
                verdict(f"listing peak RSS < {LISTING_MB:g} MB ({rss:.0f} MB)", rss < LISTING_MB)
            )
        elif bench.name in ("describe", "describe_indexed"):
            targets.append(verdict(f"info x100 < {INFO_S:g} s", cold < INFO_S))
            if bench.name == "describe_indexed":  # one query per collection for all
                targets.append(verdict("DocDB 2 requests for 100 sessions", max(docdb) <= 2))
        elif bench.name == "docdb":
            targets.append(verdict("session.docdb 1 request", max(docdb) + total <= 1))
        elif bench.name == "raw_data_asset_linked":
            targets.append(verdict("linked raw asset: 2 CodeOcean requests", max(co) <= 2))
        elif bench.name == "sessions_table":  # summaries of 100 names a query, 2 collections
            targets.append(verdict("sessions_table DocDB 20 requests", max(docdb) <= 20))
        targets.append(verdict(f"{bench.name} warm 0 requests", warm_requests == 0))
        problems = [res["problem"] for res in results if res["problem"]]
        if problems:
            targets.append(verdict(f"{bench.name} answers right", False) + f" ({problems[0]})")
        lines.append(
            [
                bench.label,
                _spread(co),
                _spread(s3),
                _spread(docdb),
                row["lower"],
                cold_s,
                warm_s,
                _fmt_time(recold),
                "; ".join(targets),
            ]
        )
    widths = [
        max([len(header[i]), *(len(line[i]) for line in lines)]) for i in range(len(header) - 1)
    ]
    out = [
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(header[:-1], widths, strict=True))
        + f" | {header[-1]} |"
    ]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    out += [
        "| "
        + " | ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True))
        + f" | {line[-1]} |"
        for line in lines
    ]
    return "\n".join(out), verdicts


def _notes(row: dict[str, Any], args: argparse.Namespace, verbose: bool) -> list[str]:
    """Lines under the table: CPU, memory, first-use imports; with ``verbose``, the requests."""
    bench: Benchmark = row["bench"]
    if "first" in row:
        first = row["first"]
        return [
            f"- first question: each a fresh `python -c` (the CLI: the `aind-session` script) "
            f"against the sandbox in its own process, {first['runs']} runs, medians; the imports "
            f"floor is a fresh `python -c 'import aind_session, <packages needed>'`, run "
            f"before and after each; over floors: the median of each run's wall less the mean "
            f"of its two floors and the round trips; target: over floors <= "
            f"{FIRST_MARGIN_MS:g} ms; walls: "
            + "; ".join(
                f"{q['question'].name} " + ", ".join(f"{w * 1000:.0f}" for w in q["walls"]) + " ms"
                for q in first["questions"]
            )
            + "; CPU (user + system, medians), the question's process vs its imports floor's: "
            + "; ".join(
                f"{q['question'].name} {q['cpu'] * 1000:.0f} vs {q['imports_cpu'] * 1000:.0f} ms"
                for q in first["questions"]
            )
            + "."
        ]
    if "import" in row:
        info = row["import"]
        slowest = ", ".join(f"{module} {us / 1000:.1f} ms" for module, us in info["slowest"])
        return [
            f"- import: {info['with_ms']:.0f} ms for `python -c 'import aind_session'` vs "
            f"{info['bare_ms']:.0f} ms for `python -c pass` (medians); -X importtime: aind_session "
            f"{info['importtime_ms']:.1f} ms cumulative (largest: {slowest}).",
            f"- import: -X importtime shows of {', '.join(FORBIDDEN)}: "
            f"{', '.join(info['heavy_import']) or 'none imported'}; after one Session(): "
            f"{', '.join(info['heavy_session']) or 'none imported'}.",
        ]
    if "sandbox" in row:
        info = row["sandbox"]
        return [
            f"- sandbox: `Sandbox()` {_fmt_time(info['load'])} (world loaded and checked) + "
            f"`start()` {_fmt_time(info['start'])} (moto imported, servers up, S3 loaded), "
            f"after `from aind_session.testing import Sandbox` ({_fmt_time(info['import'])}); "
            f"`stop()` {_fmt_time(info['stop'])}; medians of {info['runs']} fresh processes."
        ]
    results = row["results"]
    first = results[0]
    cpu = _median([res["cpu"] for res in results])
    if args.sandbox_process:
        server_cpu = _median([res["server_cpu"] for res in results])
        text = f"CPU in the cold run: library {cpu:.2f} s, sandbox {server_cpu:.2f} s (own process)"
    else:
        text = f"CPU in the cold run: {cpu:.2f} s (library and sandbox, one process)"
    if bench.name == "listing":
        text += f"; peak RSS {first['rss_before']:.0f} MB before, {first['rss_after']:.0f} MB after"
        text += "" if args.sandbox_process else " (sandbox and its world included)"
    packages = [p for p in first["new_packages"] if not p.startswith("_") and "__mypyc" not in p]
    if packages:
        shown = ", ".join(packages[:8]) + (", ..." if len(packages) > 8 else "")
        text += f"; first use imported {len(packages)} package(s) ({shown})"
    if first["recold"] is not None and first["recold_requests"] != len(first["requests"]):
        text += f"; {first['recold_requests']} requests with the cache cleared"
    lines = [f"- {bench.name}: {text}."]
    if verbose:
        requests = first["requests"]
        kinds = Counter(_request_kind(r) for r in requests)
        lines.append(
            f"  {len(requests)} cold request(s): "
            + ", ".join(f"{n} x {k}" for k, n in kinds.most_common())
        )
        lines += [f"    {_show_request(r)}" for r in requests[:40]]
        if len(requests) > 40:
            lines.append(f"    ... and {len(requests) - 40} more")
        if first["warm_requests"]:
            lines.append("  warm request(s):")
            lines += [f"    {_show_request(r)}" for r in first["warm_requests"][:40]]
    return lines


def _write(table: str, notes: list[str], summary: str, conditions: str) -> None:
    text = "\n".join(
        [
            "# aind-session benchmark results",
            "",
            f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- platform: {platform.platform()}",
            f"- CPUs: {os.cpu_count()}",
            f"- Python: {platform.python_version()} ({platform.python_implementation()})",
            f"- conditions: {conditions}",
            f"- command: `python benchmarks/run.py {' '.join(sys.argv[1:])}`",
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
    (HERE / "results.md").write_text(text, encoding="utf-8")
    print(f"wrote {HERE / 'results.md'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Benchmarks of aind-session against the sandbox (see benchmarks/README.md)."
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="sandbox latency per request (default 20)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="cold runs (fresh processes) per operation (default 5)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help=f"stop repeating an operation (after {MIN_RUNS} runs) once its runs took this long; "
        "0: never (default 20)",
    )
    parser.add_argument(
        "--only", metavar="NAME", help=f"comma-separated subset of: {', '.join(BY_NAME)}"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="print the requests each operation made"
    )
    parser.add_argument(
        "--write", action="store_true", help="also write the table to benchmarks/results.md"
    )
    parser.add_argument(
        "--sandbox-in-process",
        dest="sandbox_process",
        action="store_false",
        help=(
            "run each sandbox in the measured process (by default it runs in a process of "
            "its own, as the real services do not share the library's CPU)"
        ),
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--recold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--payload", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.payload, args.latency_ms)
        return 0
    if args.child:
        child(args.child, args.payload, args.latency_ms, args.sandbox_process, args.recold)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
