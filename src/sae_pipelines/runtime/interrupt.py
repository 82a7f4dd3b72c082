"""Ctrl+C and SIGTERM as an error a run can clean up after.

Python turns Ctrl+C into ``KeyboardInterrupt``, which is not an ``Exception``:
Kedro's ``on_pipeline_error`` hooks never see it, and MLflow's exit handler
then ends the run FINISHED. SIGTERM ends the process with no clean-up at all.
Within :func:`interrupts_as_errors`, either signal raises :class:`RunInterrupted`
instead, which Kedro handles as any failure.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

from sae_pipelines.runtime.errors import error_chain

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):  # noqa: N818 - it is what happened, not a fault
    """The run was stopped by a signal: Ctrl+C (SIGINT) or SIGTERM."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        self.exit_status = 128 + signum  # as a shell reports a process it signalled
        super().__init__(f"interrupted by {self.signal_name}")


def interruption(error: BaseException | None) -> RunInterrupted | None:
    """The :class:`RunInterrupted` behind ``error`` (Kedro may wrap it), if any."""
    return next(
        (cause for cause in error_chain(error) if isinstance(cause, RunInterrupted)),
        None,
    )


# The signals received within :func:`interrupts_as_errors`, first first.
_received: list[int] = []


def raise_if_interrupted() -> None:
    """Raise :class:`RunInterrupted` again for a signal already received.

    Library code that catches every ``Exception`` (a logging handler's
    ``emit``, a store that wraps errors in its own) can swallow the first
    raise; long work calls this at each step it may stop at.
    """
    if _received:
        raise RunInterrupted(_received[0])


@contextlib.contextmanager
def interrupts_as_errors() -> Iterator[None]:
    """Within it, SIGINT or SIGTERM raises :class:`RunInterrupted`.

    :func:`raise_if_interrupted` raises it again wherever the first was
    swallowed. A second signal gets the handler there was before (Ctrl+C
    twice stops at once). Only the main thread may set handlers.
    """
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def handler(signum: int, frame: FrameType | None) -> None:
        if _received:  # the second: as if this handler had never been set
            restore()
            before = previous[signal.Signals(signum)]
            if callable(before):  # Python's own for SIGINT: KeyboardInterrupt
                before(signum, frame)
            elif before == signal.SIG_DFL:
                signal.raise_signal(signum)  # the default action: the process ends
            return
        _received.append(signum)
        raise RunInterrupted(signum)

    for signum in SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        restore()
        _received.clear()
