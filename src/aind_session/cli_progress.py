"""The progress bar of the command line: on stderr, on a terminal only, drawn from
the first item (``0/N``), erased before a log line and at the end.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from aind_session.cli_output import is_terminal

T = TypeVar("T")
R = TypeVar("R")


class Progress:
    """A progress bar on stderr, shown only on a terminal and when asked, drawn at once
    (``0/N``) so that it is there from the first item. A log line written meanwhile
    erases it first (:func:`erase_progress`); the next step draws it again."""

    shown: Progress | None = None  # the bar on the terminal now

    def __init__(self, total: int, label: str, show: bool) -> None:
        self.total, self.label, self.done = total, label, 0
        self.on = show and is_terminal(sys.stderr) and total > 0
        self.lock = threading.Lock()
        if self.on:
            Progress.shown = self
        self._draw()

    def _draw(self) -> None:
        if self.on:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
            )
            sys.stderr.flush()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done, and redraw the bar when it is shown."""
        with self.lock:
            self.done += count
            self._draw()

    def erase(self) -> None:
        """Take the bar off the terminal's line (it is drawn again by the next step)."""
        if self.on:
            sys.stderr.write("\r" + " " * (len(self.label) + 45) + "\r")
            sys.stderr.flush()

    def close(self) -> None:
        """Erase the bar when it is shown."""
        self.erase()
        if Progress.shown is self:
            Progress.shown = None


def erase_progress() -> None:
    """Before a log line: erase the progress bar, so that the line starts on its own.

    >>> erase_progress()  # no bar: nothing
    """
    bar = Progress.shown
    if bar is not None:
        bar.erase()


def progress_map(fn: Callable[[T], R], items: Sequence[T], label: str, show: bool) -> list[R]:
    """``fn`` over ``items`` on a bounded pool, with a progress bar on a terminal.

    The answers are in the order of ``items``.

    >>> progress_map(str.upper, ['ProbeA', 'ProbeB'], 'probes', show=False)
    ['PROBEA', 'PROBEB']
    """
    from concurrent.futures import ThreadPoolExecutor

    from aind_session.config import get_settings

    progress = Progress(len(items), label, show)

    def step(item: T) -> R:
        result = fn(item)
        progress.advance()
        return result

    workers = max(1, min(len(items), get_settings().max_concurrency))
    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(step, items))
    finally:
        progress.close()


def progress_batches(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], label: str, show: bool
) -> list[R]:
    """``fn`` over batches of ``items`` (each batch asks its services in a few rounds),
    the bar moved after each (:func:`aind_session.tables.in_batches`: 1, 8, 64...).
    Without a bar, all ``items`` go in one batch: fewest rounds.

    >>> progress_batches(lambda batch: [len(batch)] * len(batch), 'abc', 'letters', show=False)
    [3, 3, 3]
    """
    from aind_session.tables import in_batches

    progress = Progress(len(items), label, show)
    try:
        return in_batches(fn, items, progress.advance if progress.on else None)
    finally:
        progress.close()
