"""Progress of long work: a bar on a terminal, a few log lines elsewhere.

On a terminal the bar is drawn on rich's console, the one Kedro's logging
handler writes to, so log records print above it. Elsewhere (cron, Airflow, a
file) a log line reports the progress each time another tenth of the work is
done, and at least every few minutes, so logs stay short however long the work.
Plain rich and logging, no Kedro.
"""

from __future__ import annotations

import logging
import math
import time
from types import TracebackType

from rich import get_console
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

LOG_EVERY_S = 300.0


class ProgressReport:
    """Reports ``completed`` out of ``total`` units as work goes on.

    Use it as a context manager and call :meth:`update`. Without a terminal,
    a line is logged on each tenth of ``total`` passed, when ``log_every_s``
    have passed since the last line, and at the end (after any update since
    the last line); an unknown ``total`` gets the timed lines and the last.

    Attributes:
        description: What is done, e.g. ``Training``.
        total: The units to do, or ``None`` when not known; see
            :meth:`set_total`.
        unit: The units' name, e.g. ``epochs``.
        estimated: Whether ``total`` is an estimate (logged as ``~total``).
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        unit: str,
        logger: logging.Logger,
        console: Console | None = None,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.estimated = False
        self._logger = logger
        self._console = console or get_console()
        self._log_every_s = log_every_s
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._completed = self._logged = 0
        self._status = ""
        self._unlogged = False
        self._started = self._logged_at = time.monotonic()

    def __enter__(self) -> ProgressReport:
        self._started = self._logged_at = time.monotonic()
        if self._console.is_terminal:
            self._bar = self._start_bar()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._unlogged:
            self._log()

    def update(self, completed: int, status: str = "") -> None:
        """``completed`` units done so far; ``status`` says more, e.g. the losses."""
        self._completed, self._status = completed, status
        self._unlogged = True
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=completed, status=status)
        elif self._due():
            self._log()

    def set_total(self, total: int | None, estimated: bool = False) -> None:
        """Another ``total``, e.g. an estimate made exact as the work goes on."""
        self.total, self.estimated = total, estimated
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def _start_bar(self) -> Progress:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
        )
        bar.start()
        self._task = bar.add_task(self.description, total=self.total, status="")
        return bar

    def _due(self) -> bool:
        if time.monotonic() - self._logged_at >= self._log_every_s:
            return True
        if not self.total or self._completed >= self.total:
            return False  # the last line comes at the end, with the last status
        return _tenths(self._completed, self.total) > _tenths(self._logged, self.total)

    def _log(self) -> None:
        done = f"{self._completed}"
        if self.total:
            share = math.floor(100 * self._completed / self.total)
            about = "~" if self.estimated else ""
            done += f"/{about}{self.total} {self.unit} ({share}%)"
        else:
            done += f" {self.unit}"
        status = f", {self._status}" if self._status else ""
        elapsed = time.monotonic() - self._started
        self._logger.info("%s: %s%s, %.0f s", self.description, done, status, elapsed)
        self._logged, self._logged_at = self._completed, time.monotonic()
        self._unlogged = False


def _tenths(completed: int, total: int) -> int:
    return math.floor(10 * completed / total)
