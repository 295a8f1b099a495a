"""Summaries of sessions and subjects: as dicts (for ``--json``), text and HTML.

`describe` gathers what ``aind-session info`` prints. Each section that cannot
be resolved is left empty and its reason is put in ``problems`` (one line),
so the rest still shows. Independent sections are fetched at once.

The HTML cards for `Session` and `Subject` use parsed fields only: rendering
one in a notebook never makes a request.
"""

from __future__ import annotations

import datetime
import html
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aind_session import errors

if TYPE_CHECKING:
    from aind_session.session import Session
    from aind_session.subject import Subject

logger = logging.getLogger(__name__)

SECTIONS = (
    "raw_data_asset",
    "raw_data_dir",
    "modalities",
    "metadata_files",
    "sorted_data_assets",
    "running_pipeline_computations",
)


class Summary(dict):
    """A plain dict that also renders as an HTML table in Jupyter."""

    def _repr_html_(self) -> str:
        return _html_table(self)


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def describe(session: Session) -> Summary:
    """Everything ``aind-session info`` shows about a session, as a dict.

    Keys are stable: ``id``, ``platform``, ``subject_id``, ``date``, ``time``,
    then one per section (``raw_data_asset``, ``raw_data_dir``, ``modalities``,
    ``metadata_files``, ``sorted_data_assets``, ``running_pipeline_computations``),
    and ``problems``: section -> why it could not be resolved.

    >>> from aind_session import Session
    >>> summary = describe(Session('ecephys_676909_2023-12-13_13-43-40'))
    >>> summary['raw_data_dir'], summary['modalities']
    ('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40', ['behavior', 'ecephys'])
    """
    return describe_many([session])[0]


def describe_many(sessions: Sequence[Session]) -> list[Summary]:
    """:func:`describe` for many sessions, asking every service in a few rounds.

    Two rounds of concurrent requests, each for all sessions at once: the
    asset searches (one per distinct 20-character prefix) with the sorting
    pipeline's runs; then the raw data folders together with the sorted
    assets' folders, ``output``, ``processing.json`` and ``curated/``
    listings. Raw data folders not where ``source_bucket`` says (or without
    one) take one more round for all such sessions, and a folder not found is
    not probed again while the summaries are built; older layouts of sorted
    assets take more rounds. The summaries are then built from the cache.
    """
    from aind_session import s3

    with s3.batch():  # an empty candidate folder is probed once, not once per section
        prefetch(sessions)
        return [_summarize(session) for session in sessions]


def prefetch(
    sessions: Sequence[Session],
    *,
    sorted_parts: Sequence[str] = ("error", "sorter", "probes"),
    pipeline_runs: bool = True,
) -> None:
    """Warm the cache for many sessions in a few rounds of concurrent requests:
    their asset searches (and, with ``pipeline_runs``, the sorting pipeline's
    runs), then their raw data folders and their sorted assets'
    ``sorted_parts`` (see :func:`aind_session.extensions.ecephys.prefetch`).

    Nothing is raised: what fails here is asked again, and said, by whatever
    needs it. Call it inside :func:`aind_session.s3.batch` so that folders
    found empty are not probed again afterwards.
    """
    from aind_session import codeocean, rawdata, s3
    from aind_session.config import get_settings

    try:
        # at once: the distinct searches, the sorting pipeline's runs, and the
        # S3 client's set-up (imports, service model) while those wait
        settings = get_settings()
        work: list[tuple[Callable[..., Any], Any]] = []
        if not settings.offline:  # credentials may be fetched from the network
            work.append((s3.connect, ()))
        if pipeline_runs and any(s.platform == "ecephys" for s in sessions):
            work.append((codeocean.list_computations, (settings.sorting_pipeline_id,)))
        distinct = {s.id[: codeocean.NAME_TERM_LIMIT]: s.id for s in sessions}.values()
        work += [(codeocean.get_session_data_assets, (sid,)) for sid in distinct]
        # a thread each (up to the bound): the set-up must not hold a search back
        with ThreadPoolExecutor(max(1, min(len(work), settings.max_concurrency))) as pool:
            jobs: list[Future[Any]] = [pool.submit(fn, *args) for fn, args in work]
            for job in jobs:
                job.result()
        for session in sessions:  # sessions sharing a search: no request
            codeocean.get_session_data_assets(session.id)
        # then one S3 round for the raw data folders and the sorted assets' folders
        # and files; more only where a folder is not where source_bucket says
        from aind_session.extensions.ecephys import prefetch as prefetch_sorted

        groups = rawdata.unsettled(s.id for s in sessions)
        sorted_assets = [a for s in sessions for a in s.ecephys.sorted_data_assets]
        rawdata.settle_many(prefetch_sorted(sorted_assets, sorted_parts, also_locate=groups))
    except (errors.AindSessionError, PermissionError, ConnectionError) as exc:
        logger.debug("prefetch stopped (%s); sections will ask on their own", exc)


def _summarize(session: Session) -> Summary:
    summary = Summary(
        id=session.id,
        platform=session.platform,
        subject_id=session.subject_id,
        date=session.date.isoformat(),
        time=session.time.isoformat(),
    )
    problems: dict[str, str] = {}

    def guarded(name: str, fn: Callable[[], Any], empty: Any) -> Any:
        try:
            return fn()
        except (errors.AuthenticationError, errors.ConfigurationError):
            raise  # nothing can work: said once, by the caller
        except errors.AindSessionError as exc:
            problems[name] = _one_line(exc)
        except (ValueError, LookupError, PermissionError, ConnectionError) as exc:
            problems[name] = _one_line(exc)
        return empty

    def raw_asset() -> dict[str, Any]:
        asset = session.raw_data_asset
        return {"id": asset.id, "name": asset.name, "created": _iso(asset.created)}

    def running() -> list[dict[str, Any]]:
        if not session.ecephys.sorted_data_assets and session.platform != "ecephys":
            return []
        return [
            {
                "id": c.id,
                "name": c.name,
                "state": str(getattr(c.state, "value", c.state)),
                "created": _iso(c.created),
            }
            for c in session.ecephys.current_sorting_pipeline_computations
        ]

    # the asset search is the first question of every section: if it fails,
    # every section fails the same way, so say it once for each and stop
    try:
        _ = session.data_assets
    except errors.ServiceError as exc:  # a refused or missing token is raised: nothing can work
        reason = _one_line(exc)
        summary.update(
            {
                name: [] if name not in ("raw_data_asset", "raw_data_dir") else None
                for name in SECTIONS
            }
        )
        summary["problems"] = dict.fromkeys(SECTIONS, reason)
        return summary
    from aind_session import rawdata
    from aind_session.extensions.metadata import Metadata

    # URLs and names, not UPaths: a summary needs no filesystem object
    summary["raw_data_asset"] = guarded("raw_data_asset", raw_asset, None)
    summary["raw_data_dir"] = guarded(
        "raw_data_dir", lambda: rawdata.raw_data_dir(session.id), None
    )
    # modalities come from the raw data folder's listing: without the folder,
    # asking again would only repeat the probes that just failed
    summary["modalities"] = (
        list(guarded("modalities", lambda: session.modalities, ()))
        if summary["raw_data_dir"]
        else []
    )
    summary["metadata_files"] = (
        guarded("metadata_files", lambda: list(Metadata._names(summary["raw_data_dir"])), [])
        if summary["raw_data_dir"]
        else []
    )
    summary["sorted_data_assets"] = guarded(
        "sorted_data_assets",
        lambda: [_describe_sorted(a) for a in session.ecephys.sorted_data_assets],
        [],
    )
    summary["running_pipeline_computations"] = (
        guarded("running_pipeline_computations", running, []) if summary["raw_data_asset"] else []
    )
    summary["problems"] = {k: problems[k] for k in sorted(problems)}
    return summary


def _describe_sorted(asset: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": asset.id, "name": asset.name, "created": _iso(asset.created)}
    for key, read in (
        ("sorter", lambda: asset.sorter_name),
        ("probes", lambda: list(asset.sorted_probes)),
        ("error", lambda: asset.is_sorting_error),
    ):
        try:
            entry[key] = read()
        except (errors.AindSessionError, ValueError, PermissionError, ConnectionError) as exc:
            entry[key] = None
            entry.setdefault("problems", {})[key] = _one_line(exc)
    return entry


# -- HTML ------------------------------------------------------------------------------
_CARD_STYLE = (
    "border:1px solid #8884;border-radius:6px;padding:6px 10px;display:inline-block;"
    "font-family:sans-serif;font-size:13px"
)


def _html_table(data: Mapping[str, Any]) -> str:
    rows = []
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            shown = "<br>".join(html.escape(_short(v)) for v in value) or "&mdash;"
        elif isinstance(value, Mapping):
            shown = (
                "<br>".join(
                    f"{html.escape(str(k))}: {html.escape(_short(v))}" for k, v in value.items()
                )
                or "&mdash;"
            )
        else:
            shown = "&mdash;" if value is None else html.escape(str(value))
        rows.append(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(key)}</th><td style='text-align:left'>{shown}</td></tr>"
        )
    return f"<table style='{_CARD_STYLE}'>{''.join(rows)}</table>"


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(
            f"{k}: {_short(v)}" for k, v in value.items() if k != "problems" and v is not None
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_short, value)) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def session_card(session: Session) -> str:
    """HTML card of a session from its parsed fields (no request)."""
    return (
        f"<div style='{_CARD_STYLE}'><b>Session</b> <code>{html.escape(session.id)}</code><br>"
        f"platform: {html.escape(session.platform)} &middot; subject: {html.escape(session.subject_id)}"
        f" &middot; {session.date.isoformat()} {session.time.isoformat()}</div>"
    )


def subject_card(subject: Subject) -> str:
    """HTML card of a subject from its ID (no request)."""
    return f"<div style='{_CARD_STYLE}'><b>Subject</b> <code>{html.escape(subject.id)}</code></div>"
