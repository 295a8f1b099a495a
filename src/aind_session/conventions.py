"""Naming rules: how session and subject IDs are written, and the storage protocols.

A leaf: no I/O, and nothing of the package but :mod:`aind_session.errors`, so
every layer (the remote services included) can ask it.

>>> parse_session_id('s3://bucket/ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
'ecephys_676909_2023-12-13_13-43-40'
>>> normalize_subject_id(' 676909 ')
'676909'
"""

from __future__ import annotations

import datetime
import functools
import operator
import os
import re
from typing import Any

from aind_session import errors

PROTOCOLS = {"aws": "s3", "gcp": "gs", "local": "file"}
"""URL scheme of a data asset's ``source_bucket.origin``."""

EXPECTED_FORM = "<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>"
MAX_PLATFORM_LENGTH = 64  # the longest platform named so far has 18 characters
PLATFORM_PATTERN = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_PLATFORM_LENGTH}}}")
"""A platform: letters, digits and hyphens, such as ``ecephys`` or ``single-plane-ophys``."""

# Where an ID may be, found in one pass. npc-session's pattern decides what an
# ID is, but searched over a long string it retries its platform at every start
# (16 s for 40,000 characters), so it only checks the few places found here.
# The platform is a whole word (no letter, digit or hyphen just before it), so
# 'my ecephys_...' or '?name=ecephys_...' give 'ecephys', and no digit may
# follow the time ('..._13-43-409' holds no ID).
_CANDIDATE = re.compile(
    rf"(?<![^\W_])(?<!-){PLATFORM_PATTERN.pattern}"
    r"_[0-9]{6,7}_[0-9]{4}[-/_][0-9]{2}[-/_][0-9]{2}_[0-9]{2}[-:._][0-9]{2}[-:._][0-9]{2}"
    r"(?:\.[0-9]{1,6})?(?![0-9])"
)
_CACHED_LENGTH = 1000  # longer values are parsed each time, not kept


@functools.lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    import npc_session

    return re.compile(npc_session.PARSE_AIND_SESSION_ID)


def _parse(value: str) -> tuple[str, str, str, datetime.datetime]:
    if len(value) > _CACHED_LENGTH:
        return _parse_text(value)
    return _parse_cached(value)


@functools.lru_cache(maxsize=65536)
def _parse_cached(value: str) -> tuple[str, str, str, datetime.datetime]:
    return _parse_text(value)


def _parse_text(value: str) -> tuple[str, str, str, datetime.datetime]:
    """The first place in ``value`` that npc-session's AIND session ID pattern
    accepts as a whole and that is a real date and time, normalized as npc-session does."""
    for candidate in _CANDIDATE.finditer(value):
        match = _pattern().fullmatch(candidate[0])
        if match is None:  # a month or hour out of range, for example
            continue
        fields = match.group("year", "month", "day", "hour", "minute", "second")
        year, month, day, hour, minute, second = fields
        try:
            dt = datetime.datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second)
            )
        except ValueError:  # 2023-02-31
            continue
        platform, subject = match["platform"], match["subject"]
        session_id = f"{platform}_{subject}_{year}-{month}-{day}_{hour}-{minute}-{second}"
        return session_id, platform, subject, dt
    shown = value if len(value) <= 200 else value[:200] + "..."
    raise errors.SessionIDError(
        f"{shown!r} holds no session ID of the form {EXPECTED_FORM} (a platform of "
        "letters, digits and hyphens, a 6- or 7-digit subject, a real date and time "
        "with no digit after it), e.g. 'ecephys_676909_2023-12-13_13-43-40'."
    )


def session_id_fields(value: Any) -> tuple[str, str, str, datetime.datetime]:
    """The session ID in ``value`` (a string or path holding one) and its parts:
    ``(id, platform, subject, datetime)``.

    Raises
    ------
    aind_session.errors.SessionIDError
        A ``ValueError`` naming the value and the expected form.

    >>> session_id_fields('ecephys_676909_2023-12-13_13-43-40')[:3]
    ('ecephys_676909_2023-12-13_13-43-40', 'ecephys', '676909')
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
        raise errors.SessionIDError(
            f"A session ID must be given as a string or path, not {type(value).__name__} "
            f"({shown}); expected a form like {EXPECTED_FORM}, e.g. "
            "'ecephys_676909_2023-12-13_13-43-40'."
        )
    return _parse(value)


def parse_session_id(value: Any) -> str:
    """The session ID held in a string or path (see :func:`session_id_fields`).

    :func:`aind_session.session.parse_session_id` takes a ``Session`` too.

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) when ``value`` holds no session ID.

    Examples
    --------
    >>> parse_session_id('/data/ecephys_676909_2023-12-13_13-43-40/ecephys_clipped')
    'ecephys_676909_2023-12-13_13-43-40'
    >>> parse_session_id('ecephys_676909_2023-02-31_13-43-40')
    Traceback (most recent call last):
    ...
    aind_session.errors.SessionIDError: 'ecephys_676909_2023-02-31_13-43-40' holds no session ID ...
    """
    return session_id_fields(value)[0]


MAX_SUBJECT_DIGITS = 16


def shown(value: Any) -> str:
    """``repr(value)``, cut to about 200 characters (for messages).

    >>> shown('ecephys')
    "'ecephys'"
    >>> len(shown('x' * 1000))
    203
    """
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def normalize_subject_id(value: Any) -> str:
    """A subject ID as a string of digits, from an int or a string of digits.

    :func:`aind_session.subject.normalize_subject_id` takes a ``Subject`` too
    and says what is refused.

    Raises
    ------
    aind_session.errors.SessionIDError
        (a ``ValueError``) naming the value.

    >>> normalize_subject_id(676909)
    '676909'
    """
    text: str | None = None
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            text = None
    elif not isinstance(value, (bool, float)) and type(value).__name__ not in ("bool", "bool_"):
        try:
            number = operator.index(value)  # int, numpy.int64; not float, str or None
        except TypeError:
            pass
        else:
            text = str(number) if 0 <= number < 10**MAX_SUBJECT_DIGITS else None
    if text is not None and len(text) <= MAX_SUBJECT_DIGITS:
        return text.lstrip("0") or "0"
    kind = "" if isinstance(value, str) else f" (a {type(value).__name__})"
    if isinstance(value, float) and value.is_integer():
        kind += f"; pass int({value!r})"
    raise errors.SessionIDError(
        f"A subject ID is a whole number such as 676909 (an int, or a string of at most "
        f"{MAX_SUBJECT_DIGITS} digits), not {shown(value)}{kind}."
    )
