"""The CodeOcean layer: the only package that imports the ``codeocean`` SDK.

Everything returned is the SDK's own model (``DataAsset``, ``Computation``),
from whichever SDK release from 0.12 is installed. It asks CodeOcean only: it
never imports S3 nor ``Session``. Its modules, each using only those before it:

- :mod:`~aind_session.codeocean.sdk`: the SDK's names, wherever the installed
  release keeps them (the only module that knows how releases differ);
- :mod:`~aind_session.codeocean.shapes`: the checks of every answer's shape,
  before it is used or stored;
- :mod:`~aind_session.codeocean.client`: the SDK loaded once, clients with
  timeouts and retries, requests and downloads;
- :mod:`~aind_session.codeocean.models`: models built fast from JSON, and the
  codecs that keep them on disk;
- :mod:`~aind_session.codeocean.assets`: searches, a session's and a subject's
  data assets, the rules for which one is raw;
- :mod:`~aind_session.codeocean.computations`: runs of capsules and pipelines,
  their output and results, waiting for an asset to be ready.

Whether a run or an asset failed is decided above, in :mod:`aind_session.verdicts`.
Importing this package imports no SDK: that happens on first use.
"""

from aind_session.codeocean.assets import (
    MAX_PAGE,
    NAME_TERM_LIMIT,
    UUID_PATTERN,
    cached_session_data_assets,
    choose_raw_data_asset,
    fetch_data_asset,
    get_data_asset,
    get_session_data_assets,
    get_session_raw_data_asset,
    get_subject_data_asset_names,
    get_subject_data_assets,
    is_raw_data_asset,
    normalize_id,
    raw_data_asset_reason,
    search_data_assets,
    search_records,
    sort_by_created,
    source_url,
)
from aind_session.codeocean.client import SCOPE_HELP, get_client, load_sdk
from aind_session.codeocean.computations import (
    IN_PROGRESS_STATES,
    computation_output,
    computation_state,
    get_computation,
    hint_computations,
    is_computation,
    list_computations,
    list_result_files,
    refresh_computations,
    run_capsule,
    search_computations,
    wait_until_ready,
)
from aind_session.codeocean.models import (
    ASSET,
    COMPUTATIONS,
    build_computation,
    build_data_asset,
    computation_class,
    data_asset_class,
)

__all__ = [
    "ASSET",
    "COMPUTATIONS",
    "IN_PROGRESS_STATES",
    "MAX_PAGE",
    "NAME_TERM_LIMIT",
    "SCOPE_HELP",
    "UUID_PATTERN",
    "build_computation",
    "build_data_asset",
    "cached_session_data_assets",
    "choose_raw_data_asset",
    "computation_class",
    "computation_output",
    "computation_state",
    "data_asset_class",
    "fetch_data_asset",
    "get_client",
    "get_computation",
    "get_data_asset",
    "get_session_data_assets",
    "get_session_raw_data_asset",
    "get_subject_data_asset_names",
    "get_subject_data_assets",
    "hint_computations",
    "is_computation",
    "is_raw_data_asset",
    "list_computations",
    "list_result_files",
    "load_sdk",
    "normalize_id",
    "raw_data_asset_reason",
    "refresh_computations",
    "run_capsule",
    "search_computations",
    "search_data_assets",
    "search_records",
    "sort_by_created",
    "source_url",
    "wait_until_ready",
]
