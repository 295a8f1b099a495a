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

from typing import TYPE_CHECKING, Any

from aind_session.asset_names import (  # noqa: F401 (names of this module too)
    PROBE_FOLDERS,
    SORTING_INFO,
    is_sorted_data_asset,
    probe_name,
)
from aind_session.conventions import (  # noqa: F401 (names of this module too)
    parse_session_id,
)

if TYPE_CHECKING:
    pass


def _is_spike_sorting(process: Any) -> bool:
    return isinstance(process, dict) and str(process.get("name", "")).lower().startswith(
        "spike sorting"
    )


def sorter_from_processing(processing: Any) -> str | None:
    """``sorter_name`` of the "Spike sorting" process in a ``processing.json`` (either layout).

    None when there is no such process, or it names no sorter.

    >>> process = {'name': 'Spike sorting', 'parameters': {'sorter_name': 'kilosort4'}}
    >>> sorter_from_processing({'processing_pipeline': {'data_processes': [process]}})
    'kilosort4'
    >>> sorter_from_processing({'data_processes': [{'name': 'Ephys preprocessing'}]}) is None
    True
    """
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
    """``annotations.__sorting_info__.params.sorter_name`` of a SpikeInterface JSON file.

    None when the file has no such entry.

    >>> info = {'params': {'sorter_name': 'kilosort2_5'}}
    >>> sorter_from_sorting_info({'annotations': {'__sorting_info__': info}})
    'kilosort2_5'
    >>> sorter_from_sorting_info({'annotations': {}}) is None
    True
    """
    try:
        name = content["annotations"]["__sorting_info__"]["params"]["sorter_name"]
    except (KeyError, TypeError):
        return None
    return str(name) if name else None
