"""The sandbox's CodeOcean API as a whole: server versions, token scopes, routes it
does not serve, bodies it refuses; and what the library says when the real
service answers so."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

import aind_session
from aind_session import errors
from aind_session.codeocean import sdk
from aind_session.testing.codeocean_common import ASSET_READ, CAPSULE_READ, SCOPES
from aind_session.testing.codeocean_server import API_ROUTES, CodeOceanApp
from aind_session.testing.world import WorldError, load_world

TOKEN = "COP_test_token"
MAIN = "ecephys_676909_2023-12-13_13-43-40"
RAW = "16d46411-540a-4122-b47f-8cb2a15d593a"


def api(client: Client, method: str, path: str, token: str = TOKEN, **kwargs: object) -> object:
    return client.open(f"/api/v1/{path}", method=method, auth=(token, ""), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world():
    world = load_world()
    world.tokens = {"assets only": [ASSET_READ], "capsules only": [CAPSULE_READ], "none": []}
    return world


# -- server version ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("server", "asked", "status"),
    [
        ("4.8.0", "4.8.0", 200),
        ("4.8.0", "4.0.0", 200),
        ("4.10.0", "4.9.0", 200),  # numbers, not text: 10 > 9
        ("4.7.9", "4.8.0", 400),
        ("4.0.0", "4.8.0", 400),
        ("4.8.0", "four", 400),  # a header of the wrong form
        ("4.8.0", "4.8", 400),
    ],
)
def test_min_server_version_is_answered_as_the_real_server_does(world, server, asked, status):
    client = Client(CodeOceanApp(world, TOKEN, server_version=server))
    response = api(client, "GET", f"data_assets/{RAW}", headers={"Min-Server-Version": asked})
    assert response.status_code == status
    if status == 400:
        assert asked in response.get_json()["message"]


def test_the_default_server_version_is_what_the_installed_sdk_needs(world):
    app = CodeOceanApp(world, TOKEN)
    assert app.server_version == sdk.min_server_version()


def test_a_malformed_server_version_setting_is_refused():
    with pytest.raises(ValueError, match="server_version 'new'"):
        CodeOceanApp(load_world({}), TOKEN, server_version="new")


def test_an_sdk_too_new_for_the_server_gets_a_message_saying_what_to_install(aind_sandbox):
    aind_sandbox.codeocean.server_version = "3.9.0"  # reset by the next test's fixture
    with pytest.raises(errors.ConfigurationError) as info:
        aind_session.Session(MAIN).raw_data_asset
    message = str(info.value)
    assert sdk.min_server_version() in message  # what the installed SDK asks for
    assert "codeocean 0.12 asks for 4.0.0" in message
    assert "3.9.0" in message  # the server's own words, quoted


# -- scopes --------------------------------------------------------------------------
def test_a_token_lacking_the_scope_of_a_route_gets_403_naming_it(world):
    app = CodeOceanApp(world, TOKEN)
    client = Client(app)
    assets_only, capsules_only = app.named_tokens["assets only"], app.named_tokens["capsules only"]
    assert api(client, "GET", f"data_assets/{RAW}", assets_only).status_code == 200
    response = api(client, "GET", f"data_assets/{RAW}", capsules_only)
    assert response.status_code == 403
    assert ASSET_READ in response.get_json()["message"]
    search = api(client, "POST", "data_assets/search", app.named_tokens["none"], json={})
    assert search.status_code == 403


def test_the_sandbox_token_has_every_scope_and_named_tokens_are_secret(world):
    app = CodeOceanApp(world, TOKEN)
    client = Client(app)
    for route in ("data_assets/search", "capsules/search", "pipelines/search"):
        assert api(client, "POST", route, json={}).status_code == 200
    assert app.scopes_of(TOKEN) == frozenset(SCOPES)
    assert TOKEN not in app.tokens  # checked by value: a test may change app.token
    assert app.scopes_of("COP_never_issued") is None
    values = list(app.named_tokens.values())
    assert len(set(values)) == 3 and all(v.startswith("COP_sandbox_") for v in values)
    app.load(world)
    assert list(app.named_tokens.values()) == values  # the same across a reload


def test_a_world_token_with_an_unknown_scope_is_refused():
    with pytest.raises(WorldError, match=r"unknown scope.*'Datasets - Everything'"):
        load_world({"tokens": {"t": ["Datasets - Everything"]}})


def test_the_library_names_the_scopes_when_its_token_lacks_one(aind_sandbox, aind_settings, world):
    aind_sandbox.load(world)
    aind_settings.set(CODE_OCEAN_API_TOKEN=aind_sandbox.tokens["capsules only"])
    with pytest.raises(errors.AuthenticationError) as info:
        aind_session.Session(MAIN).raw_data_asset
    assert "HTTP 403" in str(info.value)
    assert "Data Asset - Read" in str(info.value)
    assert aind_sandbox.tokens["capsules only"] not in str(info.value)


# -- routes ------------------------------------------------------------------------
def test_every_route_of_the_real_api_is_served_or_a_501_never_a_404(world):
    client = Client(CodeOceanApp(world, TOKEN))
    for line in API_ROUTES:
        methods, _, path = line.rpartition(" ")
        for method in methods.split():
            for kind in ("capsules", "pipelines"):
                url = path.replace("<kind>", kind).replace("<i>", RAW).replace("<j>", RAW)
                response = api(client, method, url, json={})
                if response.status_code != 204:  # no content: nothing to type
                    assert response.mimetype == "application/json", (method, url)
                message = response.get_json()["message"] if response.status_code >= 400 else ""
                # a 404 may say an id is unknown, never that the route is
                assert not message.startswith("No API route"), (method, url)
                assert response.status_code not in (405, 500), (method, url, message)


def test_a_501_names_the_route(world):
    client = Client(CodeOceanApp(world, TOKEN))
    for line in API_ROUTES:
        methods, _, path = line.rpartition(" ")
        for method in methods.split():
            url = path.replace("<kind>", "capsules").replace("<i>", RAW).replace("<j>", RAW)
            response = api(client, method, url, json={})
            if response.status_code == 501:
                assert f"{method} /api/v1/{url}" in response.get_json()["message"]


# -- bodies --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "content_type", "said"),
    [
        ("query=x", "text/plain", "application/json"),
        ("{not json", "application/json", "not valid JSON"),
        ("[1, 2]", "application/json", "JSON object"),
        (json.dumps({"query": "x", "colour": "blue"}), "application/json", "'colour'"),
        (json.dumps({"limit": "ten"}), "application/json", "limit"),
    ],
)
def test_a_bad_search_body_is_a_400_naming_the_problem(world, data, content_type, said):
    client = Client(CodeOceanApp(world, TOKEN))
    response = api(client, "POST", "data_assets/search", data=data, content_type=content_type)
    assert response.status_code == 400
    assert said in response.get_json()["message"]


def test_the_sandbox_takes_the_sdk_only_through_the_shim():
    """Every SDK release from 0.12 must start the sandbox: its modules never import a
    module of the SDK that only some releases have (``codeocean.models`` is 0.17's)."""
    import ast
    import pathlib

    import aind_session.testing

    folder = pathlib.Path(aind_session.testing.__file__).parent
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "codeocean", (path.name, name)


def test_wait_until_ready_does_not_ask_the_api_for_an_external_assets_files(aind_sandbox):
    """The API lists internal assets' files only (the sandbox refuses the rest, as
    documented): an external asset is ready when it says so; an internal one when
    its files are listed too."""
    from aind_session.codeocean import wait_until_ready

    external, internal = (
        "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "1f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    )
    world = {
        "data_assets": [
            {
                "id": external,
                "name": "ecephys_700001_2024-01-01_00-00-00",
                "source_bucket": {"origin": "aws", "bucket": "ext-bucket", "prefix": "p/q"},
            },
            {"id": internal, "name": "ecephys_700001_2024-01-01_00-00-00_sorted"},
        ],
        "s3": {"ext-bucket/p/q/data.bin": "x"},
    }
    aind_sandbox.load(world)
    assert wait_until_ready(external, timeout=5, interval=0.05).id == external
    assert not [r for r in aind_sandbox.requests("codeocean") if r.path.endswith("/files")]
    with pytest.raises(errors.NotReadyError, match="no files visible yet"):
        wait_until_ready(internal, timeout=0.1, interval=0.05)
    listed = [r.status for r in aind_sandbox.requests("codeocean") if r.path.endswith("/files")]
    assert listed and set(listed) == {200}


def test_a_presigned_url_past_its_expiry_is_refused_as_s3_refuses_it(aind_sandbox, monkeypatch):
    import time

    import requests
    from codeocean import CodeOcean

    client = CodeOcean(domain=aind_sandbox.codeocean_url, token=aind_sandbox.token)
    folder = client.computations.list_computation_results("d2d434b4-b2bb-4ca9-92eb-334439282d6a")
    path = next(item.path for item in folder.items if item.type == "file")
    url = client.computations.get_result_file_urls(
        "d2d434b4-b2bb-4ca9-92eb-334439282d6a", path
    ).download_url
    assert "X-Amz-Expires=" in url and aind_sandbox.s3_url in url
    assert requests.get(url, timeout=10).status_code == 200
    later = time.time() + aind_sandbox.codeocean.url_seconds + 60
    monkeypatch.setattr(aind_sandbox.codeocean, "wall_clock", lambda: later)
    response = requests.get(url, timeout=10)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text and "Request has expired" in response.text


def test_a_subjects_assets_are_its_own_though_the_search_returns_near_misses(aind_sandbox):
    """A loose search (as the real index answers) returns assets of other subjects and a
    demo asset for ``subject id:676909``; the library keeps only the subject's own."""
    from aind_session.codeocean import get_subject_data_assets, search_data_assets

    aind_sandbox.codeocean.search_mode = "loose"  # restored by reset()
    aind_session.clear_cache()
    found = search_data_assets({"query": "subject id:676909"})
    strangers = [a for a in found if (a.custom_metadata or {}).get("subject id") != "676909"]
    assert strangers, "the loose search should return near misses"
    mine = get_subject_data_assets(676909)
    assert {a.id for a in strangers if "676909" not in a.name}.isdisjoint(a.id for a in mine)
    for asset in mine:
        assert (asset.custom_metadata or {}).get("subject id") == "676909" or "676909" in asset.name

    aind_sandbox.codeocean.search_mode = "strict"
    aind_session.clear_cache()
    assert [a.id for a in get_subject_data_assets(676909)] == [a.id for a in mine]


def test_a_search_sees_what_a_get_would_of_things_that_move_on_a_clock(world):
    """A new data asset is a draft until its time comes: a search then says ready, as a
    get would, without a get first."""
    app = CodeOceanApp(world, TOKEN, search="strict")
    client = Client(app)
    now = [1_800_000_000.0]
    app.wall_clock = lambda: now[0]  # type: ignore[method-assign]
    made = api(
        client,
        "POST",
        "data_assets",
        json={
            "name": "result of a run",
            "tags": ["t"],
            "mount": "result",
            "source": {"computation": {"id": "d2d434b4-b2bb-4ca9-92eb-334439282d6a"}},
        },
    )
    assert made.status_code == 200 and made.get_json()["state"] == "draft"

    def searched() -> str:
        found = api(client, "POST", "data_assets/search", json={"query": "name:result of"})
        return next(
            r["state"] for r in found.get_json()["results"] if r["id"] == made.get_json()["id"]
        )

    assert searched() == "draft"
    now[0] += 3600
    assert searched() == "ready"


@pytest.mark.parametrize(
    ("message", "too_old"),
    [
        ("The client needs server version 4.8.0 or newer", True),
        ("Min-Server-Version 4.8.0 is not supported", True),
        ("version 9 is not a released version of capsule x", False),
        ("sort_field must be one of created, name, not 'version'.", False),
    ],
)
def test_only_a_400_about_the_server_version_reads_as_a_server_too_old(message, too_old):
    from aind_session.codeocean.client import _version_refused

    assert _version_refused(message) is too_old


def test_a_bare_word_that_is_a_field_name_is_a_word(world):
    """``tag`` alone is a word to find (it is in no name here), not a field to skip;
    ``tag:`` with no value is no term at all."""
    client = Client(CodeOceanApp(world, TOKEN, search="strict"))

    def count(query: str) -> int:
        found = api(client, "POST", "data_assets/search", json={"query": query, "limit": 1000})
        return len(found.get_json()["results"])

    everything = count("")
    assert count("tag:") == everything
    assert count("tag") < everything


def test_private_ownership_leaves_out_what_was_shared(world):
    client = Client(CodeOceanApp(world, TOKEN, search="strict"))

    def private() -> set[str]:
        found = api(
            client, "POST", "data_assets/search", json={"ownership": "private", "limit": 1000}
        )
        return {r["id"] for r in found.get_json()["results"]}

    assert RAW in private()
    shared = api(client, "POST", f"data_assets/{RAW}/permissions", json={"everyone": "viewer"})
    assert shared.status_code == 204
    assert RAW not in private()
