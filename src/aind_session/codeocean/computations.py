"""Computations: listing a capsule's runs, searching them, starting one, their
output and result files, and waiting for a data asset to be ready."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aind_session import cache, errors, persistent
from aind_session.codeocean import sdk
from aind_session.codeocean.assets import fetch_data_asset, normalize_id
from aind_session.codeocean.client import download, request
from aind_session.codeocean.models import COMPUTATIONS, build_computation, computation_class
from aind_session.codeocean.shapes import download_url, folder_names, list_of, record_of

if TYPE_CHECKING:
    from codeocean.computation import Computation
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)


def list_computations(capsule_or_pipeline_id: str) -> tuple[Computation, ...]:
    """Every computation of a capsule or pipeline (cached), oldest first.

    Raises
    ------
    aind_session.errors.NotFoundError
        When CodeOcean knows no capsule or pipeline of that id (or the token
        cannot see it).

    Examples
    --------
    >>> [run.name for run in list_computations('f3dfb754-489d-4769-b131-c83f3c028583')]
    ['behavior processing: behavior_676909_2023-12-15_09-30-00']
    >>> len(list_computations('1f8f159a-7670-47a9-baf1-078905fc9c2e'))
    8
    """
    return _list_computations(str(capsule_or_pipeline_id))


def hint_computations(capsule_or_pipeline_id: str) -> None:
    """Inside :func:`aind_session.batch.gather`: list the computations of a capsule
    or pipeline with the next round (a guess; see :func:`aind_session.cache.hint_call`).
    Nothing elsewhere."""
    cache.hint_call(_list_computations, str(capsule_or_pipeline_id))


@cache.cached(persist=COMPUTATIONS, remote=True)
def _list_computations(capsule_id: str) -> tuple[Computation, ...]:
    from aind_session.config import get_settings

    what = f"listing computations of capsule or pipeline {capsule_id}"
    check = list_of(record_of(computation_class))
    records = None
    # a pipeline's runs are under pipelines/ (capsules/ answers 404 for it): the one
    # pipeline the library knows is asked there first, anything else as a capsule first
    routes = ("capsules", "pipelines")
    if capsule_id == get_settings().sorting_pipeline_id:
        routes = routes[::-1]
    for route in routes:
        try:
            records = request(what, "GET", f"{route}/{capsule_id}/computations", check)
            break
        except errors.NotFoundError:
            continue
    if records is None:
        raise errors.NotFoundError(
            f"CodeOcean has no capsule or pipeline {capsule_id!r} with computations the "
            "token can see; check the id."
        )
    runs = map(build_computation, records or [])
    return tuple(sorted(runs, key=lambda c: (c.created, c.id)))


def run_capsule(capsule_id: str, asset: DataAsset, parameters: list[str]) -> Computation:
    """Start a capsule (or pipeline) run with ``asset`` attached, and return it.

    Never asked again once the request may have reached the service (only a
    refused connection and a 429 are retried), so a capsule cannot start
    twice. Once the service has said the run started, the run is returned
    whatever fails afterwards (forgetting the capsule's cached computation
    list is only warned about), so a caller never starts it again by mistake.

    Raises
    ------
    aind_session.errors.ServiceError
        When the service did not say the run started; or said so with an
        answer that holds no computation (the message says so: look at the
        capsule's runs before starting another).
    """
    params = sdk.RunParams(
        capsule_id=capsule_id,
        data_assets=[sdk.DataAssetsRunParam(id=asset.id, mount=asset.mount)],
        parameters=parameters,
    )
    what = f"starting a run of capsule {capsule_id}"
    try:
        record = request(
            what,
            "POST",
            "computations",
            record_of(computation_class),
            for_runs=True,
            json=params.to_dict(),
        )
    except errors.ServiceError as exc:
        if isinstance(exc, errors.OfflineCacheMissError) or "answered HTTP 4" in str(exc):
            raise  # nothing was sent, or it was refused: nothing was started
        # the request may have reached the service (a cut, a stall, a gateway's
        # 5xx, a malformed answer to a POST that worked): say so, never retry
        raise errors.ServiceError(
            f"{exc} The run may have been started all the same: look at the runs of "
            f"capsule {capsule_id} before starting another."
        ) from None
    run = build_computation(record)
    try:
        cache.forget(_list_computations, capsule_id)
    except Exception as exc:  # the run is started: never make the caller start it again
        logger.warning(
            "run %s started, but the cached runs of %s could not be forgotten (%s: %s)",
            run.id,
            capsule_id,
            type(exc).__name__,
            exc,
        )
    return run


def refresh_computations(capsule_or_pipeline_id: str) -> tuple[Computation, ...]:
    """:func:`list_computations`, asked again now (not from the cache).

    >>> [run.id for run in refresh_computations('f3dfb754-489d-4769-b131-c83f3c028583')]
    ['e9e8ed09-0cdc-4310-a2f3-4dbe3ac10f60']
    """
    cache.forget(_list_computations, str(capsule_or_pipeline_id))
    return list_computations(capsule_or_pipeline_id)


def get_computation(computation: Any) -> Computation:
    """One computation by id (with or without hyphens) or model (re-fetched, not cached).

    Raises
    ------
    ValueError
        When the id is not a UUID.
    aind_session.errors.NotFoundError
        When CodeOcean does not know it.

    Examples
    --------
    >>> get_computation('d2d434b4b2bb4ca992eb334439282d6a').name
    'sorting pipeline: ecephys_676909_2023-12-13_13-43-40 (kilosort4)'
    """
    comp_id = normalize_id(computation, "computation")
    try:
        record = request(
            f"getting computation {comp_id}",
            "GET",
            f"computations/{comp_id}",
            record_of(computation_class),
        )
        return build_computation(record)
    except errors.NotFoundError:
        raise errors.NotFoundError(
            f"CodeOcean has no computation {comp_id!r}, or the token cannot see it; check the id."
        ) from None


IN_PROGRESS_STATES = ("initializing", "running", "finalizing")


def computation_state(computation: Computation) -> str:
    """A computation's state as text (``'running'``, ``'failed'``, ...).

    >>> computation_state(get_computation('d2d434b4-b2bb-4ca9-92eb-334439282d6a')), computation_state(get_computation('31299b75-98af-4a99-906a-819bf1e759f2'))
    ('completed', 'running')
    """
    state = computation.state
    return str(getattr(state, "value", state))


def is_computation(item: Any) -> bool:
    """True when ``item`` is the SDK's ``Computation``.

    >>> is_computation(get_computation('d2d434b4-b2bb-4ca9-92eb-334439282d6a')), is_computation('d2d434b4-b2bb-4ca9-92eb-334439282d6a')
    (True, False)
    """
    return isinstance(item, computation_class())


def search_computations(
    capsule_or_pipeline_id: str,
    name: str | None = None,
    attached_data_asset_id: str | None = None,
    has_results: bool | None = None,
    in_progress: bool | None = None,
    state: str | None = None,
    date: Any = None,
    start_date: Any = None,
    end_date: Any = None,
) -> tuple[Computation, ...]:
    """Computations of a capsule or pipeline matching every filter given, oldest first.

    Parameters
    ----------
    capsule_or_pipeline_id
        The capsule or pipeline that ran them.
    name
        Exact computation name.
    attached_data_asset_id
        Keep runs with this data asset attached (id, ``uuid.UUID`` or model).
    has_results, in_progress
        ``True`` or ``False`` keeps runs with or without results / still running
        (initializing, running or finalizing); ``None`` keeps both.
    state
        One of ``initializing``, ``running``, ``finalizing``, ``completed``, ``failed``.
    date, start_date, end_date
        Creation date (any form of :func:`aind_session.dates.parse_date`), or
        an inclusive range.

    Returns
    -------
    tuple[Computation, ...]
        ``()`` when nothing matches.

    Examples
    --------
    >>> runs = search_computations('1f8f159a-7670-47a9-baf1-078905fc9c2e', in_progress=True)
    >>> all(r.state in ('initializing', 'running', 'finalizing') for r in runs)
    True
    """
    from aind_session.dates import date_range, from_timestamp

    states = (*IN_PROGRESS_STATES, "completed", "failed")
    if state is not None and state not in states:
        raise errors.InvalidInputError(f"state must be one of {', '.join(states)}, not {state!r}.")
    window = date_range(date, start_date, end_date)
    asset_id = None if attached_data_asset_id is None else normalize_id(attached_data_asset_id)
    matches = []
    for run in list_computations(capsule_or_pipeline_id):
        if name is not None and run.name != name:
            continue
        if asset_id is not None and asset_id not in {a.id for a in run.data_assets or ()}:
            continue
        if has_results is not None and bool(run.has_results) != has_results:
            continue
        if (
            in_progress is not None
            and (computation_state(run) in IN_PROGRESS_STATES) != in_progress
        ):
            continue
        if state is not None and computation_state(run) != state:
            continue
        if from_timestamp(run.created) not in window:
            continue
        matches.append(run)
    return tuple(matches)


@cache.cached(persist=persistent.TEXT, remote=True)
def computation_output(comp_id: str) -> str:
    """Text of a computation's ``output`` file (cached); ``''`` when it has none.

    >>> computation_output('d2d434b4-b2bb-4ca9-92eb-334439282d6a').splitlines()[0]
    'N E X T F L O W  ~  version 23.10.1'
    >>> computation_output('31299b75-98af-4a99-906a-819bf1e759f2')  # still running: no output yet
    ''
    """
    what = f"the output of computation {comp_id}"
    try:
        url = request(
            f"getting {what}",
            "GET",
            f"computations/{comp_id}/results/urls",
            download_url,
            params={"path": "output"},
        )
    except errors.NotFoundError:
        return ""
    return download(url, what)


@cache.cached(persist=persistent.STRINGS, remote=True)
def list_result_files(comp_id: str) -> tuple[str, ...]:
    """Top-level names in a computation's results folder (cached); ``()`` when it has none.

    >>> list_result_files('d2d434b4-b2bb-4ca9-92eb-334439282d6a')
    ('nextflow', 'nwb', 'output', 'processing.json')
    >>> list_result_files('31299b75-98af-4a99-906a-819bf1e759f2')  # still running: no results yet
    ()
    """
    try:
        return request(
            f"listing the results of computation {comp_id}",
            "POST",
            f"computations/{comp_id}/results",
            folder_names,
            json={"path": ""},
        )
    except errors.NotFoundError:
        return ()


def _files_visible(asset: DataAsset) -> bool:
    """Whether any file of a ready asset can be seen through the API. An asset kept
    outside CodeOcean is made from files already in its bucket, which the API does
    not list (it lists internal assets' files only): ready is enough there."""
    bucket = asset.source_bucket
    if bucket is not None and (
        bucket.external or (bucket.external is None and _outside_codeocean(bucket))
    ):
        return True
    return bool(
        request(
            f"listing the files of data asset {asset.id}",
            "POST",
            f"data_assets/{asset.id}/files",
            folder_names,
            json={"path": ""},
        )
    )


def _outside_codeocean(bucket: Any) -> bool:
    """For a server that does not say ``external``: an S3 or GCS bucket named, and not
    CodeOcean's own (whose names start ``codeocean-``)."""
    origin = str(getattr(bucket.origin, "value", bucket.origin))
    name = bucket.bucket or ""
    return origin in ("aws", "gcp") and bool(name) and not name.startswith("codeocean-")


def wait_until_ready(
    asset: Any, check_files: bool = True, timeout: float = 60, interval: float = 5
) -> DataAsset:
    """Poll until a data asset is ready (and, with ``check_files``, its files are visible
    through the API; an asset kept outside CodeOcean has its files in its bucket
    already, and the API does not list them: ready is enough there).

    Raises
    ------
    aind_session.errors.NotReadyError
        (a ``TimeoutError``) when it is not ready within ``timeout`` seconds; says
        its last state.
    aind_session.errors.ServiceError
        When the asset's state is ``failed``.

    Examples
    --------
    >>> wait_until_ready('16d46411-540a-4122-b47f-8cb2a15d593a', timeout=10, interval=1).name
    'ecephys_676909_2023-12-13_13-43-40'
    """
    import time

    asset_id = normalize_id(asset)
    deadline = time.monotonic() + timeout
    while True:
        model = fetch_data_asset(asset_id)
        state = str(getattr(model.state, "value", model.state))
        if state == "failed":
            raise errors.ServiceError(
                f"Data asset {asset_id} failed to build: {model.failure_reason or 'no reason given'}."
            )
        if state == "ready":
            if not check_files or _files_visible(model):
                return model
            state = "ready, but no files visible yet"
        if time.monotonic() + interval > deadline:
            raise errors.NotReadyError(
                f"Data asset {asset_id} was not ready within {timeout} s (last state: {state})."
            )
        time.sleep(interval)
