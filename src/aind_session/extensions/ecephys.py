"""``session.ecephys``: raw ecephys folders and spike-sorting results of a session.

>>> from aind_session import Session
>>> session = Session('ecephys_676909_2023-12-13_13-43-40')
>>> session.ecephys.sorted_data_asset.name
'ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45'
>>> session.ecephys.sorted_data_asset.sorter_name
'kilosort4'
>>> session.ecephys.sorted_data_asset.sorted_probes
('ProbeA', 'ProbeB', 'ProbeF')

The sorted-asset model and its folder layouts live below
this namespace, in :mod:`aind_session.extensions.sorted_assets` and
:mod:`aind_session.extensions.sorted_layouts`; their public names are
re-exported here, as before.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aind_session import batch, cache, errors
from aind_session.extension import ExtensionBaseClass
from aind_session.extensions.sorted_assets import (
    SortedDataAsset,
    prefetch,
    prefetch_siblings,
)
from aind_session.extensions.sorted_layouts import (
    PROBE_FOLDERS,
    SORTING_INFO,
    is_sorted_data_asset,
    probe_name,
    sorter_from_processing,
    sorter_from_sorting_info,
)

if TYPE_CHECKING:
    from codeocean.computation import Computation
    from codeocean.data_asset import DataAsset
    from upath import UPath

    from aind_session.session import Session  # noqa: F401  (used in a base class)

__all__ = [  # the namespace, and what moved below it (importable from here as before)
    "PROBE_FOLDERS",
    "SORTING_INFO",
    "Ecephys",
    "SortedDataAsset",
    "SorterNamespace",
    "Sorters",
    "is_sorted_data_asset",
    "prefetch",
    "prefetch_siblings",
    "probe_name",
    "sorter_from_processing",
    "sorter_from_sorting_info",
]

logger = logging.getLogger(__name__)


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
        names = _sorter_names(assets)
        return tuple(a for a, name in zip(assets, names, strict=True) if name == self.name)


def _sorter_names(assets: Sequence[SortedDataAsset]) -> list[str | None]:
    """Each asset's sorter (None when it has none), asked together; the first
    failure to find one out is raised."""
    names = batch.gather([functools.partial(_sorter_name_or_none, a) for a in assets])
    for name in names:
        if isinstance(name, Exception):
            raise name
    return names  # type: ignore[return-value]


def _sorter_name_or_none(asset: SortedDataAsset) -> str | None:
    """The asset's sorter, or None when it has none (a failure to find out is raised)."""
    try:
        return asset.sorter_name
    except errors.NotAvailableError:  # no sorter named, or no files: an answer
        return None


def _sorting_errors(assets: Sequence[SortedDataAsset]) -> list[bool | Exception]:
    """Each asset's ``is_sorting_error``, or the exception met, asked together."""
    return batch.gather([functools.partial(getattr, a, "is_sorting_error") for a in assets])


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
        return tuple(sorted({n for n in _sorter_names(self._ecephys.sorted_data_assets) if n}))


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
        return is_sorted_data_asset(asset)

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
        verdicts = _sorting_errors(assets)
        for asset, failed in zip(reversed(assets), reversed(verdicts), strict=True):  # noqa: B007
            if isinstance(failed, Exception):  # newest first: one that cannot be checked raises
                raise failed
            if not failed:
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
        unknown: list[Exception] = []
        for failed in reversed(_sorting_errors(self.sorted_data_assets)):
            if isinstance(failed, (errors.AindSessionError, OSError)):  # an older one may do
                unknown.append(failed)
            elif isinstance(failed, Exception):
                raise failed
            elif not failed:
                return True
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
        from aind_session import folders, s3

        raw = folders.raw_data_dir(self._base.id)
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
