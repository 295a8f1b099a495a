"""Naming rules of the field, in one place: no I/O, and nothing of the package
but :mod:`aind_session.errors`, so every layer (the services included) asks it.

- session IDs in both forms (see below) and subject IDs:
  :func:`parse_session_id`, :func:`session_id_fields`, :func:`normalize_subject_id`;
- platforms (:data:`KNOWN_PLATFORMS`, :data:`PLATFORM_PATTERN`), storage
  protocols (:data:`PROTOCOLS`) and the known data buckets
  (:data:`DEFAULT_DATA_BUCKETS`);
- the naming rules of data assets, which use these, are in
  :mod:`aind_session.asset_names`.

Session IDs come in two forms, found alone or inside any name or path:

- legacy, :data:`EXPECTED_FORM` ``<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>``
  (``ecephys_676909_2023-12-13_13-43-40``): npc-session's pattern
  (``npc_session.PARSE_AIND_SESSION_ID``) decides, as it always has: a 6- or
  7-digit subject, a year 2010-2029, and the separators it accepts;
- aind-data-schema 2.x, :data:`SCHEMA2_FORM` ``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``
  (``780345_2025-02-20_00-00-00``), which has no platform. The rule is the
  schema's raw data name, ``DataRegex.RAW`` in aind-data-schema-models
  (``src/aind_data_schema_models/data_name_patterns.py``, the models that
  aind-data-schema 2.x uses; read at commit ``aeba1a87``)::

      RAW      = ^(?P<subject_id>.+?)_(?P<c_datetime>{DATETIME})$
      DERIVED  = ^(?P<input>.+?_{DATETIME})_(?P<process_name>.+?)_(?P<c_datetime>{DATETIME})
      DATETIME = \\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}

  with ``DataDescription.subject_id`` free text without underscores
  (``DataRegex.NO_UNDERSCORES``, ``^[^_]+$``). Read here (:data:`SCHEMA2_PATTERN`)
  the subject is a whole number of 1 to :data:`MAX_SUBJECT_DIGITS` ASCII
  digits, as a :class:`aind_session.Subject` is, and not run into text before it
  (no letter, digit, ``_`` or ``-`` just before it); only the hyphens above
  separate, the date and time are real and no digit follows the time. (A
  pre-release's ``2025-02-20T000000`` is not read.)

Where both could be read, the legacy one wins: ``ecephys_676909_2023-12-13_13-43-40``
has platform ``ecephys``, as its subject follows ``_``; a 2.x ID never follows
``_``, so ``ecephys_12345678_2023-12-13_13-43-40`` (an 8-digit subject, not
legacy) holds no ID at all rather than one without a platform. A derived name
(``<input name>_<process>_<YYYY-MM-DD>_<HH-MM-SS>``: ``_sorted_``,
``_processed_``, ``_nwb_``...) gives its input's session: the first ID in the
string wins. A 2.x ID has platform ``None``; what was recorded is
``Session.modalities``.

>>> parse_session_id('s3://bucket/ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45')
'ecephys_676909_2023-12-13_13-43-40'
>>> session_id_fields('780345_2025-02-20_00-00-00_sorted_2025-03-01_10-00-00')[:3]
('780345_2025-02-20_00-00-00', None, '780345')
>>> session_id_fields('676909_2023-12-13_13-43-40')[1], session_id_fields('ecephys_676909_2023-12-13_13-43-40')[1]
(None, 'ecephys')
>>> normalize_subject_id(' 676909 ')
'676909'
"""

from __future__ import annotations

import datetime
import functools
import operator
import os
import re
from typing import TYPE_CHECKING, Any

from aind_session import errors

if TYPE_CHECKING:
    pass

PROTOCOLS = {"aws": "s3", "gcp": "gs", "local": "file"}
"""URL scheme of a data asset's ``source_bucket.origin``."""

EXPECTED_FORM = "<platform>_<subject>_<YYYY-MM-DD>_<HH-MM-SS>"
"""The legacy session ID form (npc-session's)."""
SCHEMA2_FORM = "<subject>_<YYYY-MM-DD>_<HH-MM-SS>"
"""The aind-data-schema 2.x session ID form (``DataRegex.RAW``), without a platform."""
MAX_SUBJECT_DIGITS = 16
MAX_PLATFORM_LENGTH = 64  # the longest platform named so far has 18 characters
PLATFORM_PATTERN = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_PLATFORM_LENGTH}}}")
"""A platform: letters, digits and hyphens, such as ``ecephys`` or ``single-plane-ophys``."""

# Where an ID may be, found in one pass. npc-session's pattern decides what an
# ID is, but searched over a long string it retries its platform at every start
# (16 s for 40,000 characters), so it only checks the few places found here.
# The platform is a whole word (no letter, digit or hyphen just before it), so
# 'my ecephys_...' or '?name=ecephys_...' give 'ecephys', and no digit may
# follow the time ('..._13-43-409' holds no ID).
_LEGACY = (
    rf"(?<![^\W_])(?<!-){PLATFORM_PATTERN.pattern}"
    r"_[0-9]{6,7}_[0-9]{4}[-/_][0-9]{2}[-/_][0-9]{2}_[0-9]{2}[-:._][0-9]{2}[-:._][0-9]{2}"
    r"(?:\.[0-9]{1,6})?(?![0-9])"
)
# A 2.x ID: its subject is not run into a word, an underscore or a hyphen before it
# (after '_' it is a legacy ID's subject; after '-' the end of a date or time).
_SCHEMA2 = (
    rf"(?<![\w-])(?P<subject>[0-9]{{1,{MAX_SUBJECT_DIGITS}}})"
    r"_(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"_(?P<hour>[0-9]{2})-(?P<minute>[0-9]{2})-(?P<second>[0-9]{2})(?![0-9])"
)
SCHEMA2_PATTERN = re.compile(_SCHEMA2)
"""A 2.x session ID as read here (see the module's docstring); search it, or ``fullmatch``."""
# Tried at each place in order, so where a legacy ID starts, it wins.
_CANDIDATE = re.compile(rf"(?P<legacy>{_LEGACY})|{_SCHEMA2}")
_CACHED_LENGTH = 1000  # longer values are parsed each time, not kept


@functools.lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    import npc_session

    return re.compile(npc_session.PARSE_AIND_SESSION_ID)


def _parse(value: str) -> tuple[str, str | None, str, datetime.datetime]:
    if len(value) > _CACHED_LENGTH:
        return _parse_text(value)
    return _parse_cached(value)


@functools.lru_cache(maxsize=65536)
def _parse_cached(value: str) -> tuple[str, str | None, str, datetime.datetime]:
    return _parse_text(value)


def _parse_text(value: str) -> tuple[str, str | None, str, datetime.datetime]:
    """The first place in ``value`` that holds a session ID with a real date and
    time: a legacy one as npc-session's AIND pattern accepts and normalizes it,
    or a 2.x one as written."""
    for candidate in _CANDIDATE.finditer(value):
        found = _candidate_fields(candidate[0], candidate["legacy"] is not None)
        if found is not None:
            return found
    shown = value if len(value) <= 120 else value[:120] + "..."  # the two forms are long
    raise errors.SessionIDError(
        f"{shown!r} holds no session ID of the form {EXPECTED_FORM} (a word platform, "
        f"a 6- or 7-digit subject) or {SCHEMA2_FORM} (aind-data-schema 2.x: a subject "
        "of digits, not after '_'), with a real date and time, no digit after, e.g. "
        "'ecephys_676909_2023-12-13_13-43-40' or '780345_2025-02-20_00-00-00'."
    )


@functools.lru_cache(maxsize=65536)
def _candidate_fields(
    text: str, legacy: bool
) -> tuple[str, str | None, str, datetime.datetime] | None:
    """The fields of one place that looks like a session ID, or None when its date or
    time is not real. Kept: a subject's assets share their sessions' IDs."""
    match = _pattern().fullmatch(text) if legacy else SCHEMA2_PATTERN.fullmatch(text)
    if match is None:  # a month or hour out of range, for example
        return None
    year, month, day, hour, minute, second = match.group(
        "year", "month", "day", "hour", "minute", "second"
    )
    try:
        dt = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:  # 2023-02-31
        return None
    subject = match["subject"]
    moment = f"{year}-{month}-{day}_{hour}-{minute}-{second}"
    if not legacy:
        return f"{subject}_{moment}", None, subject, dt
    platform = match["platform"]
    return f"{platform}_{subject}_{moment}", platform, subject, dt


def session_id_fields(value: Any) -> tuple[str, str | None, str, datetime.datetime]:
    """The session ID in ``value`` (a string or path holding one) and its parts:
    ``(id, platform, subject, datetime)``; ``platform`` is None for a 2.x ID
    (``<subject>_<YYYY-MM-DD>_<HH-MM-SS>``, see the module's docstring).

    Raises
    ------
    aind_session.errors.SessionIDError
        A ``ValueError`` naming the value and the expected form.

    >>> session_id_fields('ecephys_676909_2023-12-13_13-43-40')[:3]
    ('ecephys_676909_2023-12-13_13-43-40', 'ecephys', '676909')
    >>> session_id_fields('s3://bucket/780345_2025-02-20_00-00-00/ecephys/')[:3]
    ('780345_2025-02-20_00-00-00', None, '780345')
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
        raise errors.SessionIDError(
            f"A session ID must be given as a string or path, not {type(value).__name__} "
            f"({shown}); expected a form like {EXPECTED_FORM} or {SCHEMA2_FORM}, e.g. "
            "'ecephys_676909_2023-12-13_13-43-40' or '780345_2025-02-20_00-00-00'."
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
    >>> parse_session_id('780345_2025-02-20_00-00-00_processed_2025-03-01_10-00-00')
    '780345_2025-02-20_00-00-00'
    >>> parse_session_id('ecephys_676909_2023-02-31_13-43-40')
    Traceback (most recent call last):
    ...
    aind_session.errors.SessionIDError: 'ecephys_676909_2023-02-31_13-43-40' holds no session ID ...
    """
    return session_id_fields(value)[0]


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


# -- platforms and buckets ---------------------------------------------------------------
def may_be_ecephys(platform: str | None) -> bool:
    """True when a session's ecephys questions (sorting, pipeline runs) apply: its ID
    names ``ecephys`` or no platform (a 2.x ID: asked then, not assumed not to apply).

    >>> [may_be_ecephys(p) for p in ('ecephys', 'behavior', None)]
    [True, False, True]
    """
    return platform in ("ecephys", None)


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
# where AIND's raw and derived data live on S3, looked in when an asset does not say
DEFAULT_DATA_BUCKETS = (
    "codeocean-s3datasetsbucket-1u41qdg42ur9",
    "aind-private-data-prod-o5171v",
    "aind-open-data-prod-o5171v",
    "aind-open-data",
    "aibs-behavior-data",
    "aind-ephys-data",
    "aind-ophys-data",
)
