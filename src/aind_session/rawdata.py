"""Where a session's raw data folder is: now in :mod:`aind_session.folders`.

Kept so that ``aind_session.rawdata`` still imports; its names are those of
:mod:`aind_session.folders` (the same objects, so the same cache keys).
"""

from __future__ import annotations

from aind_session import folders

raw_data_dir = folders.raw_data_dir
candidates = folders.raw_data_dir_candidates
found = folders.raw_data_dir_found

__all__ = ["candidates", "found", "raw_data_dir"]
