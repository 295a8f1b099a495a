"""Dates and date-times in every common form, and inclusive ranges of them.

>>> parse_date('2023-12-13')
DatePoint(value=datetime.datetime(2023, 12, 13, 0, 0), has_time=False)
>>> parse_date('20231213_134340').value
datetime.datetime(2023, 12, 13, 13, 43, 40)

Session IDs are written in local time where they were recorded, without a
zone: the setting ``timezone`` (``AIND_SESSION_TIMEZONE``, default
``America/Los_Angeles``) says which. A moment with a zone (an aware
``datetime``, or a string with an offset such as ``+00:00`` or ``Z``) is
converted to that zone before its zone is dropped; a moment without one is
taken to be in it already.

>>> parse_date('2023-12-13T21:43:40Z').value
datetime.datetime(2023, 12, 13, 13, 43, 40)
"""

from __future__ import annotations

import datetime
import re
from typing import NamedTuple

from aind_session import errors

DateLike = str | datetime.date | datetime.datetime

_FORMS = re.compile(
    r"^(?P<y>[0-9]{4})-?(?P<m>[0-9]{2})-?(?P<d>[0-9]{2})"
    r"(?:[ _T](?P<H>[0-9]{2})[-:]?(?P<M>[0-9]{2})[-:]?(?P<S>[0-9]{2})"
    r"(?:\.(?P<f>[0-9]{1,6}))?"
    r"(?P<zone>Z|[+-](?P<zh>[0-9]{2}):?(?P<zm>[0-9]{2}))?)?$"
)
FORMS_HELP = (
    "2023-12-13, 2023-12-13_13-43-40, 2023-12-13 13:43:40, 20231213, 20231213_134340, "
    "2023-12-13T21:43:40+00:00 (converted to the session time zone), "
    "datetime.date or datetime.datetime"
)


class DatePoint(NamedTuple):
    """A parsed date: the moment (in session time, without a zone), and whether a time of day was given."""

    value: datetime.datetime
    has_time: bool


def session_timezone() -> datetime.tzinfo:
    """The time zone session IDs are written in (the setting ``timezone``).

    Raises
    ------
    aind_session.errors.ConfigurationError
        When ``AIND_SESSION_TIMEZONE`` names no zone known here.

    Examples
    --------
    >>> session_timezone()  # the default
    zoneinfo.ZoneInfo(key='America/Los_Angeles')
    """
    import zoneinfo

    from aind_session.config import get_settings

    return zoneinfo.ZoneInfo(get_settings().timezone)  # checked when the settings were read


def to_session_time(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` in session time, without a zone: converted when it has one, else as it is.

    >>> to_session_time(datetime.datetime(2023, 12, 13, 21, 43, 40, tzinfo=datetime.timezone.utc))
    datetime.datetime(2023, 12, 13, 13, 43, 40)
    """
    if moment.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(session_timezone()).replace(tzinfo=None)


def iso_session_time(moment: datetime.datetime) -> str:
    """``moment``, in session time without a zone (a session's start), as ISO 8601 with
    the session time zone's offset of that day.

    >>> iso_session_time(datetime.datetime(2023, 12, 13, 13, 43, 40))
    '2023-12-13T13:43:40-08:00'
    >>> iso_session_time(datetime.datetime(2024, 7, 1, 9, 0))  # summer time
    '2024-07-01T09:00:00-07:00'
    """
    return moment.replace(tzinfo=session_timezone()).isoformat()


def iso_utc(seconds: float | None) -> str | None:
    """A POSIX timestamp (a data asset's ``created``) as ISO 8601 in UTC, ``+00:00``
    (which ``datetime.fromisoformat`` reads on every Python, where ``Z`` needs 3.11);
    None for None.

    >>> iso_utc(1702620828)
    '2023-12-15T06:13:48+00:00'
    >>> iso_utc(None) is None
    True
    """
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def from_timestamp(seconds: float) -> datetime.datetime:
    """A POSIX timestamp (such as a CodeOcean ``created``) in session time, without a zone.

    >>> from_timestamp(1702503820)
    datetime.datetime(2023, 12, 13, 13, 43, 40)
    """
    return datetime.datetime.fromtimestamp(seconds, session_timezone()).replace(tzinfo=None)


def parse_date(value: DateLike) -> DatePoint:
    """Parse one date or date-time, in session time (see the module's docstring).

    Returns
    -------
    DatePoint
        The moment, and ``has_time``: False for a date alone (its midnight),
        True when a time of day was given.

    Raises
    ------
    aind_session.errors.InvalidInputError
        (a ``ValueError``) naming the value and listing the accepted forms.

    Examples
    --------
    >>> parse_date('2023-12-13_13-43-40')
    DatePoint(value=datetime.datetime(2023, 12, 13, 13, 43, 40), has_time=True)
    >>> parse_date(datetime.date(2023, 12, 13)).has_time
    False
    >>> parse_date('13/12/2023')
    Traceback (most recent call last):
    ...
    aind_session.errors.InvalidInputError: '13/12/2023' is not a date in a known form; ...
    """
    if isinstance(value, datetime.datetime):
        return DatePoint(to_session_time(value), True)
    if isinstance(value, datetime.date):
        return DatePoint(datetime.datetime.combine(value, datetime.time()), False)
    if not isinstance(value, str):
        raise errors.InvalidInputError(
            f"A date must be a string, date or datetime, not {type(value).__name__} "
            f"({_shown(value)}); accepted forms: {FORMS_HELP}."
        )
    match = _FORMS.match(value.strip())
    if match is None:
        raise errors.InvalidInputError(
            f"{_shown(value)} is not a date in a known form; accepted forms: {FORMS_HELP}."
        )
    y, m, d, hh, mm, ss = (int(p) if p else 0 for p in match.group("y", "m", "d", "H", "M", "S"))
    microsecond = int((match["f"] or "0").ljust(6, "0"))
    try:
        moment = datetime.datetime(y, m, d, hh, mm, ss, microsecond, tzinfo=_zone(match))
    except ValueError as exc:
        raise errors.InvalidInputError(
            f"{_shown(value)} is not a real date, time or offset ({exc})."
        ) from None
    return DatePoint(to_session_time(moment), match["H"] is not None)


def _zone(match: re.Match[str]) -> datetime.tzinfo | None:
    if match["zone"] is None:
        return None
    if match["zone"] == "Z":
        return datetime.timezone.utc
    hours, minutes = int(match["zh"]), int(match["zm"])
    if hours > 23 or minutes > 59:
        raise errors.InvalidInputError(f"offset {match['zone']} is not between -23:59 and +23:59")
    sign = -1 if match["zone"].startswith("-") else 1
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


class DateRange(NamedTuple):
    """An inclusive range in session time; either end may be open (None)."""

    start: datetime.datetime | None
    end: datetime.datetime | None

    def __contains__(self, moment: object) -> bool:
        """Whether ``moment`` is in the range; one with a zone is converted to session time first."""
        if not isinstance(moment, datetime.datetime):
            return False
        moment = to_session_time(moment)
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment <= self.end
        )


def date_range(
    date: DateLike | None = None,
    start_date: DateLike | None = None,
    end_date: DateLike | None = None,
) -> DateRange:
    """The inclusive range meant by ``date`` or by ``start_date``/``end_date``.

    A date without a time covers its whole day; with a time, that second.

    Raises
    ------
    aind_session.errors.InvalidInputError
        (a ``ValueError``) when ``date`` is given with a range, when a value
        cannot be parsed, or when the range ends before it starts.

    >>> r = date_range(start_date='2023-12-13')
    >>> datetime.datetime(2023, 12, 13, 0, 0) in r, datetime.datetime(2023, 12, 12, 23, 59) in r
    (True, False)
    """
    if date is not None and (start_date is not None or end_date is not None):
        raise errors.InvalidInputError(
            f"Give either date={_shown(date)} or a range (start_date={_shown(start_date)}, "
            f"end_date={_shown(end_date)}), not both."
        )
    if date is not None:
        point = parse_date(date)
        return DateRange(point.value, _end_of(point))
    start = parse_date(start_date).value if start_date is not None else None
    end = _end_of(parse_date(end_date)) if end_date is not None else None
    if start is not None and end is not None and end < start:
        raise errors.InvalidInputError(
            f"end_date {_shown(end_date)} is before start_date {_shown(start_date)}."
        )
    return DateRange(start, end)


def _end_of(point: DatePoint) -> datetime.datetime:
    if point.has_time:
        return point.value
    return point.value + datetime.timedelta(days=1) - datetime.timedelta(microseconds=1)
