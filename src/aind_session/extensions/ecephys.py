"""``session.ecephys``: raw ecephys folders and spike-sorting results of a session.

>>> from aind_session import Session
>>> session = Session('ecephys_676909_2023-12-13_13-43-40')
>>> session.ecephys.sorted_data_asset.name
'ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45'
>>> session.ecephys.sorted_data_asset.sorter_name
'kilosort4'
>>> session.ecephys.sorted_data_asset.sorted_probes
('ProbeA', 'ProbeB', 'ProbeF')

Sorted data assets are named ``<session-id>_sorted_<date>_<time>``. Their
layout changed over time, and every form is read:

- probes: folder names under ``curated/`` (older: ``sorting_precurated/``);
- sorter: ``processing.json`` (``processing_pipeline.data_processes[]`` or
  top-level ``data_processes[]``; ``parameters.sorter_name`` or
  ``code.parameters.sorter_name`` of the "Spike sorting" process), then
  ``spikesorted/<recording>/si_folder.json`` or
  ``postprocessed/<recording>/sorting.json``
  (``annotations.__sorting_info__.params.sorter_name``), then ``params.json``
  (``spikesorting.sorter_name``);
- sorting analyzer: results saved as ``.zarr`` folders in ``postprocessed/``.

Work on several sorted assets runs concurrently (bounded by
``Settings.s3_max_concurrency``), never asset by asset: the first time a
property is asked of one sorted asset, it is fetched for every sorted asset
of the session at once (see :func:`prefetch_siblings`), so a loop over them
waits once per property, not once per asset.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aind_session import cache, errors, persistent
from aind_session.extension import ExtensionBaseClass

if TYPE_CHECKING:
    from codeocean.computation import Computation
    from codeocean.data_asset import DataAsset
    from upath import UPath

    from aind_session import s3
    from aind_session.session import Session  # noqa: F401  (used in a base class)


logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

PROBE_FOLDERS = ("curated", "sorting_precurated")
# where the sorter is named when processing.json does not say: folder, file per recording
SORTING_INFO = (("spikesorted", "si_folder.json"), ("postprocessed", "sorting.json"))
_PROBE = re.compile(r"\.(?P<probe>[^.#/]+?)(?:-AP|-LFP)?(?:_recording\d+)?$")
_SORTED_NAME = re.compile(r"_sorted(?:[-_]|$)")


def probe_name(folder: str) -> str:
    """The probe in a recording folder's name.

    >>> probe_name('experiment1_Record Node 104#Neuropix-PXI-100.ProbeF-AP_recording1')
    'ProbeF'
    """
    match = _PROBE.search(folder)
    return match["probe"] if match else folder


def _is_spike_sorting(process: Any) -> bool:
    return isinstance(process, dict) and str(process.get("name", "")).lower().startswith(
        "spike sorting"
    )


def sorter_from_processing(processing: Any) -> str | None:
    """``sorter_name`` of the "Spike sorting" process in a ``processing.json`` (either layout)."""
    if not isinstance(processing, dict):
        return None
    pipeline = processing.get("processing_pipeline")
    processes = list(processing.get("data_processes") or [])
    if isinstance(pipeline, dict):
        processes += list(pipeline.get("data_processes") or [])
    for process in filter(_is_spike_sorting, processes):
        for parameters in (
            process.get("parameters"),
            (process.get("code") or {}).get("parameters"),
        ):
            if isinstance(parameters, dict) and parameters.get("sorter_name"):
                return str(parameters["sorter_name"])
    return None


def sorter_from_sorting_info(content: Any) -> str | None:
    """``annotations.__sorting_info__.params.sorter_name`` of a SpikeInterface JSON file."""
    try:
        name = content["annotations"]["__sorting_info__"]["params"]["sorter_name"]
    except (KeyError, TypeError):
        return None
    return str(name) if name else None


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
        from aind_session import codeocean

        folder = codeocean.data_asset_dir(self)
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
        from aind_session import codeocean

        self._with_siblings("error")
        return codeocean.get_output_text(self)

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
        """True when the sorting failed (see :func:`aind_session.codeocean.is_data_asset_error`).

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When its files could not be looked at: the verdict is unknown.
        """
        from aind_session import codeocean

        self._with_siblings("error")
        return codeocean.is_data_asset_error(self)

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
    also_locate: Mapping[K, s3.Groups] | None = None,
) -> dict[K, s3.Located | Exception]:
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
    :func:`aind_session.s3.locate_many`), whose results are returned.
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
    folders, others = _locate_folders(assets, known, also_locate or {}, (listings, reads))
    # what the guesses did not settle, from the folders' listings (cached by now)
    on_s3 = [f for f in folders.values() if f.startswith("s3://")]
    roots = s3.list_folders(on_s3)
    listings, reads = [], []
    fallbacks = []  # folders whose sorter is not in processing.json
    for folder in on_s3:
        root = roots[s3._clean(folder)]
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
    from aind_session import codeocean

    folders = {}
    for asset in assets:
        known = cache.peek_call(
            codeocean._data_asset_dir, codeocean.source_url(asset), asset.id, asset.name
        )
        if isinstance(known, str):
            folders[asset.id] = known
    return folders


def _locate_folders(
    assets: Sequence[DataAsset],
    known: Mapping[str, str],
    also: Mapping[K, s3.Groups],
    first: tuple[Iterable[str], Iterable[str]] = ((), ()),
) -> tuple[dict[str, str], dict[K, s3.Located | Exception]]:
    """Folders of many assets (by asset id): those ``known``, and the others
    found in a few rounds and primed in the cache; and what ``also`` located,
    probed in the same rounds (with ``first`` sent in the first). Assets whose
    lookup met an error, or found nothing, are left to the lazy path, which
    raises or says it.
    """
    from aind_session import codeocean, s3

    sources = {a.id: codeocean.source_url(a) for a in assets}
    folders = dict(known)
    todo = [a for a in assets if a.id not in folders]
    wanted: dict[tuple[str, Any], s3.Groups] = {
        ("asset", a.id): s3.data_asset_dir_candidates(sources[a.id], a.id, a.name) for a in todo
    }
    wanted.update({("also", key): groups for key, groups in also.items()})
    located = s3.locate_many(wanted, first=first)
    for asset in todo:
        found = located[("asset", asset.id)]
        if isinstance(found, s3.Located) and found.url is not None:
            folders[asset.id] = found.url
            cache.prime(
                codeocean._data_asset_dir, sources[asset.id], asset.id, asset.name, value=found.url
            )
    return folders, {key: located[("also", key)] for key in also}


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
    from aind_session.session import parse_session_id

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
    prefetch([a for a in assets if Ecephys.is_sorted_data_asset(a)], [part])


class SorterNamespace:
    """The sorted data assets made with one sorter: ``session.ecephys.sorter.kilosort4``."""

    def __init__(self, ecephys: Ecephys, name: str) -> None:
        self._ecephys, self.name = ecephys, name

    def __repr__(self) -> str:
        return f"<sorter {self.name!r} of {self._ecephys._base!r}>"

    @property
    @cache.public_call()
    def sorted_data_assets(self) -> tuple[SortedDataAsset, ...]:
        """Sorted assets made with this sorter, oldest first; ``()`` when none.

        Raises when the sorter of one of the session's sorted assets could not
        be found out (it may be this one).
        """
        assets = self._ecephys.sorted_data_assets
        prefetch(assets, ["sorter"])
        return tuple(a for a in assets if _sorter_name_or_none(a) == self.name)


def _sorter_name_or_none(asset: SortedDataAsset) -> str | None:
    """The asset's sorter, or None when it has none (a failure to find out is raised)."""
    try:
        return asset.sorter_name
    except errors.NotAvailableError:  # no sorter named, or no files: an answer
        return None


class Sorters:
    """``session.ecephys.sorter``: one attribute per sorter name, plus ``names``."""

    kilosort2_5: SorterNamespace
    kilosort4: SorterNamespace
    spykingcircus2: SorterNamespace

    def __init__(self, ecephys: Ecephys) -> None:
        self._ecephys = ecephys

    def __getattr__(self, name: str) -> SorterNamespace:
        if name.startswith("_"):
            raise AttributeError(name)
        return SorterNamespace(self._ecephys, name)

    def __getitem__(self, name: str) -> SorterNamespace:
        return SorterNamespace(self._ecephys, name)

    @property
    @cache.public_call()
    def names(self) -> tuple[str, ...]:
        """Sorter names used in the session's sorted assets, sorted.

        Raises when the sorter of one of them could not be found out, rather
        than leave it out.
        """
        assets = self._ecephys.sorted_data_assets
        prefetch(assets, ["sorter"])
        return tuple(sorted({n for n in map(_sorter_name_or_none, assets) if n}))


class Ecephys(ExtensionBaseClass["Session"]):
    """Raw ecephys folders and spike-sorting results of a session."""

    @staticmethod
    def is_sorted_data_asset(asset: DataAsset | str) -> bool:
        """True when an asset (or a name) is a spike-sorting result: ``<session-id>_sorted...``.

        >>> Ecephys.is_sorted_data_asset('ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
        True
        >>> Ecephys.is_sorted_data_asset('ecephys_676909_2023-12-13_13-43-40')
        False
        """
        from aind_session.session import parse_session_id

        name = asset if isinstance(asset, str) else asset.name
        try:
            session_id = parse_session_id(name)
        except ValueError:
            return False
        rest = name[name.index(session_id) + len(session_id) :]
        return bool(_SORTED_NAME.match(rest))

    @property
    @cache.public_call()
    def sorted_data_assets(self) -> tuple[SortedDataAsset, ...]:
        """Every sorted data asset of the session, oldest first; ``()`` when none.

        One search (shared with ``session.data_assets``); no request per asset.
        """
        assets = [a for a in self._base.data_assets if self.is_sorted_data_asset(a)]
        return tuple(SortedDataAsset.from_asset(a) for a in assets)

    @property
    @cache.public_call()
    def sorted_data_asset(self) -> SortedDataAsset:
        """The latest sorted data asset without a sorting error.

        Raises
        ------
        aind_session.errors.NoSortedDataError
            (an ``AttributeError``) saying how many sorted assets exist and why
            none is usable.
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When a sorted asset newer than the latest good one could not be
            checked: it may be the answer.
        """
        assets = self.sorted_data_assets
        if not assets:
            raise errors.NoSortedDataError(
                f"{self._base.id} has no sorted data asset (none of its "
                f"{len(self._base.data_assets)} data assets is named {self._base.id}_sorted...). "
                "Sort it with session.ecephys.run_sorting()."
            )
        prefetch(assets, ["error"])
        for asset in reversed(assets):  # newest first; one that cannot be checked raises
            if not asset.is_sorting_error:
                break
        else:
            raise errors.NoSortedDataError(
                f"All {len(assets)} sorted data asset(s) of {self._base.id} hold a sorting error "
                f"(latest: {assets[-1].name}, id {assets[-1].id}); see its .output."
            )
        if asset is not assets[-1]:
            logger.info(
                "latest sorted asset %s of %s holds a sorting error: using %s",
                assets[-1].name,
                self._base.id,
                asset.name,
            )
        return asset

    @property
    @cache.public_call()
    def is_sorted(self) -> bool:
        """True when a usable sorting exists: a sorted data asset without a sorting
        error (so :attr:`sorted_data_asset` finds one), even if a newer one failed
        (see :attr:`latest_sorting_failed`). False when there is none.

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When none is known to be usable and one could not be checked.
        """
        assets = self.sorted_data_assets
        prefetch(assets, ["error"])
        unknown: list[Exception] = []
        for asset in reversed(assets):
            try:
                if not asset.is_sorting_error:
                    return True
            except (errors.AindSessionError, OSError) as exc:  # an older one may be usable
                unknown.append(exc)
        if unknown:
            raise unknown[0]
        return False

    @property
    @cache.public_call()
    def latest_sorting_failed(self) -> bool:
        """True when the newest sorted data asset holds a sorting error (even if an
        older one is usable); False when it has none, or there is no sorted asset.

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When the newest sorted asset could not be checked.
        """
        assets = self.sorted_data_assets
        return bool(assets) and assets[-1].is_sorting_error

    @property
    @cache.public_call()
    def sorted_data_dir(self) -> UPath:
        """Folder of :attr:`sorted_data_asset`."""
        return self.sorted_data_asset.path

    @property
    def sorter(self) -> Sorters:
        """Sorted assets by sorter: ``sorter.kilosort4.sorted_data_assets``, ``sorter.names``."""
        return Sorters(self)

    # -- raw data --------------------------------------------------------------------
    def _raw_subdir(self, name: str) -> UPath:
        from aind_session import rawdata, s3

        raw = rawdata.raw_data_dir(self._base.id)
        listing = s3.list_folder(raw)
        places = [f"{raw}/ecephys/{name}", f"{raw}/{name}"]
        if "ecephys" in listing.folders and name in s3.list_folder(f"{raw}/ecephys").folders:
            return s3.upath(places[0])
        if name in listing.folders:
            return s3.upath(places[1])
        raise errors.NotAvailableError(
            f"{self._base.id} has no {name} folder: checked {places[0]} and {places[1]}."
        )

    @property
    @cache.public_call()
    def clipped_dir(self) -> UPath:
        """``ecephys_clipped`` in the raw data folder (under ``ecephys/`` from 2024, else at the top)."""
        return self._raw_subdir("ecephys_clipped")

    @property
    @cache.public_call()
    def compressed_dir(self) -> UPath:
        """``ecephys_compressed`` in the raw data folder (under ``ecephys/`` from 2024, else at the top)."""
        return self._raw_subdir("ecephys_compressed")

    # -- pipeline runs ------------------------------------------------------------------
    @property
    @cache.public_call()
    def current_sorting_pipeline_computations(self) -> tuple[Computation, ...]:
        """In-progress runs of the sorting pipeline with this session's raw data asset attached."""
        from aind_session import codeocean
        from aind_session.config import get_settings

        return codeocean.search_computations(
            get_settings().sorting_pipeline_id,
            attached_data_asset_id=self._base.raw_data_asset.id,
            in_progress=True,
        )

    def run_sorting(
        self,
        pipeline_type: str = "ecephys_ks25",
        trigger_capsule_id: str | None = None,
        override_parameters: list[str] | None = None,
        skip_already_sorting: bool = True,
    ) -> Computation | None:
        """Start the sorting pipeline on the raw data asset, through the trigger capsule.

        Returns
        -------
        Computation or None
            The trigger capsule's run; None (with a warning) when the raw data
            asset is already being sorted and ``skip_already_sorting`` is true.
        """
        from aind_session import codeocean
        from aind_session.config import get_settings

        asset = self._base.raw_data_asset
        if skip_already_sorting:
            codeocean.refresh_computations(get_settings().sorting_pipeline_id)  # not a stale list
            running = self.current_sorting_pipeline_computations
            if running:
                logger.warning(
                    "%s is already being sorted (computation %s, %s): not starting another",
                    self._base.id,
                    running[-1].id,
                    running[-1].state,
                )
                return None
        capsule = trigger_capsule_id or get_settings().sorting_trigger_capsule_id
        run = codeocean.run_capsule(
            capsule, asset, override_parameters or [pipeline_type, asset.id]
        )
        logger.info("started sorting of %s: computation %s", self._base.id, run.id)
        return run
