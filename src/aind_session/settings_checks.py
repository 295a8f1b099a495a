"""The checks of aind-session's settings, and where each value came from.

:class:`aind_session.config.Settings` holds the settings; this module holds the
rules they must meet, so the class reads as a list of fields:

- the checks of single values (bucket names, URLs, CodeOcean ids, time zones),
  which :class:`~aind_session.config.Settings` runs as its field validators;
- :class:`Places`, every place a value is read from (keyword arguments, the
  environment, `.env` files), to name a bad value's variable and source, and
  :func:`describe`, which turns pydantic's errors into one sentence that does;
- the rules of the token and the S3 endpoint: where the CodeOcean token may be
  sent (:func:`check_token`), and where requests signed with AWS credentials
  may go (:func:`check_s3_endpoint`).

Every refusal is a :class:`~aind_session.errors.ConfigurationError` (or, for a
single value, an :class:`~aind_session.errors.InvalidInputError` that pydantic
collects); none shows the token. This module imports only
:mod:`aind_session.errors`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from aind_session.errors import ConfigurationError, InvalidInputError

# these checks are part of reading the settings: they log under the name of
# `aind_session.config`, as they did when they lived there
logger = logging.getLogger("aind_session.config")

DEFAULT_DOMAIN = "https://codeocean.allenneuraldynamics.org"
DEFAULT_TIMEZONE = "America/Los_Angeles"  # AIND session IDs are written in Seattle time
ENV_PREFIX = "AIND_SESSION_"
TOKEN_PREFIX = "COP_"
ENVIRONMENT = "the environment"
KEYWORDS = "keyword arguments"
DEFAULT = "the default"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


# -- single values ---------------------------------------------------------------------
# these raise InvalidInputError, a ValueError: pydantic collects it, and
# Settings.__init__ turns all of them into one ConfigurationError
def split_buckets(value: Any) -> Any:
    """Bucket names from a comma-separated string (or a sequence), each checked."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not value:
        raise InvalidInputError("needs at least one bucket name")
    for name in value:
        if not isinstance(name, str) or not _BUCKET.fullmatch(name):
            raise InvalidInputError(
                f"{name!r} is not an S3 bucket name (3 to 63 lowercase letters, digits, "
                "dots and hyphens, without s3://)"
            )
    return value


def empty_is_unset(value: Any) -> Any:
    """None for an empty or blank string, ``value`` otherwise."""
    return None if isinstance(value, str) and not value.strip() else value


def check_url(value: str | None) -> str | None:
    """``value`` without surrounding whitespace and trailing slashes, if it is an
    http(s) URL with a host and nothing that should not be in a base URL."""
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
    """``value`` as a canonical UUID string, if it is one."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidInputError(
            "is not a CodeOcean id: expected a UUID like '1f8f159a-7670-47a9-baf1-078905fc9c2e'"
        ) from None


def check_timezone(value: str) -> str:
    """``value`` without surrounding whitespace, if it is a time zone known here."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value.strip())
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInputError(
            f"is not a time zone known here: use an IANA name such as '{DEFAULT_TIMEZONE}' "
            "or 'UTC' (if none is known, install the tzdata package)"
        ) from None
    return value.strip()


# -- where each value came from ------------------------------------------------------
class Origin(NamedTuple):
    """Where one setting was found: its variable, the place, and the value there."""

    variable: str  # as written where it was found
    where: str  # ENVIRONMENT, the path of a .env file, KEYWORDS or DEFAULT
    value: Any = None

    def said(self) -> str:
        """``'from the environment'``, ``'from /home/me/.env'``, ``'the default'``."""
        return self.where if self.where == DEFAULT else f"from {self.where}"


class Places:
    """Every place settings are read from, highest priority first, as pydantic-settings
    reads them (names in any case): keyword arguments, the environment, `.env` files.

    ``fields`` are the settings' fields (``Settings.model_fields``), to know the
    variables each one is read from.
    """

    def __init__(self, values: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> None:
        self.fields = fields
        self.keywords = {k: v for k, v in values.items() if not k.startswith("_")}
        files = values.get("_env_file")
        paths = [] if files is None else [files] if isinstance(files, (str, os.PathLike)) else files
        self.places: list[tuple[str, Mapping[str, str | None]]] = [(ENVIRONMENT, os.environ)]
        from dotenv import dotenv_values

        for path in reversed([Path(p).expanduser() for p in paths]):  # the last file wins
            if path.is_file():
                try:
                    self.places.append(
                        (str(path.absolute()), dotenv_values(path, encoding="utf-8"))
                    )
                except UnicodeDecodeError as exc:
                    raise ConfigurationError(
                        f"{path.absolute()} is not UTF-8 text (byte {exc.start + 1} is not): "
                        "save it as UTF-8, or remove it."
                    ) from None

    def variables(self, field: str) -> tuple[str, ...]:
        """Names a field is read from, the one to show first."""
        alias = self.fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return tuple(str(c) for c in alias.choices if isinstance(c, str))
        return (f"{ENV_PREFIX}{field.upper()}",)

    def field_of(self, name: str) -> str | None:
        """The field read from ``name`` (a variable name or the field itself)."""
        lowered = name.lower()
        for field in self.fields:
            if lowered == field or lowered in (v.lower() for v in self.variables(field)):
                return field
        return None

    def origin(self, field: str) -> Origin:
        names = self.variables(field)
        wanted = {n.lower() for n in (*names, field)}
        for key, value in self.keywords.items():
            if key.lower() in wanted:
                return Origin(key, KEYWORDS, value)
        for where, found in self.places:
            by_lower = {k.lower(): k for k in found}
            for name in names:
                if name.lower() in by_lower:
                    key = by_lower[name.lower()]
                    return Origin(key, where, found[key])
        return Origin(names[0], DEFAULT)

    def prefixed_token(self) -> Origin | None:
        """The first variable whose value starts with ``COP_``: the environment, then `.env` files."""
        for where, found in self.places:
            for key, value in found.items():
                if value and value.strip()[: len(TOKEN_PREFIX)].upper() == TOKEN_PREFIX:
                    found_in = Origin(key, where, value)
                    logger.debug("using the CodeOcean token in %s (%s)", key, found_in.said())
                    return found_in
        return None

    def secrets(self) -> list[str]:
        """Values that must never be shown: the token, and anything that looks like one."""
        token = self.origin("codeocean_token").value
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        return [token.strip()] if isinstance(token, str) and len(token.strip()) > 4 else []


def shown(value: Any, secrets: list[str]) -> str:
    """``repr(value)`` cut to about 200 characters, unless it may hold the token."""
    text = str(value)
    if TOKEN_PREFIX in text.upper() or any(s in text for s in secrets):
        return "(hidden: it looks like a token)"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def describe(exc: ValidationError, places: Places) -> str:
    """One sentence naming each bad setting's variable, value and source (never the token)."""
    secrets = places.secrets()
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if shown(message, secrets).startswith("(hidden"):
            message = "is invalid"
        loc = error.get("loc") or ()
        field = places.field_of(str(loc[0])) if loc else None
        if field is None:
            problems.append(message)
            continue
        origin = places.origin(field)
        value = "" if field == "codeocean_token" else f"={shown(error.get('input'), secrets)}"
        problems.append(f"{origin.variable}{value} ({origin.said()}): {message}")
    return (
        f"aind-session settings are invalid: {'; '.join(problems)}. Fix each variable named "
        "where it is set, or unset it to use its default (.env.example lists them all)."
    )


# -- the token: can it be sent, and where to ----------------------------------------------
def check_token(token_set: SecretStr | None, domain: str, places: Places) -> SecretStr | None:
    """The token to use: ``token_set`` stripped, or else the ``COP_`` fallback, or None.

    Refuses one that cannot be sent, and a ``domain`` the token may not go to.
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
    """Whether ``host`` is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
