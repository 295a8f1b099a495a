"""`Subject` and `get_sessions`: everything recorded from one animal.

>>> from aind_session import Subject, get_sessions
>>> Subject(676909).sessions[0]
Session('ecephys_676909_2023-12-13_13-43-40')
>>> get_sessions(676909, platform='behavior')
(Session('behavior_676909_2023-12-15_09-30-00'),)
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aind_session import cache, conventions, errors
from aind_session.conventions import (  # noqa: F401 (names of this module too)
    KNOWN_PLATFORMS,
    MAX_SUBJECT_DIGITS,
    session_id_fields,
)
from aind_session.conventions import shown as _shown
from aind_session.dates import DateLike, date_range, iso_session_time
from aind_session.identity import ComparedByID
from aind_session.session import PLATFORM_PATTERN, Session

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)

# npc-session's subject: 6 or 7 digits (a LabTracks ID); as a folder of a path
_SUBJECT_FOLDER = re.compile(r"[0-9]{6,7}")


def check_platform(platform: Any) -> str:
    """A platform filter as given (surrounding whitespace removed), refused when
    no session can have it.

    A platform is what a session ID starts with: letters, digits and hyphens
    (:data:`aind_session.session.PLATFORM_PATTERN`); anything else raises
    :class:`~aind_session.errors.InvalidInputError` (a ``ValueError``). One that is
    well formed but not among :data:`KNOWN_PLATFORMS` is allowed (platforms are
    added over time) and logged as a warning, since it is more likely a typo.

    >>> check_platform('SmartSPIM')
    'SmartSPIM'
    """
    if not isinstance(platform, str) or not PLATFORM_PATTERN.fullmatch(platform.strip()):
        raise errors.InvalidInputError(
            f"platform must be a name of letters, digits and hyphens such as 'ecephys', "
            f"'SmartSPIM' or 'single-plane-ophys', not {_shown(platform)}."
        )
    platform = platform.strip()
    if platform.lower() not in {p.lower() for p in KNOWN_PLATFORMS}:
        logger.warning(
            "platform %r is not a known AIND platform (%s); only sessions with exactly this "
            "platform will match",
            platform,
            ", ".join(KNOWN_PLATFORMS),
        )
    return platform


def normalize_subject_id(value: Any) -> str:
    """A subject ID as a string of digits, from an int or a string of digits.

    Accepts a non-negative ``int`` (or any integer type, such as numpy's), a
    string of ASCII digits with surrounding whitespace (leading zeros are
    dropped), or a :class:`Subject`. Everything else is refused: ``bool``,
    ``float``, ``None``, and any other text, such as ``'676909 name:ecephys'``
    (which a search would otherwise take as a query). :class:`Subject` and
    :func:`get_sessions` use this too, after looking for a session ID or a
    subject folder in a path (see :func:`parse_subject_id`).

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) naming the value.

    Examples
    --------
    >>> normalize_subject_id(' 676909 ')
    '676909'
    >>> normalize_subject_id(676909.0)
    Traceback (most recent call last):
    ...
    aind_session.errors.SessionIDError: A subject ID is a whole number such as 676909 ...
    """
    if isinstance(value, Subject):
        return value.id
    return conventions.normalize_subject_id(value)


def parse_subject_id(value: Any) -> str:
    """The subject ID in ``value``: an int, a string of digits, or a path holding one.

    A path (or string) holds one when it holds a session ID (its subject is
    taken) or has exactly one folder named by a 6- or 7-digit number. Anything
    else goes to :func:`normalize_subject_id`, which refuses other text.

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) naming the value.

    >>> parse_subject_id('/data/ecephys_676909_2023-12-13_13-43-40')
    '676909'
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            return Session(value).subject_id
        except ValueError:
            pass
        folders = {f for f in re.split(r"[\\/]", value.strip()) if _SUBJECT_FOLDER.fullmatch(f)}
        if len(folders) == 1 and re.search(r"[\\/]", value):
            return normalize_subject_id(folders.pop())
        try:
            return normalize_subject_id(value)
        except errors.SessionIDError:
            raise errors.SessionIDError(
                f"{_shown(value)} is not a subject ID: expected a whole number such as 676909, "
                "or a path or session ID holding one."
            ) from None
    return normalize_subject_id(value)


class Subject(ComparedByID):
    """One animal, by its subject ID.

    >>> Subject('676909') == Subject(676909)
    True
    """

    id: str

    def __init__(self, subject_id: int | str | os.PathLike[str] | Subject) -> None:
        self.__dict__["id"] = parse_subject_id(subject_id)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Subject is immutable: cannot set {name!r} on {self!r}.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Subject is immutable: cannot delete {name!r} from {self!r}.")

    def __repr__(self) -> str:
        return f"Subject({self.id!r})"

    def __str__(self) -> str:
        return self.id

    def _key(self) -> tuple[int, str]:
        return (len(self.id), self.id)  # numeric order for digit strings

    def _hash_key(self) -> tuple[str, str]:
        return ("Subject", self.id)

    # ==, <, <=, >, >= by _key and hash by _hash_key: ComparedByID

    def __reduce__(self) -> tuple[Any, ...]:
        return (Subject, (self.id,))

    def _repr_html_(self) -> str:
        from aind_session import cards  # the ID only: no request

        return cards.subject_card(self.id)

    def describe(self) -> SubjectSummary:
        """The subject's sessions by platform and date range, as a dict (renders as a
        card in Jupyter); asks for its sessions.

        See :func:`describe_subject` for the keys.

        >>> summary = Subject(676909).describe()
        >>> summary['sessions'], summary['platforms'][0]['platform']
        (4, 'ecephys')
        """
        return describe_subject(self)

    @property
    @cache.public_call()
    def data_assets(self) -> tuple[DataAsset, ...]:
        """Every data asset of the subject, oldest first (see `get_subject_data_assets`);
        ``()`` when there are none.

        >>> [asset.name for asset in Subject(676909).data_assets][:2]
        ['ecephys_676909_2023-12-13_13-43-40', 'behavior_676909_2023-12-15_09-30-00']
        """
        from aind_session.codeocean import get_subject_data_assets

        return get_subject_data_assets(self.id)

    @property
    @cache.public_call()
    def docdb(self) -> tuple[dict[str, Any], ...]:
        """The subject's records in DocDB (``subject.subject_id``), one per asset name
        (the 2.x collection's first), sorted by name; ``()`` when there are none.

        >>> [r['name'] for r in Subject(780345).docdb]
        ['780345_2025-02-20_00-00-00']

        Raises
        ------
        aind_session.errors.ServiceError
            When DocDB could not be asked.
        """
        from aind_session import docdb

        return docdb.subject_records(self.id)

    @property
    @cache.public_call()
    def sessions(self) -> tuple[Session, ...]:
        """Every session of the subject, by date and time; ``()`` when there are none.

        >>> Subject(676909).sessions[-1]
        Session('SmartSPIM_676909_2024-01-18_11-05-32')
        """
        return get_sessions(self.id)


def get_sessions(
    subject_id: int | str | os.PathLike[str] | Subject,
    platform: str | None = None,
    date: DateLike | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
) -> tuple[Session, ...]:
    """Sessions of a subject found in the names of its data assets in CodeOcean
    and of its records in DocDB, by date and time (both asked at once).

    Parameters
    ----------
    subject_id
        An int, a string of digits, or a path or session ID holding one (see
        :func:`parse_subject_id`).
    platform
        Keep only this platform (case-insensitive), e.g. ``'ecephys'``. Only
        IDs that name a platform can match: aind-data-schema 2.x sessions
        (``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``, platform None) are left out
        (logged).
    date
        Keep only sessions on this day (or at this exact time, when one is given).
        Any form of :func:`aind_session.dates.parse_date`; a moment with a time
        zone is converted to the sessions' own (the setting ``timezone``).
    start_date, end_date
        Inclusive bounds; either may be left open. Not together with ``date``.

    Returns
    -------
    tuple[Session, ...]
        ``()`` when nothing matches (the filters are logged).

    Raises
    ------
    aind_session.errors.InvalidInputError
        (a ``ValueError``; ``SessionIDError`` for the subject) for a bad subject
        ID, a platform no session can have, an unparseable date, or ``date``
        with a range.

    Examples
    --------
    >>> get_sessions(676909, start_date='2023-12-14', platform='ecephys')
    (Session('ecephys_676909_2023-12-14_12-43-11'),)
    >>> get_sessions(780345)  # an aind-data-schema 2.x ID
    (Session('780345_2025-02-20_00-00-00'),)
    """
    subject = parse_subject_id(subject_id)
    window = date_range(date, start_date, end_date)
    if platform is not None:
        platform = check_platform(platform)
    sessions: set[Session] = set()
    unnamed: set[Session] = set()  # no platform in the ID, left out by a platform filter
    seen: set[str] = set()  # the IDs looked at (a session has many assets)
    for name in _asset_names(subject):
        try:
            session_id = session_id_fields(name)[0]
        except ValueError:
            logger.debug("data asset %r holds no session ID", name)
            continue
        if session_id in seen:
            continue
        seen.add(session_id)
        session = Session(session_id)
        if (session.subject_id.lstrip("0") or "0") != subject:
            continue
        if session.dt not in window:
            continue
        if platform is not None and session.platform is None:
            unnamed.add(session)
            continue
        if platform is not None and (session.platform or "").lower() != platform.lower():
            continue
        sessions.add(session)
    if unnamed:
        logger.info(
            "platform=%r left out %d session(s) of subject %s whose ID names no platform "
            "(aind-data-schema 2.x): %s; their modalities say what was recorded",
            platform,
            len(unnamed),
            subject,
            ", ".join(sorted(s.id for s in unnamed)),
        )
    if not sessions:
        logger.info(
            "no sessions found for subject %s (platform=%r, date=%r, start_date=%r, end_date=%r)",
            subject,
            platform,
            date,
            start_date,
            end_date,
        )
    return tuple(sorted(sessions, key=lambda s: (s.dt, s.id)))


class SubjectSummary(dict):
    """A plain dict (:func:`describe_subject`) that renders as a card in Jupyter."""

    def _repr_html_(self) -> str:
        from aind_session import cards

        return cards.subject_summary_card(self)


def describe_subject(subject: Subject) -> SubjectSummary:
    """A subject's sessions by platform and date range, as a dict (renders as a card).

    Keys: ``subject_id``; ``sessions`` (how many); ``first_start_time`` and
    ``last_start_time`` (ISO 8601, with the session time zone's offset; None
    without sessions); ``platforms``: one entry per platform, by first start,
    with ``platform`` (None for IDs that name none), ``sessions``,
    ``first_start_time``, ``last_start_time`` and ``session_ids``; then
    ``problems`` and ``unknown``. When the sessions could not be found out,
    ``sessions`` and ``platforms`` are None and the reason is under ``unknown``.

    >>> summary = describe_subject(Subject(676909))
    >>> [(p['platform'], p['sessions']) for p in summary['platforms']]
    [('ecephys', 2), ('behavior', 1), ('SmartSPIM', 1)]
    >>> summary['first_start_time'], summary['last_start_time']
    ('2023-12-13T13:43:40-08:00', '2024-01-18T11:05:32-08:00')

    Raises
    ------
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        Nothing can work (see :func:`aind_session.outcomes.ask`).
    """
    from aind_session.outcomes import ask

    outcome = ask(lambda: subject.sessions, ())
    reasons = {} if outcome.reason is None else {"sessions": outcome.reason}
    summary = SubjectSummary(subject_id=subject.id, sessions=None, first_start_time=None)
    summary.update(last_start_time=None, platforms=None)
    if outcome.value is not None:
        sessions: tuple[Session, ...] = outcome.value  # by date and time
        groups: dict[str | None, list[Session]] = {}
        for session in sessions:
            groups.setdefault(session.platform, []).append(session)
        rows = [
            {"platform": p, "sessions": len(g), **_span(g), "session_ids": [s.id for s in g]}
            for p, g in groups.items()
        ]
        summary.update(sessions=len(sessions), platforms=rows, **_span(sessions))
    summary["problems"] = reasons
    summary["unknown"] = dict(reasons) if outcome.unknown else {}  # not the same dict
    return summary


def _span(sessions: Sequence[Session]) -> dict[str, str | None]:
    """The first and last start of ``sessions`` (by date and time), ISO 8601."""
    return {
        "first_start_time": iso_session_time(sessions[0].dt) if sessions else None,
        "last_start_time": iso_session_time(sessions[-1].dt) if sessions else None,
    }


def _asset_names(subject: str) -> list[str]:
    """The names of the subject's CodeOcean data assets and DocDB records (DocDB
    only helps: when it cannot be asked, CodeOcean's names, said in the log)."""
    from aind_session import batch, linked
    from aind_session.codeocean import get_subject_data_asset_names

    tasks: list[Callable[[], Any]] = [
        functools.partial(get_subject_data_asset_names, subject),
        functools.partial(linked.subject_session_names, subject),
    ]
    in_codeocean, (in_docdb, why) = errors.raise_first(batch.gather(tasks))
    linked.without(why)
    return [*in_codeocean, *in_docdb]
