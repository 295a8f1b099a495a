"""Sorted data assets: the model (`SortedDataAsset`) and its sorter-name lookup.

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
import functools
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import batch, cache, errors, persistent
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


logger = logging.getLogger(__name__)


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
        """The same asset as a :class:`SortedDataAsset` (``asset`` itself when it is one).

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.name, SortedDataAsset.from_asset(asset) is asset
        ('ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45', True)
        """
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
        """The asset's folder.

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.path
        S3Path('codeocean-s3datasetsbucket-1u41qdg42ur9/a782c5e4-a16b-495d-baea-7ca9ba29015c', protocol='s3')

        Raises
        ------
        aind_session.errors.NoSortedDataError
            When its files were found nowhere.
        """
        from aind_session import s3

        return s3.upath(self._folder())

    def _with_siblings(
        self, part: str, listings: Sequence[str] = (), reads: Sequence[str] = ()
    ) -> None:
        """Before a property is first asked: fetch ``part`` for every sorted asset
        of this session at once (see :func:`prefetch_siblings`). Inside a batch,
        where the caller asks for many at once: guess that ``listings`` and
        ``reads`` are in the folder, unless its listing says already."""
        from aind_session import codeocean, folders, s3

        if not batch.deferring():  # outside gather (once() too): the siblings, at once
            prefetch_siblings(self.name, part)
            return
        if not (listings or reads):
            return
        source = codeocean.source_url(self)
        known = cache.peek_call(folders.find_data_asset_dir, source, self.id, self.name)
        folder = known if isinstance(known, str) else source
        if folder is None or not folder.startswith("s3://") or s3.is_listed(folder):
            return
        s3.hint([f"{folder}/{x}" for x in listings], [f"{folder}/{x}" for x in reads])

    @property
    @cache.public_call()
    def output(self) -> str:
        """Text of the ``output`` file; ``''`` when there is none.

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.output.splitlines()[0]
        'N E X T F L O W  ~  version 23.10.1'
        """
        from aind_session import verdicts

        self._with_siblings("error", reads=["output"])
        return verdicts.get_output_text(self)

    @property
    @cache.public_call()
    def sorted_probes(self) -> tuple[str, ...]:
        """Probes with sorting results, from folder names under ``curated/`` (or ``sorting_precurated/``).

        An empty tuple when there are none.

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.sorted_probes
        ('ProbeA', 'ProbeB', 'ProbeF')
        """
        from aind_session import s3

        self._with_siblings("probes", listings=[PROBE_FOLDERS[0]])
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

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.sorter_name
        'kilosort4'

        Raises
        ------
        aind_session.errors.NoSorterNameError
            (an ``AttributeError``, and a ``ValueError`` as before) when no
            file names it: the sorting probably failed.
        aind_session.errors.CorruptFileError
            When no file names it and one could not be parsed: the sorter is
            unknown, not missing.
        """
        self._with_siblings("sorter", reads=["processing.json"])
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

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.is_sorting_error
        False

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When its files could not be looked at: the verdict is unknown.
        """
        from aind_session import verdicts

        self._with_siblings("error", reads=["output"])
        return verdicts.is_data_asset_error(self)

    @property
    @cache.public_call()
    def is_sorting_analyzer(self) -> bool:
        """True when results were saved as a SpikeInterface sorting analyzer (``.zarr``).

        >>> from aind_session.codeocean import get_data_asset
        >>> asset = SortedDataAsset.from_asset(get_data_asset('a782c5e4-a16b-495d-baea-7ca9ba29015c'))
        >>> asset.is_sorting_analyzer
        True
        """
        from aind_session import s3

        self._with_siblings("analyzer")
        folder = self._folder()
        if "postprocessed" not in s3.list_folder(folder).folders:
            return False
        return any(n.endswith(".zarr") for n in s3.list_folder(f"{folder}/postprocessed").folders)


# what each part of :func:`prefetch` reads: the property, and the guesses it makes
PARTS = {
    "error": "is_sorting_error",
    "sorter": "sorter_name",
    "probes": "sorted_probes",
    "analyzer": "is_sorting_analyzer",
}


def prefetch(
    assets: Sequence[DataAsset], parts: Iterable[str] = ("error", "sorter", "probes")
) -> None:
    """Fetch what ``parts`` (``"error"``, ``"sorter"``, ``"probes"``,
    ``"analyzer"``) of many sorted assets need, in as few rounds of concurrent
    requests as possible, so that their properties are answered from the cache.

    The properties themselves are asked, together
    (:func:`aind_session.batch.gather`). The first round lists each folder
    where it was found before or where its ``source_bucket`` says, with the
    files the parts usually need there (``output``, ``processing.json``, the
    ``curated/`` listing); later rounds only what the listings show is needed.
    Nothing is raised: what failed is asked again, and said, by the property.
    Nothing is done with the cache off (nothing fetched would be kept).

    >>> from aind_session import Session
    >>> prefetch(Session('ecephys_676909_2023-12-13_13-43-40').ecephys.sorted_data_assets, ['sorter'])
    """
    from aind_session.config import get_settings

    if get_settings().cache_ttl <= 0:
        return
    names = [PARTS[p] for p in parts]
    batch.gather(  # one public call, so one deadline (see batch.gather)
        [
            functools.partial(getattr, SortedDataAsset.from_asset(a), n)
            for a in assets
            for n in names
        ]
    )


def prefetch_siblings(name: str, part: str) -> None:
    """Fetch ``part`` of :func:`prefetch` for every sorted asset of the session
    that sorted asset ``name`` belongs to, once per time-to-live, when that
    session's asset search is cached (asks no search of its own).

    A loop over a session's sorted assets then waits for one round instead of
    one per asset; an asset the caller never looks at costs a request or two,
    sent together with the others. Nothing is raised here: what could not be
    fetched is asked again, and said, by the property that needs it.

    >>> prefetch_siblings('ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45', 'sorter')
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
