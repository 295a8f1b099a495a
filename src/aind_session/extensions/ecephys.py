"""``session.ecephys``: raw ecephys folders and spike-sorting results of a session.

>>> from aind_session import Session
>>> session = Session('ecephys_676909_2023-12-13_13-43-40')
>>> session.ecephys.sorted_data_asset.name
'ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45'
>>> session.ecephys.sorted_data_asset.sorter_name
'kilosort4'
>>> session.ecephys.sorted_data_asset.sorted_probes
('ProbeA', 'ProbeB', 'ProbeF')

The sorted-asset model, its folder layouts and the by-sorter view live below
this namespace, in :mod:`aind_session.extensions.sorted_assets`,
:mod:`aind_session.extensions.sorted_layouts` and
:mod:`aind_session.extensions.sorters`; their public names are re-exported
here, as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aind_session import cache, errors
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
from aind_session.extensions.sorters import SorterNamespace, Sorters, sorting_errors

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

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> [a.name for a in ecephys.sorted_data_assets][:2]
        ['ecephys_676909_2023-12-13_13-43-40_sorted_2023-12-20_10-11-12',
         'ecephys_676909_2023-12-13_13-43-40_sorted_2024-01-10_08-31-07']
        """
        assets = [a for a in self._base.data_assets if self.is_sorted_data_asset(a)]
        return tuple(SortedDataAsset.from_asset(a) for a in assets)

    @property
    @cache.public_call()
    def sorted_data_asset(self) -> SortedDataAsset:
        """The latest sorted data asset without a sorting error.

        The newest of this session failed, so the one before it is chosen:

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.sorted_data_asset.name
        'ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45'

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
        verdicts = sorting_errors(assets)
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

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.is_sorted
        True

        Raises
        ------
        aind_session.errors.ServiceError, aind_session.errors.AccessDeniedError
            When none is known to be usable and one could not be checked.
        """
        unknown: list[Exception] = []
        for failed in reversed(sorting_errors(self.sorted_data_assets)):
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

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.latest_sorting_failed
        True

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
        """Folder of :attr:`sorted_data_asset`.

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.sorted_data_dir
        S3Path('codeocean-s3datasetsbucket-1u41qdg42ur9/a782c5e4-a16b-495d-baea-7ca9ba29015c', protocol='s3')
        """
        return self.sorted_data_asset.path

    @property
    def sorter(self) -> Sorters:
        """Sorted assets by sorter: ``sorter.kilosort4.sorted_data_assets``, ``sorter.names``.

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.sorter.kilosort4
        <sorter 'kilosort4' of Session('ecephys_676909_2023-12-13_13-43-40')>
        """
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
        """``ecephys_clipped`` in the raw data folder (under ``ecephys/`` from 2024, else at the top).

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.clipped_dir
        S3Path('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/ecephys_clipped', protocol='s3')
        >>> Session('ecephys_686740_2024-01-20_12-00-00').ecephys.clipped_dir
        S3Path('aind-ephys-data/ecephys_686740_2024-01-20_12-00-00/ecephys/ecephys_clipped', protocol='s3')

        Raises
        ------
        aind_session.errors.NotAvailableError
            When the raw data folder has no such folder.
        """
        return self._raw_subdir("ecephys_clipped")

    @property
    @cache.public_call()
    def compressed_dir(self) -> UPath:
        """``ecephys_compressed`` in the raw data folder (under ``ecephys/`` from 2024, else at the top).

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.compressed_dir
        S3Path('aind-ephys-data/ecephys_676909_2023-12-13_13-43-40/ecephys_compressed', protocol='s3')

        Raises
        ------
        aind_session.errors.NotAvailableError
            When the raw data folder has no such folder.
        """
        return self._raw_subdir("ecephys_compressed")

    # -- pipeline runs ------------------------------------------------------------------
    @property
    @cache.public_call()
    def current_sorting_pipeline_computations(self) -> tuple[Computation, ...]:
        """In-progress runs of the sorting pipeline with this session's raw data asset attached.

        ``()`` when there are none.

        >>> from aind_session import Session
        >>> session = Session('ecephys_713655_2024-04-22_14-21-05')
        >>> [c.state for c in session.ecephys.current_sorting_pipeline_computations]
        [<ComputationState.Running: 'running'>]
        """
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

        Examples
        --------
        This session is being sorted already, so no run is started:

        >>> from aind_session import Session
        >>> Session('ecephys_713655_2024-04-22_14-21-05').ecephys.run_sorting() is None
        True
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
