"""The folder layouts of sorted data assets, and their names: pure rules, no I/O
(a leaf: it asks only :mod:`aind_session.conventions`).

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

>>> probe_name('experiment1_Record Node 104#Neuropix-PXI-100.ProbeA-AP')
'ProbeA'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aind_session.conventions import parse_session_id

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

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


def is_sorted_data_asset(asset: DataAsset | str) -> bool:
    """True when an asset (or a name) is a spike-sorting result: ``<session-id>_sorted...``.

    >>> is_sorted_data_asset('ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
    True
    >>> is_sorted_data_asset('ecephys_676909_2023-12-13_13-43-40')
    False
    """
    name = asset if isinstance(asset, str) else asset.name
    try:
        session_id = parse_session_id(name)
    except ValueError:
        return False
    rest = name[name.index(session_id) + len(session_id) :]
    return bool(_SORTED_NAME.match(rest))


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
