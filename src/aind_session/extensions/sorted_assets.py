"""Sorted data assets: the model (`SortedDataAsset`), its sorter-name lookup,
and the batch prefetch of a session's sorted assets.

>>> from aind_session import Session
>>> asset = Session('ecephys_676909_2023-12-13_13-43-40').ecephys.sorted_data_asset
>>> asset.sorter_name, asset.sorted_probes
('kilosort4', ('ProbeA', 'ProbeB', 'ProbeF'))

The folder layouts read are described in
:mod:`aind_session.extensions.sorted_layouts`.

Work on several sorted assets runs concurrently (bounded by
``Settings.s3_max_concurrency``), never asset by asset: the first time a
property is asked of one sorted asset, it is fetched for every sorted asset
of the session at once (see :func:`prefetch_siblings`), so a loop over them
waits once per property, not once per asset.

This module sits below the ``session.ecephys`` namespace
(:mod:`aind_session.extensions.ecephys`), which re-exports its public names.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import cache, errors, persistent
from aind_session.extensions.sorted_layouts import (
    PROBE_FOLDERS,
    SORTING_INFO,
    is_sorted_data_asset,
    probe_name,
    sorter_from_processing,
    sorter_from_sorting_info,
)

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset
    from upath import UPath

    from aind_session import folders


logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


@cache.cached(persist=persistent.PLAIN)
def _sorter_name(folder: str) -> str | None:
    """The sorter named by the first file that names one; None when no file does.

    Raises
    ------
    aind_session.errors.CorruptFileError
        When no file names the sorter and one could not be parsed: that one
        may, so "no sorter" would be a wrong answer.
    """
    corrupt: list[errors.CorruptFileError] = []
    name = _find_sorter_name(folder, corrupt)
    if name is None and corrupt:
        raise corrupt[0]
    if corrupt:
        logger.warning("%s The sorter name %r was read from another file.", corrupt[0], name)
    return name


def _find_sorter_name(folder: str, corrupt: list[errors.CorruptFileError]) -> str | None:
    from aind_session import s3

    def read(path: str) -> Any:
        try:
            return s3.read_json(path)
        except FileNotFoundError:
            return None
        except errors.CorruptFileError as exc:
            corrupt.append(exc)
            return None

    listing = s3.list_folder(folder)
    if "processing.json" in listing.file_names:
        name = sorter_from_processing(read(f"{folder}/processing.json"))
        if name:
            return name
    for sub, file in SORTING_INFO:
        if sub not in listing.folders:
            continue
        for recording in s3.list_folder(f"{folder}/{sub}").folders:
            if recording.endswith(".zarr"):
                continue
            name = sorter_from_sorting_info(read(f"{folder}/{sub}/{recording}/{file}"))
            if name:
                return name
    if "params.json" in listing.file_names:
        params = read(f"{folder}/params.json")
        if isinstance(params, dict):
            name = (params.get("spikesorting") or {}).get("sorter_name")
            if name:
                return str(name)
    return None


if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset as _DataAsset
else:  # the SDK is imported by the CodeOcean layer, when this module is first used
    from aind_session import codeocean as _codeocean

    _DataAsset = _codeocean.data_asset_class()


@dataclasses.dataclass(frozen=True)
class SortedDataAsset(_DataAsset):
    """The SDK's ``DataAsset`` of a spike-sorting result, with what is inside it.

    Every extra property reads S3 on first use and is cached.
    """

    @classmethod
    def from_asset(cls, asset: DataAsset) -> SortedDataAsset:
        if isinstance(asset, cls):
            return asset
        return cls(**{f.name: getattr(asset, f.name) for f in dataclasses.fields(_DataAsset)})

    def _folder(self) -> str:
        from aind_session import folders

        folder = folders.data_asset_dir(self)
        if folder is None:
            raise errors.NoSortedDataError(
                f"The files of sorted data asset {self.id} ({self.name}) were not found: "
                "neither its source_bucket nor the known data buckets hold them."
            )
        return folder

    @property
    @cache.public_call()
    def path(self) -> UPath:
        """The asset's folder."""
        from aind_session import s3

        return s3.upath(self._folder())

    def _with_siblings(self, part: str) -> None:
        """Before a property is first asked: fetch ``part`` for every sorted asset
        of this session at once (see :func:`prefetch_siblings`)."""
        prefetch_siblings(self.name, part)

    @property
    @cache.public_call()
    def output(self) -> str:
        """Text of the ``output`` file; ``''`` when there is none."""
        from aind_session import verdicts

        self._with_siblings("error")
        return verdicts.get_output_text(self)

    @property
    @cache.public_call()
    def sorted_probes(self) -> tuple[str, ...]:
        """Probes with sorting results, from folder names under ``curated/`` (or ``sorting_precurated/``)."""
        from aind_session import s3

        self._with_siblings("probes")
        folder = self._folder()
        listing = s3.list_folder(folder)
        for sub in PROBE_FOLDERS:
            if sub in listing.folders:
                names = s3.list_folder(f"{folder}/{sub}").folders
                return tuple(sorted({probe_name(n) for n in names}))
        return ()

    @property
    @cache.public_call()
    def sorter_name(self) -> str:
        """Name of the spike sorter used (e.g. ``'kilosort4'``).

        Raises
        ------
        aind_session.errors.NoSorterNameError
            (an ``AttributeError``, and a ``ValueError`` as before) when no
            file names it: the sorting probably failed.
        aind_session.errors.CorruptFileError
            When no file names it and one could not be parsed: the sorter is
            unknown, not missing.
        """
        self._with_siblings("sorter")
        name = _sorter_name(self._folder())
        if name is None:
            raise errors.NoSorterNameError(
                f"No sorter name was found in sorted data asset {self.id} ({self.name}): looked "
                "in processing.json, spikesorted/*/si_folder.json, postprocessed/*/sorting.json "
                "and params.json. The sorting probably failed; check its output."
            )
        return name

    @property
    @cache.public_call()
    def is_sorting_error(self) -> bool:
        """True when the sorting failed (see :func:`aind_session.verdicts.is_data_asset_error`).

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When its files could not be looked at: the verdict is unknown.
        """
        from aind_session import verdicts

        self._with_siblings("error")
        return verdicts.is_data_asset_error(self)

    @property
    @cache.public_call()
    def is_sorting_analyzer(self) -> bool:
        """True when results were saved as a SpikeInterface sorting analyzer (``.zarr``)."""
        from aind_session import s3

        self._with_siblings("analyzer")
        folder = self._folder()
        if "postprocessed" not in s3.list_folder(folder).folders:
            return False
        return any(n.endswith(".zarr") for n in s3.list_folder(f"{folder}/postprocessed").folders)


def prefetch(
    assets: Sequence[DataAsset],
    parts: Iterable[str] = ("error", "sorter", "probes"),
    *,
    also_locate: Mapping[K, folders.Groups] | None = None,
) -> dict[K, folders.Located | Exception]:
    """Fetch what ``parts`` of many sorted assets need, in as few rounds of
    concurrent requests as possible, so their properties are answered from the cache.

    First round, all at once: each asset's folder where it was found before or
    where its ``source_bucket`` says (else the known buckets), together with
    the files ``parts`` usually need there: ``output`` (``"error"``),
    ``processing.json`` (``"sorter"``) and the ``curated/`` listing
    (``"probes"``). A file that turns out not to be there costs one wasted
    request, and the folder's listing then says so without asking again.
    Later rounds, only where needed: the known buckets for assets whose
    ``source_bucket`` folder is empty; what the folders' listings show the
    older layouts need (``sorting_precurated/``; for the sorter ``spikesorted/``
    or ``postprocessed/`` and then one recording's file there, or
    ``params.json``); the ``postprocessed/`` listing (``"analyzer"``).

    ``also_locate`` is probed in the same rounds for the caller (see
    :func:`aind_session.folders.locate_many`), whose results are returned.
    """
    from aind_session import codeocean, s3
    from aind_session.config import get_settings

    settings = get_settings()
    if settings.cache_ttl <= 0:  # nothing fetched here would be kept for the properties
        return {}
    wanted = set(parts)
    known = _known_folders(assets)
    listings, reads = [], []
    if not settings.offline:  # offline, a guess that is not cached could not be asked
        for asset in assets:
            # where its files were found before, else where source_bucket says
            folder = known.get(asset.id) or codeocean.source_url(asset)
            if folder is None or not folder.startswith("s3://") or s3.is_listed(folder):
                continue
            listings += [f"{folder}/{PROBE_FOLDERS[0]}"] if "probes" in wanted else []
            reads += [f"{folder}/processing.json"] if "sorter" in wanted else []
            reads += [f"{folder}/output"] if "error" in wanted else []
    dirs, others = _locate_folders(assets, known, also_locate or {}, (listings, reads))
    # what the guesses did not settle, from the folders' listings (cached by now)
    on_s3 = [f for f in dirs.values() if f.startswith("s3://")]
    roots = s3.list_folders(on_s3)
    listings, reads = [], []
    fallbacks = []  # folders whose sorter is not in processing.json
    for folder in on_s3:
        root = roots[s3.clean(folder)]
        if not isinstance(root, s3.Listing):
            continue
        if "probes" in wanted:
            sub = next((f for f in PROBE_FOLDERS if f in root.folders), None)
            listings += [f"{folder}/{sub}"] if sub else []
        if "sorter" not in wanted or _sorter_known(folder):
            pass
        elif "processing.json" in root.file_names:
            reads.append(f"{folder}/processing.json")
        else:
            fallbacks.append(folder)
            listings += [f"{folder}/{sub}" for sub, _ in SORTING_INFO if sub in root.folders]
        if "error" in wanted and "output" in root.file_names:
            reads.append(f"{folder}/output")
        if "analyzer" in wanted and "postprocessed" in root.folders:
            listings.append(f"{folder}/postprocessed")
    if listings or reads:
        s3.fetch(listings, reads)
    if fallbacks:  # the files the lazy path reads first, from the listings just made
        s3.fetch(reads=[f for f in map(_first_sorting_info, fallbacks) if f])
    return others


def _sorter_known(folder: str) -> bool:
    return not persistent.is_missing(cache.peek_call(_sorter_name, folder))


def _first_sorting_info(folder: str) -> str | None:
    """The first file :func:`_sorter_name` reads after ``processing.json``
    (answered from cached listings; None when a listing is not cached)."""
    from aind_session import s3

    root = s3.cached_listing(folder)
    if root is None:
        return None
    for sub, file in SORTING_INFO:
        if sub not in root.folders:
            continue
        listing = s3.cached_listing(f"{folder}/{sub}")
        if listing is None:
            return None
        for recording in listing.folders:
            if not recording.endswith(".zarr"):
                return f"{folder}/{sub}/{recording}/{file}"
    return f"{folder}/params.json" if "params.json" in root.file_names else None


def _known_folders(assets: Sequence[DataAsset]) -> dict[str, str]:
    """Folders of assets (by asset id) found before: cached, and kept on disk
    where empty candidates are not; asks nothing."""
    from aind_session import codeocean, folders

    found = {}
    for asset in assets:
        known = cache.peek_call(
            folders.find_data_asset_dir, codeocean.source_url(asset), asset.id, asset.name
        )
        if isinstance(known, str):
            found[asset.id] = known
    return found


def _locate_folders(
    assets: Sequence[DataAsset],
    known: Mapping[str, str],
    also: Mapping[K, folders.Groups],
    first: tuple[Iterable[str], Iterable[str]] = ((), ()),
) -> tuple[dict[str, str], dict[K, folders.Located | Exception]]:
    """Folders of many assets (by asset id): those ``known``, and the others
    found in a few rounds and primed in the cache; and what ``also`` located,
    probed in the same rounds (with ``first`` sent in the first). Assets whose
    lookup met an error, or found nothing, are left to the lazy path, which
    raises or says it.
    """
    from aind_session import codeocean, folders

    sources = {a.id: codeocean.source_url(a) for a in assets}
    dirs = dict(known)
    todo = [a for a in assets if a.id not in dirs]
    wanted: dict[tuple[str, Any], folders.Groups] = {
        ("asset", a.id): folders.data_asset_dir_candidates(sources[a.id], a.id, a.name)
        for a in todo
    }
    wanted.update({("also", key): groups for key, groups in also.items()})
    located = folders.locate_many(wanted, first=first)
    for asset in todo:
        found = located[("asset", asset.id)]
        if isinstance(found, folders.Located) and found.url is not None:
            dirs[asset.id] = found.url
            cache.prime(
                folders.find_data_asset_dir,
                sources[asset.id],
                asset.id,
                asset.name,
                value=found.url,
            )
    return dirs, {key: located[("also", key)] for key in also}


def prefetch_siblings(name: str, part: str) -> None:
    """Fetch ``part`` of :func:`prefetch` for every sorted asset of the session
    that sorted asset ``name`` belongs to, once per time-to-live, when that
    session's asset search is cached (asks no search of its own).

    A loop over a session's sorted assets then waits for one round instead of
    one per asset; an asset the caller never looks at costs a request or two,
    sent together with the others. Nothing is raised here: what could not be
    fetched is asked again, and said, by the property that needs it.
    """
    from aind_session import codeocean
    from aind_session.config import get_settings
    from aind_session.conventions import parse_session_id

    if get_settings().cache_ttl <= 0:  # nothing would be kept: each asset asks for itself
        return
    try:
        session_id = parse_session_id(name)
        # not searched (yet): no sibling is known, and nothing is kept, so a
        # search made later still lets the next property fetch for all
        if codeocean.cached_session_data_assets(session_id) is not None:
            _prefetch_siblings(session_id, part)
    except (errors.AindSessionError, PermissionError, ConnectionError, ValueError) as exc:
        logger.debug("prefetching %s for the siblings of %s stopped: %s", part, name, exc)


@cache.cached
def _prefetch_siblings(session_id: str, part: str) -> None:
    from aind_session import codeocean

    assets = codeocean.cached_session_data_assets(session_id) or ()
    prefetch([a for a in assets if is_sorted_data_asset(a)], [part])
