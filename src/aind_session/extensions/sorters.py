"""``session.ecephys.sorter``: a session's sorted data assets, by sorter.

>>> from aind_session import Session
>>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
>>> ecephys.sorter.names
('kilosort2_5', 'kilosort4')

:class:`Sorters` and :class:`SorterNamespace` are re-exported from
:mod:`aind_session.extensions.ecephys`, as before; :func:`sorting_errors`
is what :class:`~aind_session.extensions.ecephys.Ecephys` asks of them all.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aind_session import batch, cache, errors
from aind_session.extensions.sorted_assets import SortedDataAsset

if TYPE_CHECKING:
    from aind_session.extensions.ecephys import Ecephys

__all__ = ["SorterNamespace", "Sorters", "sorting_errors"]


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

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> [a.name for a in ecephys.sorter.kilosort4.sorted_data_assets]
        ['ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45']
        >>> ecephys.sorter.spykingcircus2.sorted_data_assets
        ()
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


def sorting_errors(assets: Sequence[SortedDataAsset]) -> list[bool | Exception]:
    """Each asset's ``is_sorting_error``, or the exception met, asked together.

    The newest sorted asset of this session failed:

    >>> from aind_session import Session
    >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
    >>> sorting_errors(ecephys.sorted_data_assets)
    [False, False, False, True]
    """
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

        >>> from aind_session import Session
        >>> ecephys = Session('ecephys_676909_2023-12-13_13-43-40').ecephys
        >>> ecephys.sorter.names
        ('kilosort2_5', 'kilosort4')
        """
        return tuple(sorted({n for n in _sorter_names(self._ecephys.sorted_data_assets) if n}))
