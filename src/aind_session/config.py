"""Settings, read from the environment and `.env` files on first use.

Nothing here runs at import of :mod:`aind_session`: :func:`get_settings` builds
a :class:`Settings` the first time something needs one and keeps it until
:func:`aind_session.clear_cache` is called.

Where each value comes from, highest priority first:

1. keyword arguments to ``Settings(...)``;
2. the real environment;
3. ``./.env`` (current directory), then ``~/.env`` (home directory);
4. the defaults below.

The CodeOcean token is read from ``CODE_OCEAN_API_TOKEN``; when that is unset
(or empty), the first variable whose *value* starts with ``COP_`` (any case) is
used, in the environment and then in the `.env` files: that is how CodeOcean
capsules expose a token attached as a secret. Whitespace around it is removed;
one that still holds a character outside printable ASCII is refused. It is a
:class:`pydantic.SecretStr`: it never appears in a repr, a log line or an error.
It is sent only to a ``CODE_OCEAN_DOMAIN`` set in the same place, or in the
environment, or the default one, and over ``http://`` only to this machine (see
``SECURITY.md``). Every setting is checked; a bad one raises
:class:`~aind_session.errors.ConfigurationError` naming its variable and where
it was set.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aind_session.errors import ConfigurationError, InvalidInputError

logger = logging.getLogger(__name__)

DEFAULT_DOMAIN = "https://codeocean.allenneuraldynamics.org"
DEFAULT_DATA_BUCKETS = (
    "codeocean-s3datasetsbucket-1u41qdg42ur9",
    "aind-private-data-prod-o5171v",
    "aind-open-data-prod-o5171v",
    "aind-open-data",
    "aibs-behavior-data",
    "aind-ephys-data",
    "aind-ophys-data",
)
DEFAULT_TIMEZONE = "America/Los_Angeles"  # AIND session IDs are written in Seattle time
ENV_PREFIX = "AIND_SESSION_"
TOKEN_VARIABLE = "CODE_OCEAN_API_TOKEN"
TOKEN_PREFIX = "COP_"
ENVIRONMENT = "the environment"
KEYWORDS = "keyword arguments"
DEFAULT = "the default"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DAY, _WEEK, _TEN_YEARS = 86_400.0, 604_800.0, 315_360_000.0


def _env_files() -> tuple[Path, ...]:
    # pydantic-settings gives later files priority: the current directory wins
    return (Path.home() / ".env", Path(".env"))


class Settings(BaseSettings):
    """Every setting of aind-session.

    Environment variables are ``AIND_SESSION_<FIELD>`` unless a field names
    its own (the CodeOcean and AWS ones).

    Raises
    ------
    aind_session.errors.ConfigurationError
        When a value is invalid, naming its variable and where it was set
        (never the token); or when the token cannot be sent, or would be sent
        to a domain it may not go to.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        allow_inf_nan=False,
    )

    codeocean_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(TOKEN_VARIABLE, "codeocean_token"),
        description="CodeOcean API token with the 'Datasets - Read' scope.",
    )
    codeocean_domain: str = Field(
        default=DEFAULT_DOMAIN,
        validation_alias=AliasChoices("CODE_OCEAN_DOMAIN", "codeocean_domain"),
        description="Base URL of the CodeOcean deployment.",
    )
    data_buckets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_DATA_BUCKETS,
        description="S3 buckets searched for raw data, in order (comma-separated).",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "s3_endpoint_url"),
        description="S3 endpoint; unset means AWS itself.",
    )
    cache_ttl: float = Field(600.0, ge=0, le=_TEN_YEARS, description="Seconds an answer is kept.")
    cache_maxsize: int = Field(4096, ge=1, le=10**7, description="Answers kept in memory at most.")
    cache_dir: Path | None = Field(
        default=None, description="Folder of the opt-in persistent cache; unset means memory only."
    )
    offline: bool = Field(
        default=False, description="Answer only from the persistent cache, never the network."
    )
    connect_timeout: float = Field(5.0, gt=0, le=3600, description="Seconds to open a connection.")
    read_timeout: float = Field(60.0, gt=0, le=_DAY, description="Seconds to wait for an answer.")
    # 10 retries: with 30% of answers failing at random, a request still fails
    # outright only once in ~170,000 (0.3 ** 11)
    max_retries: int = Field(10, ge=0, le=100, description="Retries on 429, 5xx and dropped links.")
    backoff_factor: float = Field(0.2, ge=0, le=60, description="Seconds; doubled each retry.")
    # deadlines: whatever a server does (stall, trickle a byte a second, ask
    # for a day's wait), a request ends within `request_deadline` and a public
    # call (a property, a function) within `call_deadline`
    request_deadline: float = Field(
        default=120.0, gt=0, le=_WEEK, description="Seconds one request may take, all tries."
    )
    call_deadline: float = Field(
        default=300.0, gt=0, le=_WEEK, description="Seconds one public call may take, all requests."
    )
    retry_after_max: float = Field(
        default=30.0, ge=0, le=_DAY, description="Longest Retry-After honoured, in seconds."
    )
    max_pages: int = Field(
        default=10_000, ge=1, le=10**7, description="Pages one search or listing may take at most."
    )
    max_concurrency: int = Field(
        default=16, ge=1, le=256, description="CodeOcean requests (and worker threads) at once."
    )
    # S3 is built for many requests at once (s3fs itself batches 128); a
    # session's summary needs about nine, so a batch of sessions needs many
    s3_max_concurrency: int = Field(64, ge=1, le=1024, description="S3 requests in flight at once.")
    sorting_pipeline_id: str = Field(
        default="1f8f159a-7670-47a9-baf1-078905fc9c2e",
        description="CodeOcean pipeline that sorts ecephys sessions.",
    )
    sorting_trigger_capsule_id: str = Field(
        default="eb5a26e4-a391-4d79-9da5-1ab65b71253f",
        description="Capsule that starts the sorting pipeline for one raw data asset.",
    )
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="IANA time zone of session IDs (and naive dates)."
    )

    def __init__(self, **values: Any) -> None:
        # `.env` locations are resolved now, not at import (the home or current
        # directory may have changed since)
        values.setdefault("_env_file", _env_files())
        places = _Places(values)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc, places)) from None
        _check_token(self, places)
        _check_s3_endpoint(self, places)

    # validators raise InvalidInputError, a ValueError: pydantic collects it, and
    # __init__ turns all of them into one ConfigurationError
    @field_validator("data_buckets", mode="before")
    @classmethod
    def _split_buckets(cls, value: Any) -> Any:
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

    @field_validator("s3_endpoint_url", "cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("codeocean_domain", "s3_endpoint_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
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

    @field_validator("sorting_pipeline_id", "sorting_trigger_capsule_id")
    @classmethod
    def _check_uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            raise InvalidInputError(
                "is not a CodeOcean id: expected a UUID like '1f8f159a-7670-47a9-baf1-078905fc9c2e'"
            ) from None

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
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
class _Origin(NamedTuple):
    variable: str  # as written where it was found
    where: str  # ENVIRONMENT, the path of a .env file, KEYWORDS or DEFAULT
    value: Any = None

    def said(self) -> str:
        """``'from the environment'``, ``'from /home/me/.env'``, ``'the default'``."""
        return self.where if self.where == DEFAULT else f"from {self.where}"


def _variables(field: str) -> tuple[str, ...]:
    """Names a field is read from, the one to show first."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(c) for c in alias.choices if isinstance(c, str))
    return (f"{ENV_PREFIX}{field.upper()}",)


def _field_of(name: str) -> str | None:
    """The field read from ``name`` (a variable name or the field itself)."""
    lowered = name.lower()
    for field in Settings.model_fields:
        if lowered == field or lowered in (v.lower() for v in _variables(field)):
            return field
    return None


class _Places:
    """Every place settings are read from, highest priority first, as pydantic-settings
    reads them (names in any case): keyword arguments, the environment, `.env` files."""

    def __init__(self, values: Mapping[str, Any]) -> None:
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

    def origin(self, field: str) -> _Origin:
        names = _variables(field)
        wanted = {n.lower() for n in (*names, field)}
        for key, value in self.keywords.items():
            if key.lower() in wanted:
                return _Origin(key, KEYWORDS, value)
        for where, found in self.places:
            by_lower = {k.lower(): k for k in found}
            for name in names:
                if name.lower() in by_lower:
                    key = by_lower[name.lower()]
                    return _Origin(key, where, found[key])
        return _Origin(names[0], DEFAULT)

    def prefixed_token(self) -> _Origin | None:
        """The first variable whose value starts with ``COP_``: the environment, then `.env` files."""
        for where, found in self.places:
            for key, value in found.items():
                if value and value.strip()[: len(TOKEN_PREFIX)].upper() == TOKEN_PREFIX:
                    found_in = _Origin(key, where, value)
                    logger.debug("using the CodeOcean token in %s (%s)", key, found_in.said())
                    return found_in
        return None

    def secrets(self) -> list[str]:
        """Values that must never be shown: the token, and anything that looks like one."""
        token = self.origin("codeocean_token").value
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        return [token.strip()] if isinstance(token, str) and len(token.strip()) > 4 else []


def _shown(value: Any, secrets: list[str]) -> str:
    """``repr(value)`` cut to about 200 characters, unless it may hold the token."""
    text = str(value)
    if TOKEN_PREFIX in text.upper() or any(s in text for s in secrets):
        return "(hidden: it looks like a token)"
    shown = repr(value)
    return shown if len(shown) <= 200 else shown[:200] + "..."


def _describe(exc: ValidationError, places: _Places) -> str:
    """One sentence naming each bad setting's variable, value and source (never the token)."""
    secrets = places.secrets()
    problems = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        if _shown(message, secrets).startswith("(hidden"):
            message = "is invalid"
        loc = error.get("loc") or ()
        field = _field_of(str(loc[0])) if loc else None
        if field is None:
            problems.append(message)
            continue
        origin = places.origin(field)
        value = "" if field == "codeocean_token" else f"={_shown(error.get('input'), secrets)}"
        problems.append(f"{origin.variable}{value} ({origin.said()}): {message}")
    return (
        f"aind-session settings are invalid: {'; '.join(problems)}. Fix each variable named "
        "where it is set, or unset it to use its default (.env.example lists them all)."
    )


# -- the token: can it be sent, and where to ----------------------------------------------
def _check_token(settings: Settings, places: _Places) -> None:
    """Strip the token (or find the ``COP_`` fallback), refuse one that cannot be sent,
    and refuse a domain the token may not go to."""
    token = settings.codeocean_token.get_secret_value().strip() if settings.codeocean_token else ""
    origin: _Origin | None = places.origin("codeocean_token")
    if not token:
        origin = places.prefixed_token()
        token = str(origin.value).strip() if origin is not None else ""
    if origin is None or not token:
        object.__setattr__(settings, "codeocean_token", None)
        return
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
    object.__setattr__(settings, "codeocean_token", SecretStr(token))
    _check_destination(settings.codeocean_domain, places.origin("codeocean_domain"), origin)


def _check_destination(domain: str, set_by: _Origin, token: _Origin) -> None:
    trusted = (ENVIRONMENT, KEYWORDS, DEFAULT, token.where)
    if set_by.where not in trusted and domain != DEFAULT_DOMAIN:
        raise ConfigurationError(
            f"{set_by.variable}={_shown(domain, [])} is set in {set_by.where}, but the token "
            f"comes from {token.variable} ({token.said()}): the token is sent only to a domain "
            "set in the same place as the token, or in the environment. Remove "
            f"{set_by.variable} from {set_by.where}, or set it in the environment."
        )
    parts = urlsplit(domain)
    if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
        raise ConfigurationError(
            f"{set_by.variable}={_shown(domain, [])} ({set_by.said()}) is plain http: the token "
            "is sent over https:// only, except to this machine (127.0.0.1, ::1, localhost). "
            "Use https://."
        )


def _check_s3_endpoint(settings: Settings, places: _Places) -> None:
    """AWS credentials come from the environment (or ``~/.aws``): they are signed
    into requests to an S3 endpoint set in the environment, or to this machine,
    never to one a ``.env`` file in some working directory names; and never
    over plain http but to this machine."""
    endpoint = settings.s3_endpoint_url
    if not endpoint:
        return
    set_by = places.origin("s3_endpoint_url")
    host = urlsplit(endpoint).hostname or ""
    if set_by.where not in (ENVIRONMENT, KEYWORDS, DEFAULT) and not _is_loopback(host):
        raise ConfigurationError(
            f"{set_by.variable}={_shown(endpoint, [])} is set in {set_by.where}: requests "
            "signed with your AWS credentials go only to an S3 endpoint set in the "
            f"environment (or on this machine). Set {set_by.variable} in the environment, "
            f"or remove it from {set_by.where}."
        )
    if urlsplit(endpoint).scheme != "https" and not _is_loopback(host):
        raise ConfigurationError(
            f"{set_by.variable}={_shown(endpoint, [])} ({set_by.said()}) is plain http: "
            "requests signed with AWS credentials go over https:// only, except to this "
            "machine (127.0.0.1, ::1, localhost). Use https://."
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The settings in force, built on first call.

    Raises
    ------
    aind_session.errors.ConfigurationError
        When a value in the environment or a `.env` file is invalid; the
        message names the variable and where it was set (never the token's
        value).
    """
    global _settings
    current = _settings
    if current is not None:
        return current
    with _lock:
        if _settings is None:
            _settings = Settings()
        return _settings


def reset_settings() -> None:
    """Forget the settings so the next :func:`get_settings` reads them again."""
    global _settings
    with _lock:
        _settings = None
