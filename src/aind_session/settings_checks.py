"""The checks of aind-session's settings, and where each value came from.

:class:`aind_session.config.Settings` holds the settings; this module holds the
rules they must meet, so the class reads as a list of fields:

- the checks of single values (bucket names, URLs, CodeOcean ids, time zones),
  which :class:`~aind_session.config.Settings` runs as its field validators;
- :class:`Places`, every place a value is read from (keyword arguments, the
  environment, `.env` files), to name a bad value's variable and source, and
  :func:`describe`, which turns pydantic's errors into one sentence that does
  (both in :mod:`aind_session.settings_sources`, and re-exported here);
- the rules of the token and the S3 endpoint: where the CodeOcean token may be
  sent (:func:`check_token`), and where requests signed with AWS credentials
  may go (:func:`check_s3_endpoint`).

Every refusal is a :class:`~aind_session.errors.ConfigurationError` (or, for a
single value, an :class:`~aind_session.errors.InvalidInputError` that pydantic
collects); none shows the token. This module imports only
:mod:`aind_session.errors` and :mod:`aind_session.settings_sources`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from aind_session.errors import ConfigurationError, InvalidInputError

# where values come from: defined there, and still read from here
from aind_session.settings_sources import (
    DEFAULT,
    ENV_PREFIX,  # noqa: F401  (re-exported)
    ENVIRONMENT,
    KEYWORDS,
    TOKEN_PREFIX,  # noqa: F401  (re-exported)
    Origin,
    Places,
    describe,  # noqa: F401  (re-exported)
    shown,
)

DEFAULT_DOMAIN = "https://codeocean.allenneuraldynamics.org"
# DocDB's read-only REST API (aind-data-access-api's API_GATEWAY_HOST), and its
# collections of data asset records, the 2.x schema's first
DEFAULT_DOCDB_URL = "https://api.allenneuraldynamics.org"
DEFAULT_DOCDB_COLLECTIONS = ("metadata_index_v2/data_assets", "metadata_index/data_assets")
_COLLECTION = re.compile(r"[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_.-]{1,120}")
DEFAULT_TIMEZONE = "America/Los_Angeles"  # AIND session IDs are written in Seattle time
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


# -- single values ---------------------------------------------------------------------
# these raise InvalidInputError, a ValueError: pydantic collects it, and
# Settings.__init__ turns all of them into one ConfigurationError
def split_buckets(value: Any) -> Any:
    """Bucket names from a comma-separated string (or a sequence), each checked.

    >>> split_buckets('aind-ephys-data, aind-ophys-data')
    ['aind-ephys-data', 'aind-ophys-data']
    >>> split_buckets('s3://aind-ephys-data')
    Traceback (most recent call last):
    ...
    aind_session.errors.InvalidInputError: 's3://aind-ephys-data' is not an S3 bucket name ...
    """
    return _split(
        value,
        _BUCKET,
        "needs at least one bucket name",
        "is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens, "
        "without s3://)",
    )


def split_collections(value: Any) -> Any:
    """DocDB ``<database>/<collection>`` names from a comma-separated string (or
    a sequence), each checked, in the order they are asked.

    >>> split_collections('metadata_index_v2/data_assets, metadata_index/data_assets')
    ['metadata_index_v2/data_assets', 'metadata_index/data_assets']
    >>> split_collections('data_assets')
    Traceback (most recent call last):
    ...
    aind_session.errors.InvalidInputError: 'data_assets' is not a DocDB collection: ...
    """
    return _split(
        value,
        _COLLECTION,
        "needs at least one <database>/<collection>",
        "is not a DocDB collection: write <database>/<collection>, e.g. "
        "metadata_index_v2/data_assets",
    )


def _split(value: Any, pattern: re.Pattern[str], none: str, bad: str) -> Any:
    """Names from a comma-separated string (or a sequence), each matching ``pattern``."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not value:
        raise InvalidInputError(none)
    for name in value:
        if not isinstance(name, str) or not pattern.fullmatch(name):
            raise InvalidInputError(f"{name!r} {bad}")
    return value


def empty_is_unset(value: Any) -> Any:
    """None for an empty or blank string, ``value`` otherwise.

    >>> empty_is_unset('  '), empty_is_unset('UTC')
    (None, 'UTC')
    """
    return None if isinstance(value, str) and not value.strip() else value


def check_url(value: str | None) -> str | None:
    """``value`` without surrounding whitespace and trailing slashes, if it is an
    http(s) URL with a host and nothing that should not be in a base URL.

    >>> check_url(' https://codeocean.allenneuraldynamics.org/ ')
    'https://codeocean.allenneuraldynamics.org'
    >>> check_url('ftp://example.org')
    Traceback (most recent call last):
    ...
    aind_session.errors.InvalidInputError: must be a URL starting with https:// ...
    """
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in value):
        raise InvalidInputError("holds whitespace or a control character")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            "must be a URL starting with https:// (http:// only for this machine)"
        )
    if parts.username is not None or parts.query or parts.fragment:
        raise InvalidInputError("must not hold a user name, a password, a query or a fragment")
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise InvalidInputError("has an invalid port") from None
    return value


def check_uuid(value: str) -> str:
    """``value`` as a canonical UUID string, if it is one.

    >>> check_uuid(' 1F8F159A-7670-47A9-BAF1-078905FC9C2E ')
    '1f8f159a-7670-47a9-baf1-078905fc9c2e'
    """
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidInputError(
            "is not a CodeOcean id: expected a UUID like '1f8f159a-7670-47a9-baf1-078905fc9c2e'"
        ) from None


def check_timezone(value: str) -> str:
    """``value`` without surrounding whitespace, if it is a time zone known here.

    >>> check_timezone(' America/Los_Angeles ')
    'America/Los_Angeles'
    """
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value.strip())
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInputError(
            f"is not a time zone known here: use an IANA name such as '{DEFAULT_TIMEZONE}' "
            "or 'UTC' (if none is known, install the tzdata package)"
        ) from None
    return value.strip()


# -- the token: can it be sent, and where to ----------------------------------------------
def check_token(token_set: SecretStr | None, domain: str, places: Places) -> SecretStr | None:
    """The token to use: ``token_set`` stripped, or else the ``COP_`` fallback, or None.

    Refuses one that cannot be sent, and a ``domain`` the token may not go to.

    >>> from aind_session.config import Settings
    >>> places = Places({'codeocean_token': ' abc123 '}, Settings.model_fields)
    >>> token = check_token(SecretStr(' abc123 '), DEFAULT_DOMAIN, places)
    >>> token, token.get_secret_value()
    (SecretStr('**********'), 'abc123')

    Raises
    ------
    aind_session.errors.ConfigurationError
        When the token holds a character that cannot be sent, or ``domain``
        may not receive it.
    """
    token = token_set.get_secret_value().strip() if token_set else ""
    origin: Origin | None = places.origin("codeocean_token")
    if not token:
        origin = places.prefixed_token()
        token = str(origin.value).strip() if origin is not None else ""
    if origin is None or not token:
        return None
    for position, char in enumerate(token, start=1):
        if not "!" <= char <= "~":
            kind = (
                "whitespace"
                if char.isspace()
                else "a control character"
                if unicodedata.category(char).startswith("C")
                else "not ASCII (a curly quote, for example)"
            )
            raise ConfigurationError(
                f"The CodeOcean token in {origin.variable} ({origin.said()}) cannot be sent: "
                f"its character {position} is {kind}. A token holds only printable ASCII; copy "
                "it again from CodeOcean (Account > Access Tokens) as plain text (whitespace "
                "around it is removed for you)."
            )
    check_destination(domain, places.origin("codeocean_domain"), origin)
    return SecretStr(token)


def check_destination(domain: str, set_by: Origin, token: Origin) -> None:
    """Refuse to send the token to ``domain`` unless it is set where the token is, in
    the environment, or by default; and over plain http but to this machine."""
    trusted = (ENVIRONMENT, KEYWORDS, DEFAULT, token.where)
    if set_by.where not in trusted and domain != DEFAULT_DOMAIN:
        raise ConfigurationError(
            f"{set_by.variable}={shown(domain, [])} is set in {set_by.where}, but the token "
            f"comes from {token.variable} ({token.said()}): the token is sent only to a domain "
            "set in the same place as the token, or in the environment. Remove "
            f"{set_by.variable} from {set_by.where}, or set it in the environment."
        )
    parts = urlsplit(domain)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise ConfigurationError(
            f"{set_by.variable}={shown(domain, [])} ({set_by.said()}) is plain http: the token "
            "is sent over https:// only, except to this machine (127.0.0.1, ::1, localhost). "
            "Use https://."
        )


def check_s3_endpoint(endpoint: str | None, places: Places) -> None:
    """AWS credentials come from the environment (or ``~/.aws``): they are signed
    into requests to an S3 endpoint set in the environment, or to this machine,
    never to one a ``.env`` file in some working directory names; and never
    over plain http but to this machine."""
    if not endpoint:
        return
    set_by = places.origin("s3_endpoint_url")
    host = urlsplit(endpoint).hostname or ""
    if set_by.where not in (ENVIRONMENT, KEYWORDS, DEFAULT) and not is_loopback(host):
        raise ConfigurationError(
            f"{set_by.variable}={shown(endpoint, [])} is set in {set_by.where}: requests "
            "signed with your AWS credentials go only to an S3 endpoint set in the "
            f"environment (or on this machine). Set {set_by.variable} in the environment, "
            f"or remove it from {set_by.where}."
        )
    if urlsplit(endpoint).scheme != "https" and not is_loopback(host):
        raise ConfigurationError(
            f"{set_by.variable}={shown(endpoint, [])} ({set_by.said()}) is plain http: "
            "requests signed with AWS credentials go over https:// only, except to this "
            "machine (127.0.0.1, ::1, localhost). Use https://."
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback address.

    >>> is_loopback('localhost'), is_loopback('::1'), is_loopback('codeocean.allenneuraldynamics.org')
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
