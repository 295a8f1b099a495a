"""Every public method of the installed ``codeocean`` SDK's client, driven against the
sandbox: each answer must parse into the model the method's annotation names.

The list of methods is read from the installed SDK, so a release that adds one
fails :func:`test_every_public_method_of_the_sdk_is_driven_here` until it is
driven here or listed in :data:`NOT_SERVED` (which must match what
:mod:`aind_session.testing.codeocean_server` says it does not serve). The suite
runs with the newest SDK and with 0.12.0 (CI), so both are covered.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from aind_session.codeocean import sdk
from aind_session.testing import codeocean_server
from aind_session.testing.world import SANDBOX_OWNER

GROUPS = ("capsules", "pipelines", "computations", "data_assets", "custom_metadata")
RAW = "16d46411-540a-4122-b47f-8cb2a15d593a"  # external: its files are in its own bucket
INTERNAL = "e7f467f7-8ce3-4173-b593-3e53948adb30"  # its files are in CodeOcean's
WORKSTATION = "5c0ffee0-0000-4000-8000-00000000c10d"  # a running cloud workstation
SPARE_PIPELINE = "5c0ffee0-0000-4000-8000-0000000091e1"  # never released
RELEASED = "70c124bf-e693-45a4-aeb1-c4b62c14d31e"  # a released capsule, with an app panel
# SDK methods the sandbox does not serve: each answers 501 (method -> why)
NOT_SERVED = {
    "capsules.sync_capsule": "needs a git remote; the sandbox has none",
    "pipelines.sync_pipeline": "needs a git remote; the sandbox has none",
    "data_assets.transfer_data_asset": "moves files between storage: admin-only",
}
_MODULES = (
    "codeocean.models.capsule",
    "codeocean.models.computation",
    "codeocean.models.data_asset",
    "codeocean.models.components",
    "codeocean.models.folder",
    "codeocean.capsule",
    "codeocean.computation",
    "codeocean.data_asset",
    "codeocean.components",
    "codeocean.folder",
    "codeocean.custom_metadata",
)


def model(name: str) -> Any:
    """The SDK class ``name``, wherever the installed release keeps it."""
    for module_name in _MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(name)


def public_methods(client: Any) -> list[str]:
    """``group.method`` for every public method of the client's groups."""
    found = []
    for group in GROUPS:
        part = getattr(client, group, None)
        if part is None:
            continue
        for name, _member in inspect.getmembers(type(part), inspect.isfunction):
            if not name.startswith("_"):
                found.append(f"{group}.{name}")
    return sorted(found)


@dataclasses.dataclass
class Ctx:
    """What the calls share: the client, the sandbox and ids made along the way."""

    client: Any
    sandbox: Any
    capsule: str
    pipeline: str
    made: dict[str, Any] = dataclasses.field(default_factory=dict)

    def run(self) -> Any:
        """A fresh computation of the capsule, waited for."""
        if "run" not in self.made:
            RunParams = model("RunParams")
            started = self.client.computations.run_capsule(RunParams(capsule_id=self.capsule))
            self.made["run"] = self.client.computations.wait_until_completed(started)
        return self.made["run"]

    def asset(self) -> Any:
        """A fresh data asset made from the run's results, waited for."""
        if "asset" not in self.made:
            run = self.run()
            params = model("DataAssetParams")(
                name="made by test_sdk_methods",
                tags=["test"],
                mount="made",
                source=model("Source")(computation=model("ComputationSource")(id=run.id)),
            )
            made = self.client.data_assets.create_data_asset(params)
            self.made["asset"] = self.client.data_assets.wait_until_ready(made)
        return self.made["asset"]

    def result_file(self) -> str:
        run = self.run()
        folder = self.client.computations.list_computation_results(run.id)
        return next(item.path for item in folder.items if item.type == "file")

    def asset_file(self) -> str:
        folder = self.client.data_assets.list_data_asset_files(INTERNAL)
        return next(item.path for item in folder.items if item.type == "file")


def _permissions() -> Any:
    return model("Permissions")(users=[], groups=[], everyone="viewer")


def _attached(c: Ctx, group: str, item: str) -> str:
    """``item`` with RAW attached, so that it can be detached."""
    getattr(c.client, group).attach_data_assets(item, [model("DataAssetAttachParams")(id=RAW)])
    return item


def _search(kind: str) -> Any:
    return model("CapsuleSearchParams" if kind != "data" else "DataAssetSearchParams")(
        query="", limit=5
    )


def _in_test_deleting(c: Ctx) -> Any:
    raise AssertionError("deletes are driven by test_deleting, in order")


# group.method -> the call, given the context
CALLS: dict[str, Callable[[Ctx], Any]] = {
    "capsules.get_capsule": lambda c: c.client.capsules.get_capsule(c.capsule),
    "capsules.get_capsule_app_panel": lambda c: c.client.capsules.get_capsule_app_panel(RELEASED),
    "capsules.list_computations": lambda c: c.client.capsules.list_computations(c.capsule),
    "capsules.get_permissions": lambda c: c.client.capsules.get_permissions(c.capsule),
    "capsules.update_permissions": lambda c: c.client.capsules.update_permissions(
        c.capsule, _permissions()
    ),
    "capsules.attach_data_assets": lambda c: c.client.capsules.attach_data_assets(
        c.capsule, [model("DataAssetAttachParams")(id=RAW)]
    ),
    "capsules.detach_data_assets": lambda c: c.client.capsules.detach_data_assets(
        _attached(c, "capsules", c.capsule), [RAW]
    ),
    "capsules.archive_capsule": lambda c: c.client.capsules.archive_capsule(c.capsule, False),
    "capsules.delete_capsule": _in_test_deleting,
    "capsules.search_capsules": lambda c: c.client.capsules.search_capsules(_search("capsule")),
    "capsules.search_capsules_iterator": lambda c: c.client.capsules.search_capsules_iterator(
        _search("capsule")
    ),
    "capsules.search_pipelines": lambda c: c.client.capsules.search_pipelines(_search("p")),
    "capsules.search_pipelines_iterator": lambda c: c.client.capsules.search_pipelines_iterator(
        _search("p")
    ),
    "capsules.release_capsule": lambda c: c.client.capsules.release_capsule(RELEASED),
    "capsules.get_release_job": lambda c: c.client.capsules.get_release_job(
        RELEASED, c.client.capsules.release_capsule(RELEASED).job_id
    ),
    "capsules.wait_until_release_completed": lambda c: (
        c.client.capsules.wait_until_release_completed(
            RELEASED, c.client.capsules.release_capsule(RELEASED)
        )
    ),
    "pipelines.get_pipeline": lambda c: c.client.pipelines.get_pipeline(c.pipeline),
    "pipelines.get_pipeline_app_panel": lambda c: c.client.pipelines.get_pipeline_app_panel(
        c.pipeline
    ),
    "pipelines.list_computations": lambda c: c.client.pipelines.list_computations(c.pipeline),
    "pipelines.get_permissions": lambda c: c.client.pipelines.get_permissions(c.pipeline),
    "pipelines.update_permissions": lambda c: c.client.pipelines.update_permissions(
        c.pipeline, _permissions()
    ),
    "pipelines.attach_data_assets": lambda c: c.client.pipelines.attach_data_assets(
        c.pipeline, [model("DataAssetAttachParams")(id=RAW)]
    ),
    "pipelines.detach_data_assets": lambda c: c.client.pipelines.detach_data_assets(
        _attached(c, "pipelines", c.pipeline), [RAW]
    ),
    "pipelines.archive_pipeline": lambda c: c.client.pipelines.archive_pipeline(c.pipeline, False),
    "pipelines.delete_pipeline": _in_test_deleting,
    "pipelines.search_pipelines": lambda c: c.client.pipelines.search_pipelines(_search("p")),
    "pipelines.search_pipelines_iterator": lambda c: c.client.pipelines.search_pipelines_iterator(
        _search("p")
    ),
    "pipelines.release_pipeline": lambda c: c.client.pipelines.release_pipeline(c.pipeline),
    "pipelines.get_release_job": lambda c: c.client.pipelines.get_release_job(
        c.pipeline, c.client.pipelines.release_pipeline(c.pipeline).job_id
    ),
    "pipelines.wait_until_release_completed": lambda c: (
        c.client.pipelines.wait_until_release_completed(
            c.pipeline, c.client.pipelines.release_pipeline(c.pipeline)
        )
    ),
    "computations.get_computation": lambda c: c.client.computations.get_computation(c.run().id),
    "computations.run_pipeline": lambda c: c.client.computations.run_pipeline(
        model("RunParams")(pipeline_id=c.pipeline)
    ),
    "computations.run_capsule": lambda c: c.client.computations.run_capsule(
        model("RunParams")(
            capsule_id=c.capsule,
            data_assets=[model("DataAssetsRunParam")(id=RAW, mount="raw")],
            parameters=["--fast"],
        )
    ),
    "computations.wait_until_completed": lambda c: c.client.computations.wait_until_completed(
        c.client.computations.run_capsule(model("RunParams")(capsule_id=c.capsule))
    ),
    "computations.attach_data_assets": lambda c: c.client.computations.attach_data_assets(
        WORKSTATION, [model("DataAssetAttachParams")(id=RAW)]
    ),
    "computations.detach_data_assets": lambda c: c.client.computations.detach_data_assets(
        _attached(c, "computations", WORKSTATION), [RAW]
    ),
    "computations.list_computation_results": lambda c: (
        c.client.computations.list_computation_results(c.run().id)
    ),
    "computations.get_result_file_download_url": lambda c: (
        c.client.computations.get_result_file_download_url(c.run().id, c.result_file())
    ),
    "computations.get_result_file_urls": lambda c: c.client.computations.get_result_file_urls(
        c.run().id, c.result_file()
    ),
    "computations.rename_computation": lambda c: c.client.computations.rename_computation(
        c.run().id, "renamed by test_sdk_methods"
    ),
    "computations.delete_computation": _in_test_deleting,
    "data_assets.get_data_asset": lambda c: c.client.data_assets.get_data_asset(RAW),
    "data_assets.update_metadata": lambda c: c.client.data_assets.update_metadata(
        c.asset().id,
        model("DataAssetUpdateParams")(name="renamed", description="d", tags=["t"], mount="m"),
    ),
    "data_assets.create_data_asset": lambda c: c.asset(),
    "data_assets.wait_until_ready": lambda c: c.client.data_assets.wait_until_ready(c.asset()),
    "data_assets.delete_data_asset": _in_test_deleting,
    "data_assets.update_permissions": lambda c: c.client.data_assets.update_permissions(
        RAW, _permissions()
    ),
    "data_assets.get_permissions": lambda c: c.client.data_assets.get_permissions(RAW),
    "data_assets.archive_data_asset": lambda c: c.client.data_assets.archive_data_asset(
        c.asset().id, True
    ),
    "data_assets.search_data_assets": lambda c: c.client.data_assets.search_data_assets(
        _search("data")
    ),
    "data_assets.search_data_assets_iterator": lambda c: (
        c.client.data_assets.search_data_assets_iterator(_search("data"))
    ),
    "data_assets.list_data_asset_files": lambda c: c.client.data_assets.list_data_asset_files(
        INTERNAL
    ),
    "data_assets.get_data_asset_file_download_url": lambda c: (
        c.client.data_assets.get_data_asset_file_download_url(INTERNAL, c.asset_file())
    ),
    "data_assets.get_data_asset_file_urls": lambda c: c.client.data_assets.get_data_asset_file_urls(
        INTERNAL, c.asset_file()
    ),
    "custom_metadata.get_custom_metadata": lambda c: c.client.custom_metadata.get_custom_metadata(),
}
DELETES = ("capsules.delete_capsule", "pipelines.delete_pipeline")
DELETES += ("computations.delete_computation", "data_assets.delete_data_asset")


@pytest.fixture
def ctx(aind_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctx]:
    from codeocean import CodeOcean

    sandbox = aind_sandbox
    clock = itertools.count(start=1_000_000.0, step=1.0)
    now = [next(clock)]
    sandbox_app = sandbox.codeocean
    monkeypatch.setattr(sandbox_app, "clock", lambda: now[0])

    def sleep(seconds: float) -> None:  # the SDK's waits move the sandbox's clock instead
        now[0] += seconds

    for module_name in ("codeocean.computation", "codeocean.data_asset", "codeocean.capsule"):
        module = importlib.import_module(module_name)
        if hasattr(module, "sleep"):
            monkeypatch.setattr(module, "sleep", sleep)
    world = sandbox_app.world.copy()
    world.computations[WORKSTATION] = {  # as CodeOcean answers a cloud workstation session
        "id": WORKSTATION,
        "capsule_id": next(iter(world.capsules)),
        "name": "Cloud Workstation",
        "created": 1_700_000_000,
        "owner": SANDBOX_OWNER,
        "run_time": 0,
        "state": "running",
        "cloud_workstation": True,
        "results": {},
    }
    pipeline = world.pipelines[next(iter(world.pipelines))]  # released, with a panel
    pipeline["status"] = "release"
    pipeline["versions"] = [{"major_version": 1, "minor_version": 0, "release_time": 1_700_000}]
    pipeline["app_panel"] = copy.deepcopy(world.capsules[RELEASED]["app_panel"])
    world.pipelines[SPARE_PIPELINE] = {**pipeline, "id": SPARE_PIPELINE, "status": "non_release"}
    world.pipelines[SPARE_PIPELINE].update(versions=None, name="never released")
    sandbox.load(world)
    monkeypatch.setattr(sandbox_app, "clock", lambda: now[0])  # load() keeps it; be sure
    client = CodeOcean(domain=sandbox.codeocean_url, token=sandbox.token)
    yield Ctx(client, sandbox, next(iter(world.capsules)), next(iter(world.pipelines)))


def test_every_public_method_of_the_sdk_is_driven_here() -> None:
    from codeocean import CodeOcean

    client = CodeOcean(domain="http://127.0.0.1:9", token="COP_x")
    missing = set(public_methods(client)) - set(CALLS) - set(NOT_SERVED)
    assert not missing, f"drive these SDK methods in CALLS (or list them in NOT_SERVED): {missing}"


def test_the_methods_not_served_are_those_the_server_says() -> None:
    said = codeocean_server.__doc__ or ""
    for name in NOT_SERVED:
        assert name.split(".")[1] in said, f"{name} is not served: say so in the server's docstring"


def _installed(name: str) -> bool:
    from codeocean import CodeOcean

    return name in public_methods(CodeOcean(domain="http://127.0.0.1:9", token="COP_x"))


def _check_answer(name: str, method: Any, answer: Any) -> None:
    """The answer is what the method's return annotation names."""
    annotation = inspect.signature(method).return_annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if annotation is inspect.Signature.empty or text in ("None", ""):
        assert answer is None, (name, answer)
        return
    outer, inner = re.fullmatch(r"(?:(list|Iterator)\[)?(\w+)\]?", text).groups()  # type: ignore[union-attr]
    items = list(itertools.islice(answer, 50)) if outer else [answer]
    if outer == "list":
        assert isinstance(answer, list), (name, answer)
    assert items, f"{name} answered nothing to check"
    for item in items:
        assert type(item).__name__ == inner, (name, item)
        assert dataclasses.is_dataclass(item), (name, item)


@pytest.mark.parametrize("name", sorted(n for n in CALLS if n not in (*DELETES, *NOT_SERVED)))
def test_each_sdk_method_is_answered_in_its_models(ctx: Ctx, name: str) -> None:
    if not _installed(name):
        pytest.skip(f"codeocean {sdk.version()} has no {name}")
    group, method_name = name.split(".")
    method = getattr(getattr(ctx.client, group), method_name)
    answer = CALLS[name](ctx)
    _check_answer(name, method, answer)


@pytest.mark.parametrize("name", sorted(NOT_SERVED))
def test_a_method_not_served_is_a_501_naming_its_route(ctx: Ctx, name: str) -> None:
    if not _installed(name):
        pytest.skip(f"codeocean {sdk.version()} has no {name}")
    group, method_name = name.split(".")
    method = getattr(getattr(ctx.client, group), method_name)
    args: dict[str, tuple[Any, ...]] = {
        "sync_capsule": (ctx.capsule,),
        "sync_pipeline": (ctx.pipeline,),
        "transfer_data_asset": (
            RAW,
            model("TransferDataParams")(
                target=model("Target")(aws=model("AWSS3Target")(bucket="elsewhere"))
            ),
        ),
    }
    with pytest.raises(sdk.Error) as info:
        if method_name in args:
            method(*args[method_name])
        else:
            CALLS[name](ctx)
    assert info.value.status_code == 501


def test_deleting(ctx: Ctx) -> None:
    """Each delete removes what it names: a later get is a 404."""
    data_assets, computations = ctx.client.data_assets, ctx.client.computations
    asset = ctx.asset()
    data_assets.delete_data_asset(asset.id)
    with pytest.raises(sdk.Error) as info:
        data_assets.get_data_asset(asset.id)
    assert info.value.status_code == 404

    run = ctx.run()
    computations.delete_computation(run.id)
    with pytest.raises(sdk.Error) as info:
        computations.get_computation(run.id)
    assert info.value.status_code == 404

    groups = [("capsules", "capsule", ctx.capsule, RELEASED)]
    if getattr(ctx.client, "pipelines", None) is not None:
        groups.append(("pipelines", "pipeline", SPARE_PIPELINE, ctx.pipeline))
    for group, kind, item, released in groups:
        part = getattr(ctx.client, group)
        getattr(part, f"archive_{kind}")(released, True)
        with pytest.raises(sdk.Error) as info:  # a released one is kept
            getattr(part, f"delete_{kind}")(released)
        assert info.value.status_code == 403
        getattr(part, f"archive_{kind}")(item, True)  # only an archived one may be deleted
        getattr(part, f"delete_{kind}")(item)
        with pytest.raises(sdk.Error) as info:
            getattr(part, f"get_{kind}")(item)
        assert info.value.status_code == 404


def test_urls_the_sdk_is_given_download_the_file(ctx: Ctx) -> None:
    url = ctx.client.data_assets.get_data_asset_file_urls(INTERNAL, ctx.asset_file()).download_url
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content
