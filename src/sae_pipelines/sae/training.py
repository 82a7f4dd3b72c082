"""Fitting a sparse autoencoder: seeding, the optimiser, callbacks and ``fit``."""

from __future__ import annotations

import logging
import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from sae_pipelines.sae.config import ModelConfig, TrainingConfig
from sae_pipelines.sae.fit_progress import EpochProgress, training_device
from sae_pipelines.sae.metrics import dead_units, row_squared_errors
from sae_pipelines.sae.model import (
    CODE_PREACTIVATION_LAYER,
    CODES_LAYER,
    RECONSTRUCTION_LAYER,
    build_sparse_autoencoder,
    encoder_of,
    with_input_corruption,
)

logger = logging.getLogger(__name__)

INFERENCE_BATCH_SIZE = 8192


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic ops.

    Two fits with the same data, settings and seed then give the same weights.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class DeadUnitResampler(keras.callbacks.Callback):
    """Re-initialises code units that are never active on the training rows.

    Every ``every_epochs`` epochs up to ``until_epoch``, each dead unit's encoder
    weights are pointed at a training row drawn with probability proportional to
    its squared reconstruction error, so it starts firing on what the model
    reconstructs worst. Its bias is reset to 0; when the decoder is a single
    layer, its decoder row is pointed at the same row.
    """

    def __init__(
        self,
        autoencoder: keras.Model,
        x_train: np.ndarray,
        every_epochs: int,
        until_epoch: int,
        seed: int,
    ) -> None:
        super().__init__()
        # Not ``self.model``: with denoising, Keras fits a wrapper around it.
        self.autoencoder = autoencoder
        self.x_train = x_train
        self.every_epochs = every_epochs
        self.until_epoch = until_epoch
        self.rng = np.random.default_rng(seed)
        # Built once: ``predict`` traces a graph function for each new model.
        self.encoder = encoder_of(autoencoder)
        self.code_layer = autoencoder.get_layer(CODE_PREACTIVATION_LAYER)
        self.trunk = keras.Model(autoencoder.inputs, self.code_layer.input)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Resample dead units when ``epoch`` is due."""
        due = self.every_epochs and (epoch + 1) % self.every_epochs == 0
        if not due or epoch >= self.until_epoch:
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

        trunk_out = self.trunk.predict(
            self.x_train, batch_size=INFERENCE_BATCH_SIZE, verbose=0
        )
        directions = _unit_rows(trunk_out[rows] - trunk_out.mean(axis=0))

        kernel, bias = (np.array(w) for w in self.code_layer.get_weights())
        alive = np.setdiff1d(np.arange(kernel.shape[1]), dead)
        scale = np.linalg.norm(kernel[:, alive], axis=0).mean() if alive.size else 1.0
        kernel[:, dead] = directions.T * scale
        bias[dead] = 0.0
        self.code_layer.set_weights([kernel, bias])

        decoder = self.autoencoder.get_layer(RECONSTRUCTION_LAYER)
        if decoder.input is self.autoencoder.get_layer(CODES_LAYER).output:
            decoder_kernel, decoder_bias = (np.array(w) for w in decoder.get_weights())
            decoder_kernel[dead] = _unit_rows(
                self.x_train[rows] - self.x_train.mean(axis=0)
            )
            decoder.set_weights([decoder_kernel, decoder_bias])


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def shuffled_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int
) -> tf.data.Dataset:
    """Endless ``(x, y)`` batches, in a new seeded order every pass over the rows.

    The rows are copied to tensors once; each pass shuffles only row indices
    and gathers each batch. Fit it with ``steps_per_epoch=``
    :func:`steps_per_epoch`: Keras then keeps one iterator for the whole fit
    instead of building a new one every epoch.
    """
    features = tf.constant(x)
    targets = None if y is x else tf.constant(y)  # an autoencoder's: gather once

    def gather(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        rows = tf.gather(features, index)
        return rows, rows if targets is None else tf.gather(targets, index)

    return (
        tf.data.Dataset.range(len(x))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(gather)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def fixed_batches(x: np.ndarray) -> tf.data.Dataset:
    """``(x, x)`` in large cached batches: validation rows, read every epoch.

    Finite on purpose: an endless one would be read ``steps_per_execution``
    batches per evaluation, cycling over the rows.
    """
    return (
        tf.data.Dataset.from_tensor_slices((x, x))
        .batch(INFERENCE_BATCH_SIZE)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Batches in one pass over ``rows`` rows, the last one partial."""
    return math.ceil(rows / batch_size)


def fit_sparse_autoencoder(
    x_train: np.ndarray,
    x_validation: np.ndarray,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build and train a sparse autoencoder to reconstruct its input.

    The loss is the mean squared reconstruction error plus the sparsity penalty
    (none for TopK). With ``training_config.corruption`` set, the model sees
    corrupted inputs and learns to reconstruct the clean rows (denoising). Training stops early when the validation loss has not
    improved for ``early_stopping_patience`` epochs, keeping the best weights.

    Args:
        x_train: Training rows, ``float32`` of shape ``(rows, features)``.
        x_validation: Validation rows, same width.
        model_config: Architecture and sparsity method.
        training_config: Optimiser, schedule and seed.
        callbacks: More Keras callbacks, e.g. to time the epochs.

    Returns:
        The trained model and its per-epoch history (``loss``, ``val_loss``,
        ``reconstruction_mse``, ``val_reconstruction_mse``).
    """
    make_deterministic(training_config.seed)
    training_config = training_config.for_rows(len(x_train))
    logger.info(
        "Training on %s: %d rows in batches of %d, learning rate %.5f",
        training_device(),
        len(x_train),
        training_config.batch_size,
        training_config.learning_rate,
    )
    model = build_sparse_autoencoder(x_train.shape[1], model_config)
    trained = with_input_corruption(
        model, training_config.corruption, training_config.seed
    )
    optimizer = keras.optimizers.get(
        {
            "class_name": training_config.optimizer,
            "config": {"learning_rate": training_config.learning_rate},
        }
    )
    steps = steps_per_epoch(len(x_train), training_config.batch_size)
    trained.compile(
        optimizer=optimizer,
        loss="mse",
        metrics=[keras.metrics.MeanSquaredError(name="reconstruction_mse")],
        # A whole epoch per call into the compiled loop: per-step Python and
        # dispatch overhead dominates on narrow tables. Callbacks here are
        # per epoch only.
        steps_per_execution=steps,
    )
    resampling = training_config.resample_dead_units
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss",
            patience=training_config.early_stopping_patience,
            restore_best_weights=True,
            # Weights from before the last resampling would bring dead units back.
            start_from_epoch=resampling.until_epoch if resampling.every_epochs else 0,
        ),
        DeadUnitResampler(
            model,
            x_train,
            resampling.every_epochs,
            resampling.until_epoch,
            training_config.seed,
        ),
        *(callbacks or []),
    ]
    with EpochProgress(training_config.epochs) as progress:
        history = trained.fit(
            shuffled_batches(
                x_train, x_train, training_config.batch_size, training_config.seed
            ),
            steps_per_epoch=steps,
            shuffle=False,  # the dataset reshuffles itself every pass
            validation_data=fixed_batches(x_validation),
            epochs=training_config.epochs,
            verbose=0,
            callbacks=[*callbacks, progress],
        )
    return model, {
        key: [float(v) for v in values] for key, values in history.history.items()
    }
