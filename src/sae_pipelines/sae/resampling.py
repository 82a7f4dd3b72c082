"""Resampling dead code units: pointing them at what the model reconstructs worst.

TopK and BatchTopK are not resampled: AuxK trains their quiet units instead,
as in Gao et al. (2024) (see ``sae.training.resampling_epochs``).

The recipe of Bricken et al. (*Towards Monosemanticity*, 2023), as
saprmarks/dictionary_learning implements it: training rows are drawn with
probability proportional to the square of their reconstruction error; each
dead unit's decoder row becomes one drawn row's direction (centred, in the
codes' space), its encoder row the same direction at a share
(``ResamplingConfig.encoder_norm``, their 0.2) of the mean norm of the live
units' encoder rows, and its encoder bias 0. The optimiser's moment estimates
for those weights are reset too: their velocity, decayed over many steps
without gradient, would otherwise make the revived unit's first steps far too
large.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np

from sae_pipelines.sae.metrics import dead_units, row_squared_errors
from sae_pipelines.sae.model import (
    CODE_PREACTIVATION_LAYER,
    CODES_LAYER,
    RECONSTRUCTION_LAYER,
    centring_of,
    encoder_of,
)
from sae_pipelines.sae.threshold_layers import JumpReLUWithL0Penalty

logger = logging.getLogger(__name__)

INFERENCE_BATCH_SIZE = 8192


class DeadUnitResampler(keras.callbacks.Callback):
    """Re-initialises the code units never active on the training rows.

    After each epoch in ``epochs`` (1-based), each dead unit is pointed at a
    training row drawn with probability proportional to its squared
    reconstruction error (see the module's docstring), its encoder row at
    ``encoder_norm`` × the live units' mean norm. The decoder row is rewritten
    only when the codes feed the reconstruction layer directly. ``x_train``
    is the rows judged and drawn from: the fit passes one epoch's worth
    (all the training rows unless the budget caps the epoch).
    """

    def __init__(
        self,
        autoencoder: keras.Model,
        x_train: np.ndarray,
        epochs: list[int],
        seed: int,
        *,
        encoder_norm: float,
    ) -> None:
        super().__init__()
        # Not ``self.model``: Keras fits a trainer around it.
        self.autoencoder = autoencoder
        self.x_train = x_train
        self.epochs = set(epochs)
        self.encoder_norm = encoder_norm
        self.rng = np.random.default_rng(seed)
        # Built once: ``predict`` traces a graph function for each new model.
        self.encoder = encoder_of(autoencoder)
        self.code_layer = autoencoder.get_layer(CODE_PREACTIVATION_LAYER)
        self.trunk = keras.Model(autoencoder.inputs, self.code_layer.input)
        self.decoder = autoencoder.get_layer(RECONSTRUCTION_LAYER)
        self.codes_layer = autoencoder.get_layer(CODES_LAYER)
        self.decoder_reads_codes = self.decoder.input is self.codes_layer.output
        # Centred rows go straight into the code layer: they need no mean removed.
        self.trunk_is_centred = centring_of(autoencoder) is not None and not any(
            layer.name.startswith("encoder_") for layer in autoencoder.layers
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Resample dead units when ``epoch`` is due."""
        if epoch + 1 not in self.epochs:
            return
        codes = self.encoder.predict(
            self.x_train, batch_size=INFERENCE_BATCH_SIZE, verbose=0
        )
        dead = np.flatnonzero(dead_units(codes))
        if dead.size == 0:
            return
        self._point_units_at_bad_rows(dead)
        logger.info("Epoch %d: resampled %d dead code units", epoch + 1, dead.size)

    def _point_units_at_bad_rows(self, dead: np.ndarray) -> None:
        errors = row_squared_errors(
            self.x_train,
            self.autoencoder.predict(
                self.x_train, batch_size=INFERENCE_BATCH_SIZE, verbose=0
            ),
        )
        weights = np.square(errors) + 1e-12
        # Distinct rows, so no two units get the same weights (and tie in TopK).
        rows = self.rng.choice(
            len(self.x_train),
            dead.size,
            replace=dead.size > len(self.x_train),
            p=weights / weights.sum(),
        )
        directions = _unit_rows(self._centred(rows))

        kernel = np.array(self.code_layer.kernel)
        alive = np.setdiff1d(np.arange(kernel.shape[1]), dead)
        norm = np.linalg.norm(kernel[:, alive], axis=0).mean() if alive.size else 1.0
        kernel[:, dead] = directions.T * self.encoder_norm * norm
        self.code_layer.kernel.assign(kernel)
        bias = np.array(self.code_layer.bias)
        bias[dead] = 0.0
        self.code_layer.bias.assign(bias)
        rewritten = [(self.code_layer.kernel, 1), (self.code_layer.bias, 0)]

        if self.decoder_reads_codes:
            decoder_kernel = np.array(self.decoder.kernel)
            decoder_kernel[dead] = directions
            self.decoder.kernel.assign(decoder_kernel)
            rewritten.append((self.decoder.kernel, 0))
        if isinstance(self.codes_layer, JumpReLUWithL0Penalty):
            threshold = np.array(self.codes_layer.threshold)
            threshold[dead] = self.codes_layer.initial_threshold
            self.codes_layer.threshold.assign(threshold)
            rewritten.append((self.codes_layer.threshold, 0))
        optimizer = self.model.optimizer if self.model is not None else None
        if optimizer is not None and optimizer.built:
            for variable, axis in rewritten:
                reset_moments(optimizer, variable, dead, axis)

    def _centred(self, rows: np.ndarray) -> np.ndarray:
        """The drawn rows as the code layer sees them, less their mean."""
        trunk_out = self.trunk.predict(
            self.x_train, batch_size=INFERENCE_BATCH_SIZE, verbose=0
        )
        if self.trunk_is_centred:
            return trunk_out[rows]
        return trunk_out[rows] - trunk_out.mean(axis=0)


def reset_moments(
    optimizer: keras.optimizers.Optimizer,
    variable: keras.Variable,
    units: np.ndarray,
    axis: int,
) -> None:
    """Reset the optimiser's state for ``units`` (indices along ``axis``) of ``variable``.

    Momentum-like slots (``…_momentum``) go to 0; other slots (Adam's and
    RMSprop's ``…_velocity``) to the mean over the other units, so that the
    first steps of a reset unit are as large as a live unit's.
    """
    prefix = variable.path.replace("/", "_") + "_"
    for slot in optimizer.variables:
        if not slot.name.startswith(prefix) or tuple(slot.shape) != tuple(
            variable.shape
        ):
            continue
        values = np.array(slot)
        index: list[slice | np.ndarray] = [slice(None)] * values.ndim
        index[axis] = units
        if slot.name.endswith("_momentum"):
            values[tuple(index)] = 0.0
        else:
            others = np.delete(values, units, axis=axis)
            fill = others.mean(axis=axis, keepdims=True) if others.size else 0.0
            values[tuple(index)] = fill
        slot.assign(values)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
