"""Fitting a sparse autoencoder: seeding, the data's start, callbacks and ``fit``."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sae_pipelines.sae.backup import TrainingBackup, fingerprint
from sae_pipelines.sae.config import (
    AuxKConfig,
    ModelConfig,
    TrainingConfig,
)
from sae_pipelines.sae.fit_progress import EpochProgress, training_device
from sae_pipelines.sae.methods.base import resolved_setting
from sae_pipelines.sae.model import (
    build_sparse_autoencoder,
    initialise_from_data,
    input_corruption,
)
from sae_pipelines.sae.resampling import INFERENCE_BATCH_SIZE, DeadUnitResampler
from sae_pipelines.sae.trainer import (
    SparseAutoencoderTrainer,
    make_optimizer,
    mean_squared_deviation,
)

logger = logging.getLogger(__name__)

# Matrix-product FLOPs one call into the compiled training loop may hold:
# about a second on one CPU core.
FLOPS_PER_CALL = 20_000_000_000
# Rows up to which tf.data's shuffle buffer orders the training rows; beyond,
# one permutation tensor a pass (see shuffled_indices).
SHUFFLE_BUFFER_ROWS = 65_536


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic ops.

    Two fits with the same data, settings and seed then give the same weights.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def shuffled_batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, skip_batches: int = 0
) -> tf.data.Dataset:
    """Endless ``(x, y)`` batches, in a new seeded order every pass over the rows.

    Each pass shuffles only row indices; each batch's rows are gathered from
    ``x`` and ``y`` themselves (``numpy.take``), so TensorFlow holds no copy of
    the table: a ``tf.constant`` of it, or a dataset function capturing the
    array, would be a second one. Fit it with ``steps_per_epoch=``
    :func:`steps_per_epoch`: Keras then keeps one iterator for the whole fit
    instead of building a new one every epoch, and an epoch of fewer batches
    than a pass takes the next ones in the same stream. ``skip_batches``
    starts further on, in the same order: where a resumed fit left off.
    """
    targets = None if y is x else y  # an autoencoder's: gather once

    def rows_of(array: np.ndarray) -> Callable[[tf.Tensor], tf.Tensor]:
        def take(index: np.ndarray) -> np.ndarray:
            return np.take(array, index, axis=0)

        def gather(index: tf.Tensor) -> tf.Tensor:
            rows = tf.numpy_function(
                take, [index], tf.as_dtype(array.dtype), stateful=False
            )
            return tf.ensure_shape(rows, (None, *array.shape[1:]))

        return gather

    features = rows_of(x)
    labels = None if targets is None else rows_of(targets)

    def batch_of(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        rows = features(index)
        return rows, rows if labels is None else labels(index)

    return (
        shuffled_indices(len(x), batch_size, seed)
        .skip(skip_batches)
        .map(batch_of)
        .prefetch(tf.data.AUTOTUNE)
    )


def shuffled_indices(rows: int, batch_size: int, seed: int) -> tf.data.Dataset:
    """Endless batches of row indices, each pass over the rows in a new order.

    Up to :data:`SHUFFLE_BUFFER_ROWS` rows, ``tf.data``'s shuffle buffer; it
    holds about 190 bytes a row (1.1 GB for 6 M rows), so on more rows each
    pass is one seeded permutation tensor (8 bytes a row) cut into batches.
    Both end each pass with a partial batch.
    """
    if rows <= SHUFFLE_BUFFER_ROWS:
        return (
            tf.data.Dataset.range(rows)
            .shuffle(rows, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .repeat()
        )

    def one_pass(index: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(rows, dtype=tf.int64),
            seed=tf.stack([tf.constant(seed, tf.int64), index]),
        )
        return tf.data.Dataset.range(0, rows, batch_size).map(
            lambda start: order[start : start + batch_size]
        )

    return tf.data.Dataset.counter().flat_map(one_pass)


def fixed_batches(x: np.ndarray) -> tf.data.Dataset:
    """``(x, x)`` in large cached batches: validation rows, read every epoch.

    Finite on purpose: an endless one would be read ``steps_per_execution``
    batches per evaluation, cycling over the rows. Keep ``x`` small
    (:func:`row_sample`): the dataset holds a copy of it.
    """
    return (
        tf.data.Dataset.from_tensor_slices(x)
        .batch(INFERENCE_BATCH_SIZE)
        .map(lambda rows: (rows, rows))
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )


def row_sample(x: np.ndarray, most: int, seed: int) -> np.ndarray:
    """At most ``most`` rows of ``x``: all of it (not a copy) or a seeded sample.

    The sample keeps the rows' order. The validation loss after each epoch
    (and so early stopping) reads one of the validation split, and the
    resampler one epoch's worth of training rows: on a large table that
    measures as much at a fraction of the cost (SAELens likewise evaluates on
    ``n_eval_batches`` batches).
    """
    if len(x) <= most:
        return x
    rows = np.sort(np.random.default_rng(seed).choice(len(x), most, replace=False))
    return np.take(x, rows, axis=0)


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Batches in one pass over ``rows`` rows, the last one partial."""
    return math.ceil(rows / batch_size)


def steps_per_call(steps: int, width: int, code_size: int, batch_size: int) -> int:
    """Training steps per call into the compiled loop: up to an epoch's, about 1 s.

    Many steps a call save the per-step Python and dispatch overhead, which
    dominates on narrow tables; but Python, and so Ctrl+C, acts only between
    calls. A call holds at most ``FLOPS_PER_CALL`` of the matrix products
    (forward and backward, ``12 · width · code_size`` per row) and a whole
    number of calls make an epoch, so every epoch runs its ``steps`` exactly.
    """
    step_flops = 12 * width * code_size * batch_size
    budget = min(max(FLOPS_PER_CALL // step_flops, 1), steps)
    return max(d for d in range(1, budget + 1) if steps % d == 0)


def fit_sparse_autoencoder(
    x_train: np.ndarray,
    x_validation: np.ndarray,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build and train a sparse autoencoder to reconstruct its input.

    The model starts from the data (its centre and scale, see
    :func:`~sae_pipelines.sae.model.initialise_from_data`); each step is
    :class:`~sae_pipelines.sae.trainer.SparseAutoencoderTrainer`'s: the
    normalised squared error plus the sparsity penalty (none for TopK and
    BatchTopK, which add AuxK instead). Training sees ``training_config.budget``
    rows in ``epochs`` epochs of ``budget / epochs`` rows each (the whole
    split on tables of up to 50 000 rows with the ``auto`` budget; see
    :meth:`~sae_pipelines.sae.config.TrainingConfig.resolved_budget`), with the
    validation loss after each on at most ``validation_rows`` rows
    (:func:`row_sample`). With ``training_config.corruption``
    set, the model sees corrupted inputs and learns to reconstruct the clean
    rows (denoising). Dead units are resampled at the epochs
    :func:`resampling_epochs` gives (none with AuxK); after the last
    resampling, training stops early when the validation loss has not improved
    for ``early_stopping_patience`` passes over the training rows
    (:meth:`~sae_pipelines.sae.config.TrainingConfig.patience_epochs`), keeping
    the best weights. With
    ``training_config.backup_folder`` set, the fit's state is kept there after
    each epoch, and a fit of the same rows and settings killed before it ended
    resumes from its last complete epoch, to the same end
    (:mod:`~sae_pipelines.sae.backup`).

    Args:
        x_train: Training rows, ``float32`` of shape ``(rows, features)``.
        x_validation: Validation rows, same width.
        model_config: Architecture and sparsity method.
        training_config: Optimiser, schedule and seed.
        callbacks: More Keras callbacks, e.g. to time the epochs.

    Returns:
        The trained model and its per-epoch history (``loss``, ``val_loss``,
        ``reconstruction_mse``, ``val_reconstruction_mse``, ``auxk_loss``,
        ``l0`` and ``val_l0``, the mean non-zero codes per row, and
        ``dead_fraction_recent``).
    """
    make_deterministic(training_config.seed)
    training_config = training_config.for_data(*x_train.shape)
    model_config = model_config.for_data(x_train.shape[1], len(x_train))
    batch_size = resolved_setting(training_config.batch_size)
    epoch_rows = training_config.epoch_rows()
    steps = steps_per_epoch(epoch_rows, batch_size)
    x_check = row_sample(
        x_validation, training_config.validation_rows, training_config.seed
    )
    logger.info(
        "Training on %s: %d rows in batches of %d, learning rate %.5f; budget "
        "%d rows seen, %d epochs of %d steps; validation on %d of %d rows",
        training_device(),
        len(x_train),
        batch_size,
        training_config.learning_rate,
        training_config.budget,
        training_config.epochs,
        steps,
        len(x_check),
        len(x_validation),
    )
    model = build_sparse_autoencoder(x_train.shape[1], model_config)
    initialise_from_data(model, x_train, training_config.seed)
    trainer = SparseAutoencoderTrainer(
        model,
        mean_squared_deviation(x_train),
        window_rows=epoch_rows,
        corruption=input_corruption(training_config.corruption, training_config.seed),
        auxk=auxk_settings(model_config, training_config, *x_train.shape[::-1]),
    )
    trainer.compile(
        optimizer=make_optimizer(training_config, steps),
        steps_per_execution=steps_per_call(
            steps,
            x_train.shape[1],
            int(model_config.code_size),
            batch_size,
        ),
    )
    resampled = resampling_epochs(model_config, training_config)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=training_config.patience_epochs(len(x_train)),
        restore_best_weights=True,
        # Weights from before the last resampling would bring dead units back.
        start_from_epoch=max(resampled, default=0),
    )
    resampler = DeadUnitResampler(
        model,
        row_sample(x_train, epoch_rows, training_config.seed),
        resampled,
        training_config.seed,
        encoder_norm=training_config.resample_dead_units.encoder_norm,
    )
    backup = None
    if training_config.backup_folder is not None:
        folder = Path(training_config.backup_folder) / fingerprint(
            x_train, x_validation, model_config, training_config
        )
        backup = TrainingBackup(folder, early_stopping, resampler)
    done = backup.completed_epochs() if backup else 0
    with EpochProgress(training_config.epochs) as progress:
        history = trainer.fit(
            shuffled_batches(
                x_train,
                x_train,
                batch_size,
                training_config.seed,
                skip_batches=done * steps,
            ),
            steps_per_epoch=steps,
            shuffle=False,  # the dataset reshuffles itself every pass
            validation_data=fixed_batches(x_check),
            epochs=training_config.epochs,
            initial_epoch=done,
            verbose=0,
            callbacks=[
                early_stopping,
                resampler,
                *(callbacks or []),
                progress,
                *([backup] if backup else []),
            ],
        )
    curves = history.history
    if backup is not None:
        curves = backup.history
        backup.remove()
    return model, {key: [float(v) for v in values] for key, values in curves.items()}


def auxk_applies(model_config: ModelConfig, training_config: TrainingConfig) -> bool:
    """Whether AuxK trains the dead units.

    It does for ``topk`` and ``batchtopk`` whose codes feed a linear
    reconstruction directly (no decoder hidden layers, a linear output), with
    a coefficient above 0.
    """
    return (
        model_config.sparsity.is_dictionary()
        and training_config.auxk.coefficient > 0
        and not model_config.encoder_units
        and model_config.output_activation == "linear"
    )


def auxk_settings(
    model_config: ModelConfig, training_config: TrainingConfig, width: int, rows: int
) -> AuxKConfig | None:
    """AuxK's settings resolved for ``rows`` training rows of ``width`` features.

    ``dead_after_rows: auto`` is one epoch's rows
    (:meth:`~sae_pipelines.sae.config.TrainingConfig.epoch_rows`). ``None``
    where AuxK does not apply.
    """
    if not auxk_applies(model_config, training_config):
        return None
    code_size = int(model_config.for_data(width, rows).code_size)
    epoch_rows = training_config.for_data(rows, width).epoch_rows()
    return training_config.auxk.resolved(width, code_size, epoch_rows)


def resampling_epochs(
    model_config: ModelConfig, training_config: TrainingConfig
) -> list[int]:
    """The epochs after which dead units are resampled (1-based): none with AuxK.

    AuxK keeps TopK's and BatchTopK's units alive instead, as in Gao et al.
    (2024). Resampling them too (measured on the MNIST-sized problem over 5
    seeds) helped TopK a little and left BatchTopK behind it.
    """
    if auxk_applies(model_config, training_config):
        return []
    return training_config.resample_dead_units.epochs(training_config.epochs)
