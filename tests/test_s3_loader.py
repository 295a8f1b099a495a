"""botocore's loader set up faster (:mod:`aind_session.s3_loader`): the same models, the
same services, the same search paths, and the loader the library's S3 client uses."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import botocore.exceptions
import botocore.loaders
import botocore.session
import pytest

from aind_session import s3_client, s3_loader
from aind_session.testing import Sandbox


@pytest.fixture
def loaders() -> tuple[botocore.loaders.Loader, s3_loader.QuickLoader]:
    return botocore.loaders.Loader(), s3_loader.QuickLoader()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("s3", "service-2"),  # gzipped
        ("s3", "endpoint-rule-set-1"),
        ("sts", "service-2"),  # credentials by assumed role ask it
        ("s3", "paginators-1"),  # plain .json
    ],
)
def test_models_load_the_same_as_botocores(
    loaders: tuple[botocore.loaders.Loader, s3_loader.QuickLoader], name: str, kind: str
) -> None:
    slow, quick = loaders
    model = quick.load_service_model(name, kind)
    assert model == slow.load_service_model(name, kind)
    assert type(model) is dict  # not an OrderedDict: the faster reading


def test_data_files_load_the_same_and_in_the_same_order(
    loaders: tuple[botocore.loaders.Loader, s3_loader.QuickLoader],
) -> None:
    slow, quick = loaders
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        mine, theirs = quick.load_data(name), slow.load_data(name)
        assert json.dumps(mine) == json.dumps(theirs)  # the order of keys too


def test_known_services_are_botocores_and_in_looks_at_one_folder(
    loaders: tuple[botocore.loaders.Loader, s3_loader.QuickLoader],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow, quick = loaders
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p: listed.append(str(p)) or real_listdir(p))
    services = quick.list_available_services("service-2")
    assert "s3" in services and "sts" in services
    assert "no-such-service" not in services
    assert ".." not in services and "../data" not in services and "" not in services
    assert all(Path(p).name in ("s3", "sts", "no-such-service") for p in listed)
    assert list(services) == slow.list_available_services("service-2")  # iterated: all
    assert services == slow.list_available_services("service-2")
    assert len(services) > 100 and services[0] == slow.list_available_services("service-2")[0]


def test_an_unknown_service_is_refused_with_the_known_ones(
    loaders: tuple[botocore.loaders.Loader, s3_loader.QuickLoader],
) -> None:
    _, quick = loaders
    with pytest.raises(botocore.exceptions.UnknownServiceError, match=r"Valid service names.*s3"):
        quick.load_service_model("no-such-service", "service-2")


def test_aws_data_path_is_searched_first_as_botocore_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "models" / "s3" / "2006-03-01"
    own.mkdir(parents=True)
    real = botocore.loaders.Loader().load_service_model("s3", "service-2")
    changed = {**real, "documentation": "the user's own S3 model"}
    (own / "service-2.json").write_text(json.dumps(changed))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    loader = s3_loader.quick_session().get_component("data_loader")
    assert isinstance(loader, s3_loader.QuickLoader)
    assert (
        loader.load_service_model("s3", "service-2")["documentation"] == "the user's own S3 model"
    )
    assert (
        botocore.session.Session().get_component("data_loader").search_paths == loader.search_paths
    )


def test_the_librarys_s3_client_loads_with_the_quick_loader(aind_sandbox: Sandbox) -> None:
    fs = s3_client.get_filesystem()
    assert isinstance(fs.session.get_component("data_loader"), s3_loader.QuickLoader)
    s3_client.connect()
    assert fs.ls("aind-ephys-data")  # a client so made answers


@pytest.fixture
def fresh() -> Iterator[None]:
    """What the S3 client worked out from the environment forgotten, before and after."""
    import aind_session

    aind_session.clear_cache()
    yield
    aind_session.clear_cache()


@pytest.mark.parametrize(
    ("endpoint", "verify"),
    [
        ("http://127.0.0.1:9000", False),  # no TLS: no CA bundle to read
        ("HTTP://minio.example:9000", False),
        ("https://s3.example.org", None),  # verified, as botocore does by default
        (None, None),  # AWS itself: verified
    ],
)
def test_only_a_plain_http_endpoint_skips_reading_the_ca_bundle(
    endpoint: str | None, verify: bool | None, fresh: None
) -> None:
    from aind_session import config

    with config.overridden(s3_endpoint_url=endpoint):
        options = s3_client.storage_options()
    assert options.get("endpoint_url") == endpoint
    assert options.get("client_kwargs", {}).get("verify") == verify


def test_the_session_gets_s3fss_own_session_arguments(
    aind_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile from the fsspec config reaches the session, as s3fs would pass it."""
    import fsspec.config

    import aind_session

    (tmp_path / "config").write_text("[profile lab]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert s3_loader.quick_session(profile="lab").profile == "lab"
    aind_session.clear_cache()
    fsspec.config.conf["s3"] = {"profile": "lab"}
    try:
        fs = s3_client.get_filesystem()
        assert fs.kwargs.get("profile") == "lab" and fs.session.profile == "lab"
    finally:
        del fsspec.config.conf["s3"]
        aind_session.clear_cache()


def test_a_profile_not_found_is_said_by_s3fs_where_it_always_was(
    aind_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.exceptions
    import fsspec.config

    import aind_session

    aind_session.clear_cache()
    monkeypatch.setitem(fsspec.config.conf, "s3", {"profile": "no-such-profile"})
    try:
        fs = s3_client.get_filesystem()  # no error yet, as before
        assert fs.session is None
        with pytest.raises(botocore.exceptions.ProfileNotFound):
            s3_client.connect()
    finally:
        aind_session.clear_cache()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_an_http_endpoint_behind_a_proxy_keeps_verifying(
    variable: str, monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    """A proxy over https is checked with the endpoint's ``verify``: left as it is."""
    from aind_session import config

    monkeypatch.setenv(variable, "https://proxy.example:3128")
    with config.overridden(s3_endpoint_url="http://127.0.0.1:9000"):
        assert "client_kwargs" not in s3_client.storage_options()


def test_an_http_endpoint_leaves_the_users_fsspec_client_kwargs(
    monkeypatch: pytest.MonkeyPatch, fresh: None
) -> None:
    import fsspec.config

    from aind_session import config

    monkeypatch.setitem(fsspec.config.conf, "s3", {"client_kwargs": {"region_name": "x"}})
    with config.overridden(s3_endpoint_url="http://127.0.0.1:9000"):
        assert "client_kwargs" not in s3_client.storage_options()  # theirs, not replaced
