"""`Sandbox`: S3 through s3fs/UPath, the request log, latency, faults, reset, life cycle, CLI, plugin.

moto keeps one S3 state per process, so only the pytest plugin's session sandbox runs in
this process; the few tests that start and stop their own sandbox do it in a subprocess,
each subprocess shared by the tests of one fixture.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import codeocean
import pytest
import requests
import s3fs
from codeocean.computation import RunParams
from codeocean.error import Error
from upath import UPath
from urllib3.util import Retry

from aind_session.testing import Faults, Request, Sandbox

CAPSULE = "eb5a26e4-a391-4d79-9da5-1ab65b71253f"  # a capsule of the sample world
SUBPROCESS_TIMEOUT = 60


@pytest.fixture
def sb(aind_sandbox: Sandbox) -> Sandbox:
    return aind_sandbox


@pytest.fixture
def co(sb: Sandbox) -> codeocean.CodeOcean:
    """A plain SDK client: no retries, so every fault reaches the caller."""
    return codeocean.CodeOcean(domain=sb.env["CODE_OCEAN_DOMAIN"], token=sb.token)


@pytest.fixture
def fs(sb: Sandbox) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(endpoint_url=sb.env["AWS_ENDPOINT_URL"], skip_instance_cache=True)


def an_asset_id(sb: Sandbox) -> str:
    return next(iter(sb.world.data_assets))


def asset_url(sb: Sandbox, asset_id: str) -> str:
    return f"{sb.env['CODE_OCEAN_DOMAIN']}/api/v1/data_assets/{asset_id}"


def get_asset(sb: Sandbox) -> requests.Response:
    return requests.get(asset_url(sb, an_asset_id(sb)), auth=(sb.token, ""), timeout=10)


def an_object(sb: Sandbox) -> tuple[str, bytes]:
    return next(iter(sb.world.s3.items()))


def s3_client(sb: Sandbox) -> Any:
    return boto3.client("s3", endpoint_url=sb.env["AWS_ENDPOINT_URL"])


def read_object(sb: Sandbox) -> bytes:
    """The bytes of the first world object, read with a plain boto3 client (one GET)."""
    key, _ = an_object(sb)
    bucket, _, path = key.partition("/")
    return s3_client(sb).get_object(Bucket=bucket, Key=path)["Body"].read()


def clean_environment(sb: Sandbox) -> dict[str, str]:
    """This process's environment without what the session sandbox put into it."""
    return {k: v for k, v in os.environ.items() if k not in sb.env}


# -- the fixtures and the environment --------------------------------------------------------
def test_aind_sandbox_is_the_running_session_sandbox(
    aind_sandbox: Sandbox, aind_sandbox_session: Sandbox
) -> None:
    assert aind_sandbox is aind_sandbox_session and "running" in repr(aind_sandbox)


def test_environment_points_clients_at_the_sandbox(sb: Sandbox) -> None:
    assert {k: os.environ.get(k) for k in sb.env} == sb.env
    assert sb.env["CODE_OCEAN_DOMAIN"].startswith("http://127.0.0.1:")
    assert sb.env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


def test_environment_has_token_keys_region_and_no_instance_metadata(sb: Sandbox) -> None:
    assert sb.env["CODE_OCEAN_API_TOKEN"] == sb.token
    assert sb.env["AWS_ACCESS_KEY_ID"] and sb.env["AWS_SECRET_ACCESS_KEY"]
    assert sb.env["AWS_DEFAULT_REGION"] and sb.env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_repr_does_not_show_the_token(sb: Sandbox) -> None:
    assert sb.token not in repr(sb)


def test_second_sandbox_cannot_start_while_one_runs(sb: Sandbox) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        Sandbox({}).start()
    assert get_asset(sb).status_code == 200


# -- S3 through s3fs and UPath ---------------------------------------------------------------
def test_s3fs_reads_world_objects_byte_for_byte(sb: Sandbox, fs: s3fs.S3FileSystem) -> None:
    keys = sorted(sb.world.s3)[:: max(1, len(sb.world.s3) // 8)]
    assert fs.cat(keys) == {key: sb.world.s3[key] for key in keys}


def test_s3fs_lists_the_files_of_an_asset_folder(sb: Sandbox, fs: s3fs.S3FileSystem) -> None:
    asset = next(
        a
        for a in sb.world.data_assets.values()
        if any(k.startswith(sb.world.asset_folder(a) + "/") for k in sb.world.s3)
    )
    folder = sb.world.asset_folder(asset)
    expected = sorted(k for k in sb.world.s3 if k.startswith(folder + "/"))
    assert sorted(fs.find(folder)) == expected


def test_s3_holds_a_bucket_for_every_bucket_of_the_world(
    sb: Sandbox, fs: s3fs.S3FileSystem
) -> None:
    assert {k.split("/")[0] for k in sb.world.s3} <= set(fs.ls(""))


def test_upath_reads_a_world_object_with_the_environment_alone(sb: Sandbox) -> None:
    key, data = an_object(sb)
    assert UPath(f"s3://{key}").read_bytes() == data


def test_json_object_of_the_world_reads_back_as_json(sb: Sandbox, fs: s3fs.S3FileSystem) -> None:
    key = next(k for k in sb.world.s3 if k.endswith(".json"))
    assert json.loads(fs.cat(key)) == json.loads(sb.world.s3[key])


# -- the request log -------------------------------------------------------------------------
def test_request_log_records_service_method_path_and_status(
    sb: Sandbox, co: codeocean.CodeOcean
) -> None:
    asset_id = an_asset_id(sb)
    co.data_assets.get_data_asset(asset_id)
    assert [(r.service, r.method, r.path, r.status) for r in sb.requests()] == [
        ("codeocean", "GET", f"/api/v1/data_assets/{asset_id}", 200)
    ]


def test_request_log_records_error_statuses(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    with pytest.raises(Error):
        co.data_assets.get_data_asset(str(uuid.uuid4()))
    assert [r.status for r in sb.requests()] == [404]


def test_request_log_records_s3_requests_as_s3(sb: Sandbox) -> None:
    key, _ = an_object(sb)
    s3_client(sb).get_object(Bucket=key.split("/")[0], Key=key.split("/", 1)[1])
    assert sb.requests() == [Request("s3", "GET", f"/{key}", 200)]


def test_request_log_records_the_query_string(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    computation = next(c for c in sb.world.computations.values() if "output" in c["results"])
    co.computations.get_result_file_urls(computation["id"], "output")
    assert sb.requests()[-1].query == "path=output"


def test_request_log_can_be_read_for_one_service(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    read_object(sb)
    co.data_assets.get_data_asset(an_asset_id(sb))
    assert [r.service for r in sb.requests("s3")] == ["s3"]
    assert [r.service for r in sb.requests("codeocean")] == ["codeocean"]


def test_clear_requests_empties_the_log(sb: Sandbox) -> None:
    get_asset(sb)
    sb.clear_requests()
    assert sb.requests() == []


def test_request_log_never_holds_the_token(sb: Sandbox) -> None:
    get_asset(sb)
    assert sb.requests() and all(sb.token not in repr(r) for r in sb.requests())


# -- latency ---------------------------------------------------------------------------------
def test_latency_set_while_running_delays_codeocean_answers(sb: Sandbox) -> None:
    sb.latency = 0.15
    start = time.perf_counter()
    get_asset(sb)
    assert time.perf_counter() - start >= 0.15


def test_latency_delays_s3_answers(sb: Sandbox) -> None:
    sb.latency = 0.15
    start = time.perf_counter()
    read_object(sb)
    assert time.perf_counter() - start >= 0.15


# -- round trips and concurrency -------------------------------------------------------------
def test_round_trips_count_each_request_of_a_client_that_waits_for_answers(sb: Sandbox) -> None:
    sb.latency = 0.02
    for _ in range(3):
        read_object(sb)
    assert sb.round_trips() == 3


def test_round_trips_count_requests_sent_together_once(sb: Sandbox) -> None:
    sb.latency = 0.1
    threads = [threading.Thread(target=read_object, args=(sb,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read_object(sb)  # a second round, after every answer of the first
    assert len(sb.requests()) == 6
    assert sb.round_trips() == 2


def test_round_trips_can_be_read_for_one_service(sb: Sandbox) -> None:
    sb.latency = 0.02
    get_asset(sb)
    read_object(sb)
    read_object(sb)
    assert (sb.round_trips(), sb.round_trips("codeocean"), sb.round_trips("s3")) == (3, 1, 2)


def test_many_connections_opened_at_once_are_all_answered_promptly(sb: Sandbox) -> None:
    # a short listen backlog would drop some of them (TCP retries a dropped
    # connection only after a second, past this timeout), and a new sandbox
    # whose S3 app had not set itself up would set up once per connection
    host, port = sb.env["AWS_ENDPOINT_URL"].removeprefix("http://").split(":")
    answers: queue.Queue[str] = queue.Queue()

    def ask() -> None:
        try:
            with socket.create_connection((host, int(port)), timeout=0.9) as conn:
                conn.settimeout(30)  # the answers may queue; the connections must not
                conn.sendall(b"GET /nowhere-bucket HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.put(conn.recv(12).decode())
        except OSError as exc:
            answers.put(repr(exc))

    threads = [threading.Thread(target=ask) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = [answers.get() for _ in threads]
    assert [a for a in got if not a.startswith("HTTP/1.1")] == []


# -- faults ----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 500, 503])
def test_fault_reaches_a_plain_sdk_client_with_its_status_and_a_json_message(
    sb: Sandbox, co: codeocean.CodeOcean, status: int
) -> None:
    sb.faults = Faults(rate=1.0, kinds=(str(status),), retry_after=0)
    with pytest.raises(Error) as info:
        co.data_assets.get_data_asset(an_asset_id(sb))
    assert info.value.status_code == status and info.value.message.startswith("sandbox fault")


def test_429_fault_sends_retry_after(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    sb.faults = Faults(rate=1.0, kinds=("429",), retry_after=7)
    with pytest.raises(Error) as info:
        co.data_assets.get_data_asset(an_asset_id(sb))
    assert info.value.http_err.response.headers["Retry-After"] == "7"


def test_dropped_connection_raises_connection_error(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    sb.faults = Faults(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.exceptions.ConnectionError):
        co.data_assets.get_data_asset(an_asset_id(sb))


def test_dropped_connection_is_logged_with_status_0(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.exceptions.ConnectionError):
        get_asset(sb)
    assert [r.status for r in sb.requests()] == [0]


def test_s3_fault_answers_with_an_s3_xml_error(sb: Sandbox) -> None:
    key, _ = an_object(sb)
    sb.faults = Faults(rate=1.0, kinds=("503",), retry_after=0)
    response = requests.get(f"{sb.env['AWS_ENDPOINT_URL']}/{key}", timeout=10)
    assert response.status_code == 503 and "<Code>SlowDown</Code>" in response.text


def test_faults_of_one_service_leave_the_other_alone(sb: Sandbox) -> None:
    _, data = an_object(sb)
    sb.faults = Faults(rate=1.0, kinds=("500",), services=("codeocean",))
    assert (get_asset(sb).status_code, read_object(sb)) == (500, data)


def status_or_0(sb: Sandbox) -> int:
    """Status of a plain GET of a data asset, 0 if the connection was dropped."""
    try:
        return get_asset(sb).status_code
    except requests.exceptions.ConnectionError:
        return 0


def statuses(sb: Sandbox, n: int) -> list[int]:
    return [status_or_0(sb) for _ in range(n)]


def test_faults_at_a_rate_fail_some_answers_and_pass_others(sb: Sandbox) -> None:
    sb.faults = Faults(rate=0.5, kinds=("500",), seed=1)
    assert set(statuses(sb, 30)) == {200, 500}


def test_faults_with_the_same_seed_repeat_the_same_failures(sb: Sandbox) -> None:
    sb.faults = Faults(rate=0.5, kinds=("500", "503"), seed=11, retry_after=0)
    first = statuses(sb, 30)
    sb.faults = Faults(rate=0.5, kinds=("500", "503"), seed=11, retry_after=0)
    assert statuses(sb, 30) == first


def test_faults_with_another_seed_fail_differently(sb: Sandbox) -> None:
    sb.faults = Faults(rate=0.5, kinds=("500",), seed=11)
    first = statuses(sb, 30)
    sb.faults = Faults(rate=0.5, kinds=("500",), seed=12)
    assert statuses(sb, 30) != first


def test_faults_given_as_a_rate_become_faults_of_the_default_kinds(sb: Sandbox) -> None:
    sb.faults = 1.0
    assert isinstance(sb.faults, Faults) and set(sb.faults.kinds) == {"429", "500", "503", "drop"}


def test_faults_at_rate_1_fail_every_answer(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, retry_after=0)
    assert set(statuses(sb, 20)) <= {0, 429, 500, 503}


def test_faults_given_as_a_dict_are_read_as_faults(sb: Sandbox) -> None:
    sb.faults = {"rate": 1.0, "kinds": ["503"], "retry_after": 0}
    assert get_asset(sb).status_code == 503


def test_retrying_sdk_client_gets_through_intermittent_faults(sb: Sandbox) -> None:
    retry = Retry(
        total=10, backoff_factor=0, status_forcelist=[429, 500, 503], allowed_methods=None
    )
    co = codeocean.CodeOcean(domain=sb.env["CODE_OCEAN_DOMAIN"], token=sb.token, retries=retry)
    sb.faults = Faults(rate=0.5, kinds=("429", "500", "503"), seed=3, retry_after=0)
    asset_id = an_asset_id(sb)
    assert co.data_assets.get_data_asset(asset_id).id == asset_id
    assert [r.status for r in sb.requests()][-1] == 200 and len(sb.requests()) > 1


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_fault_rate_outside_0_to_1_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Faults(rate=rate)


@pytest.mark.parametrize("kinds", [("404",), ()])
def test_fault_kinds_outside_the_known_ones_are_refused(kinds: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="kinds"):
        Faults(rate=0.5, kinds=kinds)


# -- reset -----------------------------------------------------------------------------------
def test_reset_forgets_computations_started_since(sb: Sandbox, co: codeocean.CodeOcean) -> None:
    new = co.computations.run_capsule(RunParams(capsule_id=CAPSULE))
    sb.reset()
    with pytest.raises(Error) as info:
        co.computations.get_computation(new.id)
    assert info.value.status_code == 404


def test_reset_restores_latency_and_faults(sb: Sandbox) -> None:
    sb.latency, sb.faults = 0.5, 1.0
    sb.reset()
    assert (sb.latency, sb.faults.rate) == (0.0, 0.0)
    assert get_asset(sb).status_code == 200


def test_reset_empties_the_request_log(sb: Sandbox) -> None:
    get_asset(sb)
    sb.reset()
    assert sb.requests() == []


def test_reset_restores_s3_objects_written_overwritten_or_deleted(
    sb: Sandbox, fs: s3fs.S3FileSystem
) -> None:
    (kept, kept_data), (deleted, deleted_data) = sorted(sb.world.s3.items())[:2]
    new = f"{kept.split('/')[0]}/written-by-a-test.txt"
    fs.pipe(new, b"new")
    fs.pipe(kept, b"overwritten")
    fs.rm(deleted)
    sb.reset()
    fs.invalidate_cache()
    assert (fs.cat(kept), fs.cat(deleted), fs.exists(new)) == (kept_data, deleted_data, False)


LOADED_ASSET = "00000000-0000-4000-8000-00000000000c"
LOADED_WORLD = {
    "data_assets": [{"id": LOADED_ASSET, "name": "loaded_asset"}],
    "s3": {"loaded-bucket/a.txt": "loaded"},
}


def test_load_serves_another_world_on_both_services_until_reset(
    sb: Sandbox, co: codeocean.CodeOcean, fs: s3fs.S3FileSystem
) -> None:
    first = an_asset_id(sb)
    sb.load(LOADED_WORLD)
    served = (co.data_assets.get_data_asset(LOADED_ASSET).name, fs.cat("loaded-bucket/a.txt"))
    sb.reset()
    fs.invalidate_cache()
    assert served == ("loaded_asset", b"loaded")
    assert co.data_assets.get_data_asset(first).id == first
    assert not fs.exists("loaded-bucket/a.txt")


def test_denied_bucket_answers_s3_requests_with_access_denied(sb: Sandbox) -> None:
    key, _ = an_object(sb)
    sb.denied_buckets.add(key.split("/")[0])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        read_object(sb)
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_denying_another_bucket_leaves_this_one_readable(sb: Sandbox) -> None:
    key, data = an_object(sb)
    sb.denied_buckets.add(key.split("/")[0] + "-other")
    assert read_object(sb) == data


def test_reset_allows_denied_buckets_again(sb: Sandbox) -> None:
    key, data = an_object(sb)
    sb.denied_buckets.add(key.split("/")[0])
    sb.reset()
    assert read_object(sb) == data


# -- life cycle, in a subprocess ----------------------------------------------------------
LIFECYCLE = """
import json, os, socket, threading
os.environ.pop("CODE_OCEAN_DOMAIN", None)
os.environ["AWS_PROFILE"] = "someone"
os.environ["AWS_REGION"] = "eu-central-1"
before = dict(os.environ)
from aind_session.testing import Sandbox
sb = Sandbox()
sb.start()
during = dict(os.environ)
ports = [int(url.rsplit(":", 1)[1]) for url in (sb.codeocean_url, sb.s3_url)]
import requests
requests.get(sb.codeocean_url + "/api/v1/computations/x", auth=(sb.token, ""), timeout=10)
requests.get(sb.s3_url + "/", timeout=10)
sb.stop()
after = dict(os.environ)
threads = [t.name for t in threading.enumerate() if t.name.startswith("sandbox-")]
again = Sandbox({}, codeocean_port=ports[0], s3_port=ports[1]).start()
restarted = requests.get(again.codeocean_url + "/api/v1/x", timeout=10).status_code
again.stop()
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen()
try:
    Sandbox({}, codeocean_port=busy.getsockname()[1]).start()
    busy_error = []
except BaseException as exc:
    busy_error = [cls.__name__ for cls in type(exc).__mro__]
with Sandbox({}) as fresh:
    after_failure = requests.get(fresh.codeocean_url + "/api/v1/x", timeout=10).status_code
print(json.dumps(dict(
    before=before, during=during, after=after, env=sb.env, threads=threads,
    restarted=restarted, busy_error=busy_error, after_failure=after_failure,
)))
"""


@pytest.fixture(scope="module")
def lifecycle(aind_sandbox_session: Sandbox) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", LIFECYCLE],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=clean_environment(aind_sandbox_session),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_start_puts_the_sandbox_environment_into_os_environ(lifecycle: dict[str, Any]) -> None:
    during = lifecycle["during"]
    assert {k: during.get(k) for k in lifecycle["env"]} == lifecycle["env"]


def test_start_removes_an_aws_profile_that_would_override_the_keys(
    lifecycle: dict[str, Any],
) -> None:
    assert "AWS_PROFILE" not in lifecycle["during"]


def test_stop_restores_the_environment_exactly(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["after"] == lifecycle["before"]


def test_stop_unsets_variables_that_were_unset_before(lifecycle: dict[str, Any]) -> None:
    assert "CODE_OCEAN_DOMAIN" in lifecycle["during"]
    assert "CODE_OCEAN_DOMAIN" not in lifecycle["after"]


def test_stop_restores_variables_the_sandbox_changed_or_removed(lifecycle: dict[str, Any]) -> None:
    after = lifecycle["after"]
    assert (after["AWS_REGION"], after["AWS_PROFILE"]) == ("eu-central-1", "someone")


def test_stop_ends_the_server_threads(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["threads"] == []


def test_stop_frees_the_ports_for_a_new_sandbox(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["restarted"] == 401  # answered by the new sandbox's CodeOcean app


def test_start_on_a_busy_port_raises_os_error(lifecycle: dict[str, Any]) -> None:
    assert "OSError" in lifecycle["busy_error"]


def test_start_on_a_busy_port_fails(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["busy_error"] != []


def test_failed_start_leaves_the_process_free_to_start_another(lifecycle: dict[str, Any]) -> None:
    assert lifecycle["after_failure"] == 401


# -- the command line, in a subprocess -----------------------------------------------------
CLI_ASSET = "00000000-0000-4000-8000-00000000000b"


def pump(stream: Any, lines: queue.Queue[str]) -> None:
    """Put each line of ``stream`` on ``lines`` (so the reader can give up after a timeout)."""
    for line in stream:
        lines.put(line)


@pytest.fixture(scope="module")
def cli_run(
    tmp_path_factory: pytest.TempPathFactory, aind_sandbox_session: Sandbox
) -> dict[str, Any]:
    """Run ``aind-session sandbox --world W --latency-ms 5``, probe it, then send SIGINT.

    A one-asset world keeps the start fast (benchmarks/, not the tests, time start-ups).
    """
    world = tmp_path_factory.mktemp("cli") / "world.json"
    world.write_text(json.dumps({"data_assets": [{"id": CLI_ASSET, "name": "cli_asset"}]}))
    script = Path(sys.executable).with_name("aind-session")
    command = (
        [str(script)]
        if script.exists()
        else [
            sys.executable,
            "-c",
            "import sys; from aind_session.cli import main; sys.exit(main())",
        ]
    )
    process = subprocess.Popen(
        [*command, "sandbox", "--world", str(world), "--latency-ms", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_environment(aind_sandbox_session),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=pump, args=(process.stdout, lines), daemon=True).start()
    printed: list[str] = []
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT
        while not printed or "press Ctrl-C" not in printed[-1]:
            printed.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1)
            for line in printed
            if line.startswith("export ")
        )
        start = time.perf_counter()
        probe = requests.get(
            f"{exports['CODE_OCEAN_DOMAIN']}/api/v1/data_assets/{CLI_ASSET}",
            auth=(exports["CODE_OCEAN_API_TOKEN"], ""),
            timeout=10,
        )
        probe_seconds = time.perf_counter() - start
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return {
        "exports": exports,
        "probe_status": probe.status_code,
        "probe_name": probe.json().get("name"),
        "probe_seconds": probe_seconds,
        "returncode": returncode,
    }


def test_cli_sandbox_prints_export_lines_for_another_shell(cli_run: dict[str, Any]) -> None:
    exports = cli_run["exports"]
    assert exports["CODE_OCEAN_DOMAIN"].startswith("http://127.0.0.1:")
    assert {"CODE_OCEAN_API_TOKEN", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"} <= set(exports)


def test_cli_sandbox_serves_its_world_to_the_exported_token(cli_run: dict[str, Any]) -> None:
    assert (cli_run["probe_status"], cli_run["probe_name"]) == (200, "cli_asset")


def test_cli_sandbox_adds_the_latency_asked_for(cli_run: dict[str, Any]) -> None:
    assert cli_run["probe_seconds"] >= 0.005


def test_cli_sandbox_exits_0_on_sigint(cli_run: dict[str, Any]) -> None:
    assert cli_run["returncode"] == 0


# -- the pytest plugin, in a subprocess ------------------------------------------------------
PLUGIN_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def aind_sandbox_world():
    return {
        "data_assets": [{"id": "00000000-0000-4000-8000-00000000000a", "name": "only_asset"}],
        "capsules": [{"id": "00000000-0000-4000-8000-00000000000c", "name": "only_capsule"}],
        "s3": {"bucket-a/key.txt": "text"},
    }
"""
PLUGIN_TESTS = """
import os
import boto3
import requests

def test_world_is_the_one_the_conftest_gives(aind_sandbox):
    assert [a["name"] for a in aind_sandbox.world.data_assets.values()] == ["only_asset"]

def test_session_fixture_is_the_same_sandbox(aind_sandbox, aind_sandbox_session):
    assert aind_sandbox is aind_sandbox_session

def test_environment_points_at_the_sandbox(aind_sandbox):
    assert os.environ["CODE_OCEAN_DOMAIN"] == aind_sandbox.env["CODE_OCEAN_DOMAIN"]

def test_a_first_test_changes_the_sandbox(aind_sandbox):
    url = aind_sandbox.env["CODE_OCEAN_DOMAIN"] + "/api/v1/computations"
    body = {"capsule_id": "00000000-0000-4000-8000-00000000000c"}
    ran = requests.post(url, json=body, auth=(aind_sandbox.token, ""), timeout=10)
    s3 = boto3.client("s3")
    s3.put_object(Bucket="bucket-a", Key="key.txt", Body=b"changed")
    assert ran.status_code == 200
    assert s3.get_object(Bucket="bucket-a", Key="key.txt")["Body"].read() == b"changed"
    aind_sandbox.latency, aind_sandbox.faults = 0.5, 1.0

def test_a_later_test_gets_it_reset(aind_sandbox):
    assert (aind_sandbox.latency, aind_sandbox.faults.rate, aind_sandbox.requests()) == (0.0, 0.0, [])
    capsule = "00000000-0000-4000-8000-00000000000c"
    url = aind_sandbox.env["CODE_OCEAN_DOMAIN"] + f"/api/v1/capsules/{capsule}/computations"
    assert requests.get(url, auth=(aind_sandbox.token, ""), timeout=10).json() == []
    body = boto3.client("s3").get_object(Bucket="bucket-a", Key="key.txt")["Body"].read()
    assert body == b"text"
"""


@pytest.fixture(scope="module")
def plugin_outcomes(
    tmp_path_factory: pytest.TempPathFactory, aind_sandbox_session: Sandbox
) -> dict[str, str]:
    """Outcome, by test name, of each test of a small project that uses the plugin's fixtures."""
    project = tmp_path_factory.mktemp("plugin_user")
    (project / "conftest.py").write_text(textwrap.dedent(PLUGIN_CONFTEST))
    (project / "test_uses_sandbox.py").write_text(textwrap.dedent(PLUGIN_TESTS))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", str(project)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        cwd=project,
        env=clean_environment(aind_sandbox_session),
        check=False,
    )
    stdout = done.stdout
    outcomes = {}
    for line in stdout.splitlines():
        outcome, _, test = line.partition(" ")
        if outcome in ("PASSED", "FAILED", "ERROR") and "::" in test:
            outcomes[test.split("::")[1].split(" ")[0]] = outcome
    assert outcomes, stdout
    return outcomes


@pytest.mark.parametrize(
    "test",
    [
        "test_world_is_the_one_the_conftest_gives",
        "test_session_fixture_is_the_same_sandbox",
        "test_environment_points_at_the_sandbox",
        "test_a_first_test_changes_the_sandbox",
        "test_a_later_test_gets_it_reset",
    ],
)
def test_plugin_fixtures_behave_in_a_project_that_uses_them(
    plugin_outcomes: dict[str, str], test: str
) -> None:
    assert plugin_outcomes.get(test) == "PASSED"
