"""The training step: a normalised reconstruction loss, AuxK, and dead-unit bookkeeping.

:class:`SparseAutoencoderTrainer` is the model that ``fit`` runs; it shares its
weights with the autoencoder it wraps, and only the autoencoder is saved. Its
step is the reference trainers' (openai/sparse_autoencoder,
saprmarks/dictionary_learning):

- the loss is the squared error summed over features and averaged over rows,
  divided by the training rows' mean squared distance to their mean: a
  fraction of variance unexplained, so that penalties weigh the same on any
  table;
- with ``topk`` and ``batchtopk``, the AuxK loss (:func:`auxk_loss`) trains
  units that have not fired for a while on what the live ones miss;
- it counts, per unit, the training rows since it last fired: AuxK's dead
  units, and ``dead_fraction_recent``, the share of units that did not fire
  in the last epoch's worth of rows.

The optimiser clips the global gradient norm and follows
:func:`learning_rate_schedule`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from sae_pipelines.sae.config import AuxKConfig, TrainingConfig
from sae_pipelines.sae.dictionary import InputCentring, UnitNormDecoder
from sae_pipelines.sae.layers import PACKAGE, InputCorruption
from sae_pipelines.sae.methods.base import resolved_setting
from sae_pipelines.sae.model import (
    CODE_PREACTIVATION_LAYER,
    CODES_LAYER,
    RECONSTRUCTION_LAYER,
    centring_of,
)

# Rows converted to float64 at a time by ``mean_squared_deviation``.
DEVIATION_CHUNK_ROWS = 65_536


def mean_squared_deviation(rows: np.ndarray) -> float:
    """``mean_i ‖x_i − x̄‖²``: the denominator of the normalised loss.

    In float64, ``DEVIATION_CHUNK_ROWS`` rows at a time: a large table gets no
    float64 copy of itself.
    """
    if len(rows) <= DEVIATION_CHUNK_ROWS:
        rows = np.asarray(rows, dtype=np.float64)
        return float(np.mean(np.sum(np.square(rows - rows.mean(axis=0)), axis=1)))
    mean = np.mean(rows, axis=0, dtype=np.float64)
    total = 0.0
    for start in range(0, len(rows), DEVIATION_CHUNK_ROWS):
        chunk = np.asarray(rows[start : start + DEVIATION_CHUNK_ROWS], np.float64)
        total += float(np.sum(np.square(chunk - mean)))
    return total / len(rows)


def auxk_loss(
    residual: Any,
    preactivations: Any,
    dead: Any,
    k: int,
    directions: Any,
) -> Any:
    """AuxK: how well the ``k`` strongest dead units rebuild ``residual``.

    Each row's ``k`` largest positive pre-activations among the ``dead`` units
    are decoded with ``directions`` (no bias) and compared with the residual;
    the squared error is divided by the residual's own variance over the batch
    (Gao et al., 2024, appendix A.2). 0 when no unit is dead.

    Args:
        residual: What the codes did not reconstruct, in the codes' space.
        preactivations: The code units' pre-activations.
        dead: Boolean mask of the dead units.
        k: Dead units used per row.
        directions: The decoder's rows, ``(code units, features)``.
    """
    candidates = ops.where(dead[None, :], ops.relu(preactivations), 0.0)
    kth_largest = ops.min(ops.top_k(candidates, k, sorted=False)[0], axis=-1)
    kept = (candidates >= kth_largest[:, None]) & (candidates > 0.0)
    rebuilt = ops.matmul(ops.where(kept, candidates, 0.0), directions)
    error = ops.sum(ops.square(residual - rebuilt))
    spread = ops.sum(ops.square(residual - ops.mean(residual, axis=0)))
    return ops.where(ops.any(dead) & (spread > 0.0), error / (spread + 1e-12), 0.0)


class SparseAutoencoderTrainer(keras.Model):
    """What ``fit`` trains: ``autoencoder`` with the reference trainers' step.

    Logs ``loss`` (normalised reconstruction error plus the sparsity penalty;
    also ``val_loss``), ``reconstruction_mse`` (the plain mean squared error),
    ``auxk_loss`` and ``dead_fraction_recent``.

    Args:
        autoencoder: A model from
            :func:`~sae_pipelines.sae.model.build_sparse_autoencoder`.
        deviation: The training rows' :func:`mean_squared_deviation`.
        window_rows: Rows in an epoch (``TrainingConfig.epoch_rows``): a
            unit that has not fired for this many rows counts in
            ``dead_fraction_recent``.
        corruption: Corrupts the inputs (denoising); the targets stay clean.
        auxk: AuxK's settings, resolved; ``None`` turns it off.
    """

    def __init__(
        self,
        autoencoder: keras.Model,
        deviation: float,
        window_rows: int,
        corruption: InputCorruption | None = None,
        auxk: AuxKConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name="sparse_autoencoder_trainer", **kwargs)
        self.autoencoder = autoencoder
        self.corruption = corruption
        self.auxk = auxk
        self.loss_scale = 1.0 / max(deviation, 1e-12)
        self.window_rows = float(window_rows)
        self.parts = keras.Model(
            autoencoder.inputs,
            [
                autoencoder.get_layer(CODE_PREACTIVATION_LAYER).output,
                autoencoder.get_layer(CODES_LAYER).output,
                autoencoder.output,
            ],
        )
        self.centring: InputCentring | None = centring_of(autoencoder)
        self.decoder = autoencoder.get_layer(RECONSTRUCTION_LAYER)
        code_size = self.parts.outputs[1].shape[-1]
        dead_after = auxk.dead_after_rows if auxk else window_rows
        # Counted up to a cap: float32 stays exact there, and nothing needs more.
        self.count_cap = 2.0 * max(float(dead_after), self.window_rows)
        self.rows_since_fired = self.add_weight(
            shape=(code_size,),
            initializer="zeros",
            trainable=False,
            name="rows_since_fired",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mse_tracker = keras.metrics.Mean(name="reconstruction_mse")
        self.auxk_tracker = keras.metrics.Mean(name="auxk_loss")
        self.l0_tracker = keras.metrics.Mean(name="l0")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.mse_tracker, self.auxk_tracker, self.l0_tracker]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.autoencoder(inputs, training=training)

    def _objective(self, inputs: Any, targets: Any, training: bool) -> tuple[Any, ...]:
        """Pre-activations, codes, residual, mean squared error and loss of a batch."""
        preactivations, codes, outputs = self.parts(inputs, training=training)
        residual = targets - outputs
        squared = ops.sum(ops.square(residual), axis=-1)
        penalties = self.parts.losses
        loss = self.loss_scale * ops.mean(squared) + (
            ops.sum(ops.stack(penalties)) if penalties else 0.0
        )
        mse = ops.mean(squared) / ops.cast(ops.shape(targets)[-1], squared.dtype)
        return preactivations, codes, residual, mse, loss

    def train_step(self, data: Any) -> dict[str, Any]:
        inputs, targets = data
        with tf.GradientTape() as tape:
            corrupted = (
                inputs
                if self.corruption is None
                else self.corruption(inputs, training=True)
            )
            preactivations, codes, residual, mse, loss = self._objective(
                corrupted, targets, training=True
            )
            auxiliary = self._auxk_loss(residual, preactivations)
            total = loss + (self.auxk.coefficient * auxiliary if self.auxk else 0.0)
        variables = self.autoencoder.trainable_variables
        self.optimizer.apply(tape.gradient(total, variables), variables)
        self._count_firing(codes)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.auxk_tracker.update_state(auxiliary)
        self.l0_tracker.update_state(active_codes(codes))
        return {
            **{metric.name: metric.result() for metric in self.metrics},
            "dead_fraction_recent": ops.mean(
                ops.cast(self.rows_since_fired >= self.window_rows, "float32")
            ),
        }

    def test_step(self, data: Any) -> dict[str, Any]:
        inputs, targets = data
        _, codes, _, mse, loss = self._objective(inputs, targets, training=False)
        self.loss_tracker.update_state(loss)
        self.mse_tracker.update_state(mse)
        self.l0_tracker.update_state(active_codes(codes))
        return {
            "loss": self.loss_tracker.result(),
            "reconstruction_mse": self.mse_tracker.result(),
            "l0": self.l0_tracker.result(),
        }

    def _auxk_loss(self, residual: Any, preactivations: Any) -> Any:
        if self.auxk is None:
            return ops.zeros(())
        residual = ops.stop_gradient(residual)
        if self.centring is not None:
            residual = residual * self.centring.scale
        directions = (
            self.decoder.directions()
            if isinstance(self.decoder, UnitNormDecoder)
            else self.decoder.kernel
        )
        dead = self.rows_since_fired >= float(self.auxk.dead_after_rows)
        return auxk_loss(
            residual,
            preactivations,
            dead,
            resolved_setting(self.auxk.k),
            directions,
        )

    def _count_firing(self, codes: Any) -> None:
        fired = ops.any(ops.not_equal(codes, 0.0), axis=0)
        rows = ops.cast(ops.shape(codes)[0], "float32")
        counted = ops.minimum(self.rows_since_fired + rows, self.count_cap)
        self.rows_since_fired.assign(ops.where(fired, 0.0, counted))


def active_codes(codes: Any) -> Any:
    """The number of non-zero codes of each row: its L0."""
    return ops.sum(ops.cast(ops.not_equal(codes, 0.0), "float32"), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 → ``rate`` linearly over ``warmup`` steps, flat, then linearly to 0 at ``total``.

    saprmarks/dictionary_learning's schedule (``get_lr_schedule``), the decay
    starting at step ``decay_start``.
    """

    def __init__(self, rate: float, warmup: int, decay_start: int, total: int) -> None:
        self.rate = float(rate)
        self.warmup = int(warmup)
        self.decay_start = int(decay_start)
        self.total = int(total)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        rising = step / max(self.warmup, 1) if self.warmup else 1.0
        falling = (self.total - step) / max(self.total - self.decay_start, 1)
        share = ops.clip(ops.minimum(rising, falling), 0.0, 1.0)
        return self.rate * share

    def get_config(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "warmup": self.warmup,
            "decay_start": self.decay_start,
            "total": self.total,
        }


def learning_rate_schedule(
    config: TrainingConfig, steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The step size of each step: a linear warmup from 0, then a decay to 0.

    Both are spread over the epoch budget (``epochs × steps_per_epoch``), the
    warmup taking ``schedule.warmup`` of it: ``linear`` holds the rate until
    ``schedule.decay_start`` of the budget, then takes it to 0 at its end
    (:class:`WarmupStableDecay`); ``cosine`` decays from the end of the warmup;
    ``none`` keeps the rate. ``config`` has its ``auto`` settings resolved.
    """
    rate = float(config.learning_rate)
    schedule = config.schedule
    total = config.epochs * steps_per_epoch
    warmup = round(schedule.warmup * total)
    if schedule.decay == "linear":
        return WarmupStableDecay(
            rate, warmup, round(schedule.decay_start * total), total
        )
    decays = schedule.decay == "cosine"
    if not warmup and not decays:
        return rate
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else rate,
        decay_steps=max(total - warmup, 1),
        alpha=0.0 if decays else 1.0,
        warmup_target=rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(config: TrainingConfig, steps_per_epoch: int) -> Any:
    """``config.optimizer`` with its schedule and gradient clipping."""
    optimizer_class = type(keras.optimizers.get(config.optimizer))
    return optimizer_class(
        learning_rate=learning_rate_schedule(config, steps_per_epoch),
        global_clipnorm=config.gradient_clip_norm,
    )
