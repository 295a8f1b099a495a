"""How a process that used the library ends: quickly (:func:`quick_exit`).

Once the CodeOcean SDK, s3fs and botocore are loaded, the collections Python makes
while it tears the modules down take longer than a one-question script's question.
"""

from __future__ import annotations

_exit_registered: list[bool] = []


def quick_exit() -> None:
    """Spare the interpreter's exit the collections of its teardown: at exit, once
    every other exit handler registered after this one has run, collect the garbage
    (so that what is unreachable then is finalized as before), then freeze what is
    left (:func:`gc.freeze`).

    The objects still alive at exit (modules, classes, the SDKs' service models:
    some 100,000 once the CodeOcean SDK, s3fs and botocore are loaded) are then left
    to the operating system instead of being traced by the collections Python
    makes while it tears the modules down, which take longer than a one-question
    script's question (0.2-0.3 s). Python does not promise to finalize objects
    still alive at exit; those it would have found in cycles after clearing the
    modules are the only ones not finalized. Registered once per process: on first
    use of a service (:func:`quick_exit_if_asked`, unless ``AIND_SESSION_QUICK_EXIT``
    is false), and by the command line's entry point (:func:`aind_session.cli.run`).
    A second call does nothing (``tests/test_first_question.py`` runs it in a process
    of its own).
    """
    if _exit_registered:
        return
    _exit_registered.append(True)
    import atexit

    atexit.register(_freeze_at_exit)


def quick_exit_if_asked() -> None:
    """:func:`quick_exit`, unless the setting ``quick_exit`` is off: on first use of a
    service, whose packages (botocore's models above all) make the teardown slow.

    >>> from aind_session import config
    >>> before = list(_exit_registered)
    >>> with config.overridden(quick_exit=False):
    ...     quick_exit_if_asked()  # off: nothing registered
    >>> _exit_registered == before
    True
    """
    from aind_session.config import get_settings

    if get_settings().quick_exit:
        quick_exit()


def _freeze_at_exit() -> None:
    import gc

    if gc.isenabled():  # as Python's own collection at exit
        gc.collect()
    gc.freeze()
