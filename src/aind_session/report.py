"""Summaries of sessions and subjects: as dicts (for ``--json``), text and HTML.

`describe` gathers what ``aind-session info`` prints. Each section that cannot
be resolved is left empty and its reason is put in ``problems`` (one line),
so the rest still shows. Independent sections are fetched at once.

Nothing found is an answer; an answer that could not be found out (a service
down, access denied, a corrupt file) is not: such a section is ``None`` and
its reason is also in ``unknown``, so it never reads as "none" or "ok" (see
:func:`ask`).

The HTML cards for `Session` and `Subject` use parsed fields only: rendering
one in a notebook never makes a request.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aind_session import cards, errors

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
        return cards.html_table(self, self.get("unknown") or {})


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# what may go wrong while a question is answered; AuthenticationError and
# ConfigurationError are raised instead: nothing can work, and it is said once
_LOOKUP_ERRORS = (errors.AindSessionError, ValueError, LookupError, OSError)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The answer to one question, or why there is none.

    ``reason`` is set when there is no value: nothing was found (``unknown``
    false, ``value`` is the "none" answer), or the answer could not be found
    out (``unknown`` true, ``value`` is None).
    """

    value: Any
    reason: str | None = None
    unknown: bool = False


def ask(question: Callable[[], Any], none: Any = None) -> Outcome:
    """Ask ``question``: its value, ``none`` with the reason when nothing is there
    (a :class:`~aind_session.errors.NotAvailableError`), or unknown with the
    reason when the answer could not be found out (any other error met while
    looking: a service down, access denied, a corrupt file).

    >>> ask(lambda: 1)
    Outcome(value=1, reason=None, unknown=False)
    >>> ask(lambda: {}['x'], none=()).unknown
    True

    Raises
    ------
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        Nothing can work: the caller says it once.
    """
    try:
        return Outcome(question())
    except (errors.AuthenticationError, errors.ConfigurationError):
        raise
    except errors.NotAvailableError as exc:
        return Outcome(none, _one_line(exc))
    except _LOOKUP_ERRORS as exc:
        return Outcome(None, _one_line(exc), unknown=True)


def describe(session: Session) -> Summary:
    """Everything ``aind-session info`` shows about a session, as a dict.

    Keys are stable: ``id``, ``platform``, ``subject_id``, ``date``, ``time``,
    then one per section (``raw_data_asset``, ``raw_data_dir``, ``modalities``,
    ``metadata_files``, ``sorted_data_assets``, ``running_pipeline_computations``),
    ``problems``: section -> why it could not be resolved, and ``unknown``:
    section -> why its answer could not be found out (those sections are
    ``None``, which is not "none"; ``sorted_data_assets`` is listed when a part
    of one of its entries is unknown).

    Each sorted asset's entry has ``id``, ``name``, ``created``, ``sorter``,
    ``probes``, ``error`` (True: a sorting error, False: ok, None: unknown),
    and the same ``problems`` and ``unknown`` for its parts.

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
    from aind_session import cache, codeocean, folders, s3
    from aind_session.config import get_settings

    # one public call: one deadline, and what it works out is kept only if no
    # clear_cache() came since it began
    with cache.public_call():
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
                # each in a copy of this call's context: one deadline for all
                jobs: list[Future[Any]] = [
                    pool.submit(contextvars.copy_context().run, fn, *args) for fn, args in work
                ]
                for job in jobs:
                    job.result()
            for session in sessions:  # sessions sharing a search: no request
                codeocean.get_session_data_assets(session.id)
            # then one S3 round for the raw data folders and the sorted assets' folders
            # and files; more only where a folder is not where source_bucket says
            from aind_session.extensions.ecephys import prefetch as prefetch_sorted

            groups = folders.unsettled_raw_data_dirs(s.id for s in sessions)
            sorted_assets = [a for s in sessions for a in s.ecephys.sorted_data_assets]
            folders.settle_raw_data_dirs(
                prefetch_sorted(sorted_assets, sorted_parts, also_locate=groups)
            )
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
    unknown: dict[str, str] = {}

    def section(name: str, question: Callable[[], Any], none: Any) -> Any:
        return _noted(name, ask(question, none), problems, unknown)

    def after(needed: str, name: str, question: Callable[[], Any], none: Any) -> Any:
        """A section asked only when section ``needed`` has a value: without it,
        the answer is ``none``, or unknown when ``needed`` is unknown."""
        if summary[needed]:
            return section(name, question, none)
        if needed in unknown:
            problems[name] = unknown[name] = (
                f"{needed} could not be found out, so neither could {name} (see {needed})."
            )
            return None
        return none

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
        summary.update(dict.fromkeys(SECTIONS))
        summary["problems"] = dict.fromkeys(SECTIONS, reason)
        summary["unknown"] = dict.fromkeys(SECTIONS, reason)
        return summary
    from aind_session import folders
    from aind_session.extensions.metadata import Metadata

    # URLs and names, not UPaths: a summary needs no filesystem object
    summary["raw_data_asset"] = section("raw_data_asset", raw_asset, None)
    summary["raw_data_dir"] = section(
        "raw_data_dir", lambda: folders.raw_data_dir(session.id), None
    )
    # modalities come from the raw data folder's listing: without the folder,
    # asking again would only repeat the probes that just failed
    summary["modalities"] = after(
        "raw_data_dir", "modalities", lambda: list(session.modalities), []
    )
    summary["metadata_files"] = after(
        "raw_data_dir",
        "metadata_files",
        lambda: list(Metadata._names(summary["raw_data_dir"])),
        [],
    )
    entries = section(
        "sorted_data_assets",
        lambda: [_describe_sorted(a) for a in session.ecephys.sorted_data_assets],
        [],
    )
    summary["sorted_data_assets"] = entries
    partly = [e for e in entries or () if e["unknown"]]
    if partly:
        first = next(iter(partly[0]["unknown"].values()))
        problems["sorted_data_assets"] = unknown["sorted_data_assets"] = (
            f"{len(partly)} of {len(entries)} sorted data assets could not be fully "
            f"checked; the first: {first}"
        )
    summary["running_pipeline_computations"] = after(
        "raw_data_asset", "running_pipeline_computations", running, []
    )
    summary["problems"] = {k: problems[k] for k in sorted(problems)}
    summary["unknown"] = {k: unknown[k] for k in sorted(unknown)}
    return summary


def _describe_sorted(asset: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": asset.id, "name": asset.name, "created": _iso(asset.created)}
    problems: dict[str, str] = {}
    unknown: dict[str, str] = {}
    for key, read in (
        ("sorter", lambda: asset.sorter_name),
        ("probes", lambda: list(asset.sorted_probes)),
        ("error", lambda: asset.is_sorting_error),
    ):
        entry[key] = _noted(key, ask(read, None), problems, unknown)
    entry["problems"], entry["unknown"] = problems, unknown
    return entry


def _noted(name: str, outcome: Outcome, problems: dict[str, str], unknown: dict[str, str]) -> Any:
    """The value of ``outcome``, its reason (if any) noted under ``name``."""
    if outcome.reason is not None:
        problems[name] = outcome.reason
        if outcome.unknown:
            unknown[name] = outcome.reason
    return outcome.value


# -- HTML (drawn by aind_session.cards) -------------------------------------------------
def session_card(session: Session) -> str:
    """HTML card of a session from its parsed fields (no request)."""
    return cards.session_card(
        session.id, session.platform, session.subject_id, session.date, session.time
    )


def subject_card(subject: Subject) -> str:
    """HTML card of a subject from its ID (no request)."""
    return cards.subject_card(subject.id)
