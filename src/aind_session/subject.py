"""`Subject` and `get_sessions`: everything recorded from one animal.

>>> from aind_session import Subject, get_sessions
>>> Subject(676909).sessions[0]
Session('ecephys_676909_2023-12-13_13-43-40')
>>> get_sessions(676909, platform='behavior')
(Session('behavior_676909_2023-12-15_09-30-00'),)
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from aind_session import errors
from aind_session.dates import DateLike, date_range
from aind_session.session import Session, parse_session_id

if TYPE_CHECKING:
    from codeocean.data_asset import DataAsset

logger = logging.getLogger(__name__)

_SUBJECT_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{6,7}(?![0-9])")
_PLATFORM = re.compile(r"^[^\\/_\s]+$")
# platforms named in AIND's data schema; a new one still works, with a warning
KNOWN_PLATFORMS = (
    "behavior",
    "confocal",
    "ecephys",
    "exaSPIM",
    "FIP",
    "HCR",
    "HSFP",
    "isi",
    "merfish",
    "mesoSPIM",
    "motor-observatory",
    "multiplane-ophys",
    "single-plane-ophys",
    "slap2",
    "SmartSPIM",
)


def check_platform(platform: Any) -> str:
    """A platform filter as given, refused when it cannot be a platform.

    A platform never holds ``_``, ``/``, ``\\`` or spaces: such a value raises
    ``ValueError``. One that is well formed but not among
    :data:`KNOWN_PLATFORMS` is allowed (platforms are added over time) and
    logged as a warning, since it is more likely a typo.
    """
    if not isinstance(platform, str) or not _PLATFORM.match(platform.strip()):
        raise ValueError(
            f"platform must be a name such as 'ecephys' or 'SmartSPIM' (no '_', '/' or spaces), "
            f"not {platform!r}."
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


def parse_subject_id(value: Any) -> str:
    """The subject ID in ``value``: an int, a string of digits, or a path/string holding one.

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) naming the value.

    >>> parse_subject_id('/data/ecephys_676909_2023-12-13_13-43-40')
    '676909'
    """
    if isinstance(value, Subject):
        return value.id
    if isinstance(value, bool):
        raise errors.SessionIDError(f"A subject ID must be a number, not {value!r}.")
    if isinstance(value, int):
        if value < 0:
            raise errors.SessionIDError(f"A subject ID cannot be negative: {value!r}.")
        return str(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise errors.SessionIDError(
            f"A subject ID must be an int, a string or a path, not {type(value).__name__} ({value!r})."
        )
    text = value.strip()
    if text.isascii() and text.isdigit():
        return str(int(text)) if len(text) > 1 and text.startswith("0") else text
    try:
        return Session(text).subject_id
    except ValueError:
        pass
    found = _SUBJECT_IN_TEXT.findall(text)
    if len(found) == 1 and text.isascii():
        return str(found[0])
    raise errors.SessionIDError(
        f"{value!r} is not a subject ID: expected a number such as 676909, or a path or "
        "session ID holding one."
    )


class Subject:
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

    def __eq__(self, other: object) -> bool:
        return self.id == other.id if isinstance(other, Subject) else NotImplemented

    def __lt__(self, other: object) -> bool:
        return self._key() < other._key() if isinstance(other, Subject) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self._key() <= other._key() if isinstance(other, Subject) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self._key() > other._key() if isinstance(other, Subject) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self._key() >= other._key() if isinstance(other, Subject) else NotImplemented

    def __hash__(self) -> int:
        return hash(("Subject", self.id))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Subject, (self.id,))

    def _repr_html_(self) -> str:
        from aind_session.report import subject_card

        return subject_card(self)

    @property
    def data_assets(self) -> tuple[DataAsset, ...]:
        """Every data asset of the subject, oldest first (see `get_subject_data_assets`)."""
        from aind_session.codeocean import get_subject_data_assets

        return get_subject_data_assets(self.id)

    @property
    def sessions(self) -> tuple[Session, ...]:
        """Every session of the subject, by date and time."""
        return get_sessions(self.id)


def get_sessions(
    subject_id: int | str | os.PathLike[str] | Subject,
    platform: str | None = None,
    date: DateLike | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
) -> tuple[Session, ...]:
    """Sessions of a subject found in the names of its data assets, by date and time.

    Parameters
    ----------
    subject_id
        An int, a string of digits, or a path or session ID holding one.
    platform
        Keep only this platform (case-insensitive), e.g. ``'ecephys'``.
    date
        Keep only sessions on this day (or at this exact time, when one is given).
    start_date, end_date
        Inclusive bounds; either may be left open. Not together with ``date``.

    Returns
    -------
    tuple[Session, ...]
        ``()`` when nothing matches (the filters are logged).

    Raises
    ------
    ValueError
        For a bad subject ID, an unparseable date, or ``date`` with a range.

    Examples
    --------
    >>> get_sessions(676909, start_date='2023-12-14', platform='ecephys')
    (Session('ecephys_676909_2023-12-14_12-43-11'),)
    """
    subject = parse_subject_id(subject_id)
    window = date_range(date, start_date, end_date)
    if platform is not None:
        platform = check_platform(platform)
    from aind_session.codeocean import get_subject_data_assets

    sessions: set[Session] = set()
    for asset in get_subject_data_assets(subject):
        try:
            session = Session(parse_session_id(asset.name))
        except ValueError:
            logger.debug("data asset %r holds no session ID", asset.name)
            continue
        if session.subject_id != subject:
            continue
        if platform is not None and session.platform.lower() != platform.lower():
            continue
        if session.dt not in window:
            continue
        sessions.add(session)
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
