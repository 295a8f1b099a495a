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
it was set. The checks themselves, and the rules of where the token and AWS
credentials may go, are in :mod:`aind_session.settings_checks`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aind_session import forks
from aind_session import settings_checks as checks
from aind_session.conventions import DEFAULT_DATA_BUCKETS
from aind_session.errors import ConfigurationError

# the names of the places settings come from, and defaults the checks need too:
# defined there, and still read from here
from aind_session.settings_checks import (
    DEFAULT,
    DEFAULT_DOCDB_COLLECTIONS,
    DEFAULT_DOCDB_URL,
    DEFAULT_DOMAIN,
    DEFAULT_TIMEZONE,
    ENV_PREFIX,
    ENVIRONMENT,
    KEYWORDS,
    TOKEN_PREFIX,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_DATA_BUCKETS",
    "DEFAULT_DOMAIN",
    "DEFAULT_TIMEZONE",
    "ENVIRONMENT",
    "ENV_PREFIX",
    "KEYWORDS",
    "TOKEN_PREFIX",
    "TOKEN_VARIABLE",
    "Settings",
    "get_settings",
    "reset_settings",
]

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "CODE_OCEAN_API_TOKEN"
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
        description="CodeOcean API token with the 'Data Asset - Read' and 'Capsule - Read' scopes.",
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
    docdb_url: str = Field(
        default=DEFAULT_DOCDB_URL, description="Base URL of DocDB's read-only REST API."
    )
    docdb_collections: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_DOCDB_COLLECTIONS,
        description="DocDB collections of data asset records, asked in order (comma-separated).",
    )
    cache_ttl: float = Field(600.0, ge=0, le=_TEN_YEARS, description="Seconds an answer is kept.")
    cache_maxsize: int = Field(4096, ge=1, le=10**7, description="Answers kept in memory at most.")
    cache_dir: Path | None = Field(
        default=None, description="Folder of the opt-in persistent cache; unset means memory only."
    )
    offline: bool = Field(
        default=False, description="Answer only from the persistent cache, never the network."
    )
    cache_refresh: bool = Field(
        default=False,
        description="Ask again what the persistent cache keeps, and keep the new answers.",
    )
    quick_exit: bool = Field(
        default=True,
        description="In a process that used a service: collect once at exit, then leave what "
        "is still alive to the operating system (Python's teardown collections skipped).",
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
    docdb_help_deadline: float = Field(
        default=20.0,
        gt=0,
        le=_WEEK,
        description="Seconds DocDB is waited for where it only helps; then answered without it.",
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
        places = checks.Places(values, Settings.model_fields)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(checks.describe(exc, places)) from None
        token = checks.check_token(self.codeocean_token, self.codeocean_domain, places)
        object.__setattr__(self, "codeocean_token", token)
        checks.check_s3_endpoint(self.s3_endpoint_url, places)

    # the checks (in settings_checks) raise InvalidInputError, a ValueError: pydantic
    # collects it, and __init__ turns all of them into one ConfigurationError
    @field_validator("data_buckets", mode="before")
    @classmethod
    def _split_buckets(cls, value: Any) -> Any:
        return checks.split_buckets(value)

    @field_validator("docdb_collections", mode="before")
    @classmethod
    def _split_collections(cls, value: Any) -> Any:
        return checks.split_collections(value)

    @field_validator("s3_endpoint_url", "cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return checks.empty_is_unset(value)

    @field_validator("codeocean_domain", "s3_endpoint_url", "docdb_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return checks.check_url(value)

    @field_validator("sorting_pipeline_id", "sorting_trigger_capsule_id")
    @classmethod
    def _check_uuid(cls, value: str) -> str:
        return checks.check_uuid(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return checks.check_timezone(value)


_lock = forks.free_after_fork(threading.Lock())
_settings: Settings | None = None


def get_settings() -> Settings:
    """The settings in force, built on first call.

    >>> get_settings().cache_ttl
    600.0
    >>> get_settings() is get_settings()
    True

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


@contextlib.contextmanager
def overridden(**fields: Any) -> Iterator[Settings]:
    """The settings in force with ``fields`` changed, until the block ends; the
    environment is left as it is (the command line's disk cache: ``cache_dir``,
    ``cache_refresh``). Values are taken as given: pass them in their fields' types.

    >>> from pathlib import Path
    >>> with overridden(cache_refresh=True) as changed:
    ...     get_settings() is changed, get_settings().cache_refresh
    (True, True)
    >>> get_settings().cache_refresh
    False
    """
    global _settings
    changed = get_settings().model_copy(update=fields)
    with _lock:
        previous, _settings = _settings, changed
    try:
        yield changed
    finally:
        with _lock:
            if _settings is changed:  # not reset meanwhile (a clear reads them again)
                _settings = previous
