"""The columns of session tables, their types (:func:`frame_of`) and their files:
:func:`write_table` (csv, parquet, JSON) and :func:`records`; and the sizes of the
batches rows are asked in under a progress bar (:func:`batch_sizes`).

The tables are :func:`aind_session.tables.sessions_table`'s. pandas and pyarrow
are the ``[table]`` extra, imported on first use (:func:`pandas_module`).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import errors

if TYPE_CHECKING:
    import pandas

IDENTITY = ("id", "platform", "subject_id", "start_time")
"""The keys every row starts with (``id`` is the table's index)."""
COLUMNS = (
    "raw_data_asset_id",
    "raw_data_dir",
    "uploaded",
    "modalities",
    "sorted",
    "sorters",
    "latest_sorted_asset_id",
    "latest_sorting_status",
    "nwb_asset_id",
    "sorting_running",
    "docdb_record",
)
"""Every column a row can have, in their order (see :func:`session_rows`)."""
STATUSES = ("ok", "error", "unknown")
"""The categories of ``latest_sorting_status`` (see :func:`aind_session.report.status`)."""

BOOLEAN_COLUMNS = ("uploaded", "sorted", "sorting_running", "docdb_record")
FORMATS = ("csv", "parquet", "json")
LIST_COLUMNS = ("modalities", "sorters")
"""The columns of lists (of names); ``unknown`` holds dicts."""
EXTRA_MESSAGE = (
    "aind_session.sessions_table needs pandas (and pyarrow, for parquet): the [table] "
    "extra. Install it from a clone of aind-session with: pip install '.[table]'"
)


def pandas_module() -> Any:
    """``pandas``, imported now.

    >>> pandas_module().__name__
    'pandas'

    Raises
    ------
    aind_session.errors.ConfigurationError
        When it is not installed, naming the ``[table]`` extra.
    """
    try:
        import pandas
    except ImportError as exc:
        raise errors.ConfigurationError(EXTRA_MESSAGE) from exc
    return pandas


def records(frame: pandas.DataFrame) -> list[dict[str, Any]]:
    """The JSON-ready rows of a table (as :func:`session_rows` gives): missing values None.

    >>> records(pandas_module().DataFrame())
    []
    """
    out = []
    for session_id, values in zip(frame.index, frame.to_dict("records"), strict=True):
        row: dict[str, Any] = {"id": str(session_id)}
        for name, value in values.items():
            if name == "start_time":
                value = value.isoformat()
            elif not isinstance(value, (list, dict)) and _missing(value):
                value = None
            elif hasattr(value, "item"):  # a numpy scalar
                value = value.item()
            row[str(name)] = value
        out.append(row)
    return out


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def write_table(frame: pandas.DataFrame, path_or_stream: Any, fmt: str) -> None:
    """Write a table as ``fmt``: ``csv`` (lists and ``unknown`` as JSON text, times
    ISO 8601), ``parquet`` (through pyarrow: lists as list columns, ``unknown`` a
    map of strings, ``latest_sorting_status`` a dictionary) or ``json`` (a list of
    :func:`records`). To a path, or a stream (text or binary; binary for parquet).

    >>> import io
    >>> out = io.StringIO()
    >>> from aind_session.tables import frame_of
    >>> write_table(frame_of([], ['sorted']), out, 'csv')
    >>> out.getvalue()
    'id,platform,subject_id,start_time,sorted,unknown\\n'

    Raises
    ------
    aind_session.errors.InvalidInputError
        For a format not in :data:`FORMATS`.
    aind_session.errors.ConfigurationError
        When pandas or pyarrow is missing (the ``[table]`` extra).
    """
    if fmt not in FORMATS:
        raise errors.InvalidInputError(
            f"format {fmt!r} is not one a table is written in: choose {', '.join(FORMATS)}."
        )
    if fmt == "parquet":
        _write_parquet(frame, path_or_stream)
        return
    if fmt == "json":
        text = json.dumps(records(frame), indent=2) + "\n"
    else:
        flat = frame.copy()
        flat["start_time"] = [t.isoformat() for t in frame["start_time"]]
        for name in (*LIST_COLUMNS, "unknown"):
            if name in flat:
                flat[name] = [None if v is None else json.dumps(v) for v in frame[name]]
        text = flat.to_csv()
    if isinstance(path_or_stream, (str, os.PathLike)):
        with open(path_or_stream, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    elif isinstance(path_or_stream, io.TextIOBase):
        path_or_stream.write(text)
    else:
        path_or_stream.write(text.encode("utf-8"))


def _write_parquet(frame: pandas.DataFrame, path_or_stream: Any) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise errors.ConfigurationError(EXTRA_MESSAGE) from exc
    arrays = {"id": pa.array([str(i) for i in frame.index], pa.string())}
    for name in frame.columns:
        series = frame[name]
        if name in LIST_COLUMNS:
            arrays[name] = pa.array(list(series), pa.list_(pa.string()))
        elif name == "unknown":
            items = [None if d is None else list(d.items()) for d in series]
            arrays[name] = pa.array(items, pa.map_(pa.string(), pa.string()))
        else:
            arrays[name] = pa.Array.from_pandas(series)
    table = pa.table(arrays)
    if isinstance(path_or_stream, io.TextIOBase):
        path_or_stream = getattr(path_or_stream, "buffer", path_or_stream)  # sys.stdout
    pq.write_table(table, path_or_stream)


def in_batches(
    fn: Callable[[Sequence[Any]], list[Any]],
    items: Sequence[Any],
    progress: Callable[[int], Any] | None = None,
) -> list[Any]:
    """``fn`` over ``items`` in batches, its answers (one per item) in order: in
    :func:`batch_sizes` with ``progress`` (called with each batch's size once it is
    done), else all in one batch (the fewest rounds).

    >>> done = []
    >>> in_batches(lambda part: [len(part)] * len(part), 'abcd', done.append), done
    ([1, 3, 3, 3], [1, 3])
    >>> in_batches(lambda part: [len(part)] * len(part), 'abcd')
    [4, 4, 4, 4]
    """
    sizes = batch_sizes(len(items)) if progress is not None else [len(items)] if items else []
    answers: list[Any] = []
    for size in sizes:
        part = items[len(answers) : len(answers) + size]
        answers += fn(part)
        if progress is not None:
            progress(len(part))
    return answers


def batch_sizes(total: int, growth: int = 8) -> list[int]:
    """Sizes of the batches of ``total`` sessions asked under a progress bar: the first
    session alone (the bar moves after its rounds), then ``growth`` times more each
    time, so that there are few batches (each costs its few rounds): 1,000 sessions
    in 5.

    >>> batch_sizes(1000)
    [1, 8, 64, 512, 415]
    >>> batch_sizes(3), batch_sizes(0)
    ([1, 2], [])
    """
    sizes: list[int] = []
    size = 1
    while sum(sizes) < total:
        sizes.append(min(size, total - sum(sizes)))
        size *= growth
    return sizes


def frame_of(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] = COLUMNS, pd: Any = None
) -> pandas.DataFrame:
    """The typed DataFrame of :func:`session_rows`' rows (see :func:`aind_session.tables.sessions_table`).

    >>> {name: str(dtype) for name, dtype in frame_of([], ['sorted']).dtypes.items()}
    {'platform': 'string', 'subject_id': 'string',
     'start_time': 'datetime64[ns, America/Los_Angeles]', 'sorted': 'boolean', 'unknown': 'object'}
    """
    from aind_session.dates import session_timezone

    pd = pd or pandas_module()
    index = pd.Index([r["id"] for r in rows], dtype="string", name="id")

    def column(name: str) -> Any:
        values = [r.get(name) for r in rows]
        if name == "start_time":
            when = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]")
            return when.tz_convert(session_timezone())
        if name in BOOLEAN_COLUMNS:
            return pd.array(values, dtype="boolean")
        if name == "latest_sorting_status":
            return pd.Categorical(values, categories=list(STATUSES))
        if name in (*LIST_COLUMNS, "unknown"):
            return pd.Series(values, index=index, dtype=object).to_numpy()
        return pd.array(values, dtype="string")

    names = [*IDENTITY[1:], *columns, "unknown"]
    return pd.DataFrame({n: column(n) for n in names}, index=index)
