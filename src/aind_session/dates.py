"""Dates and date-times in every common form, and inclusive ranges of them.

>>> parse_date('2023-12-13')
DatePoint(value=datetime.datetime(2023, 12, 13, 0, 0), has_time=False)
>>> parse_date('20231213_134340').value
datetime.datetime(2023, 12, 13, 13, 43, 40)
"""

from __future__ import annotations

import datetime
import re
from typing import NamedTuple

DateLike = str | datetime.date | datetime.datetime

_FORMS = re.compile(
    r"^(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})"
    r"(?:[ _T](?P<H>\d{2})[-:]?(?P<M>\d{2})[-:]?(?P<S>\d{2}))?$"
)
FORMS_HELP = (
    "2023-12-13, 2023-12-13_13-43-40, 2023-12-13 13:43:40, 20231213, 20231213_134340, "
    "datetime.date or datetime.datetime"
)


class DatePoint(NamedTuple):
    """A parsed date: the moment, and whether a time of day was given."""

    value: datetime.datetime
    has_time: bool


def parse_date(value: DateLike) -> DatePoint:
    """Parse one date or date-time.

    Raises
    ------
    ValueError
        Naming the value and listing the accepted forms.
    """
    if isinstance(value, datetime.datetime):
        return DatePoint(value.replace(tzinfo=None), True)
    if isinstance(value, datetime.date):
        return DatePoint(datetime.datetime.combine(value, datetime.time()), False)
    if not isinstance(value, str):
        raise ValueError(
            f"A date must be a string, date or datetime, not {type(value).__name__} ({value!r}); "
            f"accepted forms: {FORMS_HELP}."
        )
    match = _FORMS.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a date in a known form; accepted forms: {FORMS_HELP}.")
    y, m, d, hh, mm, ss = (int(p) if p else 0 for p in match.group("y", "m", "d", "H", "M", "S"))
    try:
        moment = datetime.datetime(y, m, d, hh, mm, ss)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date or time ({exc}).") from None
    return DatePoint(moment, match["H"] is not None)


class DateRange(NamedTuple):
    """An inclusive range; either end may be open (None)."""

    start: datetime.datetime | None
    end: datetime.datetime | None

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, datetime.datetime):
            return False
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
    ValueError
        When ``date`` is given with a range, when a value cannot be parsed, or
        when the range ends before it starts.

    >>> r = date_range(start_date='2023-12-13')
    >>> datetime.datetime(2023, 12, 13, 0, 0) in r, datetime.datetime(2023, 12, 12, 23, 59) in r
    (True, False)
    """
    if date is not None and (start_date is not None or end_date is not None):
        raise ValueError(
            f"Give either date={date!r} or a range (start_date={start_date!r}, "
            f"end_date={end_date!r}), not both."
        )
    if date is not None:
        point = parse_date(date)
        return DateRange(point.value, _end_of(point))
    start = parse_date(start_date).value if start_date is not None else None
    end = _end_of(parse_date(end_date)) if end_date is not None else None
    if start is not None and end is not None and end < start:
        raise ValueError(f"end_date {end_date!r} is before start_date {start_date!r}.")
    return DateRange(start, end)


def _end_of(point: DatePoint) -> datetime.datetime:
    if point.has_time:
        return point.value
    return point.value + datetime.timedelta(days=1) - datetime.timedelta(microseconds=1)
