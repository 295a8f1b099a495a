"""Tables of sessions: one row per session, a column per status question.

:func:`session_rows` gives JSON-ready rows (the ``sessions`` command's, the
keys of the CLI's JSON contract): a session's identity (``id``, ``platform``,
``subject_id``, ``start_time``), then the chosen :data:`COLUMNS`, then
``unknown``: column -> why its answer could not be found out (that column is
None, which is not "no"). :func:`sessions_table` gives the same rows as a
pandas DataFrame with typed columns (the ``[table]`` extra), and
:func:`write_table` writes one as csv, parquet or JSON.

Only what the chosen columns need is asked, for all sessions together in the
rounds of :func:`aind_session.batch.gather` (as :func:`aind_session.report.describe_many`).

>>> from aind_session import Session
>>> row, = session_rows([Session('ecephys_676909_2023-12-13_13-43-40')], ['sorted', 'nwb_asset_id'])
>>> row
{'id': 'ecephys_676909_2023-12-13_13-43-40', 'platform': 'ecephys', 'subject_id': '676909',
 'start_time': '2023-12-13T13:43:40-08:00', 'sorted': True,
 'nwb_asset_id': 'fc3206c1-7797-46aa-9ba8-5521e4c3aa7d', 'unknown': {}}
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import errors
from aind_session.asset_names import is_nwb_asset_name
from aind_session.conventions import may_be_ecephys
from aind_session.dates import iso_session_time
from aind_session.outcomes import gathered
from aind_session.table_files import (  # noqa: F401 (names of this module too)
    COLUMNS,
    EXTRA_MESSAGE,
    FORMATS,
    IDENTITY,
    LIST_COLUMNS,
    STATUSES,
    batch_sizes,
    frame_of,
    in_batches,
    pandas_module,
    records,
    write_table,
)

if TYPE_CHECKING:
    import pandas

    from aind_session.dates import DateLike
    from aind_session.session import Session

logger = logging.getLogger(__name__)

CLI_COLUMNS = ("uploaded", "sorted", "latest_sorting_status")
"""The ``sessions`` command's default columns: cheap (no file is read but the
sorted assets' ``output``)."""
_ECEPHYS: tuple[str, ...] = ("sorted", "sorters", "latest_sorted_asset_id")
_ECEPHYS += ("latest_sorting_status", "sorting_running")


def check_columns(columns: str | Iterable[str] | None) -> tuple[str, ...]:
    """The columns asked for, checked, without repeats: every column for None.

    >>> check_columns(['sorted', 'uploaded', 'sorted'])
    ('sorted', 'uploaded')

    Raises
    ------
    aind_session.errors.InvalidInputError
        Naming the column no row has, and listing those there are.
    """
    if columns is None:
        return COLUMNS
    chosen = (columns,) if isinstance(columns, str) else tuple(columns)
    bad = [c for c in chosen if c not in COLUMNS]
    if bad:
        identity = " (always there)" if set(bad) & set(IDENTITY) else ""
        raise errors.InvalidInputError(
            f"columns={bad[0]!r} is not a column of a sessions table{identity}: choose "
            f"among {', '.join(COLUMNS)}; the identity columns {', '.join(IDENTITY)} are in "
            "every row."
        )
    return tuple(dict.fromkeys(chosen))


def session_rows(
    sessions: Iterable[Session | str],
    columns: str | Iterable[str] | None = None,
    progress: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready row per session: identity keys, the ``columns`` (all of
    :data:`COLUMNS` for None) in the order given, and ``unknown``.

    Ids, ``raw_data_dir`` (a URL) are strings, None when there is none (``latest_sorted_asset_id``:
    the newest, usable or not; ``nwb_asset_id``: the newest named ``<session-id>_nwb...``);
    ``uploaded``, ``sorted`` (a usable sorting exists), ``sorting_running``, ``docdb_record``
    bools; ``modalities``, ``sorters`` lists; ``latest_sorting_status`` ok/error/unknown
    (:func:`aind_session.report.status`), None without a sorted asset. Ecephys columns are
    None where not applicable (:func:`aind_session.conventions.may_be_ecephys`). A column
    that could not be found out is None, its reason under ``unknown``.

    Everything is asked together, in few rounds (:func:`aind_session.batch.gather`);
    columns not chosen ask nothing. With ``progress``, sessions go in batches of
    1, 8, 64, 512... (:func:`batch_sizes`), and ``progress(n)`` is called as each
    batch of ``n`` is done; without it, all go in one batch (the fewest rounds).

    >>> from aind_session import Session
    >>> session_rows([Session('behavior_676909_2023-12-15_09-30-00')], ['uploaded', 'sorted'])
    [{'id': 'behavior_676909_2023-12-15_09-30-00', 'platform': 'behavior', 'subject_id': '676909',
      'start_time': '2023-12-15T09:30:00-08:00', 'uploaded': True, 'sorted': None, 'unknown': {}}]

    Raises
    ------
    aind_session.errors.InvalidInputError
        For a column no row has (before any request); ``SessionIDError`` for a
        value holding no session ID.
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        Nothing can work (see :func:`aind_session.report.ask`).
    """
    from aind_session.session import Session

    chosen = check_columns(columns)
    todo = [s if isinstance(s, Session) else Session(s) for s in sessions]
    return in_batches(lambda part: _rows(part, chosen), todo, progress)


def _rows(sessions: Sequence[Session], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    from aind_session import cache

    with cache.public_call():  # one deadline for the whole
        return gathered([functools.partial(_row, s, columns) for s in sessions])


def _row(session: Session, columns: tuple[str, ...]) -> dict[str, Any]:
    """One session's row, inside a batch: its questions asked together."""
    from aind_session import report

    row: dict[str, Any] = {
        "id": session.id,
        "platform": session.platform,
        "subject_id": session.subject_id,
        "start_time": iso_session_time(session.dt),
    }
    row.update(dict.fromkeys(columns))
    applies = may_be_ecephys(session.platform)
    asked = [c for c in columns if applies or c not in _ECEPHYS]
    _hints(asked)
    outcomes = report.ask_many([_question(session, c) for c in asked])
    unknown: dict[str, str] = {}
    for column, outcome in zip(asked, outcomes, strict=True):
        value, unsure = outcome.value, outcome.unknown
        if column == "latest_sorting_status" and value is None and outcome.reason:
            unsure = True  # a sorted asset whose verdict is not there to read: unknown
        if column == "latest_sorting_status" and (value is not None or unsure):
            value = report.status(value, unsure)
        row[column] = value
        if unsure:
            unknown[column] = str(outcome.reason)
    row["unknown"] = unknown
    return row


def _hints(columns: Sequence[str]) -> None:
    """Inside a batch, with the first round (the asset search): the sorting
    pipeline's runs, and the S3 client's set-up, when a column needs them."""
    from aind_session import codeocean, s3
    from aind_session.config import get_settings

    if "sorting_running" in columns:
        codeocean.hint_computations(get_settings().sorting_pipeline_id)
    if set(columns) - {"raw_data_asset_id", "latest_sorted_asset_id", "nwb_asset_id"}:
        s3.hint_connect()


def _question(session: Session, column: str) -> tuple[Callable[[], Any], Any]:
    """``(question, none)`` for :func:`aind_session.report.ask`: what ``column`` asks
    of ``session``, and its value when what it looks for is not there."""
    from aind_session import folders

    ecephys = session.ecephys
    questions: dict[str, tuple[Callable[[], Any], Any]] = {
        "raw_data_asset_id": (lambda: session.raw_data_asset.id, None),
        "raw_data_dir": (lambda: folders.raw_data_dir(session.id), None),
        "uploaded": (lambda: session.is_uploaded, None),
        "modalities": (lambda: list(session.modalities), []),
        "sorted": (lambda: ecephys.is_sorted, None),
        "sorters": (lambda: list(ecephys.sorter.names), None),
        "latest_sorted_asset_id": (lambda: _latest_sorted(session, "id"), None),
        "latest_sorting_status": (lambda: _latest_sorted(session, "is_sorting_error"), None),
        "nwb_asset_id": (lambda: nwb_asset_id(session), None),
        # without a raw data asset, no run can be on it
        "sorting_running": (lambda: bool(ecephys.current_sorting_pipeline_computations), False),
        "docdb_record": (lambda: has_docdb_record(session), None),
    }
    return questions[column]


def _latest_sorted(session: Session, attribute: str) -> Any:
    assets = session.ecephys.sorted_data_assets
    return getattr(assets[-1], attribute) if assets else None


def nwb_asset_id(session: Session) -> str | None:
    """The id of the session's newest data asset named ``<session-id>_nwb...``
    (:func:`aind_session.asset_names.is_nwb_asset_name`), or None when it has none.

    >>> from aind_session import Session
    >>> nwb_asset_id(Session('ecephys_676909_2023-12-13_13-43-40'))
    'fc3206c1-7797-46aa-9ba8-5521e4c3aa7d'
    >>> nwb_asset_id(Session('ecephys_676909_2023-12-14_12-43-11')) is None
    True
    """
    found = [a for a in session.data_assets if is_nwb_asset_name(a.name, session.id)]
    if not found:
        return None
    newest = max(reversed(found), key=lambda a: a.created or 0)  # a tie: the later listed
    return str(newest.id)


def has_docdb_record(session: Session) -> bool:
    """True when DocDB has a record of the session (in one of its collections).

    Read from the record's summary, which every asset question asks for too
    (all collections, many names per query: no request more when another
    column is asked); when that quick way fails, from ``session.docdb``.

    >>> from aind_session import Session
    >>> has_docdb_record(Session('780345_2025-02-20_00-00-00'))
    True

    Raises
    ------
    aind_session.errors.ServiceError
        When DocDB could not be asked.
    """
    from aind_session import docdb

    try:
        return docdb.summary(session.id) is not None
    except errors.ServiceError as exc:  # DocDB asked as a helper: a short wait
        logger.debug("DocDB summary of %s failed (%s): asking for its record", session.id, exc)
    try:
        _ = session.docdb
    except errors.NoDocDBRecordError:
        return False
    return True


# -- the DataFrame ----------------------------------------------------------------------
def sessions_table(
    subjects: Any = None,
    sessions: Any = None,
    *,
    platform: str | None = None,
    date: DateLike | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
    columns: str | Iterable[str] | None = None,
    progress: Callable[[int], Any] | None = None,
) -> pandas.DataFrame:
    """A DataFrame of sessions, indexed by session ID (``id``): the rows of
    :func:`session_rows`, with typed columns.

    ``subjects`` (IDs or `Subject`\\ s, one or many) give their sessions through
    :func:`aind_session.get_sessions` with the filters; or give ``sessions``
    (`Session`\\ s or IDs). ``columns``: some of :data:`COLUMNS` (all by default;
    columns not chosen ask nothing); ``progress``: see :func:`session_rows`.

    Returns
    -------
    pandas.DataFrame
        ``platform``, ``subject_id`` and ids as string, ``start_time`` in the session time
        zone, booleans as ``boolean``, ``latest_sorting_status`` a category of
        ok/error/unknown, lists and ``unknown`` (dicts) as objects. No rows when none is found.

    >>> table = sessions_table(676909, columns=['uploaded', 'sorted'])
    >>> table[['platform', 'sorted']]
                                         platform  sorted
    id
    ecephys_676909_2023-12-13_13-43-40    ecephys    True
    ecephys_676909_2023-12-14_12-43-11    ecephys    True
    behavior_676909_2023-12-15_09-30-00  behavior    <NA>
    SmartSPIM_676909_2024-01-18_11-05-32  SmartSPIM    <NA>

    Raises
    ------
    aind_session.errors.InvalidInputError
        Neither or both of ``subjects`` and ``sessions``, filters with
        ``sessions``, a column no row has, or a bad filter (before any row is asked).
    aind_session.errors.ConfigurationError
        When pandas is not installed (the ``[table]`` extra).
    """
    pd = pandas_module()
    chosen = check_columns(columns)
    found = _sessions(subjects, sessions, platform, date, start_date, end_date)
    rows = session_rows(found, chosen, progress)
    return frame_of(rows, chosen, pd)


def _many(value: Any) -> list[Any]:
    if isinstance(value, (str, int, os.PathLike)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _sessions(
    subjects: Any, sessions: Any, platform: Any, date: Any, start_date: Any, end_date: Any
) -> list[Session]:
    from aind_session.session import Session

    filters = dict(platform=platform, date=date, start_date=start_date, end_date=end_date)
    if (subjects is None) == (sessions is None):
        given = "both" if subjects is not None else "neither"
        raise errors.InvalidInputError(
            f"sessions_table was given {given} of subjects and sessions: give subjects "
            "(IDs or Subjects, with platform/date filters) or sessions (Sessions or IDs). "
            f"Columns: {', '.join(COLUMNS)}."
        )
    if sessions is not None:
        used = [f"{k}={v!r}" for k, v in filters.items() if v is not None]
        if used:
            raise errors.InvalidInputError(
                f"sessions_table filters ({', '.join(used)}) apply to subjects' sessions, "
                "not to sessions given: pass subjects instead, or leave the filters out."
            )
        chosen = [s if isinstance(s, Session) else Session(s) for s in _many(sessions)]
        return list(dict.fromkeys(chosen))
    from aind_session import cache
    from aind_session.subject import get_sessions

    asks = [functools.partial(get_sessions, s, **filters) for s in _many(subjects)]
    with cache.public_call():  # every subject's searches in the same rounds
        groups = gathered(asks)
    return list(dict.fromkeys(s for group in groups for s in group))
