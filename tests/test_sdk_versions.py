"""The SDK shim picks the right names for whichever ``codeocean`` release is installed.

These run under every supported release (CI runs the suite with the newest and
with 0.12.0): the tests of what is true of every release run always, and each
release's known facts are checked when that release is installed.
"""

from __future__ import annotations

import subprocess
import sys
import typing

import pytest

from aind_session import codeocean
from aind_session.codeocean import sdk
from aind_session.codeocean.shapes import SHAPE_ERRORS, record_of

RECORD = {
    "id": "16d46411-540a-4122-b47f-8cb2a15d593a",
    "created": 1702620828,
    "name": "ecephys_676909_2023-12-13_13-43-40",
    "mount": "ecephys_676909_2023-12-13_13-43-40",
    "state": "ready",
    "type": "dataset",
    "last_used": 0,
    "owner": "00000000-0000-4000-8000-000000000001",
    "owner_email": "sandbox@example.org",
}

# what each release is known to do, read from its sources
KNOWN = {
    (0, 12, 0): {
        "homes": {
            "DataAsset": "codeocean.data_asset",
            "Computation": "codeocean.computation",
            "SearchFilter": "codeocean.components",
            "Folder": "codeocean.folder",
        },
        "min_server_version": "4.0.0",
        "owner": False,
    },
    (0, 17, 0): {
        "homes": {
            "DataAsset": "codeocean.models.data_asset",
            "Computation": "codeocean.models.computation",
            "SearchFilter": "codeocean.models.components",
            "Folder": "codeocean.models.folder",
        },
        "min_server_version": "4.8.0",
        "owner": True,
    },
}
SDK_NAMES = [name for name in sdk.__all__ if name[0].isupper()]


def _only_on(release: tuple[int, ...]) -> None:
    if sdk.version() != release:
        pytest.skip(f"codeocean {'.'.join(map(str, sdk.version()))} is installed, not this one")


def _hint(owner: typing.Any, name: str) -> typing.Any:
    """The class a type hint of the SDK's names (``Optional[list[X]]`` gives ``X``)."""
    hint = typing.get_type_hints(owner)[name]
    while typing.get_args(hint):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


# -- under every release -------------------------------------------------------------------
@pytest.mark.parametrize("name", SDK_NAMES)
def test_every_name_is_found_in_the_installed_sdk(name):
    module = sys.modules[sdk.home(name)]
    assert getattr(sdk, name) is getattr(module, name)


def test_once_loaded_the_sdks_names_are_module_attributes():
    """Read as globals (models of thousands of assets ask for ``DataAsset`` each), and
    the same objects ``__getattr__`` gives."""
    sdk.load()
    for name in sdk._names:
        assert vars(sdk)[name] is sdk._names[name]
    assert sdk.DataAsset.__module__.startswith("codeocean.")


def test_each_model_is_the_class_the_sdks_own_client_uses():
    from codeocean.computation import Computations
    from codeocean.data_asset import DataAssets

    assert _hint(DataAssets.get_data_asset, "return") is sdk.DataAsset
    assert _hint(Computations.get_computation, "return") is sdk.Computation
    assert _hint(Computations.run_capsule, "run_params") is sdk.RunParams
    assert _hint(Computations.list_computation_results, "return") is sdk.Folder
    assert _hint(Computations.get_result_file_urls, "return") is sdk.FileURLs
    assert _hint(Computations.get_result_file_download_url, "return") is sdk.DownloadFileURL
    assert _hint(DataAssets.search_data_assets, "return") is sdk.DataAssetSearchResults


def test_search_filters_are_the_classes_the_search_params_hold():
    # 0.17 keeps a stale copy of codeocean.components whose classes these are not
    assert _hint(sdk.DataAssetSearchParams, "filters") is sdk.SearchFilter
    assert _hint(sdk.DataAssetSearchParams, "sort_order") is sdk.SortOrder
    assert _hint(sdk.DataAssetSearchParams, "sort_field") is sdk.DataAssetSortBy


def test_a_server_record_builds_the_installed_model_as_from_dict_does():
    assert codeocean.build_data_asset(RECORD) == sdk.DataAsset.from_dict(RECORD)


def test_the_client_sends_the_installed_sdks_min_server_version(aind_sandbox):
    headers = codeocean.get_client().session.headers
    assert headers["Min-Server-Version"] == sdk.min_server_version()


def test_a_name_the_shim_does_not_know_is_not_given():
    assert getattr(sdk, "Pipelines", None) is None
    with pytest.raises(KeyError, match="'Pipelines'"):
        sdk.home("Pipelines")


def test_a_world_may_name_the_owner_whether_or_not_the_sdk_models_it():
    from aind_session.testing.world import load_world

    entry = {"id": RECORD["id"], "name": RECORD["name"], "owner": "someone"}
    assert load_world({"data_assets": [entry]}).data_assets[RECORD["id"]]["owner"] == "someone"


def test_importing_the_shim_imports_no_sdk():
    code = "import sys, aind_session.codeocean.sdk; print('codeocean' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- what each known release does ----------------------------------------------------------
@pytest.mark.parametrize("release", sorted(KNOWN), ids=lambda r: ".".join(map(str, r)))
def test_names_come_from_where_the_release_keeps_them(release):
    _only_on(release)
    assert {name: sdk.home(name) for name in KNOWN[release]["homes"]} == KNOWN[release]["homes"]


@pytest.mark.parametrize("release", sorted(KNOWN), ids=lambda r: ".".join(map(str, r)))
def test_the_release_sends_its_min_server_version(release):
    _only_on(release)
    assert sdk.min_server_version() == KNOWN[release]["min_server_version"]


@pytest.mark.parametrize("release", sorted(KNOWN), ids=lambda r: ".".join(map(str, r)))
def test_an_answer_without_an_owner_is_malformed_only_where_the_release_requires_one(release):
    _only_on(release)
    without_owner = {k: v for k, v in RECORD.items() if k != "owner"}
    check = record_of(codeocean.data_asset_class)
    if KNOWN[release]["owner"]:
        with pytest.raises(SHAPE_ERRORS, match="lacks owner"):
            check(without_owner)
        assert codeocean.build_data_asset(RECORD).owner == RECORD["owner"]
    else:
        assert check(without_owner) == without_owner
        assert not hasattr(codeocean.build_data_asset(RECORD), "owner")
