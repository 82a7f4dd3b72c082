"""Ctrl+C and SIGTERM within a run raise an error that the run can clean up after."""

import contextlib
import os
import signal

import pytest
from kedro.io import DatasetError

from sae_pipelines.framework.hooks.interrupt import InterruptHooks
from sae_pipelines.runtime.interrupt import (
    RunInterrupted,
    interruption,
    interrupts_as_errors,
    raise_if_interrupted,
)


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_a_signal_raises_run_interrupted_again_until_it_is_over(signum, status):
    before = signal.getsignal(signum)
    with pytest.raises(RunInterrupted) as raised, interrupts_as_errors():  # noqa: PT012
        raise_if_interrupted()  # nothing received yet
        try:
            os.kill(os.getpid(), signum)
        except RunInterrupted:
            pass  # swallowed, as a library's `except Exception` would
        raise_if_interrupted()
    assert raised.value.exit_status == status
    assert str(raised.value) == f"interrupted by {signum.name}"
    assert signal.getsignal(signum) is before
    raise_if_interrupted()  # over with the block


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler, whatever the test runner set (xdist's workers)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_second_signal_gets_the_handler_there_was_before(python_sigint):
    with pytest.raises(KeyboardInterrupt), interrupts_as_errors():  # noqa: PT012
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except RunInterrupted:
            os.kill(os.getpid(), signal.SIGINT)  # Python's own: KeyboardInterrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interruption_is_found_behind_the_errors_that_wrap_it():
    try:
        try:
            raise RunInterrupted(signal.SIGTERM)
        except RunInterrupted as error:
            raise DatasetError("Failed while saving data") from error
    except DatasetError as wrapped:
        assert interruption(wrapped).signal_name == "SIGTERM"
    assert interruption(ValueError("a bug")) is None


def test_the_hooks_stop_the_run_between_nodes_for_a_swallowed_signal():
    hooks = InterruptHooks()
    with interrupts_as_errors():
        hooks.before_node_run()  # nothing received
        with contextlib.suppress(RunInterrupted):  # swallowed inside a node
            os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(RunInterrupted, match="SIGTERM"):
            hooks.after_node_run()
