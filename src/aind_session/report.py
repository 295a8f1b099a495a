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

import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import cards, errors
from aind_session.conventions import may_be_ecephys
from aind_session.dates import iso_session_time, iso_utc
from aind_session.outcomes import (
    Outcome,
    ask,
    ask_many,
    gathered,
    one_line,
    status,
)

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
    """A plain dict (a session's :func:`describe`) that renders as a card in Jupyter,
    drawn from the dict alone: no request."""

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, codeocean_domain: str | None = None) -> str:
        """The card (:func:`aind_session.cards.summary_card`): its sorting sections only
        where sorting applies to the platform (:func:`~aind_session.conventions.may_be_ecephys`)
        or sorted assets exist; assets linked to their pages on ``codeocean_domain``
        (by default the setting).

        >>> Summary(id='x', platform='behavior', subject_id='1').to_html()
        "<div ...>Session</div>...x...platform <b>behavior</b>...</div>"
        """
        from aind_session.config import get_settings

        sorting = may_be_ecephys(self.get("platform")) or bool(self.get("sorted_data_assets"))
        if codeocean_domain is None:
            try:
                codeocean_domain = get_settings().codeocean_domain
            except errors.ConfigurationError as exc:  # a card is drawn all the same
                logger.warning("the card links to no CodeOcean page: %s", exc)
        return cards.summary_card(self, codeocean_domain=codeocean_domain, sorting=sorting)


def describe(session: Session) -> Summary:
    """Everything ``aind-session info`` shows about a session, as a dict.

    Keys are stable: ``id``, ``platform``, ``subject_id``, ``start_time`` (ISO 8601,
    with the session time zone's offset),
    then one per section (``raw_data_asset``, ``raw_data_dir``, ``modalities``,
    ``metadata_files``, ``sorted_data_assets``, ``running_pipeline_computations``),
    ``problems``: section -> why it could not be resolved, and ``unknown``:
    section -> why its answer could not be found out (those sections are
    ``None``, which is not "none"; ``sorted_data_assets`` is listed when a part
    of one of its entries is unknown).

    Each sorted asset's entry has ``id``, ``name``, ``created`` (ISO 8601, UTC),
    ``dir`` (its S3 folder), ``sorter``, ``probes``, ``status`` (``"error"``: the sorting failed, ``"ok"``,
    or ``"unknown"``: see :func:`status`),
    and the same ``problems`` and ``unknown`` for its parts.

    >>> from aind_session import Session
    >>> summary = describe(Session('ecephys_676909_2023-12-13_13-43-40'))
    >>> summary['raw_data_dir'], summary['modalities']
    ('s3://aind-ephys-data/ecephys_676909_2023-12-13_13-43-40', ['behavior', 'ecephys'])
    """
    return describe_many([session])[0]


def describe_many(sessions: Sequence[Session]) -> list[Summary]:
    """:func:`describe` for many sessions, asking every service in a few rounds.

    The summaries are worked out together (:func:`aind_session.batch.gather`):
    the first round makes the asset searches (one per distinct 20-character
    prefix) with the sorting pipeline's runs; the second lists the raw data
    folders together with the sorted assets' folders, with their ``output``,
    ``processing.json`` and ``curated/`` listings guessed. Raw data folders
    not where ``source_bucket`` says (or without one) and older layouts of
    sorted assets take more rounds, for all sessions at once. Within the
    call, nothing is asked twice: a folder found empty is not probed again.

    >>> from aind_session import Session
    >>> [s['modalities'] for s in describe_many([Session('ecephys_676909_2023-12-13_13-43-40')])]
    [['behavior', 'ecephys']]

    Raises
    ------
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        Nothing can work (see :func:`ask`).
    """
    from aind_session import cache

    with cache.public_call():  # one deadline for the whole
        return gathered([functools.partial(_summarize, s) for s in sessions])


def prefetch(
    sessions: Sequence[Session],
    *,
    sorted_parts: Sequence[str] = ("error", "sorter", "probes"),
    pipeline_runs: bool = True,
) -> None:
    """Warm the cache for many sessions in a few rounds of concurrent requests:
    their asset searches (and, with ``pipeline_runs``, the sorting pipeline's
    runs), their raw data folders and their sorted assets' ``sorted_parts``
    (see :func:`aind_session.extensions.ecephys.prefetch`).

    The same questions as :func:`describe_many`, asked together
    (:func:`aind_session.batch.gather`), their answers dropped. Nothing is
    raised: what fails here is asked again, and said, by whatever needs it.

    >>> from aind_session import Session
    >>> prefetch([Session('ecephys_676909_2023-12-13_13-43-40')])
    """
    from aind_session import batch, cache, folders
    from aind_session.extensions.sorted_assets import prefetch as prefetch_sorted

    def tasks(session: Session) -> list[Callable[[], Any]]:
        work: list[Callable[[], Any]] = [
            functools.partial(_first_guesses, session, pipeline_runs),
            functools.partial(folders.raw_data_dir, session.id),
            lambda: prefetch_sorted(session.ecephys.sorted_data_assets, sorted_parts),
        ]
        if pipeline_runs and may_be_ecephys(session.platform):
            work.append(lambda: session.ecephys.current_sorting_pipeline_computations)
        return work

    with cache.public_call():
        failed = [
            r
            for r in batch.gather([t for s in sessions for t in tasks(s)])
            if isinstance(r, Exception)
        ]
    if failed:
        logger.debug("prefetch: %d question(s) failed; asked again when needed", len(failed))


def _first_guesses(session: Session, pipeline_runs: bool = True) -> None:
    """Inside a batch: what the first round (the asset search) can fetch too: the
    sorting pipeline's runs, and the set-up of the S3 client."""
    from aind_session import codeocean, s3
    from aind_session.config import get_settings

    s3.hint_connect()
    if pipeline_runs and may_be_ecephys(session.platform):
        codeocean.hint_computations(get_settings().sorting_pipeline_id)


def _summarize(session: Session) -> Summary:
    summary = Summary(
        id=session.id,
        platform=session.platform,
        subject_id=session.subject_id,
        start_time=iso_session_time(session.dt),
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
        return {"id": asset.id, "name": asset.name, "created": iso_utc(asset.created)}

    def running() -> list[dict[str, Any]]:
        if not session.ecephys.sorted_data_assets and not may_be_ecephys(session.platform):
            return []
        return [
            {
                "id": c.id,
                "name": c.name,
                "state": str(getattr(c.state, "value", c.state)),
                "created": iso_utc(c.created),
            }
            for c in session.ecephys.current_sorting_pipeline_computations
        ]

    _first_guesses(session)  # inside a batch, with the asset search
    # the asset search is the first question of every section: if it fails,
    # every section fails the same way, so say it once for each and stop
    try:
        _ = session.data_assets
    except errors.ServiceError as exc:  # a refused or missing token is raised: nothing can work
        reason = one_line(exc)
        summary.update(dict.fromkeys(SECTIONS))
        summary["problems"] = dict.fromkeys(SECTIONS, reason)
        summary["unknown"] = dict.fromkeys(SECTIONS, reason)
        return summary
    from aind_session import folders

    # URLs and names, not UPaths: a summary needs no filesystem object
    summary["raw_data_asset"] = section("raw_data_asset", raw_asset, None)

    def raw_folder() -> None:
        summary["raw_data_dir"] = section(
            "raw_data_dir", lambda: folders.raw_data_dir(session.id), None
        )
        # modalities come from the raw data folder's listing: without the folder,
        # asking again would only repeat the probes that just failed
        summary["modalities"] = after(
            "raw_data_dir", "modalities", lambda: list(session.modalities), []
        )
        summary["metadata_files"] = after(
            "raw_data_dir", "metadata_files", lambda: list(session.metadata.file_names), []
        )

    def sorted_assets() -> None:
        summary["sorted_data_assets"] = section(
            "sorted_data_assets",
            lambda: gathered(
                [functools.partial(_describe_sorted, a) for a in session.ecephys.sorted_data_assets]
            ),
            [],
        )

    def runs() -> None:
        summary["running_pipeline_computations"] = after(
            "raw_data_asset", "running_pipeline_computations", running, []
        )

    gathered([raw_folder, sorted_assets, runs])  # independent: together
    entries = summary["sorted_data_assets"]
    partly = [e for e in entries or () if e["unknown"]]
    if partly:
        first = next(iter(partly[0]["unknown"].values()))
        problems["sorted_data_assets"] = unknown["sorted_data_assets"] = (
            f"{len(partly)} of {len(entries)} sorted data assets could not be fully "
            f"checked; the first: {first}"
        )
    summary["problems"] = {k: problems[k] for k in sorted(problems)}
    summary["unknown"] = {k: unknown[k] for k in sorted(unknown)}
    return summary


def _describe_sorted(asset: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": asset.id, "name": asset.name, "created": iso_utc(asset.created)}
    from aind_session import folders

    problems: dict[str, str] = {}
    unknown: dict[str, str] = {}
    entry["dir"] = None  # its place among the keys; asked last, so its reasons come last
    keys = ("sorter", "probes", "status", "dir")
    outcomes = ask_many(
        [
            (lambda: asset.sorter_name, None),
            (lambda: list(asset.sorted_probes), None),
            (lambda: asset.is_sorting_error, None),
            (lambda: folders.data_asset_dir(asset), None),  # found for the others: no request
        ]
    )
    for key, outcome in zip(keys, outcomes, strict=True):
        entry[key] = _noted(key, outcome, problems, unknown)
    if entry["status"] is None and "status" in problems:  # not there to tell: unknown too
        unknown.setdefault("status", problems["status"])
    entry["status"] = status(entry["status"], "status" in unknown)
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
    """HTML card of a bare session from its parsed fields (no request): its ID,
    platform, subject and start (as written in the ID).

    >>> from aind_session import Session
    >>> session_card(Session('ecephys_676909_2023-12-13_13-43-40'))
    "<div ...>Session</div>...ecephys_676909_2023-12-13_13-43-40...platform <b>ecephys</b>
    ...subject <b>676909</b>...started <b>2023-12-13 13:43:40</b>...</div>"
    """
    return cards.session_card(session.id, session.platform, session.subject_id, session.dt)


def subject_card(subject: Subject) -> str:
    """HTML card of a bare subject from its ID (no request).

    >>> from aind_session import Subject
    >>> subject_card(Subject('676909'))
    "<div ...>Subject</div>...676909...</div>"
    """
    return cards.subject_card(subject.id)
