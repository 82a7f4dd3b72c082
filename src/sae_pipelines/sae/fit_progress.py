"""What a fit tells while it runs: the device it trains on, the epochs done."""

from __future__ import annotations

import logging
import math
from typing import Any

import keras
import tensorflow as tf

from sae_pipelines.runtime.interrupt import raise_if_interrupted
from sae_pipelines.runtime.progress import ProgressReport

logger = logging.getLogger(__name__)


class EpochProgress(keras.callbacks.Callback):
    """Shows the epochs done and the latest losses while a model fits.

    Between its calls into the compiled loop, it also stops the fit for an
    interruption received before (see
    :func:`~sae_pipelines.runtime.interrupt.raise_if_interrupted`).

    A progress bar on a terminal, else about ten log lines per fit (see
    :class:`~sae_pipelines.runtime.progress.ProgressReport`). Fit inside ``with``, so
    that the bar ends even when the fit fails.
    """

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.report = ProgressReport("Training", epochs, "epochs", logger)

    def __enter__(self) -> EpochProgress:
        self.report.__enter__()
        return self

    def __exit__(self, *error: Any) -> None:
        self.report.__exit__(*error)

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        """Stop for a Ctrl+C or SIGTERM that code in the fit swallowed."""
        raise_if_interrupted()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Report ``loss`` and ``val_loss`` after each epoch."""
        logs = logs or {}
        self.report.update(
            epoch + 1,
            f"loss={logs.get('loss', math.nan):.5f} "
            f"val_loss={logs.get('val_loss', math.nan):.5f}",
        )


def training_device() -> str:
    """The device Keras trains on: the first GPU TensorFlow sees, by name, or the CPU.

    TensorFlow's own report of its GPU probe is hidden with its C++ log (see
    :mod:`sae_pipelines.runtime.quiet`); this says the outcome in one line.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "the CPU (TensorFlow sees no GPU)"
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", gpus[0].name)
    return f"GPU 0 ({name}) of {len(gpus)}" if len(gpus) > 1 else f"the GPU ({name})"
