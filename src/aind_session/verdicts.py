"""Verdicts: did a run or a data asset fail? Output text and result folders.

Above the two services and :mod:`aind_session.folders`: it asks CodeOcean for
computations and their output, :mod:`aind_session.folders` where a data
asset's folder is, and S3 for its ``output`` file. Every verdict is
cached with the answers it is built on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aind_session import cache, errors, persistent
from aind_session.codeocean import (
    computation_output,
    computation_state,
    data_asset_class,
    get_computation,
    get_data_asset,
    is_computation,
    list_result_files,
    normalize_id,
)
from aind_session.codeocean.computations import IN_PROGRESS_STATES

# where a data asset's files are: looked up in `aind_session.folders`, and
# importable from here as before
from aind_session.folders import data_asset_dir, find_data_asset_dir  # noqa: F401

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)

OUTPUT_ERRORS = (
    "Essential container in task exited",
    "Out of memory.",
    "Task failed to start - DockerTimeoutError",
    "Traceback (most recent call last):",
    "Command error:",
    "WARN: Killing running tasks",
)


CUDA_ERROR = "The CUDA error was:"


_SORTING_HINTS = (
    "spike sorting",
    "spikesort",
    "spike-sort",
    "kilosort",
    "spykingcircus",
    "spikeinterface",
)


def is_sorting_output(text: str) -> bool:
    """True when ``text`` looks like output of the spike-sorting pipeline.

    >>> is_sorting_output('[51/c3d920] process > spikesort_kilosort25 (2) [100%] 2 of 2')
    True
    >>> is_sorting_output('loading behavior_676909_2023-12-15_09-30-00\\n412 trials')
    False
    """
    lowered = text.lower()
    return any(hint in lowered for hint in _SORTING_HINTS)


def is_output_error(text: str, *, sorting: bool | None = None, source: str = "") -> bool:
    """True when a run's output text shows it failed.

    "The CUDA error was:" counts as an error except in spike-sorting output
    (``sorting=True``, or detected from the text), where some probes may still
    be usable: a warning naming ``source`` (what the output belongs to) is
    logged instead.

    >>> is_output_error('...\\nOut of memory.\\n')
    True
    >>> is_output_error('all probes sorted')
    False
    """
    if any(marker in text for marker in OUTPUT_ERRORS):
        return True
    if CUDA_ERROR in text:
        if sorting if sorting is not None else is_sorting_output(text):
            logger.warning(
                "spike-sorting output%s reports a CUDA error; some probes may still be usable, "
                "so it is not counted as a failed run",
                f" of {source}" if source else "",
            )
            return False
        return True
    return False


def get_output_text(item: Any) -> str:
    """Text of the ``output`` file of a data asset's folder or a computation's results.

    ``item`` is a ``DataAsset``, a ``Computation``, or the id of either.

    >>> get_output_text('e9e8ed09-0cdc-4310-a2f3-4dbe3ac10f60')  # a computation
    'loading behavior_676909_2023-12-15_09-30-00\\n412 trials\\nwrote nwb/behavior_676909_2023-12-15_09-30-00.nwb\\n'
    >>> get_output_text('16d46411-540a-4122-b47f-8cb2a15d593a')  # a raw data asset
    ''

    Returns
    -------
    str
        ``''`` when there is no ``output`` file.
    """
    DataAsset = data_asset_class()
    if not isinstance(item, DataAsset) and not is_computation(item):
        item_id = normalize_id(item, "data asset or computation")
        try:
            item = get_data_asset(item_id)
        except errors.NotFoundError:
            item = get_computation(item_id)
    if isinstance(item, DataAsset):
        return _asset_output(item)
    return computation_output(item.id)


def _asset_output(asset: DataAsset) -> str:
    from aind_session import s3

    folder = data_asset_dir(asset)
    if folder is None or not folder.startswith("s3://"):
        return ""
    return _read_output(folder, s3.list_folder(folder))


def _read_output(folder: str, listing: Any) -> str:
    """Text of ``<folder>/output`` (``''`` when the listing has none)."""
    from aind_session import s3

    if "output" not in listing.file_names:
        return ""
    return s3.read_bytes(f"{folder}/output").decode("utf-8", errors="replace")


_LOG_ONLY = {"output", "nextflow"}


_SORTING_FOLDERS = {"spikesorted", "curated", "sorting_precurated"}


def is_computation_error(computation: Any) -> bool:
    """True when a computation failed: by its state, its results or its output.

    Failed state or end status; no result files, or only ``output`` and
    ``nextflow``; an error in the output (see :func:`is_output_error`); or
    spike-sorting results without an NWB file. A run still in progress is not
    an error.

    >>> is_computation_error('d1b0ec86-4ba4-4fc0-b728-8e6705456154')  # out of memory
    True
    >>> is_computation_error('d2d434b4-b2bb-4ca9-92eb-334439282d6a')
    False
    >>> is_computation_error('31299b75-98af-4a99-906a-819bf1e759f2')  # still running
    False
    """
    run = computation if is_computation(computation) else get_computation(computation)
    if computation_state(run) in IN_PROGRESS_STATES:
        return False
    end = getattr(run.end_status, "value", run.end_status)
    if computation_state(run) == "failed" or end == "failed":
        return True
    names = set(list_result_files(run.id))
    output = computation_output(run.id) if "output" in names else ""
    return _results_failed(names, output, False, f"computation {run.id} ({run.name})")


def is_data_asset_error(asset: Any) -> bool:
    """True when a data asset holds a failed run's results.

    No files, or only ``output`` and ``nextflow``; an error in its ``output``
    file; or spike-sorting results without an NWB file. The verdict is cached
    with the answers it is built on.

    >>> is_data_asset_error('30d6d645-0ec1-4d71-b088-6af2b1c0feaa')  # only an output file
    True
    >>> is_data_asset_error('a782c5e4-a16b-495d-baea-7ca9ba29015c')
    False

    Raises
    ------
    aind_session.errors.AccessDeniedError
        When its folder could not be looked at.
    """
    model = asset if hasattr(asset, "source_bucket") else get_data_asset(asset)
    folder = data_asset_dir(model)
    if folder is None:
        return True  # no files anywhere
    if not folder.startswith("s3://"):
        return False  # cannot look inside gs:// or file:// folders from here
    return _data_asset_error(folder, model.id, model.name)


@cache.cached(persist=persistent.FLAG)
def _data_asset_error(folder: str, asset_id: str, name: str) -> bool:
    from aind_session import s3

    listing = s3.list_folder(folder)
    names = set(listing.folders) | set(listing.file_names)
    output = _read_output(folder, listing)
    return _results_failed(names, output, "_sorted" in name, f"data asset {asset_id} ({name})")


def _results_failed(names: set[str], output: str, sorting: bool, source: str) -> bool:
    """The verdict on a run's results: the top-level ``names`` and its ``output`` text."""
    if not names or names <= _LOG_ONLY:
        return True
    sorting = sorting or is_sorting_output(output) or bool(names & _SORTING_FOLDERS)
    if is_output_error(output, sorting=sorting, source=source):
        return True
    return sorting and not any(n == "nwb" or n.endswith(".nwb") for n in names)
