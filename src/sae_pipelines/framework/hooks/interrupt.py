"""Kedro hooks that stop a run between nodes for a swallowed interruption.

Apart from :mod:`~sae_pipelines.runtime.interrupt`, which the model's code
imports where Kedro is not installed (the registered model's environment).
"""

from __future__ import annotations

from kedro.framework.hooks import hook_impl

from sae_pipelines.runtime.interrupt import raise_if_interrupted


class InterruptHooks:
    """Stops a run between nodes for a signal whose first raise was swallowed."""

    @hook_impl
    def before_node_run(self) -> None:
        """Raise ``RunInterrupted`` before the node, if a signal came."""
        raise_if_interrupted()

    @hook_impl
    def after_node_run(self) -> None:
        """Raise ``RunInterrupted`` after the node, if a signal came."""
        raise_if_interrupted()
