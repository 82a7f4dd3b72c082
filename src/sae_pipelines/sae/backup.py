"""Epoch backups of a fit, so that a killed fit resumes where it stopped.

Like Keras's ``BackupAndRestore``, with the rest of what makes the resumed fit
end exactly as an uninterrupted one: the trainer's variables (weights and
counters) and the optimiser's, early stopping's best so far, the resampler's
random state and the curves so far. The caller skips the batches already
seen (:meth:`TrainingBackup.completed_epochs`).

Each backup lies in a folder named by a fingerprint of the training rows,
the validation rows and the resolved settings: a fit on other data or with
other settings never resumes from it. After each epoch the whole state is
written to ``epoch_<n>.tmp`` and renamed ``epoch_<n>``, so a kill at any time
leaves the last complete epoch; a fit that ends removes its folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np

from sae_pipelines.sae.config import ModelConfig, TrainingConfig
from sae_pipelines.sae.resampling import DeadUnitResampler

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "variables.npz"
BEST_WEIGHTS_FILE = "best_weights.npz"
STATE_FILE = "state.json"
EPOCH_PREFIX = "epoch_"
PARTIAL_SUFFIX = ".tmp"


def fingerprint(
    x_train: np.ndarray,
    x_validation: np.ndarray,
    model_config: ModelConfig,
    training_config: TrainingConfig,
) -> str:
    """A digest of everything a fit's result depends on: rows and settings."""
    digest = hashlib.sha256()
    for rows in map(np.ascontiguousarray, (x_train, x_validation)):
        digest.update(f"{rows.dtype}{rows.shape}".encode())
        digest.update(rows.data)
    for config in (model_config, training_config):
        digest.update(config.model_dump_json().encode())
    return digest.hexdigest()[:20]


class TrainingBackup(keras.callbacks.Callback):
    """Writes the fit's state after each epoch; restores it when the fit starts.

    Put it after ``early_stopping`` in the fit's callbacks, so that it sets
    early stopping's state once that has reset itself.
    """

    def __init__(
        self,
        folder: Path,
        early_stopping: keras.callbacks.EarlyStopping,
        resampler: DeadUnitResampler,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.early_stopping = early_stopping
        self.resampler = resampler
        self.history: dict[str, list[float]] = {}
        self._saved = self._latest()
        self._state = (
            None
            if self._saved is None
            else json.loads((self._saved / STATE_FILE).read_text())
        )

    def completed_epochs(self) -> int:
        """Epochs the backup holds: the fit's ``initial_epoch``."""
        return 0 if self._state is None else int(self._state["epoch"])

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Restore the saved state, if any, into the trainer and the callbacks."""
        if self._saved is None or self._state is None:
            return
        state = self._state
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        with np.load(self._saved / WEIGHTS_FILE) as saved:
            for index, variable in enumerate(self._variables()):
                variable.assign(saved[f"v{index}"])
        self.history = state["history"]
        self.resampler.rng.bit_generator.state = state["resampler_rng"]
        stopping = self.early_stopping
        stopping.wait = state["wait"]
        stopping.best = state["best"]
        stopping.best_epoch = state["best_epoch"]
        if (self._saved / BEST_WEIGHTS_FILE).exists():
            with np.load(self._saved / BEST_WEIGHTS_FILE) as best:
                stopping.best_weights = [best[f"w{i}"] for i in range(len(best.files))]
        logger.info(
            "Resuming training after epoch %d, from %s", state["epoch"], self._saved
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Save the state after ``epoch`` (0-based), whole or not at all."""
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        final = self.folder / f"{EPOCH_PREFIX}{epoch + 1:06d}"
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        np.savez(
            partial / WEIGHTS_FILE,
            **{f"v{i}": v.numpy() for i, v in enumerate(self._variables())},
        )
        stopping = self.early_stopping
        if stopping.best_weights is not None:
            arrays = {f"w{i}": w for i, w in enumerate(stopping.best_weights)}
            np.savez(partial / BEST_WEIGHTS_FILE, **arrays)
        state = {
            "epoch": epoch + 1,
            "history": self.history,
            "resampler_rng": self.resampler.rng.bit_generator.state,
            "wait": stopping.wait,
            "best": _plain(stopping.best),
            "best_epoch": stopping.best_epoch,
        }
        (partial / STATE_FILE).write_text(json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for older in self.folder.glob(f"{EPOCH_PREFIX}*"):
            if older != final:
                shutil.rmtree(older, ignore_errors=True)

    def _variables(self) -> list[keras.Variable]:
        """The trainer's variables (weights, counters), then the optimiser's."""
        return [*self.model.variables, *self.model.optimizer.variables]

    def remove(self) -> None:
        """Delete the backup: the fit it kept has ended."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def _latest(self) -> Path | None:
        """The newest complete epoch's folder, or ``None``."""
        complete = sorted(
            path
            for path in self.folder.glob(f"{EPOCH_PREFIX}*")
            if not path.name.endswith(PARTIAL_SUFFIX) and (path / STATE_FILE).exists()
        )
        return complete[-1] if complete else None


def _plain(value: Any) -> float | None:
    """Early stopping's best value as a JSON number; ``None`` before it has one."""
    return None if value is None else float(np.asarray(value))
