"""aind-session: one object per AIND experiment session.

>>> import aind_session
>>> aind_session.Session('ecephys_676909_2023-12-13_13-43-40').subject_id
'676909'

Importing this package is cheap: ``codeocean``, ``s3fs``, ``boto3`` and
``pydantic`` are imported the first time something needs them. Names listed
in ``_LAZY`` are imported on first access (PEP 562).

Every name the package offers is in ``__all__`` (a test checks both ways), and
so is every error it raises (see :mod:`aind_session.errors`).
"""

import importlib as _importlib
import typing as _typing

from aind_session import session as _session
from aind_session.cache import clear_cache
from aind_session.errors import (
    AccessDeniedError,
    AindSessionError,
    AuthenticationError,
    ConfigurationError,
    CorruptFileError,
    DeadlineExceededError,
    InternalError,
    InvalidInputError,
    MetadataFileNotFoundError,
    MissingTokenError,
    NamespaceError,
    NoDocDBRecordError,
    NoRawDataAssetError,
    NoRawDataDirError,
    NoSortedDataError,
    NoSorterNameError,
    NotAvailableError,
    NotFoundError,
    NotReadyError,
    OfflineCacheMissError,
    ServiceError,
    SessionIDError,
)
from aind_session.extension import ExtensionBaseClass, register_namespace
from aind_session.session import Session

if _typing.TYPE_CHECKING:
    from aind_session.codeocean import (
        get_data_asset,
        get_subject_data_assets,
        is_raw_data_asset,
        search_data_assets,
    )
    from aind_session.config import Settings, get_settings
    from aind_session.subject import Subject, get_sessions
    from aind_session.tables import sessions_table

__version__ = "0.1.0"

_LAZY = {
    "Settings": "aind_session.config",
    "Subject": "aind_session.subject",
    "get_data_asset": "aind_session.codeocean",
    "get_sessions": "aind_session.subject",
    "get_settings": "aind_session.config",
    "get_subject_data_assets": "aind_session.codeocean",
    "is_raw_data_asset": "aind_session.codeocean",
    "search_data_assets": "aind_session.codeocean",
    "sessions_table": "aind_session.tables",
}

__all__ = [
    "AccessDeniedError",
    "AindSessionError",
    "AuthenticationError",
    "ConfigurationError",
    "CorruptFileError",
    "DeadlineExceededError",
    "ExtensionBaseClass",
    "InternalError",
    "InvalidInputError",
    "MetadataFileNotFoundError",
    "MissingTokenError",
    "NamespaceError",
    "NoDocDBRecordError",
    "NoRawDataAssetError",
    "NoRawDataDirError",
    "NoSortedDataError",
    "NoSorterNameError",
    "NotAvailableError",
    "NotFoundError",
    "NotReadyError",
    "OfflineCacheMissError",
    "ServiceError",
    "Session",
    "SessionIDError",
    "Settings",
    "Subject",
    "__version__",
    "clear_cache",
    "get_data_asset",
    "get_sessions",
    "get_settings",
    "get_subject_data_assets",
    "is_raw_data_asset",
    "register_namespace",
    "search_data_assets",
    "sessions_table",
]


def _subject_of(subject_id: str) -> _typing.Any:
    from aind_session.subject import Subject

    return Subject(subject_id)


def _describe(session: Session) -> _typing.Any:
    from aind_session.report import describe

    return describe(session)


# the package is the top of the house: it plugs what the layers above session.py
# answer into Session (imported on first use, so that this import stays cheap)
_session.provide(subject=_subject_of, describe=_describe)


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aind_session' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
