"""How long each node of a run took, in the run's log."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class NodeTimingHooks:
    """Logs how long each node took, loading, computing and saving, and in all.

    Each node's line also gives the process's peak memory so far, which shows
    the node that raised it.

    Kedro logs when a node starts and ends, not for how long. A node's time
    runs from loading its first input to saving its last output: some work
    happens in a save (batch extraction encodes while its dataset writes).
    The gap between a run's wall time and the total is the pipeline's
    overhead (start-up, tracking).
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._unsaved: dict[str, int] = {}
        self._total = 0.0

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Start the total from zero."""
        self._started, self._unsaved, self._total = {}, {}, 0.0

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        """Start the node's clock at its first input."""
        self._started.setdefault(node.name, time.perf_counter())

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Start the clock of a node without inputs."""
        self._started.setdefault(node.name, time.perf_counter())

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        """Count the outputs still to save; without any, the node is done."""
        self._unsaved[node.name] = len(outputs)
        if not outputs:
            self._finish(node.name)

    @hook_impl
    def after_dataset_saved(self, node: Any) -> None:
        """Stop the node's clock once its last output is saved."""
        self._unsaved[node.name] -= 1
        if self._unsaved[node.name] == 0:
            self._finish(node.name)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the nodes' total."""
        logger.info("Nodes took %.2f s in all, loads and saves included", self._total)

    def _finish(self, name: str) -> None:
        elapsed = time.perf_counter() - self._started.pop(name)
        self._total += elapsed
        peak = peak_memory_gib()
        if peak is None:
            logger.info("Node '%s' took %.2f s", name, elapsed)
        else:
            logger.info("Node '%s' took %.2f s; peak RSS %.2f GiB", name, elapsed, peak)


def peak_memory_gib() -> float | None:
    """The process's peak resident memory so far; None where it cannot be read.

    The peak only grows: the node after which it grew is the one that raised it.
    """
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20
