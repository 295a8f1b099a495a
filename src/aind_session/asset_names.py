"""Naming rules of data assets, beside :mod:`aind_session.conventions` (whose session
IDs they use): no I/O, and nothing of the package but it and the errors.

UUIDs (:func:`normalize_id`), which asset holds raw data
(:func:`raw_data_asset_reason`), which is a sorting result
(:func:`is_sorted_data_asset`), which holds NWB files (:func:`is_nwb_asset_name`)
and the folder names inside a sorted one (:data:`PROBE_FOLDERS`,
:data:`SORTING_INFO`, :func:`probe_name`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aind_session import errors
from aind_session.conventions import parse_session_id

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset


UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


def normalize_id(value: Any, what: str = "data asset") -> str:
    """A UUID (with or without hyphens, ``uuid.UUID`` or a model with ``.id``) as a hyphenated string.

    >>> normalize_id('16d46411540a4122b47f8cb2a15d593a')
    '16d46411-540a-4122-b47f-8cb2a15d593a'
    """
    import uuid

    raw = value.id if hasattr(value, "id") else value
    if isinstance(raw, uuid.UUID):
        return str(raw)
    if isinstance(raw, str) and UUID_PATTERN.match(raw.strip()):
        return str(uuid.UUID(raw.strip()))
    raise errors.InvalidInputError(
        f"{value!r} is not a {what} id: expected a UUID like "
        "'16d46411-540a-4122-b47f-8cb2a15d593a' (hyphens optional), a uuid.UUID or a model."
    )


def raw_data_asset_reason(asset: DataAsset, session_id: str | None = None) -> str | None:
    """Why ``asset`` counts as raw data, or None when it does not.

    In order: custom metadata ``"data level": "raw data"``; a tag containing
    ``raw``; its name equal to ``session_id``.

    >>> from types import SimpleNamespace as Asset  # any object with these fields
    >>> raw_data_asset_reason(Asset(custom_metadata={'data level': 'raw data'}, tags=[], name='x'))
    'custom metadata "data level" is "raw data"'
    >>> raw_data_asset_reason(Asset(custom_metadata={}, tags=['ecephys', 'raw'], name='x'))
    "a tag contains 'raw'"
    >>> raw_data_asset_reason(Asset(custom_metadata={'data level': 'derived'}, tags=['raw'], name='x'))
    """
    level = str((asset.custom_metadata or {}).get("data level", "")).strip().lower()
    if level == "raw data":
        return 'custom metadata "data level" is "raw data"'
    if level:  # an explicit other level wins over tags and names
        return None
    if any("raw" in tag.lower() for tag in asset.tags or ()):
        return "a tag contains 'raw'"
    if session_id is not None and asset.name == session_id:
        return "its name equals the session ID"
    return None


def is_raw_data_asset(asset: DataAsset, session_id: str | None = None) -> bool:
    """True when the asset holds a session's raw data (see :func:`raw_data_asset_reason`).

    Without ``session_id``, a name that is exactly a session ID counts too.

    >>> from types import SimpleNamespace as Asset
    >>> is_raw_data_asset(Asset(custom_metadata=None, tags=None, name='ecephys_676909_2023-12-13_13-43-40'))
    True
    >>> is_raw_data_asset(Asset(custom_metadata=None, tags=None,
    ...                         name='ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45'))
    False
    """
    if session_id is None:
        try:
            session_id = parse_session_id(asset.name)
        except ValueError:
            session_id = None
    return raw_data_asset_reason(asset, session_id) is not None


# sorted data assets: ``<session-id>_sorted_<date>_<time>``; the names in their folders
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


_NWB_NAME = re.compile(r"_nwb(?:[-_]|$)")


def is_nwb_asset_name(name: str, session_id: str | None = None) -> bool:
    """True when ``name`` is an NWB asset's: a session ID (``session_id`` when given),
    then ``_nwb`` (``<session-id>_nwb_<date>_<time>``, see the module's docstring).

    >>> is_nwb_asset_name('ecephys_676909_2023-12-13_13-43-40_nwb_2024-04-02_11-00-00')
    True
    >>> is_nwb_asset_name('ecephys_676909_2023-12-13_13-43-40_behavior-nwb_2024-04-02_11-00-00')
    False
    >>> is_nwb_asset_name('ecephys_676909_2023-12-13_13-43-40_nwb', 'ecephys_676909_2023-12-14_12-43-11')
    False
    """
    if session_id is None:
        try:
            session_id = parse_session_id(name)
        except ValueError:
            return False
    return name.startswith(session_id) and bool(_NWB_NAME.match(name, len(session_id)))
