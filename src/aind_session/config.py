"""Settings, read from the environment and `.env` files on first use.

Nothing here runs at import of :mod:`aind_session`: :func:`get_settings` builds
a :class:`Settings` the first time something needs one and keeps it until
:func:`aind_session.clear_cache` is called.

Where each value comes from, highest priority first:

1. keyword arguments to ``Settings(...)``;
2. the real environment;
3. ``./.env`` (current directory), then ``~/.env`` (home directory);
4. the defaults below.

The CodeOcean token is read from ``CODE_OCEAN_API_TOKEN``; when that is unset,
the first environment variable whose *value* starts with ``COP_`` (any case) is
used, which is how CodeOcean capsules expose a token attached as a secret.
The token is a :class:`pydantic.SecretStr`: it never appears in a repr, a log
line or an error message.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
TOKEN_VARIABLE = "CODE_OCEAN_API_TOKEN"
TOKEN_PREFIX = "COP_"


def _env_files() -> tuple[Path, ...]:
    # pydantic-settings gives later files priority: the current directory wins
    return (Path.home() / ".env", Path(".env"))


class Settings(BaseSettings):
    """Every setting of aind-session.

    Environment variables are ``AIND_SESSION_<FIELD>`` unless a field names
    its own (the CodeOcean and AWS ones).
    """

    model_config = SettingsConfigDict(
        env_prefix="AIND_SESSION_",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
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
    cache_ttl: float = Field(default=600.0, ge=0, description="Seconds an answer is kept.")
    cache_maxsize: int = Field(default=4096, ge=1, description="Answers kept in memory at most.")
    cache_dir: Path | None = Field(
        default=None, description="Folder of the opt-in persistent cache; unset means memory only."
    )
    offline: bool = Field(
        default=False, description="Answer only from the persistent cache, never the network."
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to open a connection.")
    read_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for an answer.")
    # 10 retries: with 30% of answers failing at random, a request still fails
    # outright only once in ~170,000 (0.3 ** 11)
    max_retries: int = Field(default=10, ge=0, description="Retries on 429, 5xx and dropped links.")
    backoff_factor: float = Field(default=0.2, ge=0, description="Seconds; doubled each retry.")
    max_concurrency: int = Field(
        default=16, ge=1, description="CodeOcean requests (and worker threads) at once."
    )
    # S3 is built for many requests at once (s3fs itself batches 128); a
    # session's summary needs about nine, so a batch of sessions needs many
    s3_max_concurrency: int = Field(default=64, ge=1, description="S3 requests in flight at once.")
    sorting_pipeline_id: str = Field(
        default="1f8f159a-7670-47a9-baf1-078905fc9c2e",
        description="CodeOcean pipeline that sorts ecephys sessions.",
    )
    sorting_trigger_capsule_id: str = Field(
        default="eb5a26e4-a391-4d79-9da5-1ab65b71253f",
        description="Capsule that starts the sorting pipeline for one raw data asset.",
    )

    def __init__(self, **values: Any) -> None:
        # `.env` locations are resolved now, not at import (the home or current
        # directory may have changed since)
        values.setdefault("_env_file", _env_files())
        super().__init__(**values)

    @field_validator("data_buckets", mode="before")
    @classmethod
    def _split_buckets(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not value:
            raise ValueError("data_buckets needs at least one bucket name")
        return value

    @field_validator("codeocean_domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"CODE_OCEAN_DOMAIN must start with http:// or https://, got {value!r}"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _token_fallback(self) -> Settings:
        if self.codeocean_token is None:
            found = _find_prefixed_token()
            if found is not None:
                object.__setattr__(self, "codeocean_token", SecretStr(found))
        return self


def _find_prefixed_token() -> str | None:
    """The first value starting with ``COP_`` in the environment, then in `.env` files."""
    for name, value in os.environ.items():
        if value[: len(TOKEN_PREFIX)].upper() == TOKEN_PREFIX:
            logger.debug("using the CodeOcean token found in environment variable %s", name)
            return value
    from dotenv import dotenv_values

    for path in reversed(_env_files()):  # current directory first
        if path.is_file():
            for key, found in dotenv_values(path).items():
                if found and found[: len(TOKEN_PREFIX)].upper() == TOKEN_PREFIX:
                    logger.debug("using the CodeOcean token found as %s in %s", key, path)
                    return found
    return None


_lock = threading.Lock()
_settings: Settings | None = None


def get_settings() -> Settings:
    """The settings in force, built on first call.

    Raises
    ------
    aind_session.errors.ConfigurationError
        When a value in the environment or a `.env` file is invalid; the
        message names the setting (never the token's value).
    """
    global _settings
    current = _settings
    if current is not None:
        return current
    with _lock:
        if _settings is None:
            from pydantic import ValidationError

            from aind_session.errors import ConfigurationError

            try:
                _settings = Settings()
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in exc.errors()
                )
                raise ConfigurationError(
                    f"aind-session settings are invalid ({problems}). Fix the environment "
                    "variables or `.env` files named, or unset them to use the defaults."
                ) from None
        return _settings


def reset_settings() -> None:
    """Forget the settings so the next :func:`get_settings` reads them again."""
    global _settings
    with _lock:
        _settings = None
