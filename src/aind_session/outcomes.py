"""The answer to a question about a session, or why there is none: the three values
every summary and table shows (a value; nothing there, with the reason; unknown,
with the reason), and the verdicts' ``"ok"`` / ``"error"`` / ``"unknown"``.

Nothing found is an answer; an answer that could not be found out (a service
down, access denied, a corrupt file) is not, and is never shown as "none" or "ok".
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

from aind_session import errors


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line.

    >>> one_line(ValueError('two\\nlines'))
    'two lines'
    """
    return " ".join(str(exc).split())


# what may go wrong while a question is answered; AuthenticationError and
# ConfigurationError are raised instead: nothing can work, and it is said once
_LOOKUP_ERRORS = (errors.AindSessionError, ValueError, LookupError, OSError)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The answer to one question, or why there is none.

    ``reason`` is set when there is no value: nothing was found (``unknown``
    false, ``value`` is the "none" answer), or the answer could not be found
    out (``unknown`` true, ``value`` is None).
    """

    value: Any
    reason: str | None = None
    unknown: bool = False


def ask(question: Callable[[], Any], none: Any = None) -> Outcome:
    """Ask ``question``: its value, ``none`` with the reason when nothing is there
    (a :class:`~aind_session.errors.NotAvailableError`), or unknown with the
    reason when the answer could not be found out (any other error met while
    looking: a service down, access denied, a corrupt file).

    >>> ask(lambda: 1)
    Outcome(value=1, reason=None, unknown=False)
    >>> ask(lambda: {}['x'], none=()).unknown
    True

    Raises
    ------
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        Nothing can work: the caller says it once.
    """
    try:
        return Outcome(question())
    except (errors.AuthenticationError, errors.ConfigurationError):
        raise
    except errors.NotAvailableError as exc:
        return Outcome(none, one_line(exc))
    except _LOOKUP_ERRORS as exc:
        return Outcome(None, one_line(exc), unknown=True)


def raised(value: Any) -> Any:
    """``value``, unless it is an exception: then it is raised.

    >>> raised(1)
    1
    """
    if isinstance(value, Exception):
        raise value
    return value


def ask_many(questions: Sequence[tuple[Callable[[], Any], Any]]) -> list[Outcome]:
    """:func:`ask` each ``(question, none)``, all together (:func:`aind_session.batch.gather`):
    independent questions, so that their reads are fetched in the same rounds.

    >>> [o.value for o in ask_many([(lambda: 1, None), (lambda: [][0], ())])]
    [1, None]

    Raises
    ------
    aind_session.errors.AuthenticationError, aind_session.errors.ConfigurationError
        As :func:`ask`.
    """
    return gathered([functools.partial(ask, q, none) for q, none in questions])


def gathered(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """The values of ``tasks``, worked out together (:func:`aind_session.batch.gather`:
    their reads in the same rounds), in order; the first exception one raised is raised.

    >>> gathered([lambda: 1, lambda: 2])
    [1, 2]
    """
    from aind_session import batch

    return [raised(value) for value in batch.gather(tasks)]


def status(failed: bool | None, unknown: bool = False) -> str:
    """The three-valued verdict of the CLI's contract: ``"error"`` (it failed),
    ``"ok"``, or ``"unknown"`` (it could not be found out; the reason is under
    ``unknown``, by the same key).

    >>> status(True), status(False), status(None, unknown=True)
    ('error', 'ok', 'unknown')
    """
    if unknown or failed is None:
        return "unknown"
    return "error" if failed else "ok"
