"""Every exception aind-session raises, in one place.

Each error also subclasses the built-in exception that callers already catch,
so ``except ValueError`` or ``getattr(session, "raw_data_asset", None)`` work
without importing anything from here::

    AindSessionError                      base of everything below
    ├── InvalidInputError(ValueError)     a value given is not valid: an id, a date, a
    │   │                                 platform, a filter; the message names it
    │   └── SessionIDError                a value holds no session ID / subject ID
    ├── ConfigurationError(RuntimeError)  settings missing or invalid
    │   └── MissingTokenError             no CodeOcean token was found
    ├── AuthenticationError(PermissionError)
    │                                     the token was refused (401/403)
    ├── AccessDeniedError(PermissionError)
    │                                     S3 refused a folder that may hold the answer
    ├── ServiceError(ConnectionError)     CodeOcean, S3 or DocDB failed after retries
    │   ├── DeadlineExceededError         no complete answer within the deadline
    │   └── OfflineCacheMissError         offline mode and the answer is not cached
    ├── NotReadyError(TimeoutError)       a data asset was not ready in the time allowed
    ├── NotFoundError(LookupError)        an id that the service does not know
    ├── CorruptFileError(ValueError)      a file (JSON on S3) that cannot be parsed
    ├── NamespaceError(RuntimeError)      a namespace failed to build, or a bad
    │                                     namespace registration
    ├── InternalError(RuntimeError)       aind-session broke a rule of its own (a bug)
    └── NotAvailableError(AttributeError) something that belongs to a session
        │                                 could not be found; the message says
        │                                 what was looked for and where
        ├── NoRawDataAssetError
        ├── NoRawDataDirError
        ├── MetadataFileNotFoundError
        ├── NoDocDBRecordError            DocDB has no record of the session
        ├── NoSortedDataError
        └── NoSorterNameError(ValueError) also a ValueError, as ``sorter_name``
                                          raised one before

While something is looked up, a ``NotAvailableError`` is an answer (what was
looked for is not there), while a ``ServiceError``, ``AccessDeniedError``,
``CorruptFileError`` or ``NotFoundError`` means that the answer could not be
found out: summaries such as :func:`aind_session.report.describe` then say
"unknown" and why, never "none" or "ok".

The sandbox's own errors (bad world files) live in
:mod:`aind_session.testing.world` as ``WorldError(ValueError)``.

Messages are full sentences that name the input, say what was tried and what
to do next. No message ever contains a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

T = TypeVar("T")

__all__ = [
    "AccessDeniedError",
    "AindSessionError",
    "AuthenticationError",
    "ConfigurationError",
    "CorruptFileError",
    "DeadlineExceededError",
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
    "SessionIDError",
]


class AindSessionError(Exception):
    """Base class of every error raised by aind-session."""


class InvalidInputError(AindSessionError, ValueError):
    """A value given is not valid (an id, a date, a platform, a filter); the
    message names it and the forms accepted."""


class SessionIDError(InvalidInputError):
    """A value does not hold a session ID (or subject ID) in a known form."""


class ConfigurationError(AindSessionError, RuntimeError):
    """A setting is missing or invalid."""


class MissingTokenError(ConfigurationError):
    """No CodeOcean API token was found in the environment or in `.env` files."""


class AuthenticationError(AindSessionError, PermissionError):
    """CodeOcean refused the token (HTTP 401 or 403)."""


class AccessDeniedError(AindSessionError, PermissionError):
    """S3 denied access where the answer may be, so "not found" would be wrong."""


class ServiceError(AindSessionError, ConnectionError):
    """CodeOcean, S3 or DocDB did not give an answer, after retrying where that is safe."""


class DeadlineExceededError(ServiceError):
    """A request, or a public call, took longer than its deadline (a stalled or
    trickling server): the layers say which service and which question."""

    def __init__(self, count: int, seconds: float) -> None:
        self.tries = count
        self.seconds = seconds
        super().__init__(f"no complete answer within {seconds:.0f} s ({tries(count)})")

    def __reduce__(self) -> tuple[Any, ...]:
        # built again from its own arguments: by default an error is from its message
        return (type(self), (self.tries, self.seconds), self.__dict__)


class OfflineCacheMissError(ServiceError):
    """Offline mode is on and the answer needed is not in the persistent cache."""


class NotReadyError(AindSessionError, TimeoutError):
    """A data asset was not ready (or its files not visible) within the time allowed."""


class NotFoundError(AindSessionError, LookupError):
    """The service does not know the id that was asked for."""


class CorruptFileError(AindSessionError, ValueError):
    """A file was read but could not be parsed (for example invalid JSON on S3)."""


class NamespaceError(AindSessionError, RuntimeError):
    """A namespace could not be registered or failed while it was being built."""


class InternalError(AindSessionError, RuntimeError):
    """aind-session broke one of its own rules: a bug, to be reported with the traceback."""


class NotAvailableError(AindSessionError, AttributeError):
    """Something that belongs to a session or subject could not be found."""


class NoRawDataAssetError(NotAvailableError):
    """A session has no raw data asset in CodeOcean."""


class NoRawDataDirError(NotAvailableError):
    """A session's raw data folder was not found in any place checked."""


class MetadataFileNotFoundError(NotAvailableError):
    """A metadata JSON file does not exist in the session's raw data folder."""


class NoDocDBRecordError(NotAvailableError):
    """DocDB has no record of the session (in any of the collections asked)."""


class NoSortedDataError(NotAvailableError):
    """A session has no (successful) spike-sorted data asset."""


class NoSorterNameError(NotAvailableError, ValueError):
    """No file of a sorted data asset names its sorter: the sorting probably failed.

    Also a ``ValueError``, which ``sorter_name`` raised before this class existed.
    """


def tries(count: int) -> str:
    """``'1 try'``, ``'6 tries'``: how often a request was made, for messages.

    >>> tries(1), tries(6)
    ('1 try', '6 tries')
    """
    return f"{count} try" if count == 1 else f"{count} tries"


def raise_first(answers: Sequence[T | Exception]) -> list[T]:
    """``answers`` (of a :func:`aind_session.batch.gather`, say) when none is an
    exception; else the first exception among them is raised.

    >>> raise_first([1, 2])
    [1, 2]
    >>> raise_first([1, KeyError('k')])
    Traceback (most recent call last):
    ...
    KeyError: 'k'
    """
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return cast("list[T]", list(answers))
