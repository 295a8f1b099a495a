"""The sandbox's faults, seen at the wire: each kind on each service, ``limit``, ``match``, seeds.

Plain ``requests``, ``http.client`` and boto3 against the session sandbox's URLs, so what is
checked is what a client receives. One test starts a sandbox of its own, in a subprocess
(moto keeps one S3 state per process), to see ``stop()`` end a stall and a trickle.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.exceptions
import pytest
import requests

from aind_session.testing import FAULT_KINDS, Faults, Sandbox

SERVICES = ("codeocean", "s3")
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def sb(aind_sandbox: Sandbox) -> Sandbox:
    return aind_sandbox


def base_url(sb: Sandbox, service: str) -> str:
    return sb.codeocean_url if service == "codeocean" else sb.s3_url


def auth_headers(sb: Sandbox, service: str) -> dict[str, str]:
    """CodeOcean's basic auth; for S3 an ``Authorization`` header (moto reads objects for any)."""
    if service == "s3":
        scope = "sandbox-access-key/20240101/us-west-2/s3/aws4_request"
        return {
            "Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
        }
    return {"Authorization": "Basic " + base64.b64encode(f"{sb.token}:".encode()).decode()}


def an_object(sb: Sandbox) -> tuple[str, bytes]:
    return next((k, v) for k, v in sb.world.s3.items() if len(v) >= 2)


def plain_path(sb: Sandbox, service: str) -> str:
    """A request that is not for a page: a data asset, an S3 object."""
    if service == "codeocean":
        return f"/api/v1/data_assets/{next(iter(sb.world.data_assets))}"
    return "/" + quote(an_object(sb)[0])


def get(sb: Sandbox, service: str, path: str | None = None, **kw: Any) -> requests.Response:
    url = base_url(sb, service) + (path or plain_path(sb, service))
    return requests.get(url, headers=auth_headers(sb, service), timeout=kw.pop("timeout", 10), **kw)


def raw(sb: Sandbox, service: str, path: str | None = None) -> http.client.HTTPResponse:
    """The answer's status and headers, its body left unread on the socket."""
    parts = urlsplit(base_url(sb, service))
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("GET", path or plain_path(sb, service), headers=auth_headers(sb, service))
    return conn.getresponse()


def a_bucket(sb: Sandbox) -> str:
    return Counter(k.split("/")[0] for k in sb.world.s3).most_common(1)[0][0]


def page(sb: Sandbox, service: str, token: str | None = None) -> requests.Response:
    """One page of one item: a data asset search, an S3 ListObjectsV2."""
    if service == "codeocean":
        body: dict[str, Any] = {"limit": 1} | ({"next_token": token} if token else {})
        url = f"{sb.codeocean_url}/api/v1/data_assets/search"
        return requests.post(url, json=body, auth=(sb.token, ""), timeout=10)
    params = {"list-type": "2", "max-keys": "1"} | ({"continuation-token": token} if token else {})
    url = f"{sb.s3_url}/{a_bucket(sb)}"
    return requests.get(url, params=params, headers=auth_headers(sb, service), timeout=10)


def parse_page(response: requests.Response, service: str) -> tuple[bool, str | None, list[str]]:
    """(more pages?, the next token, the items) of a page."""
    assert response.status_code == 200, response.text
    if service == "codeocean":
        answer = response.json()
        return answer["has_more"], answer.get("next_token"), [a["id"] for a in answer["results"]]
    root = ET.fromstring(response.content)
    token = root.findtext(f"{S3_NS}NextContinuationToken")
    keys = [e.text or "" for e in root.iter(f"{S3_NS}Key")]
    return root.findtext(f"{S3_NS}IsTruncated") == "true", token, keys


def faults_logged(sb: Sandbox) -> list[tuple[int, str | None]]:
    return [(r.status, r.fault) for r in sb.requests()]


# -- the fields ----------------------------------------------------------------------------
def test_fault_kinds_keep_the_old_ones_and_add_the_new() -> None:
    assert {"429", "500", "503", "drop", "stall", "cut", "bogus_token"} <= set(FAULT_KINDS)


def test_default_kinds_are_the_four_a_client_retries() -> None:
    assert Faults(rate=1.0).kinds == ("429", "500", "503", "drop")


@pytest.mark.parametrize(
    "fields",
    [{"limit": -1}, {"stall_seconds": -1.0}, {"trickle_interval": -1.0}, {"html_status": 42}],
)
def test_faults_with_impossible_fields_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Faults"):
        Faults(rate=1.0, **fields)


def test_a_request_without_a_fault_is_logged_with_fault_none(sb: Sandbox) -> None:
    get(sb, "codeocean")
    assert faults_logged(sb) == [(200, None)]


# -- statuses and drops ------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_status_fault_answers_that_status_and_is_logged(
    sb: Sandbox, service: str, kind: str
) -> None:
    sb.faults = Faults(rate=1.0, kinds=(kind,), retry_after=0)
    assert get(sb, service).status_code == int(kind)
    assert faults_logged(sb) == [(int(kind), kind)]


@pytest.mark.parametrize("service", SERVICES)
def test_retry_after_may_be_a_day(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("429",), retry_after=86400)
    assert get(sb, service).headers["Retry-After"] == "86400"


@pytest.mark.parametrize("service", SERVICES)
def test_drop_closes_the_connection_without_an_answer(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("drop",))
    with pytest.raises(requests.exceptions.ConnectionError):
        get(sb, service)
    assert faults_logged(sb) == [(0, "drop")]


# -- stall -------------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_stall_outlasts_a_client_read_timeout(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("stall",), stall_seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(sb, service, timeout=(5, 0.2))
    assert faults_logged(sb) == [(0, "stall")]


@pytest.mark.parametrize("service", SERVICES)
def test_stall_sends_nothing_then_closes_the_connection(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("stall",), stall_seconds=0.3)
    with pytest.raises(http.client.RemoteDisconnected):
        raw(sb, service)


# -- trickle -----------------------------------------------------------------------------
def small_answer_path(sb: Sandbox, service: str) -> str:
    """A request whose true answer is short: a missing computation's 404, a 22-byte object."""
    if service == "codeocean":
        return "/api/v1/computations/00000000-0000-4000-8000-000000000000"
    return "/" + quote(
        min((k for k, v in sb.world.s3.items() if len(v) >= 2), key=lambda k: len(sb.world.s3[k]))
    )


@pytest.mark.parametrize("service", SERVICES)
def test_trickle_sends_the_true_answer_a_byte_at_a_time(sb: Sandbox, service: str) -> None:
    path = small_answer_path(sb, service)
    true = get(sb, service, path)
    assert len(true.content) >= 2
    sb.faults = Faults(rate=1.0, kinds=("trickle",), trickle_interval=0.005)
    response = raw(sb, service, path)
    reads = []
    while chunk := response.read1(1024):
        reads.append(chunk)
    assert (response.status, b"".join(reads)) == (true.status_code, true.content)
    assert response.getheader("Content-Length") == str(len(true.content))
    assert len(reads) > 1  # it came in pieces, not in one send
    assert sb.requests()[-1].fault == "trickle"


# -- truncated and cut -------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_truncated_sends_half_the_body_as_a_complete_200(sb: Sandbox, service: str) -> None:
    true = get(sb, service).content
    sb.faults = Faults(rate=1.0, kinds=("truncated",))
    response = get(sb, service)
    assert (response.status_code, response.content) == (200, true[: len(true) // 2])
    assert response.headers["Content-Length"] == str(len(true) // 2)
    assert sb.requests()[-1].fault == "truncated"


@pytest.mark.parametrize("service", SERVICES)
def test_cut_declares_the_whole_body_and_sends_half(sb: Sandbox, service: str) -> None:
    true = get(sb, service).content
    sb.faults = Faults(rate=1.0, kinds=("cut",))
    response = raw(sb, service)
    assert response.getheader("Content-Length") == str(len(true))
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert info.value.partial == true[: len(true) // 2]
    assert faults_logged(sb)[-1] == (0, "cut")


def test_cut_reaches_requests_as_a_chunked_encoding_error(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("cut",))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sb, "codeocean")


def test_cut_reaches_boto3_as_a_streaming_error(sb: Sandbox) -> None:
    bucket, _, key = an_object(sb)[0].partition("/")
    sb.faults = Faults(rate=1.0, kinds=("cut",))
    body = boto3.client("s3", endpoint_url=sb.s3_url).get_object(Bucket=bucket, Key=key)["Body"]
    with pytest.raises(
        (botocore.exceptions.IncompleteReadError, botocore.exceptions.ResponseStreamingError)
    ):
        body.read()


# -- bodies that cannot be used ----------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_badjson_sends_a_200_that_does_not_parse(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("badjson",))
    response = get(sb, service)
    kind = "application/json" if service == "codeocean" else "application/xml"
    assert (response.status_code, response.headers["Content-Type"]) == (200, kind)
    with pytest.raises((ValueError, ET.ParseError)):
        json.loads(response.content) if service == "codeocean" else ET.fromstring(response.content)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("status", [200, 502])
def test_html_sends_a_56_kb_page_with_the_status_asked(
    sb: Sandbox, service: str, status: int
) -> None:
    sb.faults = Faults(rate=1.0, kinds=("html",), html_status=status)
    response = get(sb, service)
    assert (response.status_code, response.headers["Content-Type"].split(";")[0]) == (
        status,
        "text/html",
    )
    assert response.text.startswith("<!DOCTYPE html>") and 50_000 < len(response.content) < 60_000
    assert faults_logged(sb) == [(status, "html")]


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        ("/api/v1/capsules/{capsule}/computations", {"message": "upstream request timeout"}),
        ("/api/v1/data_assets/{asset}", [{"message": "upstream request timeout"}]),
    ],
)
def test_codeocean_shape_sends_valid_json_of_the_wrong_shape(
    sb: Sandbox, path: str, wrong: Any
) -> None:
    capsule = next(c["capsule_id"] for c in sb.world.computations.values())
    sb.faults = Faults(rate=1.0, kinds=("shape",))
    response = get(
        sb, "codeocean", path.format(capsule=capsule, asset=next(iter(sb.world.data_assets)))
    )
    assert (response.status_code, response.json()) == (200, wrong)


def test_codeocean_shape_sends_a_search_page_without_results(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("shape",))
    response = page(sb, "codeocean")
    assert response.status_code == 200 and "results" not in response.json()


def test_s3_shape_sends_an_error_document_with_status_200(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("shape",))
    response = page(sb, "s3")
    root = ET.fromstring(response.content)
    assert (response.status_code, root.tag, root.findtext("Code")) == (
        200,
        "Error",
        "InternalError",
    )


# -- paging faults -----------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_repeat_token_hands_back_the_same_token_and_page_for_ever(
    sb: Sandbox, service: str
) -> None:
    sb.faults = Faults(rate=1.0, kinds=("repeat_token",))
    more, token, items = parse_page(page(sb, service), service)
    again = parse_page(page(sb, service, token), service)
    assert more and token and again == (True, token, items)
    assert faults_logged(sb) == [(200, "repeat_token")] * 2


@pytest.mark.parametrize("service", SERVICES)
def test_repeat_token_asks_for_the_next_page_again(sb: Sandbox, service: str) -> None:
    _, token, _ = parse_page(page(sb, service), service)  # a true token to page 2
    second = parse_page(page(sb, service, token), service)
    sb.faults = Faults(rate=1.0, kinds=("repeat_token",))
    assert parse_page(page(sb, service, token), service) == (True, token, second[2])


@pytest.mark.parametrize("service", SERVICES)
def test_missing_token_says_more_pages_without_a_token(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("missing_token",))
    more, token, items = parse_page(page(sb, service), service)
    assert (more, token, len(items)) == (True, None, 1)


@pytest.mark.parametrize("service", SERVICES)
def test_bogus_token_is_refused_on_the_next_request(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("bogus_token",))
    more, token, _ = parse_page(page(sb, service), service)
    sb.faults = None
    refused = page(sb, service, token)
    assert more and token and refused.status_code == 400
    if service == "codeocean":
        assert "next_token" in refused.json()["message"]
    else:
        assert ET.fromstring(refused.content).findtext("Code") == "InvalidArgument"
    assert faults_logged(sb)[-1] == (400, None)  # the server refusing, not a new fault


def test_bogus_s3_token_reaches_boto3_as_invalid_argument(sb: Sandbox) -> None:
    s3 = boto3.client("s3", endpoint_url=sb.s3_url)
    sb.faults = Faults(rate=1.0, kinds=("bogus_token",), limit=1)
    token = s3.list_objects_v2(Bucket=a_bucket(sb), MaxKeys=1)["NextContinuationToken"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.list_objects_v2(Bucket=a_bucket(sb), MaxKeys=1, ContinuationToken=token)
    assert "continuation token provided is incorrect" in str(info.value)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", ["repeat_token", "missing_token", "bogus_token"])
def test_paging_faults_leave_requests_that_are_not_for_pages_alone(
    sb: Sandbox, service: str, kind: str
) -> None:
    sb.faults = Faults(rate=1.0, kinds=(kind,))
    assert get(sb, service).status_code == 200
    assert faults_logged(sb) == [(200, None)]


def test_a_paging_kind_drawn_for_another_request_is_drawn_again_among_the_others(
    sb: Sandbox,
) -> None:
    sb.faults = Faults(rate=1.0, kinds=("repeat_token", "500"))
    assert [get(sb, "codeocean").status_code for _ in range(5)] == [500] * 5


# -- limit, match and seed ---------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_limit_1_fails_only_the_first_answer(sb: Sandbox, service: str) -> None:
    sb.faults = Faults(rate=1.0, kinds=("cut",), limit=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sb, service)
    assert [get(sb, service).status_code for _ in range(3)] == [200] * 3
    assert [r.fault for r in sb.requests()] == ["cut", None, None, None]


def test_a_fault_with_nothing_to_spoil_is_not_made_nor_counted(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("missing_token",), limit=1)
    url = f"{sb.codeocean_url}/api/v1/data_assets/search"
    refused = requests.post(url, json={"limit": 0}, auth=(sb.token, ""), timeout=10)
    parse_page(page(sb, "codeocean"), "codeocean")
    assert (refused.status_code, faults_logged(sb)) == (400, [(400, None), (200, "missing_token")])


def test_body_faults_leave_head_requests_alone(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("truncated", "cut", "trickle", "badjson", "shape"))
    url = sb.s3_url + plain_path(sb, "s3")
    assert requests.head(url, headers=auth_headers(sb, "s3"), timeout=10).status_code == 200
    assert faults_logged(sb) == [(200, None)]


def test_limit_0_fails_nothing(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("500",), limit=0)
    assert get(sb, "codeocean").status_code == 200


def test_match_fails_only_requests_whose_path_contains_it(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("500",), match="/data_assets/")
    computation = next(iter(sb.world.computations))
    assert get(sb, "codeocean", f"/api/v1/computations/{computation}").status_code == 200
    assert get(sb, "codeocean").status_code == 500


def test_match_may_name_part_of_the_query(sb: Sandbox) -> None:
    sb.faults = Faults(rate=1.0, kinds=("500",), match="?list-type=2")
    assert (get(sb, "s3").status_code, page(sb, "s3").status_code) == (200, 500)


def a_run_of_faults(sb: Sandbox, seed: int) -> list[str | None]:
    sb.clear_requests()
    sb.faults = Faults(
        rate=0.5, kinds=("500", "truncated", "badjson", "html", "shape"), seed=seed, retry_after=0
    )
    for _ in range(20):
        get(sb, "codeocean")
    return [r.fault for r in sb.requests()]


def test_the_same_seed_repeats_the_same_faults(sb: Sandbox) -> None:
    first = a_run_of_faults(sb, 5)
    assert None in first and len(set(first)) > 2
    assert a_run_of_faults(sb, 5) == first


def test_another_seed_draws_other_faults(sb: Sandbox) -> None:
    assert a_run_of_faults(sb, 5) != a_run_of_faults(sb, 6)


# -- stop ends stalls and trickles, in a subprocess ----------------------------------------
STOP_SCRIPT = """
import json, socket, threading, time
from aind_session.testing import Faults, Sandbox

def ask(url, out):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"GET /some-bucket/key HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        got = b""
        try:
            while chunk := conn.recv(65536):
                got += chunk
            out.append("closed")
        except OSError as exc:
            out.append(type(exc).__name__)

results = {}
for kind in ("stall", "trickle"):
    faults = Faults(rate=1.0, kinds=(kind,), stall_seconds=120, trickle_interval=120)
    sb = Sandbox({"s3": {"some-bucket/key": "some bytes"}}, faults=faults).start()
    out = []
    client = threading.Thread(target=ask, args=(sb.s3_url, out))
    client.start()
    while not sb.requests():
        time.sleep(0.01)
    sb.stop()
    client.join(60)
    handlers = [t for t in threading.enumerate() if "process_request" in t.name]
    for thread in handlers:
        thread.join(60)
    results[kind] = {"client": out, "handlers_alive": [t.name for t in handlers if t.is_alive()]}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def stopped_mid_fault(aind_sandbox_session: Sandbox) -> dict[str, Any]:
    environment = {k: v for k, v in os.environ.items() if k not in aind_sandbox_session.env}
    done = subprocess.run(
        [sys.executable, "-c", STOP_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("kind", ["stall", "trickle"])
def test_stop_closes_the_connection_of_a_fault_in_progress(
    stopped_mid_fault: dict[str, Any], kind: str
) -> None:
    assert stopped_mid_fault[kind]["client"] == ["closed"]  # not a timeout 30 s later


@pytest.mark.parametrize("kind", ["stall", "trickle"])
def test_stop_leaves_no_thread_serving_a_fault(
    stopped_mid_fault: dict[str, Any], kind: str
) -> None:
    assert stopped_mid_fault[kind]["handlers_alive"] == []
