"""Where aind-session's settings come from, to name a bad value's variable and source.

:class:`Places` is every place a value is read from (keyword arguments, the
environment, `.env` files), highest priority first, and :class:`Origin` where
one value was found; :func:`describe` turns pydantic's errors into one sentence
that names each bad value's variable and source, and :func:`shown` shows a value
unless it may hold the token. The rules the values must meet are in
:mod:`aind_session.settings_checks`, which re-exports these names, as before.

None of these shows the token. This module imports only :mod:`aind_session.errors`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from aind_session.errors import ConfigurationError

# reading where settings come from is part of reading the settings: it logs
# under the name of `aind_session.config`, as it did when it lived there
logger = logging.getLogger("aind_session.config")

ENV_PREFIX = "AIND_SESSION_"
TOKEN_PREFIX = "COP_"
ENVIRONMENT = "the environment"
KEYWORDS = "keyword arguments"
DEFAULT = "the default"


# -- where each value came from ------------------------------------------------------
class Origin(NamedTuple):
    """Where one setting was found: its variable, the place, and the value there."""

    variable: str  # as written where it was found
    where: str  # ENVIRONMENT, the path of a .env file, KEYWORDS or DEFAULT
    value: Any = None

    def said(self) -> str:
        """``'from the environment'``, ``'from /home/me/.env'``, ``'the default'``.

        >>> Origin('AIND_SESSION_CACHE_TTL', ENVIRONMENT, '0').said()
        'from the environment'
        >>> Origin('AIND_SESSION_CACHE_TTL', DEFAULT).said()
        'the default'
        """
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
        """Names a field is read from, the one to show first.

        >>> from aind_session.config import Settings
        >>> places = Places({}, Settings.model_fields)
        >>> places.variables('cache_ttl'), places.variables('codeocean_token')
        (('AIND_SESSION_CACHE_TTL',), ('CODE_OCEAN_API_TOKEN', 'codeocean_token'))
        """
        alias = self.fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return tuple(str(c) for c in alias.choices if isinstance(c, str))
        return (f"{ENV_PREFIX}{field.upper()}",)

    def field_of(self, name: str) -> str | None:
        """The field read from ``name`` (a variable name or the field itself), or None.

        >>> from aind_session.config import Settings
        >>> places = Places({}, Settings.model_fields)
        >>> places.field_of('aind_session_cache_ttl'), places.field_of('NOT_A_SETTING')
        ('cache_ttl', None)
        """
        lowered = name.lower()
        for field in self.fields:
            if lowered == field or lowered in (v.lower() for v in self.variables(field)):
                return field
        return None

    def origin(self, field: str) -> Origin:
        """Where ``field`` was set: keyword arguments, the environment, then `.env`
        files; :data:`DEFAULT` when it was set nowhere.

        >>> from aind_session.config import Settings
        >>> places = Places({'cache_ttl': '60'}, Settings.model_fields)
        >>> places.origin('cache_ttl')
        Origin(variable='cache_ttl', where='keyword arguments', value='60')
        >>> places.origin('cache_maxsize')
        Origin(variable='AIND_SESSION_CACHE_MAXSIZE', where='the default', value=None)
        """
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
        """The first variable whose value starts with ``COP_``: the environment, then `.env` files.

        None when there is none. In the sandbox, its token:

        >>> from aind_session.config import Settings
        >>> found = Places({}, Settings.model_fields).prefixed_token()
        >>> found.variable, found.where
        ('CODE_OCEAN_API_TOKEN', 'the environment')
        """
        for where, found in self.places:
            for key, value in found.items():
                if value and value.strip()[: len(TOKEN_PREFIX)].upper() == TOKEN_PREFIX:
                    found_in = Origin(key, where, value)
                    logger.debug("using the CodeOcean token in %s (%s)", key, found_in.said())
                    return found_in
        return None

    def secrets(self) -> list[str]:
        """Values that must never be shown: the token, and anything that looks like one.

        >>> from aind_session.config import Settings
        >>> Places({'codeocean_token': 'COP_abc123'}, Settings.model_fields).secrets()
        ['COP_abc123']
        """
        token = self.origin("codeocean_token").value
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        return [token.strip()] if isinstance(token, str) and len(token.strip()) > 4 else []


def shown(value: Any, secrets: list[str]) -> str:
    """``repr(value)`` cut to about 200 characters, unless it may hold the token.

    >>> shown('kilosort4', [])
    "'kilosort4'"
    >>> shown('COP_abc123', [])
    '(hidden: it looks like a token)'
    """
    text = str(value)
    if TOKEN_PREFIX in text.upper() or any(s in text for s in secrets):
        return "(hidden: it looks like a token)"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def describe(exc: ValidationError, places: Places) -> str:
    """One sentence naming each bad setting's variable, value and source (never the token).

    >>> from pydantic import BaseModel
    >>> from aind_session.config import Settings
    >>> class Ttl(BaseModel):
    ...     cache_ttl: float
    >>> try:
    ...     Ttl(cache_ttl='soon')
    ... except ValidationError as exc:
    ...     print(describe(exc, Places({'cache_ttl': 'soon'}, Settings.model_fields)))
    aind-session settings are invalid: cache_ttl='soon' (from keyword arguments): Input
    should be a valid number, ... Fix each variable named where it is set, ...
    """
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
